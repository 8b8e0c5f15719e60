package sinks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/internal/config"
	"github.com/chainwatch/chainwatch/sinks"
)

// fast is a delivery config for tests: short backoff, short timeout.
func fast(c sinks.Config) sinks.Config {
	c.Retry.Initial = 50 * time.Millisecond
	c.Retry.Max = 200 * time.Millisecond
	c.Timeout = 2 * time.Second
	return c
}

func newAM(t *testing.T, cfg sinks.Config) (*sinks.Alertmanager, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	am, err := sinks.NewAlertmanager(fast(cfg), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = am.Shutdown(ctx)
	})
	return am, reg
}

// value reads one series of a registry's metric; 0 when absent.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func alert(name string) sinks.Alert {
	return sinks.Alert{Labels: map[string]string{"alertname": "ChainwatchTest", "monitor": name}}
}

func flush(t *testing.T, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatal(err)
	}
}

// recorder is a fake HTTP endpoint: it answers with status(n) for the n-th
// request (from 1) and records the bodies it accepted (2xx).
type recorder struct {
	mu       sync.Mutex
	status   func(n int) int
	requests int
	bodies   [][]byte
	headers  []http.Header
	srv      *httptest.Server
}

func newRecorder(t *testing.T, status func(n int) int) *recorder {
	r := &recorder{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests++
		code := r.status(r.requests)
		if code/100 == 2 {
			r.bodies = append(r.bodies, body)
			r.headers = append(r.headers, req.Header.Clone())
		}
		r.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		if code/100 != 2 {
			_, _ = io.WriteString(w, "fake says no: label monitor is bad")
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// alerts decodes every accepted body as an Alertmanager array.
func (r *recorder) alerts(t *testing.T) []sinks.Alert {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sinks.Alert
	for _, b := range r.bodies {
		var as []sinks.Alert
		if err := json.Unmarshal(b, &as); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		out = append(out, as...)
	}
	return out
}

func always(code int) func(int) int { return func(int) int { return code } }

func TestRejectedIsNotRetried(t *testing.T) {
	rec := newRecorder(t, always(http.StatusBadRequest))
	am, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
	if err := am.Send(context.Background(), []sinks.Alert{alert("a"), alert("b")}); err != nil {
		t.Fatal(err)
	}
	if err := am.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	flush(t, am.Flush)
	time.Sleep(300 * time.Millisecond) // more than a backoff: a retry would show
	if n := rec.count(); n != 1 {
		t.Errorf("requests = %d, want 1 (a 400 is permanent)", n)
	}
	sk := map[string]string{"sink": "alertmanager"}
	if v := value(t, reg, "chainwatch_alert_send_errors_total", map[string]string{"sink": "alertmanager", "reason": "rejected"}); v != 1 {
		t.Errorf("send errors{rejected} = %v, want 1", v)
	}
	if v := value(t, reg, "chainwatch_alerts_dropped_total", map[string]string{"sink": "alertmanager", "reason": "rejected"}); v != 2 {
		t.Errorf("dropped{rejected} = %v, want 2", v)
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", sk); v != 0 {
		t.Errorf("sent = %v, want 0", v)
	}
	if v := value(t, reg, "chainwatch_alert_queue_length", sk); v != 0 {
		t.Errorf("queue length = %v, want 0", v)
	}
}

func TestRetryableStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int
		reason string
		min    time.Duration // Retry-After honoured
	}{
		{"503", http.StatusServiceUnavailable, "http_5xx", 0},
		{"500", http.StatusInternalServerError, "http_5xx", 0},
		{"429 with Retry-After", http.StatusTooManyRequests, "http_429", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(n int) int {
				if n <= 2 {
					return tc.code
				}
				return http.StatusOK
			})
			am, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
			t0 := time.Now()
			_ = am.Start(context.Background())
			if err := am.Send(context.Background(), []sinks.Alert{alert("a")}); err != nil {
				t.Fatal(err)
			}
			flush(t, am.Flush)
			if d := time.Since(t0); d < tc.min {
				t.Errorf("delivered after %v; Retry-After (capped at backoff_max) wants >= %v", d, tc.min)
			}
			if n := rec.count(); n != 3 {
				t.Errorf("requests = %d, want 3", n)
			}
			if v := value(t, reg, "chainwatch_alert_send_errors_total", map[string]string{"reason": tc.reason}); v != 2 {
				t.Errorf("send errors{%s} = %v, want 2", tc.reason, v)
			}
			if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 1 {
				t.Errorf("sent = %v, want 1", v)
			}
			if got := rec.alerts(t); len(got) != 1 || got[0].Labels["monitor"] != "a" {
				t.Errorf("delivered %+v", got)
			}
		})
	}
}

