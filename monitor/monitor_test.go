package monitor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/internal/config"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
	"github.com/chainwatch/chainwatch/sinks"
	"github.com/chainwatch/chainwatch/sinks/amtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// env is one test's database with the schema migrated.
type env struct {
	store *Store
	chs   *clickhouse.Inserter
}

func newEnv(t *testing.T) env { return newEnvTB(t) }

func newEnvTB(t testing.TB) env {
	t.Helper()
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	chs, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return env{store: NewStore(conn), chs: chs}
}

// traffic writes minutes of simulated support-bot traffic starting at t0,
// perMinute traces each, the shift active in the minutes shifted reports.
func (e env) traffic(t *testing.T, kind simulate.ShiftKind, t0 time.Time, minutes, perMinute int, shifted func(minute int) bool) {
	e.trafficTB(t, kind, t0, minutes, perMinute, shifted)
}

func (e env) trafficTB(t testing.TB, kind simulate.ShiftKind, t0 time.Time, minutes, perMinute int, shifted func(minute int) bool) {
	t.Helper()
	tr := simulate.DefaultTraffic()
	tr.Apps = []string{"support-bot"}
	tr.Shift = simulate.Shift{Kind: kind}
	tr.FeedbackRate = 0
	g, err := simulate.NewGenerator(tr)
	if err != nil {
		t.Fatal(err)
	}
	for mi := range minutes {
		traces := make([]*simulate.Trace, perMinute)
		for i := range traces {
			at := t0.Add(time.Duration(mi)*time.Minute + time.Duration(float64(time.Minute)*(float64(i)+0.5)/float64(perMinute)))
			traces[i] = g.Next(at, shifted(mi))
		}
		spans, err := genai.AppendSpans(nil, g.Pack(traces))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.chs.InsertSpans(t.Context(), spans); err != nil {
			t.Fatal(err)
		}
	}
}

func testRunner(t *testing.T, e env) *Runner { return testRunnerTB(t, e) }

func testRunnerTB(t testing.TB, e env) *Runner {
	t.Helper()
	tok, err := tokenize.New("cl100k_base")
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Store: e.store, Tokenizer: tok, Embedder: embedding.NewLexical(256, 0), Worker: "test"}
}

// defaultMonitors are the embedded default's four monitors for an app,
// named with a prefix, against ref.
func testMonitors(prefix string, ref Reference) []Monitor {
	sel := Selector{App: "support-bot"}
	cur := Window{Size: time.Minute}
	return []Monitor{
		{Name: prefix + "-output-tokens", Selector: sel, Feature: "output_tokens", Detector: "ks", Reference: ref, Current: cur, Schedule: time.Minute},
		{Name: prefix + "-output-embedding", Selector: sel, Feature: "output_embedding", Detector: "mmd", Reference: ref, Current: cur, Schedule: time.Minute},
		{Name: prefix + "-input-vocabulary", Selector: sel, Feature: "input_terms", Detector: "js", Reference: ref, Current: cur, Schedule: time.Minute},
		{Name: prefix + "-error-rate", Selector: sel, Feature: "error", Detector: "fisher", Reference: ref, Current: cur, Schedule: time.Minute},
	}
}

