package monitor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/embed"
	"github.com/chainwatch/chainwatch/ingest"
	"github.com/chainwatch/chainwatch/ingest/chtest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
	"github.com/chainwatch/chainwatch/sinks"
	"github.com/chainwatch/chainwatch/sinks/amtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// env is one test's database with the schema migrated.
type env struct {
	store *Store
	chs   *ingest.CHStore
}

func newEnv(t *testing.T) env {
	t.Helper()
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, ingest.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	chs, err := ingest.NewCHStore(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return env{store: NewStore(conn), chs: chs}
}

// traffic writes minutes of simulated support-bot traffic starting at t0,
// perMinute traces each, the shift active in the minutes shifted reports.
func (e env) traffic(t *testing.T, kind simulate.ShiftKind, t0 time.Time, minutes, perMinute int, shifted func(minute int) bool) {
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
		spans, err := schemas.AppendSpans(nil, g.Pack(traces))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.chs.InsertSpans(t.Context(), spans); err != nil {
			t.Fatal(err)
		}
	}
}

func testRunner(t *testing.T, e env) *Runner {
	t.Helper()
	tok, err := tokenize.New("cl100k_base")
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Store: e.store, Tokenizer: tok, Embedder: embed.NewLexical(256, 0), Worker: "test"}
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

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSink(t *testing.T, am *amtest.Server) *sinks.Alertmanager {
	t.Helper()
	s, err := sinks.NewAlertmanager(sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{am.URL()}},
		BackoffInitial: 200 * time.Millisecond, BackoffMax: 2 * time.Second, Timeout: 2 * time.Second}, prometheus.NewRegistry(), quietLog())
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
