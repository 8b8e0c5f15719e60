package serving

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// gw is a gateway under test on a loopback server, with the spans it
// exported.
type gw struct {
	*Gateway
	URL   string
	mu    sync.Mutex
	spans [][]*tracepb.Span
}

func (g *gw) traces() [][]*tracepb.Span {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]*tracepb.Span(nil), g.spans...)
}

func startGateway(t *testing.T, cfg Config, o Options) *gw {
	t.Helper()
	g := &gw{}
	if o.Exporter == nil {
		o.Exporter = ExporterFunc(func(s []*tracepb.Span) {
			g.mu.Lock()
			g.spans = append(g.spans, s)
			g.mu.Unlock()
		})
	}
	gateway, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	g.Gateway = gateway
	hs := httptest.NewServer(gateway)
	t.Cleanup(func() { hs.Close(); gateway.Close() })
	g.URL = hs.URL
	return g
}

func client(g *gw, key string) oai.Client {
	opts := []option.RequestOption{option.WithBaseURL(g.URL + "/v1/"), option.WithMaxRetries(0)}
	if key != "" {
		opts = append(opts, option.WithAPIKey(key))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	return oai.NewClient(opts...)
}

func routeTo(name string, urls ...string) RouteConfig {
	rc := RouteConfig{Name: name, Retries: len(urls) - 1, Timeout: 5 * time.Second}
	for _, u := range urls {
		rc.Replicas = append(rc.Replicas, ReplicaConfig{URL: u})
	}
	return rc
}

func chatParams(model, prompt string) oai.ChatCompletionNewParams {
	return oai.ChatCompletionNewParams{Model: model, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(prompt)}}
}