// oneMonitorWorker is a worker with the single monitor m (defaults filled,
// returned) and sink (nil: none).
func oneMonitorWorker(t *testing.T, e env, m Monitor, sink sinks.Sink) (*Worker, Monitor) {
	t.Helper()
	w, err := NewWorker(Config{Monitors: []Monitor{m}}, testRunner(t, e), sink, nil, WorkerOptions{Log: quietLog(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return w, w.monitors[0]
}

// runTick runs m at tick with fresh alert state, failing on a write error.
func runTick(t *testing.T, w *Worker, m Monitor, tick time.Time) schemas.DetectorResult {
	t.Helper()
	res, err := w.RunTick(t.Context(), m, tick, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSink(t *testing.T, am *amtest.Server) *sinks.Alertmanager {
	t.Helper()
	s, err := sinks.NewAlertmanager(sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{am.URL()}},
		Retry: config.Retry{Initial: 200 * time.Millisecond, Max: 2 * time.Second}, Timeout: 2 * time.Second}, prometheus.NewRegistry(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// activeAlert waits up to d for an active alert of the monitor in
// Alertmanager (want true) or for none (want false).
func activeAlert(t *testing.T, am *amtest.Server, monitor string, want bool, d time.Duration) *amtest.GettableAlert {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		alerts, err := am.Alerts(t.Context())
		var found *amtest.GettableAlert
		if err == nil {
			for i, a := range alerts {
				if a.Labels["monitor"] == monitor && a.Status.State == "active" {
					found = &alerts[i]
				}
			}
		}
		if (found != nil) == want {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert of %s active=%v not seen within %v (last error %v, alerts %v)", monitor, want, d, err, alerts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestConfigValidateNamesKeys(t *testing.T) {
	cfg := Config{Monitors: []Monitor{
		{Name: "a", Feature: "output_tokens", Detector: "mmd"},
		{Name: "b", Feature: "nope", Detector: "ks"},
		{Name: "c", Feature: "output_tokens", Detector: "ks", Params: map[string]string{"p_vl": "0.1", "p_val": "x"}},
		{Name: "d", Feature: "latency_ms", Detector: "ks", Reference: Reference{Dataset: "evals@0"}},
		{Name: "d", Feature: "latency_ms", Detector: "ks", Current: Window{Size: time.Minute, Count: 10}, Schedule: time.Millisecond, Severity: "loud", Labels: map[string]string{"app": "x", "bad-name": "y"}},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`monitors[0] (a).detector: "mmd" does not apply to numeric feature "output_tokens"`,
		`monitors[1] (b).feature: "nope" is not one of`,
		"monitors[2] (c).params: p_val: \"x\" is not a number; p_vl: unknown for ks",
		`monitors[3] (d).reference.dataset: version "0" is not a positive integer`,
		`monitors[3] (d).reference.dataset: feature "latency_ms" does not exist in datasets`,
		"monitors[4] (d).current: set size or count, not both",
		"monitors[4] (d).schedule: must be ≥ 1s",
		`monitors[4] (d).severity: "loud"`,
		"monitors[4] (d).labels.app: is set by chainwatch",
		"monitors[4] (d).labels.bad-name: is not a valid label name",
		`monitors[4] (d).name: "d" is also the name of monitors[3]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	good, err := ParseConfig([]byte(`
monitors:
  - name: tokens
    selector: {app: support-bot}
    feature: output_tokens
    detector: ks
    params: {p_val: "0.01"}
    reference: {size: 1h}
    current: {size: 5m}
    schedule: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	m := good.Monitors[0]
	if m.Selector.ComponentKind != "llm" || m.MinCur != DefaultMinSamples || m.Reference.Size != time.Hour || m.Version() == "" {
		t.Fatalf("defaults not filled: %+v", m)
	}
	if _, err := ParseConfig([]byte("monitors:\n  - name: x\n    featur: y\n")); err == nil || !strings.Contains(err.Error(), "featur") {
		t.Fatalf("unknown key not named: %v", err)
	}
}

// TestShiftsRaiseTheRightAlert: for each simulated shift, the monitor that
// watches what it changes fires in Alertmanager within two ticks of the
// shift, and the alert resolves once the shift is undone. The reference is
// the fixed first three minutes; ticks are a minute apart, the shift is
// active in minutes 4–6 and undone from minute 7.
func TestShiftsRaiseTheRightAlert(t *testing.T) {
	am := amtest.Start(t)
	for _, tc := range []struct {
		kind simulate.ShiftKind
		want string // the monitor that must fire
	}{
		{simulate.ShiftLength, "output-tokens"},
		{simulate.ShiftTopic, "output-embedding"},
		{simulate.ShiftLanguage, "input-vocabulary"},
		{simulate.ShiftErrorRate, "error-rate"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := newEnv(t)
			t0 := time.Now().Truncate(time.Minute).Add(-12 * time.Minute)
			e.traffic(t, tc.kind, t0, 10, 150, func(m int) bool { return m >= 4 && m < 7 })
			prefix := "shift-" + string(tc.kind)
			cfg := Config{Monitors: testMonitors(prefix, Reference{From: t0, To: t0.Add(3 * time.Minute)})}
			w, err := NewWorker(cfg, testRunner(t, e), newSink(t, am), nil, WorkerOptions{Log: quietLog(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			states := map[string]*monState{}
			fired := map[string]int{} // monitor → first tick index (minutes after t0) with drift
			run := func(minute int) map[string]bool {
				drift := map[string]bool{}
				for _, m := range w.monitors {
					if states[m.Name] == nil {
						states[m.Name] = &monState{loaded: true}
					}
					res, err := w.RunTick(t.Context(), m, t0.Add(time.Duration(minute)*time.Minute), states[m.Name])
					if err != nil {
						t.Fatal(err)
					}
					if res.Status != schemas.RunOK {
						t.Fatalf("%s at minute %d: %s %s", m.Name, minute, res.Status, res.Error)
					}
					drift[m.Name] = res.Drift
					if _, ok := fired[m.Name]; !ok && res.Drift {
						fired[m.Name] = minute
					}
				}
				return drift
			}
			// Ticks 4 (window 3–4, unshifted) … 6 (window 5–6, shifted since 4).
			for minute := 4; minute <= 6; minute++ {
				run(minute)
			}
			want := prefix + "-" + tc.want
			first, ok := fired[want]
			t.Logf("%s shift: first drift per monitor (minute): %v", tc.kind, fired)
			if !ok || first > 6 {
				t.Fatalf("%s did not fire within two ticks of the shift (fired: %v)", want, fired)
			}
			if _, early := fired[want]; early && first < 5 {
				t.Fatalf("%s fired at minute %d, before the shift reached its window", want, first)
			}
			a := activeAlert(t, am, want, true, 10*time.Second)
			for k, v := range map[string]string{"alertname": AlertDrift, "app": "support-bot", "feature": w.monitors[monitorIndex(w, want)].Feature, "severity": "warning"} {
				if a.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
				}
			}
			if !strings.Contains(a.Annotations["summary"], "drifted") || a.Annotations["p_value"] == "" || a.Annotations["query"] == "" {
				t.Errorf("annotations: %v", a.Annotations)
			}
			// Undo: minutes 7–9 are unshifted again.
			var resolved bool
			for minute := 8; minute <= 10 && !resolved; minute++ {
				resolved = !run(minute)[want]
			}
			if !resolved {
				t.Fatalf("%s still drifting after the shift was undone", want)
			}
			activeAlert(t, am, want, false, 10*time.Second)
			var n uint64
			q := fmt.Sprintf("SELECT count() FROM alerts WHERE monitor = '%s' AND state IN ('firing', 'resolved')", want)
			if err := e.store.conn.QueryRow(t.Context(), q).Scan(&n); err != nil || n != 2 {
				t.Fatalf("alert history has %d transitions for %s (%v), want firing + resolved", n, want, err)
			}
		})
	}
}

func monitorIndex(w *Worker, name string) int {
	for i, m := range w.monitors {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// upper99 is the 99.5 % quantile of Binomial(n, p): more false alarms than
// this in n independent runs at level p happen less than 0.5 % of the time.
func upper99(n int, p float64) int {
	cdf, pmf := 0.0, 0.0
	for k := 0; k <= n; k++ {
		pmf = binomPMF(n, k, p)
		cdf += pmf
		if cdf >= 0.995 {
			return k
		}
	}
	return n
}

func binomPMF(n, k int, p float64) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log(1-p))
}

// TestUnchangedTrafficFalseAlarms: 50 one-minute windows of unchanged
// traffic, each compared with the minute before it (trailing reference):
// each monitor fires no more often than alpha predicts (at most the 99.5 %
// binomial quantile of 50 runs at 0.05), and nothing is sent for runs
// without drift.
func TestUnchangedTrafficFalseAlarms(t *testing.T) {
	e := newEnv(t)
	const windows = 50
	t0 := time.Now().Truncate(time.Minute).Add(-(windows + 3) * time.Minute)
	e.traffic(t, simulate.ShiftNone, t0, windows+1, 100, func(int) bool { return false })
	cfg := Config{Monitors: testMonitors("null", Reference{})}
	w, err := NewWorker(cfg, testRunner(t, e), nil, nil, WorkerOptions{Log: quietLog(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	limit := upper99(windows, 0.05)
	alarms := map[string]int{}
	for _, m := range w.monitors {
		st := &monState{loaded: true}
		for k := 2; k <= windows+1; k++ {
			res, err := w.RunTick(t.Context(), m, t0.Add(time.Duration(k)*time.Minute), st)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != schemas.RunOK {
				t.Fatalf("%s tick %d: %s %s", m.Name, k, res.Status, res.Error)
			}
			if res.Drift {
				alarms[m.Name]++
			}
		}
	}
	t.Logf("false alarms over %d windows (limit %d): %v", windows, limit, alarms)
	for name, n := range alarms {
		if n > limit {
			t.Errorf("%s: %d false alarms in %d unchanged windows, more than alpha allows (%d)", name, n, windows, limit)
		}
	}
}

// TestSkewAgainstImportedDataset: an evaluation dataset imported with
// datasets.Import is the reference. Production traffic like the dataset
// raises no skew; production traffic in another language does, as a
// ChainwatchSkew alert naming the dataset version.
func TestSkewAgainstImportedDataset(t *testing.T) {
	e := newEnv(t)
	am := amtest.Start(t)
	// The dataset: 300 English support-bot exchanges, as evaluated.
	tr := simulate.DefaultTraffic()
	tr.Apps, tr.Seed, tr.ErrorRate = []string{"support-bot"}, 99, 0
	g, err := simulate.NewGenerator(tr)
	if err != nil {
		t.Fatal(err)
	}
	var rows []schemas.DatasetRow
	for i := range 300 {
		tc := g.Next(time.Now(), false)
		rows = append(rows, schemas.DatasetRow{Row: uint32(i), Input: tc.Prompt, Expected: tc.Answer, Tags: []string{tc.Topic}})
	}
	v, err := datasets.Import(t.Context(), e.store.conn, "support-evals", rows, datasets.Meta{Source: "generated"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Truncate(time.Minute).Add(-5 * time.Minute)
	e.traffic(t, simulate.ShiftLanguage, t0, 2, 150, func(m int) bool { return m == 1 })
	m := Monitor{Name: "skew-vocabulary", Selector: Selector{App: "support-bot"}, Feature: "input_terms", Detector: "js",
		Reference: Reference{Dataset: "support-evals"}, Current: Window{Size: time.Minute}, Schedule: time.Minute}
	w, m := oneMonitorWorker(t, e, m, newSink(t, am))
	st := &monState{loaded: true}
	same, err := w.RunTick(t.Context(), m, t0.Add(time.Minute), st)
	if err != nil {
		t.Fatal(err)
	}
	if same.Status != schemas.RunOK || same.Drift || same.Kind != "skew" || same.Reference != fmt.Sprintf("dataset:support-evals@%d", v.Version) || same.NRef != 300 {
		t.Fatalf("traffic like the dataset: %+v", same)
	}
	shifted, err := w.RunTick(t.Context(), m, t0.Add(2*time.Minute), st)
	if err != nil {
		t.Fatal(err)
	}
	if !shifted.Drift {
		t.Fatalf("Spanish traffic against an English dataset: no skew: %+v", shifted)
	}
	a := activeAlert(t, am, "skew-vocabulary", true, 10*time.Second)
	if a.Labels["alertname"] != AlertSkew || a.Labels["kind"] != "skew" || !strings.Contains(a.Annotations["summary"], "skewed from dataset:support-evals@1") {
		t.Fatalf("alert: %+v", a)
	}
}

// TestAlertmanagerDownForAMinute: the alert raised while Alertmanager is
// down arrives once it is back.
func TestAlertmanagerDownForAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of downtime")
	}
	e := newEnv(t)
	am := amtest.Start(t)
	t0 := time.Now().Truncate(time.Minute).Add(-4 * time.Minute)
	e.traffic(t, simulate.ShiftLength, t0, 2, 150, func(m int) bool { return m == 1 })
	m := testMonitors("outage", Reference{})[0]
	w, m := oneMonitorWorker(t, e, m, newSink(t, am))
	am.Stop()
	res, err := w.RunTick(t.Context(), w.monitors[0], t0.Add(2*time.Minute), &monState{loaded: true})
	if err != nil || !res.Drift {
		t.Fatalf("no drift to alert on: %+v %v", res, err)
	}
	time.Sleep(time.Minute)
	am.Restart()
	activeAlert(t, am, m.Name, true, 15*time.Second)
}

// TestWorkersShareMonitors: two workers in one Kafka group (kfake) run
// eight monitors on a one-second schedule for a few seconds. Each monitor
// runs once per tick — not once per worker — and both workers take part.
func TestWorkersShareMonitors(t *testing.T) {
	e := newEnv(t)
	_, brokers := kafkatest.NewCluster(t)
	var ms []Monitor
	for i := range 8 {
		ms = append(ms, Monitor{Name: fmt.Sprintf("shared-%d", i), Feature: "latency_ms", Detector: "ks", Schedule: time.Second, Current: Window{Size: time.Second}})
	}
	var workers []*Worker
	for i := range 2 {
		owner, err := NewKafkaOwner(t.Context(), kafka.Config{Brokers: brokers}, "chainwatch-monitors", "chainwatch-worker", 8)
		if err != nil {
			t.Fatal(err)
		}
		r := testRunner(t, e)
		r.Worker = fmt.Sprintf("w%d", i)
		w, err := NewWorker(Config{Monitors: ms}, r, nil, owner, WorkerOptions{Settle: 100 * time.Millisecond, Log: quietLog(), Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
		t.Cleanup(owner.Close)
	}
	time.Sleep(3 * time.Second) // the group forms
	var before uint64
	e.store.conn.QueryRow(t.Context(), "SELECT toUInt64(max(tick)) FROM detector_results").Scan(&before)
	time.Sleep(5 * time.Second)
	for _, w := range workers {
		if err := w.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// Ticks after the group formed: each (monitor, tick) exactly once.
	q := fmt.Sprintf(`SELECT monitor, count() AS runs, uniqExact(tick) AS ticks, uniqExact(worker) FROM detector_results
		WHERE tick > toDateTime(%d) GROUP BY monitor ORDER BY monitor`, before)
	rows, err := e.store.conn.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var m string
		var runs, ticks, nw uint64
		if err := rows.Scan(&m, &runs, &ticks, &nw); err != nil {
			t.Fatal(err)
		}
		seen++
		if runs != ticks || ticks < 3 {
			t.Errorf("%s: %d runs for %d ticks", m, runs, ticks)
		}
	}
	var workersSeen uint64
	e.store.conn.QueryRow(t.Context(), fmt.Sprintf("SELECT uniqExact(worker) FROM detector_results WHERE tick > toDateTime(%d)", before)).Scan(&workersSeen)
	if seen != 8 || workersSeen != 2 {
		t.Fatalf("%d of 8 monitors ran, by %d workers", seen, workersSeen)
	}
}

// TestFeedbackScoreMonitor: users' thumbs-up rate drops from 80 % to 40 %
// in the third minute; a feedback_score monitor flags the drop and not the
// unchanged second minute.
func TestFeedbackScoreMonitor(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().Truncate(time.Minute).Add(-5 * time.Minute)
	e.traffic(t, simulate.ShiftNone, t0, 3, 150, func(int) bool { return false })
	rows, err := e.store.conn.Query(t.Context(), "SELECT DISTINCT trace_id, toUInt64(max(start_unix_nano)) FROM spans GROUP BY trace_id")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var fb []schemas.Feedback
	for rows.Next() {
		var id string
		var ns uint64
		if err := rows.Scan(&id, &ns); err != nil {
			t.Fatal(err)
		}
		at := time.Unix(0, int64(ns)).Add(time.Second)
		p := 0.8
		if !at.Before(t0.Add(2 * time.Minute)) {
			p = 0.4
		}
		score := 0.0
		if rng.Float64() < p {
			score = 1
		}
		fb = append(fb, schemas.Feedback{ID: "fb-" + id, TraceID: id, Score: &score, Label: "thumbs", Source: "user", Time: at})
	}
	rows.Close()
	if err := e.chs.InsertFeedback(t.Context(), fb); err != nil {
		t.Fatal(err)
	}
	m := Monitor{Name: "thumbs", Selector: Selector{App: "support-bot"}, Feature: "feedback_score", Detector: "ks",
		Reference: Reference{Size: time.Minute}, Current: Window{Size: time.Minute}, Schedule: time.Minute}
	w, m := oneMonitorWorker(t, e, m, nil)
	same, drop := runTick(t, w, m, t0.Add(2*time.Minute)), runTick(t, w, m, t0.Add(3*time.Minute))
	t.Logf("unchanged: p %v (n %d/%d); drop: p %v (n %d/%d)", *same.PValue, same.NRef, same.NCur, *drop.PValue, drop.NRef, drop.NCur)
	if same.Status != schemas.RunOK || same.Drift || same.NCur < 100 {
		t.Fatalf("unchanged feedback: %+v", same)
	}
	if drop.Status != schemas.RunOK || !drop.Drift {
		t.Fatalf("thumbs-up 80 %% → 40 %%: %+v", drop)
	}
}

func TestTickAt(t *testing.T) {
	at := time.Unix(7*60*1000+59, 5).UTC() // 59 s into a 7-minute tick
	if got := tickAt(at, 7*time.Minute); got.Unix() != 7*60*1000 {
		t.Fatalf("tickAt = %v, want %v", got, time.Unix(7*60*1000, 0).UTC())
	}
	if got := tickAt(time.Unix(90, 0), 30*time.Second); got.Unix() != 90 {
		t.Fatalf("a tick is its own tick: %v", got)
	}
}

// TestEvalScoreMonitor: a judge's 1–5 correctness scores for support-bot
// drop by a point in the third minute; an eval_score monitor flags it and
// ignores failed evaluations (error rows with value 0).
func TestEvalScoreMonitor(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().Truncate(time.Minute).Add(-5 * time.Minute)
	rng := rand.New(rand.NewPCG(3, 4))
	var scores []schemas.Score
	for i := range 3 * 120 {
		at := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		v := float64(3 + rng.IntN(3)) // 3..5
		if i >= 240 {
			v-- // 2..4
		}
		s := schemas.Score{TraceID: fmt.Sprintf("%032x", i), SpanID: fmt.Sprintf("%016x", i), App: "support-bot", Chain: "support-answer",
			Evaluator: "judge-correctness", EvaluatorVersion: "v1", Metric: "correctness", Value: v, Created: at}
		if i%10 == 0 {
			s.Value, s.Error = 0, "malformed_output"
		}
		scores = append(scores, s)
	}
	if err := e.chs.InsertScores(t.Context(), scores); err != nil {
		t.Fatal(err)
	}
	m := Monitor{Name: "judge", Selector: Selector{App: "support-bot", Chain: "support-answer"}, Feature: "eval_score", Detector: "ks",
		Score: ScoreSeries{Evaluator: "judge-correctness", Metric: "correctness"}, Reference: Reference{Size: time.Minute}, Current: Window{Size: time.Minute}, Schedule: time.Minute}
	w, m := oneMonitorWorker(t, e, m, nil)
	same, drop := runTick(t, w, m, t0.Add(2*time.Minute)), runTick(t, w, m, t0.Add(3*time.Minute))
	if same.Status != schemas.RunOK || same.Drift || same.NCur != 108 { // 120 minus the 12 failed
		t.Fatalf("unchanged scores: %+v", same)
	}
	if !drop.Drift {
		t.Fatalf("scores one point lower: %+v", drop)
	}
}

// recordingSink keeps what it is sent.
type recordingSink struct{ sent []sinks.Alert }

func (r *recordingSink) Start(context.Context) error { return nil }
func (r *recordingSink) Send(_ context.Context, a []sinks.Alert) error {
	r.sent = append(r.sent, a...)
	return nil
}
func (r *recordingSink) Shutdown(context.Context) error { return nil }

// TestForConsecutiveRuns: with for: 2 the first drifting run raises
// nothing, the second fires, and the first run without drift resolves.
func TestForConsecutiveRuns(t *testing.T) {
	e := newEnv(t)
	sink := &recordingSink{}
	m := Monitor{Name: "for-two", Feature: "output_tokens", Detector: "ks", For: 2, Schedule: time.Minute}
	w, m := oneMonitorWorker(t, e, m, sink)
	st := &monState{loaded: true}
	t0 := time.Now().Truncate(time.Minute)
	var states []string
	for i, drift := range []bool{true, true, true, false} {
		w.alert(t.Context(), m, schemas.DetectorResult{Tick: t0.Add(time.Duration(i) * time.Minute), Drift: drift}, st)
		state := "none"
		if n := len(sink.sent); n > 0 {
			if sink.sent[n-1].Resolved(time.Now().Add(time.Second)) {
				state = "resolved"
			} else {
				state = "firing"
			}
		}
		states = append(states, fmt.Sprintf("%d:%s", len(sink.sent), state))
	}
	if got := strings.Join(states, " "); got != "0:none 1:firing 2:firing 3:resolved" {
		t.Fatalf("alerts after each run: %s", got)
	}
	if !sink.sent[0].StartsAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("startsAt %v, want the tick that completed the streak", sink.sent[0].StartsAt)
	}
}
