package serving

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// BenchmarkUnary is one non-streamed chat call through the gateway to a
// canned upstream, both on loopback (the gateway's per-call cost plus two
// HTTP round trips; compare with BenchmarkUnaryDirect).
func BenchmarkUnary(b *testing.B) {
	up := cannedUpstream(b)
	g, err := New(Config{Routes: []RouteConfig{{Name: "m", Replicas: []ReplicaConfig{{URL: up.URL + "/v1"}}}}},
		Options{Exporter: ExporterFunc(func([]*tracepb.Span) {})})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	gs := httptest.NewServer(g)
	defer gs.Close()
	b.Run("gateway", func(b *testing.B) { post(b, gs.URL+"/v1/chat/completions") })
	b.Run("direct", func(b *testing.B) { post(b, up.URL+"/v1/chat/completions") })
}

func cannedUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	b.Cleanup(up.Close)
	return up
}

func post(b *testing.B, url string) {
	b.ReportAllocs()
	body := `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Where is my order 1234? It was due yesterday."}],"temperature":0.2}`
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.StatusCode)
			}
		}
	})
}