// rawPost posts body to the gateway and returns the response and its body.
func rawPost(t *testing.T, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A stream the client asked usage for passes through byte for byte: what
// the upstream wrote is what the client reads.
func TestStreamIsByteFaithful(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.Reply{Content: "The quick brown fox jumps over the lazy dog.", ChunkInterval: 2 * time.Millisecond})
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{})
	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "",
		`{"model":"small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],"x_unknown":{"kept":1}}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	streams := up.Streams()
	if len(streams) != 1 || streams[0] != body {
		t.Fatalf("the gateway's stream differs from the upstream's:\ngateway:  %q\nupstream: %q", body, streams)
	}
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("no [DONE]: %q", body)
	}
	// Unknown fields reach the upstream.
	if raw := string(up.ChatRequests()[0].Raw); !strings.Contains(raw, `"x_unknown":{"kept":1}`) {
		t.Fatalf("unknown field not passed through: %s", raw)
	}
	if resp.Header.Get(HeaderOverhead) == "" || resp.Header.Get(HeaderTraceID) == "" {
		t.Fatalf("missing gateway headers: %v", resp.Header)
	}
}

// Chunks reach the client as the upstream sends them, not at the end.
func TestStreamIsNotBuffered(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.Reply{Chunks: []string{"a", "b", "c", "d"}, ChunkInterval: 400 * time.Millisecond})
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{})
	c := client(g, "")
	start := time.Now()
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("small", "hi"))
	var arrivals []time.Duration
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			arrivals = append(arrivals, time.Since(start))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(arrivals) != 4 {
		t.Fatalf("got %d content chunks", len(arrivals))
	}
	// The first chunk must arrive well before the last was produced
	// (1.2 s later): buffering would deliver all four together.
	if arrivals[3]-arrivals[0] < 600*time.Millisecond {
		t.Fatalf("chunks arrived together (buffered): %v", arrivals)
	}
}

func countTokens(t *testing.T, prompt []string, completion string) (int, int) {
	tok, err := tokenize.New(DefaultTokenizer)
	if err != nil {
		t.Fatal(err)
	}
	p := 3
	for _, m := range prompt {
		p += 3 + tok.Count("user") + tok.Count(m)
	}
	return p, tok.Count(completion)
}

// Usage on streams: the upstream's when it reports it; the BPE count when
// it does not (recorded as such); never a usage chunk the client did not
// ask for, although the gateway always asks the upstream for one.
func TestStreamUsage(t *testing.T) {
	const answer = "Paris is the capital of France."
	for _, tc := range []struct {
		name          string
		upstreamUsage bool
		clientAsks    bool
	}{
		{"upstream usage, client asks", true, true},
		{"no upstream usage, client asks", false, true},
		{"upstream usage, client does not ask", true, false},
		{"no upstream usage, client does not ask", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := openaitest.NewServer(t)
			up.Chat.Enqueue(openaitest.Reply{Content: answer, NoUsage: !tc.upstreamUsage, PromptTokens: 11, CompletionTokens: 7})
			g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{})
			c := client(g, "")
			p := chatParams("small", "What is the capital of France?")
			if tc.clientAsks {
				p.StreamOptions = oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)}
			}
			s := c.Chat.Completions.NewStreaming(context.Background(), p)
			acc := oai.ChatCompletionAccumulator{}
			usageChunks := 0
			for s.Next() {
				ch := s.Current()
				acc.AddChunk(ch)
				if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
					usageChunks++
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if got := acc.Choices[0].Message.Content; got != answer {
				t.Fatalf("content %q", got)
			}
			if !up.ChatRequests()[0].IncludeUsage {
				t.Fatal("the gateway did not ask the upstream for usage")
			}
			wantP, wantC := 11, 7
			source := "upstream"
			if !tc.upstreamUsage {
				wantP, wantC = countTokens(t, []string{"What is the capital of France?"}, answer)
				source = "bpe"
			}
			if tc.clientAsks {
				if usageChunks != 1 || acc.Usage.PromptTokens != int64(wantP) || acc.Usage.CompletionTokens != int64(wantC) {
					t.Fatalf("usage chunks %d, usage %+v, want %d/%d", usageChunks, acc.Usage, wantP, wantC)
				}
			} else if usageChunks != 0 {
				t.Fatalf("%d usage chunks the client did not ask for", usageChunks)
			}
			root := waitTrace(t, g, 1)[0]
			if a := attrs(root); a[attrUsageSource] != source || a["gen_ai.usage.input_tokens"] != itoa(wantP) || a["gen_ai.usage.output_tokens"] != itoa(wantC) {
				t.Fatalf("root span usage attributes %v, want %s %d/%d", a, source, wantP, wantC)
			}
		})
	}
}

// A replica that fails before the first byte is retried on another
// replica, then the route falls back; the client sees one clean answer.
func TestFallbackBeforeFirstByte(t *testing.T) {
	bad := openaitest.NewServer(t)
	bad.Chat.Enqueue(openaitest.ServerError(503), openaitest.ServerError(503))
	dead := openaitest.NewServer(t)
	dead.Kill()
	good := openaitest.NewServer(t)
	good.Chat.Enqueue(openaitest.Answer("from the fallback"), openaitest.Answer("from the fallback"))
	cfg := Config{Routes: []RouteConfig{
		{Name: "primary", Retries: 1, Timeout: 2 * time.Second, Fallbacks: []string{"backup"},
			Replicas: []ReplicaConfig{{URL: bad.URL}, {URL: dead.URL}}},
		{Name: "backup", Model: "backup-model", Replicas: []ReplicaConfig{{URL: good.URL}}},
	}}
	g := startGateway(t, cfg, Options{})
	c := client(g, "")
	for _, stream := range []bool{false, true} {
		var content string
		if stream {
			s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("primary", "hi"))
			acc := oai.ChatCompletionAccumulator{}
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			content = acc.Choices[0].Message.Content
		} else {
			r, err := c.Chat.Completions.New(context.Background(), chatParams("primary", "hi"))
			if err != nil {
				t.Fatal(err)
			}
			content = r.Choices[0].Message.Content
		}
		if content != "from the fallback" {
			t.Fatalf("stream=%v: content %q", stream, content)
		}
	}
	if got := good.ChatRequests()[0].Model; got != "backup-model" {
		t.Fatalf("the fallback was sent model %q", got)
	}
	// Each attempt is its own span: two failed, one succeeded, per call.
	tr := waitTrace(t, g, 2)[0]
	var failed, ok int
	for _, s := range tr[1:] {
		if s.Status.Code == tracepb.Status_STATUS_CODE_ERROR {
			failed++
		} else {
			ok++
		}
	}
	if failed != 2 || ok != 1 {
		t.Fatalf("attempt spans: %d failed, %d ok; want 2 and 1", failed, ok)
	}
}

// A stream that breaks after its first bytes ends with an explicit SSE
// error event, which the official client reports as an error; the span
// is failed.
func TestMidStreamFailureIsAnErrorEvent(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.Reply{Chunks: []string{"one ", "two ", "three ", "four ", "five"}, FailAfter: 3})
	other := openaitest.NewServer(t)
	g := startGateway(t, Config{Routes: []RouteConfig{
		{Name: "small", Timeout: 2 * time.Second, Fallbacks: []string{"other"}, Replicas: []ReplicaConfig{{URL: up.URL}}},
		routeTo("other", other.URL)}}, Options{})
	c := client(g, "")
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("small", "count"))
	var got strings.Builder
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 {
			got.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	var se *ssestream.StreamError
	if err := s.Err(); !errors.As(err, &se) || !strings.Contains(err.Error(), "mid-stream") {
		t.Fatalf("want a stream error naming the mid-stream failure, got %v", err)
	}
	if got.String() != "one two three " {
		t.Fatalf("content before the failure %q", got.String())
	}
	if other.Chat.Count() != 0 {
		t.Fatal("fell back after the first byte")
	}
	tr := waitTrace(t, g, 1)[0]
	if tr[0].Status.Code != tracepb.Status_STATUS_CODE_ERROR {
		t.Fatalf("root span not failed: %v", tr[0].Status)
	}
}

// A replica killed while streams run through it: no call hangs, each ends
// (completed or with an error), and new calls go to the living replica.
func TestReplicaKilledMidLoad(t *testing.T) {
	a, b := openaitest.NewServer(t), openaitest.NewServer(t)
	slow := func(openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Reply{Chunks: strings.Split("a b c d e f g h i j", " "), ChunkInterval: 30 * time.Millisecond}
	}
	a.SetResponder(slow)
	b.SetResponder(slow)
	rc := routeTo("small", a.URL, b.URL)
	rc.Health.Interval = 50 * time.Millisecond
	g := startGateway(t, Config{Routes: []RouteConfig{rc}}, Options{})
	c := client(g, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var completed, failed atomic.Int64
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.Chat.Completions.NewStreaming(ctx, chatParams("small", "go"))
			for s.Next() {
			}
			if s.Err() != nil {
				failed.Add(1)
			} else {
				completed.Add(1)
			}
		}()
	}
	time.Sleep(120 * time.Millisecond)
	a.Kill()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("calls hung after a replica was killed")
	}
	if completed.Load()+failed.Load() != 24 || completed.Load() == 0 {
		t.Fatalf("completed %d, failed %d", completed.Load(), failed.Load())
	}
	// Traffic moves: every new call succeeds on b.
	before := b.Chat.Count()
	for i := 0; i < 6; i++ {
		s := c.Chat.Completions.NewStreaming(ctx, chatParams("small", "again"))
		for s.Next() {
		}
		if err := s.Err(); err != nil {
			t.Fatalf("call %d after the kill: %v", i, err)
		}
	}
	if b.Chat.Count()-before != 6 {
		t.Fatalf("b got %d of 6 calls", b.Chat.Count()-before)
	}
}

// Errors come in OpenAI's shape, saying what and where.
func TestErrorsInOpenAIShape(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.BadRequest("max_tokens is too large"))
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{})
	c := client(g, "")
	_, err := c.Chat.Completions.New(context.Background(), chatParams("nope", "hi"))
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || !strings.Contains(apiErr.Message, `"nope"`) {
		t.Fatalf("unknown model: %v", err)
	}
	// An upstream 400 passes through as it came, not retried.
	_, err = c.Chat.Completions.New(context.Background(), chatParams("small", "hi"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message != "max_tokens is too large" || up.Chat.Count() != 1 {
		t.Fatalf("upstream 400: %v (upstream saw %d)", err, up.Chat.Count())
	}
	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"messages": []}`)
	if resp.StatusCode != 400 || !strings.Contains(body, `"code":"missing_model"`) || !strings.Contains(body, `"type":"invalid_request_error"`) {
		t.Fatalf("missing model: %d %s", resp.StatusCode, body)
	}
	resp, body = rawPost(t, g.URL+"/v1/chat/completions", "", `{"model": "small", `)
	if resp.StatusCode != 400 || !strings.Contains(body, `invalid_json`) {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, body)
	}
}

