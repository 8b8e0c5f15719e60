package serving

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// BenchmarkUnary is one non-streamed chat call through the gateway to a
// canned upstream, both on loopback (the gateway's per-call cost plus two
// HTTP round trips; compare with BenchmarkUnaryDirect).
func BenchmarkUnary(b *testing.B) {
	up := cannedUpstream(b)
	gs := benchGateway(b, up.URL)
	b.Run("gateway", func(b *testing.B) { post(b, gs.URL+"/v1/chat/completions") })
	b.Run("direct", func(b *testing.B) { post(b, up.URL+"/v1/chat/completions") })
}

// benchGateway serves a gateway with one route "m" to upstream, its spans
// built and discarded.
func benchGateway(b *testing.B, upstream string) *httptest.Server {
	g, err := New(Config{Routes: []RouteConfig{{Name: "m", Replicas: []ReplicaConfig{{URL: upstream + "/v1"}}}}},
		Options{Exporter: ExporterFunc(func([]*tracepb.Span) {})})
	if err != nil {
		b.Fatal(err)
	}
	gs := httptest.NewServer(g)
	b.Cleanup(func() { gs.Close(); g.Close() })
	return gs
}

// BenchmarkStream is one streamed chat call (stream_options.include_usage
// set by the client) through the gateway to a canned upstream that sends
// streamEvents events at once, each flushed on its own: the gateway's
// per-call and per-event cost of the SSE relay. "gateway-usage-added" is a
// client that does not ask for usage (the gateway rewrites the body to ask
// for it, and drops the usage chunk on the way back); "direct" is the same
// load straight to the upstream.
func BenchmarkStream(b *testing.B) {
	up := cannedStreamUpstream(b)
	gs := benchGateway(b, up.URL)
	withUsage := `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Where is my order 1234? It was due yesterday."}],"temperature":0.2}`
	noUsage := `{"model":"m","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Where is my order 1234? It was due yesterday."}],"temperature":0.2}`
	b.Run("gateway", func(b *testing.B) { postStream(b, gs.URL+"/v1/chat/completions", withUsage, true) })
	b.Run("gateway-usage-added", func(b *testing.B) { postStream(b, gs.URL+"/v1/chat/completions", noUsage, false) })
	b.Run("direct", func(b *testing.B) { postStream(b, up.URL+"/v1/chat/completions", withUsage, true) })
}

// streamEvents is the events of a canned stream with usage: a role chunk,
// 20 content chunks, a finish chunk, a usage chunk and [DONE].
const streamEvents = 24

// cannedStreamUpstream streams a 20-chunk answer without pausing, flushing
// each event, with a usage chunk when the request asks for one.
func cannedStreamUpstream(b *testing.B) *httptest.Server {
	const head = `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
	var evs [][]byte
	evs = append(evs, []byte(head+`{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n"))
	for i := range 20 {
		evs = append(evs, []byte(fmt.Sprintf(head+`{"content":"token%d "},"finish_reason":null}]}`+"\n\n", i)))
	}
	evs = append(evs, []byte(head+`{},"finish_reason":"stop"}]}`+"\n\n"))
	usageEv := []byte(`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":20,"total_tokens":45}}` + "\n\n")
	done := []byte("data: [DONE]\n\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, ev := range evs {
			w.Write(ev)
			fl.Flush()
		}
		if bytes.Contains(body, []byte(`"include_usage":true`)) {
			w.Write(usageEv)
			fl.Flush()
		}
		w.Write(done)
	}))
	b.Cleanup(up.Close)
	return up
}

func postStream(b *testing.B, url, body string, wantUsage bool) {
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) ||
				bytes.Contains(got, []byte(`"usage"`)) != wantUsage {
				b.Fatalf("status %d, err %v, body %q", resp.StatusCode, err, got)
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streamEvents), "ns/event")
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
	defer reportCPU(b)()
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

// reportCPU reports the process's CPU time (user and system, all
// goroutines: client, gateway and upstream together) per op, which a
// shared machine's other load disturbs less than the wall time; the
// gateway's own cost is its sub-benchmark's less direct's.
func reportCPU(b *testing.B) func() {
	t0 := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
