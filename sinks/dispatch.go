package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/backoff"
)

// target is one destination a dispatcher delivers to.
type target struct {
	url     string
	headers http.Header
	encode  func([]Alert) ([]byte, error)
}

// dispatcher is the queue-and-retry machinery both sinks share: one bounded
// queue and one delivery goroutine (a lane) per target.
type dispatcher struct {
	sink   string
	cfg    Config
	client *http.Client
	log    *slog.Logger
	lanes  []*lane

	sent     prometheus.Counter
	errs     *prometheus.CounterVec // by reason
	dropped  *prometheus.CounterVec // by reason
	queueLen prometheus.Gauge

	mu      sync.RWMutex // held for reading while enqueuing, for writing to close
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	sigMu   sync.Mutex
	changed chan struct{} // closed and replaced whenever a queue shrinks

	shutOnce sync.Once
	shutErr  error
}

func newDispatcher(sink string, cfg Config, targets []target, reg prometheus.Registerer, log *slog.Logger) (*dispatcher, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering %s sink metrics: %w", sink, err)
	}
	if log == nil {
		log = slog.Default()
	}
	d := &dispatcher{
		sink:     sink,
		cfg:      cfg.WithDefaults(),
		client:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		log:      log.With("sink", sink),
		sent:     m.sent.WithLabelValues(sink),
		errs:     m.errors.MustCurryWith(prometheus.Labels{"sink": sink}),
		dropped:  m.dropped.MustCurryWith(prometheus.Labels{"sink": sink}),
		queueLen: m.queueLen.WithLabelValues(sink),
		changed:  make(chan struct{}),
	}
	for _, t := range targets {
		d.lanes = append(d.lanes, &lane{d: d, t: t, byKey: map[string]*entry{}, wake: make(chan struct{}, 1)})
	}
	return d, nil
}

// start launches one delivery goroutine per target; it returns at once.
func (d *dispatcher) start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.started {
		return nil
	}
	d.started = true
	var runCtx context.Context
	runCtx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, l := range d.lanes {
		d.wg.Add(1)
		go l.run(runCtx)
	}
	return nil
}

// send validates and enqueues: it never blocks on the network. Valid alerts
// are queued even when others in the slice are not; the error names the
// invalid ones by index.
func (d *dispatcher) send(alerts []Alert) error {
	var errs []error
	valid := make([]entry, 0, len(alerts))
	now := time.Now()
	for i, a := range alerts {
		if err := a.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("alert %d: %w", i, err))
			continue
		}
		a = a.prepared(now)
		valid = append(valid, entry{a: a, key: a.key()})
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if len(valid) > 0 {
		for _, l := range d.lanes {
			l.enqueue(valid)
		}
	}
	return errors.Join(errs...)
}

// pending counts the alerts queued or in flight, once per target.
func (d *dispatcher) pending() int {
	n := 0
	for _, l := range d.lanes {
		l.mu.Lock()
		n += len(l.q)
		l.mu.Unlock()
	}
	return n
}

// flush waits until every queue is empty or ctx ends.
func (d *dispatcher) flush(ctx context.Context) error {
	for {
		d.sigMu.Lock()
		ch := d.changed
		d.sigMu.Unlock()
		n := d.pending()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("flushing %s sink (%d alerts pending): %w", d.sink, n, ctx.Err())
		}
	}
}

func (d *dispatcher) signal() {
	d.sigMu.Lock()
	close(d.changed)
	d.changed = make(chan struct{})
	d.sigMu.Unlock()
}

// shutdown refuses new alerts, flushes until ctx ends, stops the lanes and
// drops (and counts) what is left. Idempotent: later calls return the first
// call's result.
func (d *dispatcher) shutdown(ctx context.Context) error {
	d.shutOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		started := d.started
		d.mu.Unlock()
		var ferr error
		if started {
			ferr = d.flush(ctx)
			d.cancel()
			d.wg.Wait()
		}
		n := 0
		for _, l := range d.lanes {
			n += l.dropAll(ReasonShutdown)
		}
		if n > 0 {
			if ferr != nil {
				ferr = ctx.Err()
			}
			d.shutErr = &UndeliveredError{Sink: d.sink, Count: n, Err: ferr}
			d.log.Error("alert sink shut down with alerts undelivered", "undelivered", n, "err", ferr)
		}
	})
	return d.shutErr
}

