package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/sinks"
)

// Defaults of the worker.
const (
	// DefaultSettle is how long after a tick its run starts, so that spans
	// of the window's last seconds have reached ClickHouse (the pipeline's
	// p95 received→visible is about 2 s; BENCHMARKS.md).
	DefaultSettle      = 5 * time.Second
	DefaultConcurrency = 2
)

// WorkerOptions shape a Worker.
type WorkerOptions struct {
	Settle      time.Duration
	Concurrency int // monitors run at once
	GrafanaURL  string
	Log         *slog.Logger
	Registerer  prometheus.Registerer
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Worker runs the monitors it owns once per schedule tick. Ticks are
// aligned to multiples of each monitor's schedule since the Unix epoch, so
// every worker agrees on them. A run of tick t starts at t + Settle. After
// a restart or an ownership change the worker resumes from the last tick
// recorded in detector_results; it runs only the latest due tick (it does
// not backfill ticks missed while no worker ran).
type Worker struct {
	monitors []Monitor
	runner   *Runner
	sink     sinks.Sink // nil: no alerts sent (results and history still written)
	owner    Owner
	o        WorkerOptions
	m        *workerMetrics

	mu      sync.Mutex
	state   map[string]*monState
	sem     chan struct{}
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	loop    chan struct{}
	stopped bool
}

type monState struct {
	loaded  bool
	last    time.Time // newest tick run
	running bool
	firing  bool
	since   time.Time
	streak  int // consecutive runs with drift
}

// NewWorker prepares a worker; Start runs it.
func NewWorker(cfg Config, runner *Runner, sink sinks.Sink, owner Owner, o WorkerOptions) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if owner == nil {
		owner = OwnAll{}
	}
	if o.GrafanaURL == "" {
		o.GrafanaURL = cfg.GrafanaURL
	}
	m, err := newWorkerMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Worker{monitors: cfg.WithDefaults().Monitors, runner: runner, sink: sink, owner: owner, o: o, m: m,
		state: map[string]*monState{}, sem: make(chan struct{}, o.Concurrency)}, nil
}