func TestCoalescesUpdatesOfOneAlert(t *testing.T) {
	rec := newRecorder(t, always(http.StatusOK))
	am, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
	ctx := context.Background()
	first := time.Now()
	for _, v := range []string{"1", "2", "3"} {
		a := alert("a")
		a.Annotations = map[string]string{"value": v}
		if err := am.Send(ctx, []sinks.Alert{a, alert("b")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := am.Pending(); n != 2 {
		t.Errorf("pending = %d, want 2 (one per label set)", n)
	}
	_ = am.Start(ctx)
	flush(t, am.Flush)
	got := rec.alerts(t)
	if len(got) != 2 || got[0].Labels["monitor"] != "a" || got[0].Annotations["value"] != "3" || got[1].Labels["monitor"] != "b" {
		t.Fatalf("delivered %+v, want a (value 3) then b", got)
	}
	if d := got[0].StartsAt.Sub(first); d < 0 || d > 5*time.Millisecond {
		t.Errorf("coalesced startsAt %v is %v after the first Send, want the first update's", got[0].StartsAt, d)
	}
	if v := value(t, reg, "chainwatch_alerts_dropped_total", nil); v != 0 {
		t.Errorf("dropped = %v, want 0", v)
	}
}

func TestSendCopiesAndValidates(t *testing.T) {
	rec := newRecorder(t, always(http.StatusOK))
	am, _ := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
	ok := alert("ok")
	now := time.Now()
	err := am.Send(context.Background(), []sinks.Alert{
		{},
		ok,
		{Labels: map[string]string{"bad-name": "x"}},
		{Labels: map[string]string{"a": "b"}, StartsAt: now, EndsAt: now.Add(-time.Minute)},
	})
	if err == nil {
		t.Fatal("no error for invalid alerts")
	}
	for _, want := range []string{"alert 0: alert has no labels", `alert 2: invalid label name "bad-name"`, "alert 3: endsAt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	ok.Labels["monitor"] = "changed after Send"
	_ = am.Start(context.Background())
	flush(t, am.Flush)
	if got := rec.alerts(t); len(got) != 1 || got[0].Labels["monitor"] != "ok" {
		t.Errorf("delivered %+v, want only the valid alert as sent", got)
	}
}

func TestEveryAlertmanagerGetsEveryAlert(t *testing.T) {
	up := newRecorder(t, always(http.StatusOK))
	var mu sync.Mutex
	healthy := false
	down := newRecorder(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	am, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{up.srv.URL, down.srv.URL + "/"}}})
	_ = am.Start(context.Background())
	_ = am.Send(context.Background(), []sinks.Alert{alert("a")})
	deadline := time.Now().Add(5 * time.Second)
	for len(up.alerts(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(up.alerts(t)) != 1 {
		t.Fatal("the healthy Alertmanager did not get the alert while the other was failing")
	}
	if n := am.Pending(); n != 1 {
		t.Errorf("pending = %d, want 1 (for the failing one)", n)
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	flush(t, am.Flush)
	if got := down.alerts(t); len(got) != 1 {
		t.Errorf("recovered Alertmanager got %d alerts, want 1", len(got))
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 2 {
		t.Errorf("sent = %v, want 2 (once per Alertmanager)", v)
	}
}

func TestShutdown(t *testing.T) {
	t.Run("flushes", func(t *testing.T) {
		rec := newRecorder(t, always(http.StatusOK))
		am, _ := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
		_ = am.Start(context.Background())
		_ = am.Send(context.Background(), []sinks.Alert{alert("a"), alert("b")})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := am.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rec.alerts(t); len(got) != 2 {
			t.Errorf("delivered %d alerts before shutdown returned, want 2", len(got))
		}
		if err := am.Send(context.Background(), []sinks.Alert{alert("c")}); !errors.Is(err, sinks.ErrClosed) {
			t.Errorf("Send after Shutdown = %v, want ErrClosed", err)
		}
	})
	t.Run("reports undelivered", func(t *testing.T) {
		rec := newRecorder(t, always(http.StatusServiceUnavailable))
		am, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{rec.srv.URL}}})
		_ = am.Start(context.Background())
		_ = am.Send(context.Background(), []sinks.Alert{alert("a"), alert("b"), alert("c")})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := am.Shutdown(ctx)
		var ue *sinks.UndeliveredError
		if !errors.As(err, &ue) || ue.Count != 3 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want 3 undelivered after the deadline", err)
		}
		if again := am.Shutdown(context.Background()); again != err {
			t.Errorf("second Shutdown = %v, want the first result", again)
		}
		if v := value(t, reg, "chainwatch_alerts_dropped_total", map[string]string{"reason": "shutdown"}); v != 3 {
			t.Errorf("dropped{shutdown} = %v, want 3", v)
		}
		if v := value(t, reg, "chainwatch_alert_queue_length", nil); v != 0 {
			t.Errorf("queue length = %v, want 0", v)
		}
	})
}

func TestWebhook(t *testing.T) {
	rec := newRecorder(t, always(http.StatusNoContent))
	reg := prometheus.NewRegistry()
	wh, err := sinks.NewWebhook(fast(sinks.Config{Webhook: sinks.WebhookConfig{
		URL:     rec.srv.URL + "/hook",
		Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Chainwatch-Env": "test"},
	}}), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 11, 24, 18, 0, 0, 0, time.UTC)
	firing := sinks.Alert{
		Labels:       map[string]string{"alertname": "ChainwatchDrift", "severity": "page"},
		Annotations:  map[string]string{"summary": "output length drifted"},
		StartsAt:     start,
		GeneratorURL: "http://grafana/d/x",
	}
	resolved := firing
	resolved.Labels = map[string]string{"alertname": "ChainwatchDrift", "severity": "ticket"}
	resolved.EndsAt = start.Add(time.Hour)
	_ = wh.Start(context.Background())
	if err := wh.Send(context.Background(), []sinks.Alert{firing, resolved}); err != nil {
		t.Fatal(err)
	}
	flush(t, wh.Flush)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := wh.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bodies) != 1 {
		t.Fatalf("requests = %d, want 1", len(rec.bodies))
	}
	h := rec.headers[0]
	if h.Get("Authorization") != "Bearer s3cret" || h.Get("X-Chainwatch-Env") != "test" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.bodies[0], &body); err != nil {
		t.Fatal(err)
	}
	want := `{"alerts":[` +
		`{"annotations":{"summary":"output length drifted"},"generatorURL":"http://grafana/d/x","labels":{"alertname":"ChainwatchDrift","severity":"page"},"startsAt":"2024-11-24T18:00:00Z","status":"firing"},` +
		`{"annotations":{"summary":"output length drifted"},"endsAt":"2024-11-24T19:00:00Z","generatorURL":"http://grafana/d/x","labels":{"alertname":"ChainwatchDrift","severity":"ticket"},"startsAt":"2024-11-24T18:00:00Z","status":"resolved"}` +
		`],"version":"1"}`
	got, _ := json.Marshal(body) // map keys sorted
	if string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", map[string]string{"sink": "webhook"}); v != 2 {
		t.Errorf("sent = %v, want 2", v)
	}
}

func TestSinksShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := sinks.Config{
		Alertmanager: sinks.AlertmanagerConfig{URLs: []string{"http://127.0.0.1:1"}},
		Webhook:      sinks.WebhookConfig{URL: "http://127.0.0.1:1"},
	}
	ss, err := sinks.New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 {
		t.Fatalf("New built %d sinks, want 2", len(ss))
	}
	if _, err := sinks.NewAlertmanager(cfg, reg, nil); err != nil {
		t.Errorf("a second sink on the same registry: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  sinks.Config
		want []string // substrings; none: valid
	}{
		{"empty is valid", sinks.Config{}, nil},
		{"full", sinks.Config{
			Alertmanager: sinks.AlertmanagerConfig{URLs: []string{"http://am-0:9093", "https://am-1/prefix"}},
			Webhook:      sinks.WebhookConfig{URL: "https://hooks.example/x", Headers: map[string]string{"Authorization": "Bearer x"}},
			Timeout:      time.Second, QueueCapacity: 5, MaxBatch: 2, Retry: config.Retry{Initial: time.Second, Max: time.Second},
		}, nil},
		{"bad urls", sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{"http://ok:9093", "http://[::1", "ftp://x", "http://ok:9093", "/path"}}}, []string{
			"alertmanager.urls[1]: parse error",
			`alertmanager.urls[2]: scheme must be http or https, got "ftp"`,
			`alertmanager.urls[3]: duplicate of alertmanager.urls[0], got "http://ok:9093" twice`,
			"alertmanager.urls[4]: scheme must be http or https",
		}},
		{"negatives", sinks.Config{Timeout: -1, QueueCapacity: -1, MaxBatch: -5, Retry: config.Retry{Initial: -1, Max: -1}}, []string{
			"timeout must be > 0", "queue_capacity must be > 0", "max_batch must be > 0",
			"retry.initial must be > 0, got -1ns", "retry.max must be > 0, got -1ns",
		}},
		{"retry order", sinks.Config{Retry: config.Retry{Initial: time.Minute, Max: time.Second}}, []string{"retry.initial must be <= retry.max, got initial 1m0s and max 1s"}},
		{"webhook", sinks.Config{Webhook: sinks.WebhookConfig{URL: "hooks.example", Headers: map[string]string{"Bad Header": "x", "X-Ok": "a\nb"}}}, []string{
			"webhook.url: scheme must be http or https",
			`webhook.headers["Bad Header"]: not a valid HTTP header name`,
			`webhook.headers["X-Ok"]: value must not contain a line break`,
		}},
		{"headers without url", sinks.Config{Webhook: sinks.WebhookConfig{Headers: map[string]string{"A": "b"}}}, []string{"webhook.headers is set but webhook.url is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%v", n, len(tc.want), err)
			}
		})
	}
	if _, err := sinks.NewAlertmanager(sinks.Config{}, nil, nil); err == nil || !strings.Contains(err.Error(), "alerting.alertmanager.urls") {
		t.Errorf("NewAlertmanager without urls = %v", err)
	}
	if _, err := sinks.NewWebhook(sinks.Config{}, nil, nil); err == nil || !strings.Contains(err.Error(), "alerting.webhook.url") {
		t.Errorf("NewWebhook without url = %v", err)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
alertmanager:
  urls: [http://am-0:9093, http://am-1:9093]
webhook:
  url: https://hooks.example/chainwatch
  headers: {Authorization: Bearer x}
timeout: 5s
queue_capacity: 100
max_batch: 10
retry: {initial: 500ms, max: 1m}
`
	var c sinks.Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Alertmanager.URLs) != 2 || c.Webhook.Headers["Authorization"] != "Bearer x" || c.Timeout != 5*time.Second ||
		c.QueueCapacity != 100 || c.MaxBatch != 10 || c.Retry.Initial != 500*time.Millisecond || c.Retry.Max != time.Minute {
		t.Errorf("decoded %+v", c)
	}
	d := sinks.Config{}.WithDefaults()
	if d.Timeout != sinks.DefaultTimeout || d.QueueCapacity != sinks.DefaultQueueCapacity || d.MaxBatch != sinks.DefaultMaxBatch ||
		d.Retry.Initial != sinks.DefaultRetryInitial || d.Retry.Max != sinks.DefaultRetryMax {
		t.Errorf("defaults %+v", d)
	}
}
