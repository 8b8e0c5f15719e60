package serving

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// Replicas are drawn in proportion to their weights (within 4 binomial
// standard deviations over 20,000 draws), never twice in one order, and
// unhealthy ones only when no healthy one is left.
func TestWeightedOrder(t *testing.T) {
	rt := newRoute(RouteConfig{Name: "r", Replicas: []ReplicaConfig{{URL: "http://a/v1", Weight: 3}, {URL: "http://b/v1", Weight: 1}, {URL: "http://c/v1", Weight: 1}}})
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	first := map[int]int{}
	for i := 0; i < n; i++ {
		o := rt.order(3, rng)
		if len(o) != 3 || o[0] == o[1] || o[1] == o[2] || o[0] == o[2] {
			t.Fatalf("order %v", o)
		}
		first[o[0].index]++
	}
	for idx, p := range map[int]float64{0: 0.6, 1: 0.2, 2: 0.2} {
		if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(first[idx])-n*p) > 4*sd {
			t.Errorf("replica %d first %d times of %d, want %.0f ± %.0f", idx, first[idx], n, n*p, 4*sd)
		}
	}
	rt.replicas[0].healthy.Store(false)
	for i := 0; i < 100; i++ {
		if o := rt.order(3, rng); len(o) != 2 || o[0].index == 0 || o[1].index == 0 {
			t.Fatalf("an unhealthy replica was drawn: %v", o)
		}
	}
	rt.replicas[1].healthy.Store(false)
	rt.replicas[2].healthy.Store(false)
	if o := rt.order(3, rng); len(o) != 3 {
		t.Fatalf("with none healthy every replica is tried: %v", o)
	}
}

// A replica failing its health check gets no traffic until it passes
// again.
func TestHealthCheckTakesReplicaOut(t *testing.T) {
	var sick atomic.Bool
	good := openaitest.NewServer(t)
	flaky := openaitest.NewServer(t)
	// A front for flaky whose /v1/models fails while sick.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" && sick.Load() {
			http.Error(w, "sick", 503)
			return
		}
		proxyTo(w, r, flaky.Root)
	}))
	t.Cleanup(front.Close)
	rc := routeTo("small", good.URL, front.URL+"/v1")
	rc.Retries = 0
	rc.Health.Interval = 20 * time.Millisecond
	g := startGateway(t, Config{Routes: []RouteConfig{rc}}, Options{})
	waitHealthy := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for g.st.Load().routes["small"].replicas[1].healthy.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("replica 1 never became healthy=%v", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sick.Store(true)
	waitHealthy(false)
	before := flaky.Chat.Count()
	for i := 0; i < 30; i++ {
		if resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if flaky.Chat.Count() != before {
		t.Fatalf("the unhealthy replica got %d calls", flaky.Chat.Count()-before)
	}
	sick.Store(false)
	waitHealthy(true)
	for i := 0; i < 40; i++ {
		rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`)
	}
	if flaky.Chat.Count() == before {
		t.Fatal("the replica did not come back after passing its check")
	}
}

func proxyTo(w http.ResponseWriter, r *http.Request, root string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, root+r.URL.Path, r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		w.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// Upstreams that all rate-limit are answered as 429 with their
// Retry-After, not as a gateway failure; a dead route is a 502 naming the
// attempts.
func TestExhaustedAttempts(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.RateLimited("7"))
	dead := openaitest.NewServer(t)
	dead.Kill()
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL), routeTo("gone", dead.URL)}}, Options{})
	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(body, "upstream_rate_limited") {
		t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"gone","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 502 || !strings.Contains(body, "upstream_unavailable") || !strings.Contains(body, "gone/0") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