// Non-streamed chat, embeddings and the model list through the official
// client.
func TestUnaryEmbeddingsModels(t *testing.T) {
	up := openaitest.NewServer(t, openaitest.WithDim(4))
	up.Chat.Enqueue(openaitest.Reply{Content: "hello", PromptTokens: 5, CompletionTokens: 1})
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL), routeTo("embed", up.URL)}}, Options{})
	c := client(g, "")
	r, err := c.Chat.Completions.New(context.Background(), chatParams("small", "hi"))
	if err != nil || r.Choices[0].Message.Content != "hello" || r.Usage.PromptTokens != 5 {
		t.Fatalf("chat: %v %+v", err, r)
	}
	e, err := c.Embeddings.New(context.Background(), oai.EmbeddingNewParams{Model: "embed",
		Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil || len(e.Data) != 2 || len(e.Data[0].Embedding) != 4 {
		t.Fatalf("embeddings: %v %+v", err, e)
	}
	want := openaitest.Vector("a", 4)
	if float32(e.Data[0].Embedding[0]) != want[0] {
		t.Fatalf("vector changed in transit")
	}
	ms, err := c.Models.List(context.Background())
	if err != nil || len(ms.Data) != 2 || ms.Data[0].ID != "embed" {
		t.Fatalf("models: %v %+v", err, ms)
	}
}

func waitTrace(t *testing.T, g *gw, n int) [][]*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if tr := g.traces(); len(tr) >= n {
			return tr
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d traces exported", n)
	return nil
}

func attrs(spans []*tracepb.Span) map[string]string {
	out := map[string]string{}
	for _, kv := range spans[0].Attributes {
		out[kv.Key] = anyString(kv.Value)
	}
	return out
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return itoa(int(x.IntValue))
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	}
	return ""
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// writeChain writes a chain file into dir.
func writeChain(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSSE reads a raw stream's data payloads.
func readSSE(body string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewBufferString(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestHasUsageObject(t *testing.T) {
	for in, want := range map[string]bool{
		`{"choices":[],"usage":{"prompt_tokens":1}}`:           true,
		`{"usage" : { "prompt_tokens":1}}`:                     true,
		`{"choices":[{"delta":{"content":"x"}}],"usage":null}`: false,
		`{"choices":[{"delta":{"content":"\"usage\": {"}}]}`:   false,
		`{"choices":[]}`: false,
	} {
		if got := hasUsageObject([]byte(in)); got != want {
			t.Errorf("%s: %v", in, got)
		}
	}
}

// A client that leaves mid-stream ends the upstream request too (no
// orphaned generation), and the trace records why it ended.
func TestClientLeavingCancelsUpstream(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.Reply{Chunks: strings.Split("a b c d e f g h i j k l m n o p", " "), ChunkInterval: 50 * time.Millisecond})
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := client(g, "")
	s := c.Chat.Completions.NewStreaming(ctx, chatParams("small", "long"))
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content == "b" {
			cancel()
			break
		}
	}
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(up.Streams()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upstream stream did not end after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := up.Streams()[0]; strings.Contains(got, "[DONE]") {
		t.Fatalf("the upstream ran to the end: %q", got)
	}
	tr := waitTrace(t, g, 1)[0]
	if tr[0].Status.Code != tracepb.Status_STATUS_CODE_ERROR || !strings.Contains(tr[0].Status.Message, "client went away") {
		t.Fatalf("root status %v", tr[0].Status)
	}
}

// An upstream that stalls mid-stream is cut after idle_timeout with an
// SSE error event: the call never hangs.
func TestStalledStreamIsCut(t *testing.T) {
	up := openaitest.NewServer(t)
	up.Chat.Enqueue(openaitest.Reply{Chunks: []string{"a", "b"}, ChunkInterval: 3 * time.Second})
	rc := routeTo("small", up.URL)
	rc.IdleTimeout = 200 * time.Millisecond
	g := startGateway(t, Config{Routes: []RouteConfig{rc}}, Options{})
	start := time.Now()
	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"code":"upstream_stream_failed"`) || !strings.Contains(body, "no event within idle_timeout 200ms") || strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the stall was waited out")
	}
}
