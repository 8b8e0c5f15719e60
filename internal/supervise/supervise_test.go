package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeProc struct {
	done    chan struct{}
	once    sync.Once
	stopped bool
	mu      sync.Mutex
}

func newFake() *fakeProc { return &fakeProc{done: make(chan struct{})} }

func (p *fakeProc) Done() <-chan struct{}    { return p.done }
func (p *fakeProc) Exited() (string, string) { return "signal: killed", "last log line" }
func (p *fakeProc) crash()                   { p.once.Do(func() { close(p.done) }) }
func (p *fakeProc) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.crash()
}

// syncBuf is a log sink safe for the supervisor's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// starter hands out fake processes, failing the calls listed in fail, and
// records when each call came.
type starter struct {
	mu    sync.Mutex
	calls []time.Time
	procs []*fakeProc
	fail  map[int]bool
}

func (s *starter) start(ctx context.Context) (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	if s.fail[len(s.calls)] {
		return nil, errors.New("port taken")
	}
	p := newFake()
	s.procs = append(s.procs, p)
	return p, nil
}

func (s *starter) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *starter) last() *fakeProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs[len(s.procs)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRestartsWithBackoffAndStops(t *testing.T) {
	first := newFake()
	st := &starter{fail: map[int]bool{2: true}}
	logs := &syncBuf{}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	s := New(first, st.start, Options{Name: "db", Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond,
		ResetAfter: time.Hour, Log: slog.New(slog.NewTextHandler(logs, nil)), Restarts: c})
	if got := s.Status(); got.State != Running || got.Restarts != 0 {
		t.Fatalf("initial status %+v", got)
	}

	crashed := time.Now()
	first.crash()
	waitFor(t, "first restart", func() bool { return st.n() == 1 && s.Status().State == Running })
	if d := st.calls[0].Sub(crashed); d < 20*time.Millisecond {
		t.Errorf("restarted after %s, want the initial backoff (20ms)", d)
	}
	if got := s.Status(); got.Restarts != 1 || got.LastExit != "signal: killed" {
		t.Errorf("status after a restart %+v", got)
	}
	if !strings.Contains(logs.String(), "child=db exit=\"signal: killed\"") || !strings.Contains(logs.String(), "last log line") {
		t.Errorf("exit not logged with its status and log tail:\n%s", logs)
	}

	// A quick second crash: the next attempt (which fails) waits 40 ms,
	// the one after 80 ms (the cap), and that one succeeds.
	st.last().crash()
	waitFor(t, "failed attempt", func() bool { return s.Status().State == Failed })
	if got := s.Status(); !strings.Contains(got.LastExit, "port taken") {
		t.Errorf("failed attempt's reason: %+v", got)
	}
	waitFor(t, "third start", func() bool { return st.n() == 3 && s.Status().State == Running })
	if d := st.calls[1].Sub(st.calls[0]); d < 40*time.Millisecond {
		t.Errorf("second attempt %s after the first, want ≥ 40ms (doubled)", d)
	}
	if d := st.calls[2].Sub(st.calls[1]); d < 80*time.Millisecond {
		t.Errorf("third attempt %s after the second, want ≥ 80ms (capped)", d)
	}
	if n := testutil.ToFloat64(c); n != 3 {
		t.Errorf("restarts counted %v, want 3", n)
	}

	cur := st.last()
	if s.Current() != Process(cur) {
		t.Error("Current is not the restarted process")
	}
	s.Stop()
	s.Stop() // idempotent
	if !cur.stopped {
		t.Error("Stop did not stop the current process")
	}
	time.Sleep(200 * time.Millisecond)
	if st.n() != 3 {
		t.Errorf("restarted after Stop: %d starts", st.n())
	}
	if got := s.Status(); got.State != Stopped {
		t.Errorf("state after Stop %s", got.State)
	}
}

func TestBackoffResetsAfterStayingUp(t *testing.T) {
	first := newFake()
	st := &starter{}
	s := New(first, st.start, Options{Initial: 10 * time.Millisecond, Max: time.Second, ResetAfter: 50 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler)})
	defer s.Stop()
	first.crash()
	waitFor(t, "first restart", func() bool { return st.n() == 1 && s.Status().State == Running })
	st.last().crash() // quick: the next delay is doubled
	waitFor(t, "second restart", func() bool { return st.n() == 2 && s.Status().State == Running })
	time.Sleep(60 * time.Millisecond) // stays up longer than ResetAfter
	crashed := time.Now()
	st.last().crash()
	waitFor(t, "third restart", func() bool { return st.n() == 3 })
	if d := st.calls[2].Sub(crashed); d >= 40*time.Millisecond {
		t.Errorf("restart %s after a crash that followed a long run; want the initial 10ms", d)
	}
}

func TestStopDuringBackoff(t *testing.T) {
	first := newFake()
	st := &starter{}
	s := New(first, st.start, Options{Initial: time.Hour, Log: slog.New(slog.DiscardHandler)})
	first.crash()
	waitFor(t, "restarting", func() bool { return s.Status().State == Restarting })
	done := make(chan struct{})
	go func() { s.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop waited out the backoff")
	}
	if st.n() != 0 {
		t.Fatal("started after Stop")
	}
}

func TestRestartsCounterRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := RestartsCounter(reg), RestartsCounter(reg)
	a.WithLabelValues("clickhouse").Inc()
	if n := testutil.ToFloat64(b.WithLabelValues("clickhouse")); n != 1 {
		t.Fatalf("second RestartsCounter is a different vector (%v)", n)
	}
}