type entry struct {
	a        Alert
	key      string
	inflight bool
}

// lane is one target's queue and delivery loop.
type lane struct {
	d    *dispatcher
	t    target
	wake chan struct{} // capacity 1: "the queue is not empty"

	mu          sync.Mutex
	q           []*entry          // oldest first; an in-flight batch stays at the head until acknowledged
	byKey       map[string]*entry // per label set, its newest entry not in flight (coalescing)
	lastDropLog time.Time
}

// enqueue adds alerts at the tail. An alert whose label set is already
// queued (and not in flight) replaces that entry's content in place: only the
// newest update of an alert is sent, and nothing is counted as dropped for
// it. When the queue is full the oldest entry is dropped.
func (l *lane) enqueue(es []entry) {
	capacity := l.d.cfg.QueueCapacity
	added, dropped := 0, 0
	l.mu.Lock()
	for _, e := range es {
		if old, ok := l.byKey[e.key]; ok && !old.inflight {
			a := e.a
			if overlaps(old.a, a) && old.a.StartsAt.Before(a.StartsAt) {
				a.StartsAt = old.a.StartsAt // as Alertmanager's merge would
			}
			old.a = a
			continue
		}
		if len(l.q) >= capacity {
			l.popFront()
			dropped++
		}
		n := &entry{a: e.a, key: e.key}
		l.q = append(l.q, n)
		l.byKey[e.key] = n
		added++
	}
	logDrop := dropped > 0 && time.Since(l.lastDropLog) > 10*time.Second
	if logDrop {
		l.lastDropLog = time.Now()
	}
	l.mu.Unlock()
	l.d.queueLen.Add(float64(added - dropped))
	if dropped > 0 {
		l.d.dropped.WithLabelValues(ReasonQueueFull).Add(float64(dropped))
		if logDrop {
			l.d.log.Warn("alert queue full: dropped the oldest alerts", "url", l.t.url, "dropped", dropped, "capacity", capacity)
		}
		l.d.signal()
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// overlaps reports whether newer continues older rather than starting a new
// episode: older had not ended when newer started.
func overlaps(older, newer Alert) bool {
	return older.EndsAt.IsZero() || !older.EndsAt.Before(newer.StartsAt)
}

// popFront removes the head; l.mu is held.
func (l *lane) popFront() {
	e := l.q[0]
	l.q[0] = nil
	l.q = l.q[1:]
	if len(l.q) == 0 {
		l.q = nil // let the backing array go
	}
	if l.byKey[e.key] == e {
		delete(l.byKey, e.key)
	}
}

// take returns up to max_batch entries from the head, marked in flight, and
// their alerts; it blocks until there is one or ctx ends.
func (l *lane) take(ctx context.Context) ([]*entry, []Alert) {
	for {
		l.mu.Lock()
		if n := min(len(l.q), l.d.cfg.MaxBatch); n > 0 {
			batch := make([]*entry, n)
			alerts := make([]Alert, n)
			for i, e := range l.q[:n] {
				e.inflight = true
				batch[i], alerts[i] = e, e.a
			}
			l.mu.Unlock()
			return batch, alerts
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil
		case <-l.wake:
		}
	}
}

// done removes a batch that was delivered (or given up on, with a drop
// reason). Only the queue's head can have been dropped meanwhile, so the
// batch's surviving entries are still a prefix of the queue.
func (l *lane) done(batch []*entry, dropReason string) {
	removed := 0
	l.mu.Lock()
	for _, e := range batch {
		if len(l.q) > 0 && l.q[0] == e {
			l.popFront()
			removed++
		}
	}
	l.mu.Unlock()
	l.d.queueLen.Sub(float64(removed))
	if dropReason != "" && removed > 0 {
		l.d.dropped.WithLabelValues(dropReason).Add(float64(removed))
	}
	l.d.signal()
}

// release returns a batch to the queue after a failed attempt.
func (l *lane) release(batch []*entry) {
	l.mu.Lock()
	for _, e := range batch {
		e.inflight = false
	}
	l.mu.Unlock()
}

func (l *lane) dropAll(reason string) int {
	l.mu.Lock()
	n := len(l.q)
	l.q = nil
	clear(l.byKey)
	l.mu.Unlock()
	if n > 0 {
		l.d.queueLen.Sub(float64(n))
		l.d.dropped.WithLabelValues(reason).Add(float64(n))
		l.d.signal()
	}
	return n
}

// run delivers batches until ctx ends, retrying a batch through
// backoff.Policy (alerting.retry.initial doubling up to
// alerting.retry.max, no jitter, no bound on attempts; a longer
// Retry-After is honoured up to retry.max) while the target is
// unreachable or answers backoff.RetryableStatus. Each attempt takes the
// queue's head anew, so updates coalesced while waiting are what is sent;
// the backoff starts over after a success.
func (l *lane) run(ctx context.Context) {
	defer l.d.wg.Done()
	policy := backoff.Policy{Initial: l.d.cfg.Retry.Initial, Max: l.d.cfg.Retry.Max}
	for ctx.Err() == nil {
		failures, n := 0, 0
		err := policy.RetryNotify(ctx, func(ctx context.Context) error {
			batch, alerts := l.take(ctx)
			if batch == nil {
				return ctx.Err()
			}
			n = len(batch)
			err := l.post(ctx, alerts)
			if err == nil {
				l.d.sent.Add(float64(len(batch)))
				l.done(batch, "")
				return nil
			}
			if ctx.Err() != nil { // shutting down: the batch stays queued, counted by shutdown
				l.release(batch)
				return err
			}
			var pe *postError
			if !errors.As(err, &pe) {
				pe = &postError{reason: ReasonConnection, err: err}
			}
			l.d.errs.WithLabelValues(pe.reason).Inc()
			if pe.permanent {
				l.d.log.Error("alert batch rejected; not retrying", "url", l.t.url, "alerts", len(batch), "err", err)
				l.done(batch, ReasonRejected)
				return backoff.Permanent(err)
			}
			l.release(batch)
			return backoff.WithRetryAfter(err, pe.retryAfter)
		}, func(err error, attempt int, wait time.Duration) {
			failures = attempt
			lvl := slog.LevelWarn
			if attempt > 1 {
				lvl = slog.LevelDebug
				if attempt%10 == 0 {
					lvl = slog.LevelWarn
				}
			}
			l.d.log.Log(ctx, lvl, "alert delivery failed; retrying", "url", l.t.url, "alerts", n, "attempt", attempt, "retry_in", wait, "err", err)
		})
		if err == nil && failures > 0 {
			l.d.log.Info("alert delivery recovered", "url", l.t.url, "failed_attempts", failures)
		}
	}
}

// postError classifies a failed request.
type postError struct {
	permanent  bool
	reason     string
	retryAfter time.Duration
	err        error
}

func (e *postError) Error() string { return e.err.Error() }
func (e *postError) Unwrap() error { return e.err }

const maxErrorBody = 2048

func (l *lane) post(ctx context.Context, alerts []Alert) error {
	body, err := l.t.encode(alerts)
	if err != nil {
		return &postError{permanent: true, reason: ReasonEncode, err: fmt.Errorf("encoding alerts: %w", err)}
	}
	rctx, cancel := context.WithTimeout(ctx, l.d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, l.t.url, bytes.NewReader(body))
	if err != nil {
		return &postError{permanent: true, reason: ReasonEncode, err: fmt.Errorf("building request: %w", err)}
	}
	for k, vs := range l.t.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chainwatch")
	resp, err := l.d.client.Do(req)
	if err != nil {
		reason := ReasonConnection
		if errors.Is(err, context.DeadlineExceeded) {
			reason = ReasonTimeout
		}
		return &postError{reason: reason, err: fmt.Errorf("posting alerts: %w", err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err = fmt.Errorf("posting alerts: %s answered %s: %s", l.t.url, resp.Status, strings.TrimSpace(string(msg)))
	switch {
	case !backoff.RetryableStatus(code):
		return &postError{permanent: true, reason: ReasonRejected, err: err}
	case code >= 500:
		return &postError{reason: ReasonServer, retryAfter: backoff.RetryAfter(resp.Header, time.Now()), err: err}
	default: // 408, 425, 429
		return &postError{reason: ReasonThrottled, retryAfter: backoff.RetryAfter(resp.Header, time.Now()), err: err}
	}
}
