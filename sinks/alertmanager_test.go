package sinks_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/sinks"
	"github.com/chainwatch/chainwatch/sinks/amtest"
)

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func activeAlerts(t *testing.T, am *amtest.Server) []amtest.GettableAlert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	as, err := am.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func monitors(as []amtest.GettableAlert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Labels["monitor"])
	}
	slices.Sort(out)
	return out
}

func TestAlertmanagerFiringThenResolved(t *testing.T) {
	srv := amtest.Start(t)
	sink, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{srv.URL()}}})
	ctx := context.Background()
	_ = sink.Start(ctx)

	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	firing := sinks.Alert{
		Labels: map[string]string{
			"alertname": "ChainwatchDrift", "app": "support-bot", "chain": "answer", "monitor": "output_length_ks",
			"feature": "output_tokens", "detector": "ks", "severity": "page",
		},
		Annotations: map[string]string{
			"summary": "output token length drifted", "p_value": "0.0003", "statistic": "0.41",
		},
		StartsAt:     start,
		GeneratorURL: "http://grafana.local/d/chainwatch?var-monitor=output_length_ks",
	}
	if err := sink.Send(ctx, []sinks.Alert{firing}); err != nil {
		t.Fatal(err)
	}
	flush(t, sink.Flush)
	as := activeAlerts(t, srv)
	if len(as) != 1 {
		t.Fatalf("alertmanager lists %d alerts, want 1: %+v", len(as), as)
	}
	got := as[0]
	if !maps.Equal(got.Labels, firing.Labels) || !maps.Equal(got.Annotations, firing.Annotations) {
		t.Errorf("labels/annotations = %v / %v, want %v / %v", got.Labels, got.Annotations, firing.Labels, firing.Annotations)
	}
	if got.Status.State != "active" || !got.StartsAt.Equal(start) || got.GeneratorURL != firing.GeneratorURL {
		t.Errorf("state %q startsAt %v generatorURL %q", got.Status.State, got.StartsAt, got.GeneratorURL)
	}
	// Without endsAt, Alertmanager gives the alert now + resolve_timeout (5m).
	if d := time.Until(got.EndsAt); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("endsAt %v is %v away, want about resolve_timeout (5m)", got.EndsAt, d)
	}
	eventually(t, 10*time.Second, "no firing notification", func() bool {
		for _, n := range srv.Notifications() {
			if n.Status == "firing" && len(n.Alerts) == 1 && n.Alerts[0].Labels["monitor"] == "output_length_ks" {
				return true
			}
		}
		return false
	})

	resolved := firing
	resolved.EndsAt = time.Now().Add(-time.Second)
	if err := sink.Send(ctx, []sinks.Alert{resolved}); err != nil {
		t.Fatal(err)
	}
	flush(t, sink.Flush)
	// Alertmanager 0.25 leaves alerts whose endsAt has passed out of
	// GET /api/v2/alerts (there is no "resolved" state in the list).
	if as := activeAlerts(t, srv); len(as) != 0 {
		t.Errorf("after resolving, alertmanager still lists %+v", as)
	}
	eventually(t, 10*time.Second, "no resolved notification", func() bool {
		for _, n := range srv.Notifications() {
			if n.Status == "resolved" && len(n.Alerts) == 1 && n.Alerts[0].Status == "resolved" &&
				n.Alerts[0].EndsAt.Before(time.Now()) {
				return true
			}
		}
		return false
	})
	if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 2 {
		t.Errorf("sent = %v, want 2", v)
	}
}

func TestAlertmanagerOutageLosesNothing(t *testing.T) {
	srv := amtest.Start(t)
	sink, reg := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{srv.URL()}}})
	ctx := context.Background()
	_ = sink.Start(ctx)

	srv.Stop()
	var want []string
	for i, name := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		if err := sink.Send(ctx, []sinks.Alert{alert(name)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
		if i%2 == 1 {
			time.Sleep(time.Second) // arrivals spread over the outage
		}
	}
	if n := sink.Pending(); n != 6 {
		t.Errorf("pending during the outage = %d, want 6", n)
	}
	if v := value(t, reg, "chainwatch_alert_queue_length", nil); v != 6 {
		t.Errorf("queue length gauge = %v, want 6", v)
	}
	if v := value(t, reg, "chainwatch_alert_send_errors_total", map[string]string{"reason": "connection"}); v < 2 {
		t.Errorf("send errors{connection} = %v, want several retries", v)
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 0 {
		t.Errorf("sent during the outage = %v", v)
	}

	srv.Restart()
	flush(t, sink.Flush)
	if got := monitors(activeAlerts(t, srv)); !slices.Equal(got, want) {
		t.Errorf("after the outage alertmanager lists %v, want %v", got, want)
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 6 {
		t.Errorf("sent = %v, want 6", v)
	}
	if v := value(t, reg, "chainwatch_alerts_dropped_total", nil); v != 0 {
		t.Errorf("dropped = %v, want 0", v)
	}
}

func TestAlertmanagerQueueFullDropsOldest(t *testing.T) {
	srv := amtest.Start(t)
	sink, reg := newAM(t, sinks.Config{
		Alertmanager:  sinks.AlertmanagerConfig{URLs: []string{srv.URL()}},
		QueueCapacity: 3,
	})
	ctx := context.Background()
	_ = sink.Start(ctx)

	srv.Stop()
	for _, name := range []string{"m1", "m2", "m3", "m4", "m5"} {
		if err := sink.Send(ctx, []sinks.Alert{alert(name)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // let the first be in flight: it counts toward the capacity too
	}
	if v := value(t, reg, "chainwatch_alerts_dropped_total", map[string]string{"reason": "queue_full"}); v != 2 {
		t.Errorf("dropped{queue_full} = %v, want 2", v)
	}
	if n := sink.Pending(); n != 3 {
		t.Errorf("pending = %d, want 3", n)
	}
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	flush(t, sink.Flush)
	if got, want := monitors(activeAlerts(t, srv)), []string{"m3", "m4", "m5"}; !slices.Equal(got, want) {
		t.Errorf("alertmanager lists %v, want the newest three %v", got, want)
	}
	if v := value(t, reg, "chainwatch_alerts_sent_total", nil); v != 3 {
		t.Errorf("sent = %v, want 3", v)
	}
}

// Alertmanager 0.25 sets a missing startsAt to endsAt when endsAt is given,
// which would make a Prometheus-style firing alert (endsAt a few intervals
// ahead) start in the future; Send fills startsAt in with the time of Send.
func TestAlertmanagerStartsAtFilledIn(t *testing.T) {
	srv := amtest.Start(t)
	sink, _ := newAM(t, sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{srv.URL()}}})
	ctx := context.Background()
	_ = sink.Start(ctx)
	sent := time.Now()
	a := alert("prometheus_style")
	a.EndsAt = sent.Add(10 * time.Minute)
	if err := sink.Send(ctx, []sinks.Alert{a}); err != nil {
		t.Fatal(err)
	}
	flush(t, sink.Flush)
	as := activeAlerts(t, srv)
	if len(as) != 1 {
		t.Fatalf("alertmanager lists %+v", as)
	}
	if d := as[0].StartsAt.Sub(sent); d < -time.Second || d > time.Second {
		t.Errorf("startsAt %v, want the time of Send %v", as[0].StartsAt, sent)
	}
	if d := as[0].EndsAt.Sub(a.EndsAt); d < -time.Millisecond || d > time.Millisecond { // Alertmanager keeps milliseconds
		t.Errorf("endsAt %v, want %v", as[0].EndsAt, a.EndsAt)
	}
}
