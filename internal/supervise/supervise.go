// Package supervise restarts the child processes `chainwatch up` starts for
// the embedded default (ClickHouse, Alertmanager) when they exit without
// being asked to: with exponential backoff, on the same ports and data,
// logged, counted (chainwatch_local_restarts_total{child}) and reported for
// health checks.
package supervise

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Defaults of the backoff: 1 s before the first restart, doubling to 30 s,
// back to 1 s once a child has stayed up for a minute.
const (
	DefaultInitial    = time.Second
	DefaultMax        = 30 * time.Second
	DefaultResetAfter = time.Minute
)

// Process is one run of a child.
type Process interface {
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Exited says, once Done is closed, how it exited (exit status or
	// signal) and the tail of its log.
	Exited() (reason, logTail string)
	// Stop terminates the process and waits for it.
	Stop()
}

// StartFunc starts a new run and returns once it is ready; when it fails or
// ctx ends first it leaves nothing running.
type StartFunc func(ctx context.Context) (Process, error)

// State is a supervised child's state.
type State string

const (
	Running    State = "running"
	Restarting State = "restarting" // exited; waiting out the backoff or starting again
	Failed     State = "failed"     // the last restart failed; trying again after the backoff
	Stopped    State = "stopped"    // Stop was called
)

// Status is what health checks report about a child.
type Status struct {
	State    State
	Restarts int       // restart attempts so far
	LastExit string    // how the child last exited, or why its last restart failed
	Since    time.Time // when State was entered
}

// Options say how to supervise. Zero durations take the defaults.
type Options struct {
	Name       string // the child's name in logs and the metric's label, e.g. "clickhouse"
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration
	Log        *slog.Logger
	Restarts   prometheus.Counter // counts restart attempts; nil: none
}

// Supervisor watches one child and restarts it when it exits.
type Supervisor struct {
	o        Options
	start    StartFunc
	cancel   context.CancelFunc
	loopDone chan struct{}
	stop     sync.Once

	mu  sync.Mutex
	cur Process
	st  Status
}

// New supervises first, a running child, starting a new one with start
// whenever the current one exits before Stop.
func New(first Process, start StartFunc, o Options) *Supervisor {
	if o.Initial <= 0 {
		o.Initial = DefaultInitial
	}
	if o.Max <= 0 {
		o.Max = DefaultMax
	}
	if o.ResetAfter <= 0 {
		o.ResetAfter = DefaultResetAfter
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{o: o, start: start, cancel: cancel, loopDone: make(chan struct{}),
		cur: first, st: Status{State: Running, Since: time.Now()}}
	go s.loop(ctx, first)
	return s
}

// Status is the child's current state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Current is the running (or last) process.
func (s *Supervisor) Current() Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Stop ends supervision, then stops the current process; nothing is
// restarted after it. Idempotent.
func (s *Supervisor) Stop() {
	s.stop.Do(func() {
		s.cancel()
		<-s.loopDone
		s.mu.Lock()
		p := s.cur
		s.st.State, s.st.Since = Stopped, time.Now()
		s.mu.Unlock()
		if p != nil {
			p.Stop()
		}
	})
}

func (s *Supervisor) loop(ctx context.Context, p Process) {
	defer close(s.loopDone)
	delay := s.o.Initial
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.Done():
		}
		if ctx.Err() != nil {
			return // Stop raced with the exit
		}
		reason, tail := p.Exited()
		up := time.Since(started)
		if up >= s.o.ResetAfter {
			delay = s.o.Initial
		}
		s.set(Restarting, reason, false)
		s.o.Log.Error("local child exited unexpectedly; restarting it", "child", s.o.Name,
			"exit", reason, "uptime", up.Round(time.Millisecond), "restart_in", delay, "log_tail", tail)
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, s.o.Max)
			s.set(Restarting, "", true)
			if s.o.Restarts != nil {
				s.o.Restarts.Inc()
			}
			np, err := s.start(ctx)
			if err == nil && np == nil {
				err = errors.New("start returned no process")
			}
			if err == nil {
				s.mu.Lock()
				s.cur, p = np, np
				s.st.State, s.st.Since = Running, time.Now()
				n := s.st.Restarts
				s.mu.Unlock()
				started = time.Now()
				s.o.Log.Warn("local child restarted", "child", s.o.Name, "restarts", n)
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.set(Failed, err.Error(), false)
			s.o.Log.Error("restarting local child failed", "child", s.o.Name, "err", err, "retry_in", delay)
		}
	}
}

func (s *Supervisor) set(st State, lastExit string, attempt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != st {
		s.st.Since = time.Now()
	}
	s.st.State = st
	if lastExit != "" {
		s.st.LastExit = lastExit
	}
	if attempt {
		s.st.Restarts++
	}
}

// RestartsCounter is chainwatch_local_restarts_total{child}, registered in
// reg once (a second call returns the registered one); reg nil: unregistered.
func RestartsCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "local", Name: "restarts_total",
		Help: "Restarts of a child process chainwatch up supervises (clickhouse, alertmanager) after it exited unexpectedly.",
	}, []string{"child"})
	metrics.Must(metrics.Register(reg, &c))
	return c
}

// Child holds the current run of a child process that may be supervised:
// what chserver and amserver share. Set the first run with Set, then
// optionally Supervise; Current, Status and Stop follow whichever run is
// current.
type Child[P Process] struct {
	mu   sync.Mutex
	proc P
	sup  *Supervisor
}

// Set makes p the current run (before Supervise).
func (c *Child[P]) Set(p P) {
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
}

// Current is the current run.
func (c *Child[P]) Current() P {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

// Supervise restarts the child with launch whenever its run exits before
// Stop (see Supervisor); o.Name defaults to name. A second call does
// nothing.
func (c *Child[P]) Supervise(name string, o Options, launch func(context.Context) (P, error)) {
	if o.Name == "" {
		o.Name = name
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sup != nil {
		return
	}
	c.sup = New(c.proc, func(ctx context.Context) (Process, error) {
		p, err := launch(ctx)
		if err != nil {
			return nil, err
		}
		c.Set(p)
		return p, nil
	}, o)
}

// Status is the child's state for health checks: a supervised child's from
// its supervisor; an unsupervised one is running until its run exits, then
// failed.
func (c *Child[P]) Status() Status {
	c.mu.Lock()
	sup, p := c.sup, c.proc
	c.mu.Unlock()
	if sup != nil {
		return sup.Status()
	}
	select {
	case <-p.Done():
		reason, _ := p.Exited()
		return Status{State: Failed, LastExit: reason}
	default:
		return Status{State: Running}
	}
}

// Stop ends supervision and stops the current run.
func (c *Child[P]) Stop() {
	c.mu.Lock()
	sup, p := c.sup, c.proc
	c.mu.Unlock()
	if sup != nil {
		sup.Stop()
	} else {
		p.Stop()
	}
}