// Start begins the schedule loop and returns.
func (w *Worker) Start(ctx context.Context) error {
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.loop = make(chan struct{})
	go func() {
		defer close(w.loop)
		t := time.NewTicker(w.pollInterval())
		defer t.Stop()
		for {
			w.dispatch(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// pollInterval is an eighth of the shortest schedule, within [100ms, 5s].
func (w *Worker) pollInterval() time.Duration {
	d := 5 * time.Second
	for _, m := range w.monitors {
		d = min(d, m.Schedule/8)
	}
	return max(d, 100*time.Millisecond)
}

// Shutdown stops scheduling and waits for running monitors (until ctx
// ends). It is idempotent.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if w.stopped || w.cancel == nil {
		w.stopped = true
		w.mu.Unlock()
		return nil
	}
	w.stopped = true
	w.mu.Unlock()
	w.cancel()
	<-w.loop
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for running monitors: %w", ctx.Err())
	}
}

// tickAt is the last multiple of schedule since the Unix epoch at or
// before t.
func tickAt(t time.Time, schedule time.Duration) time.Time {
	d := int64(schedule)
	return time.Unix(0, t.UnixNano()/d*d).UTC()
}

// dispatch starts every owned monitor whose tick is due.
func (w *Worker) dispatch(ctx context.Context) {
	now := w.o.Now()
	for _, m := range w.monitors {
		if !w.owner.Owns(m.Name) {
			w.mu.Lock()
			delete(w.state, m.Name) // reload from ClickHouse if it comes back
			w.mu.Unlock()
			continue
		}
		tick := tickAt(now.Add(-w.o.Settle), m.Schedule)
		w.mu.Lock()
		st := w.state[m.Name]
		if st == nil {
			st = &monState{}
			w.state[m.Name] = st
		}
		if st.running || (st.loaded && !tick.After(st.last)) {
			w.mu.Unlock()
			continue
		}
		st.running = true
		w.mu.Unlock()
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		w.wg.Add(1)
		go func(m Monitor, st *monState, tick time.Time) {
			defer w.wg.Done()
			defer func() { <-w.sem }()
			w.runOnce(ctx, m, st, tick)
		}(m, st, tick)
	}
}

// runOnce loads the monitor's state on first use, runs the tick unless it
// was already run, writes the result, and raises or resolves the alert.
func (w *Worker) runOnce(ctx context.Context, m Monitor, st *monState, tick time.Time) {
	defer func() {
		w.mu.Lock()
		st.running = false
		w.mu.Unlock()
	}()
	if !st.loaded {
		last, drift, err := w.runner.Store.LastRun(ctx, m.Name)
		if err != nil {
			w.o.Log.Warn("reading monitor state; will retry", "monitor", m.Name, "err", err)
			return
		}
		w.mu.Lock()
		st.loaded, st.last, st.firing = true, last, drift
		if drift {
			st.since, st.streak = last, max(m.For, 1)
		}
		w.mu.Unlock()
		if !tick.After(last) {
			return
		}
	}
	if _, err := w.RunTick(ctx, m, tick, st); err != nil {
		w.o.Log.Error("monitor run", "monitor", m.Name, "tick", tick, "err", err)
		return // not marked as run: the next poll retries the tick
	}
	w.mu.Lock()
	st.last = tick
	w.mu.Unlock()
}

// RunTick runs m for tick, records the result and sends the alert. st
// carries the alert state between ticks (nil: a fresh one). The error is
// about recording the result; a failed detector run is a result.
func (w *Worker) RunTick(ctx context.Context, m Monitor, tick time.Time, st *monState) (schemas.DetectorResult, error) {
	if st == nil {
		st = &monState{loaded: true}
	}
	res, tm := w.runner.Run(ctx, m, tick)
	w.m.observe(m, res, tm)
	if res.Status == schemas.RunError {
		w.o.Log.Warn("monitor run failed", "monitor", m.Name, "tick", tick, "err", res.Error)
	}
	t0 := time.Now()
	if err := w.runner.Store.InsertResult(ctx, res); err != nil {
		w.m.writeErrors.Inc()
		return res, err
	}
	if res.Status == schemas.RunOK {
		w.alert(ctx, m, res, st)
	}
	w.m.stage.WithLabelValues("sinks").Observe(time.Since(t0).Seconds())
	return res, nil
}

// alert raises (and refreshes, every tick while it lasts) or resolves the
// monitor's alert, and records transitions in the alert history.
func (w *Worker) alert(ctx context.Context, m Monitor, res schemas.DetectorResult, st *monState) {
	now := w.o.Now().UTC()
	var event string
	w.mu.Lock()
	if res.Drift {
		st.streak++
	} else {
		st.streak = 0
	}
	switch {
	case res.Drift && !st.firing && st.streak >= max(m.For, 1):
		st.firing, st.since, event = true, res.Tick, "firing"
	case !res.Drift && st.firing:
		st.firing, event = false, "resolved"
	}
	firing, since := st.firing, st.since
	w.mu.Unlock()
	if !firing && event == "" {
		return
	}
	a := alertFor(m, res, firing, since, now, w.o.GrafanaURL)
	if w.sink != nil {
		if err := w.sink.Send(ctx, []sinks.Alert{a}); err != nil {
			w.o.Log.Error("queueing alert", "monitor", m.Name, "err", err)
		}
	}
	if event != "" {
		w.m.alerts.WithLabelValues(event).Inc()
		ev := schemas.AlertEvent{Time: now, Monitor: m.Name, Tick: res.Tick, State: event, Fingerprint: fingerprint(a.Labels),
			Labels: a.Labels, Annotations: a.Annotations}
		if err := w.runner.Store.InsertAlerts(ctx, []schemas.AlertEvent{ev}); err != nil {
			w.m.writeErrors.Inc()
			w.o.Log.Error("recording alert history", "monitor", m.Name, "state", event, "err", err)
		}
	}
}

// workerMetrics are the monitors' Prometheus series.
type workerMetrics struct {
	statistic, pValue, drift, lastRun *prometheus.GaugeVec
	samples                           *prometheus.GaugeVec
	runs                              *prometheus.CounterVec
	stage                             *prometheus.HistogramVec
	alerts                            *prometheus.CounterVec
	writeErrors                       prometheus.Counter
}

func newWorkerMetrics(reg prometheus.Registerer) (*workerMetrics, error) {
	lbl := []string{"monitor", "app", "feature", "detector", "kind"}
	m := &workerMetrics{
		statistic: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "statistic", Help: "Detector statistic of the monitor's last run."}, lbl),
		pValue:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "p_value", Help: "p-value of the monitor's last run (absent for distances)."}, lbl),
		drift:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "drift", Help: "1 if the monitor's last run found drift or skew, else 0."}, lbl),
		lastRun:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "last_run_timestamp_seconds", Help: "Tick of the monitor's last run."}, []string{"monitor"}),
		samples:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "samples", Help: "Rows in the last run's windows."}, []string{"monitor", "window"}),
		runs:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "runs_total", Help: "Monitor runs by status (ok, insufficient_data, error)."}, []string{"monitor", "status"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "stage_seconds", Help: "Time per stage of a monitor run (query, features, detector, sinks).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"stage"}),
		alerts:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "alert_transitions_total", Help: "Alerts raised and resolved."}, []string{"state"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "monitor", Name: "write_errors_total", Help: "Results or alert-history rows that could not be written to ClickHouse."}),
	}
	if err := errors.Join(metrics.Register(reg, &m.statistic), metrics.Register(reg, &m.pValue), metrics.Register(reg, &m.drift), metrics.Register(reg, &m.lastRun), metrics.Register(reg, &m.samples), metrics.Register(reg, &m.runs), metrics.Register(reg, &m.stage), metrics.Register(reg, &m.alerts), metrics.Register(reg, &m.writeErrors)); err != nil {
		return nil, fmt.Errorf("registering monitor metrics: %w", err)
	}
	return m, nil
}

func (wm *workerMetrics) observe(m Monitor, res schemas.DetectorResult, tm Timings) {
	wm.runs.WithLabelValues(m.Name, res.Status).Inc()
	wm.lastRun.WithLabelValues(m.Name).Set(float64(res.Tick.Unix()))
	wm.samples.WithLabelValues(m.Name, "reference").Set(float64(res.NRef))
	wm.samples.WithLabelValues(m.Name, "current").Set(float64(res.NCur))
	wm.stage.WithLabelValues("query").Observe(tm.Query.Seconds())
	if res.Status != schemas.RunOK {
		return
	}
	wm.stage.WithLabelValues("features").Observe(tm.Features.Seconds())
	wm.stage.WithLabelValues("detector").Observe(tm.Detector.Seconds())
	l := []string{m.Name, orAll(m.Selector.App), m.Feature, m.Detector, m.Reference.Kind()}
	wm.statistic.WithLabelValues(l...).Set(res.Statistic)
	if res.PValue != nil {
		wm.pValue.WithLabelValues(l...).Set(*res.PValue)
	}
	d := 0.0
	if res.Drift {
		d = 1
	}
	wm.drift.WithLabelValues(l...).Set(d)
}

// Monitors are the worker's monitors, defaults filled.
func (w *Worker) Monitors() []Monitor { return w.monitors }
