package amtest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/sinks/amtest"
)

func TestStartRestart(t *testing.T) {
	t0 := time.Now()
	s := amtest.Start(t)
	t.Logf("started in %v", time.Since(t0))
	ctx := context.Background()
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(s.URL()+"/api/v2/alerts", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post: %s", resp.Status)
		}
	}
	post(`[{"labels":{"alertname":"amtest"}}]`)
	as, err := s.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Labels["alertname"] != "amtest" {
		t.Fatalf("alerts = %+v", as)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Notifications()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ns := s.Notifications()
	if len(ns) == 0 || ns[0].Status != "firing" || ns[0].Alerts[0].Labels["alertname"] != "amtest" {
		t.Fatalf("notifications = %+v", ns)
	}
	t.Logf("notified after %v", time.Since(t0))

	s.Stop()
	if _, err := s.Alerts(ctx); err == nil {
		t.Fatal("stopped server still answers")
	}
	s.Restart()
	as, err = s.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 0 {
		t.Fatalf("alerts survived a restart: %+v", as)
	}
	t.Logf("total %v", time.Since(t0))
}

func TestFindBinaryHonoursEnv(t *testing.T) {
	t.Setenv(amtest.EnvBinary, "/nonexistent/alertmanager")
	if _, err := amtest.FindBinary(); err == nil {
		t.Fatal("FindBinary accepted a missing binary named by the environment")
	}
}
