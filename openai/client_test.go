package openai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/internal/backoff"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

func fast(extra ...openai.Opt) []openai.Opt {
	return append([]openai.Opt{openai.Timeout(2 * time.Second), openai.MaxRetries(3),
		openai.Backoff(time.Millisecond, 5*time.Millisecond, 0)}, extra...)
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "localhost:8000", "http://"} {
		if _, err := openai.New(u); err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
}

func TestEndpointKeepsQuery(t *testing.T) {
	c, err := openai.New("https://u:p@api.example.com/proxy/v1/?api-version=2")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoint(openai.PathChatCompletions); got != "https://u:p@api.example.com/proxy/v1/chat/completions?api-version=2" {
		t.Errorf("endpoint %q", got)
	}
}

func TestChatAndEmbeddings(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithDim(3), openaitest.WithAPIKey("k"))
	var mu sync.Mutex
	var codes []string
	c, err := openai.New(srv.URL, fast(openai.APIKey("k"), openai.Observe(func(code string) {
		mu.Lock()
		codes = append(codes, code)
		mu.Unlock()
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	srv.Chat.Enqueue(openaitest.RateLimited(""), openaitest.Answer("hi"))
	resp, err := c.ChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: "u"}}})
	if err != nil || *resp.Choices[0].Message.Content != "hi" || resp.Usage.TotalTokens == 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	emb, err := c.Embeddings(context.Background(), openai.EmbeddingRequest{Model: "e", Input: openai.Strings{"a", "b"}})
	if err != nil || len(emb.Data) != 2 || *emb.Data[1].Index != 1 || len(emb.Data[1].Embedding) != 3 {
		t.Fatalf("%+v %v", emb, err)
	}
	if strings.Join(codes, ",") != "429,200,200" {
		t.Errorf("observed %v", codes)
	}
	if r := srv.ChatRequests()[0]; r.Temperature != nil || r.ResponseFormat != nil {
		t.Errorf("unset fields sent: %+v", r.ChatCompletionRequest)
	}
}

func TestErrorsSayWhatAndWhere(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
		attempts   int
	}{
		{"openai", `{"error": {"message": "model not found", "type": "invalid_request_error", "code": "model_not_found"}}`, 404,
			"1 attempt(s): status 404 (invalid_request_error) from /v1/chat/completions: model not found", 1},
		{"vllm", `{"object": "error", "message": "max_tokens too large", "type": "BadRequestError", "code": 400}`, 400,
			"1 attempt(s): status 400 (BadRequestError) from /v1/chat/completions: max_tokens too large", 1},
		{"ollama", `{"error": "model 'x' not found"}`, 404,
			"1 attempt(s): status 404 from /v1/chat/completions: model 'x' not found", 1},
		{"plain text", "upstream connect error", 503,
			"4 attempt(s): status 503 from /v1/chat/completions: upstream connect error", 4},
		{"not implemented", "no", 501, "1 attempt(s): status 501 from /v1/chat/completions: no", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer hs.Close()
			c, _ := openai.New(hs.URL+"/v1", fast()...)
			_, err := c.ChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m"})
			var apiErr *openai.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || err.Error() != tc.want || n != tc.attempts {
				t.Fatalf("%d attempts: %v", n, err)
			}
			if backoff.IsPermanent(err) == apiErr.Retryable() {
				t.Errorf("permanent %v, retryable %v", backoff.IsPermanent(err), apiErr.Retryable())
			}
		})
	}
}

func TestInvalidAnswerNotRetried(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Chat.Enqueue(openaitest.Malformed())
	c, _ := openai.New(srv.URL, fast()...)
	_, err := c.ChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: "u"}}})
	var re *openai.ResponseError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "invalid answer from /v1/chat/completions: parsing response") || srv.Chat.Count() != 1 {
		t.Fatalf("%d requests: %v", srv.Chat.Count(), err)
	}
}

func TestTimeoutAndMaxInFlight(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Chat.Enqueue(openaitest.Slow(5 * time.Second))
	c, _ := openai.New(srv.URL, fast(openai.Timeout(100*time.Millisecond), openai.MaxRetries(0))...)
	_, err := c.ChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: "u"}}})
	var te *openai.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "1 attempt(s): attempt at /v1/chat/completions timed out after 100ms" {
		t.Fatalf("%v", err)
	}

	srv.SetResponder(func(openaitest.ChatRequest) openaitest.Reply { return openaitest.SlowAnswer(30*time.Millisecond, "ok") })
	c, _ = openai.New(srv.URL, fast(openai.MaxInFlight(2))...)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := c.ChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: "u"}}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := srv.Chat.MaxInFlight(); m != 2 {
		t.Errorf("max in flight %d, want 2", m)
	}
}

func TestPostPassesThrough(t *testing.T) {
	srv := openaitest.NewServer(t)
	c, _ := openai.New(srv.URL, fast()...)
	raw, err := c.Post(context.Background(), openai.PathChatCompletions,
		[]byte(`{"model": "m", "messages": [{"role": "user", "content": "u"}], "vendor_field": 1}`))
	if err != nil || !strings.Contains(string(raw), `"object":"chat.completion"`) {
		t.Fatalf("%s %v", raw, err)
	}
}
