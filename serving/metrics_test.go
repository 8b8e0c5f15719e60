package serving

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics/metricstest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// Every gateway series follows Prometheus' conventions (promtool).
func TestMetricNamesPassPromtool(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	body := metricstest.Lint(t, reg, m.requests, m.latency, m.ttft, m.overhead, m.tokens, m.upstreamErrors, m.retries, m.fallbacks,
		m.rejections, m.guards, m.replicaUp, m.spansDropped, m.reloads, m.procState, m.procRestarts)
	for _, name := range []string{"chainwatch_serving_requests_total", "chainwatch_serving_time_to_first_token_seconds", "chainwatch_serving_process_restarts_total"} {
		if !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("%s missing from the exposition", name)
		}
	}
}

// A replica slower than the route's per-attempt timeout is abandoned and
// the call moves on (here to the fallback route); the attempt span says
// timeout.
func TestPerAttemptTimeout(t *testing.T) {
	slow, fast := openaitest.NewServer(t), openaitest.NewServer(t)
	slow.SetResponder(func(openaitest.ChatRequest) openaitest.Reply { return openaitest.SlowAnswer(5*time.Second, "late") })
	fast.SetResponder(func(openaitest.ChatRequest) openaitest.Reply { return openaitest.Answer("fast") })
	rc := RouteConfig{Name: "small", Timeout: 200 * time.Millisecond, Fallbacks: []string{"backup"}, Replicas: []ReplicaConfig{{URL: slow.URL}}}
	g := startGateway(t, Config{Routes: []RouteConfig{rc, routeTo("backup", fast.URL)}}, Options{})
	start := time.Now()
	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"fast"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("the slow attempt was waited out")
	}
	tr := waitTrace(t, g, 1)[0]
	if slow.Chat.Count() != 1 || fast.Chat.Count() != 1 || len(tr) != 3 {
		t.Fatalf("slow %d, fast %d, spans %d", slow.Chat.Count(), fast.Chat.Count(), len(tr))
	}
	if s := tr[1]; s.Status.Code != 2 || !strings.Contains(s.Status.Message, "no answer within 200ms") {
		t.Fatalf("first attempt span %v", s.Status)
	}
}
