package embedding_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

func texts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s text number %d", prefix, i)
	}
	return out
}

// fastConfig is an OpenAI config for tests: short backoff, short timeout.
func fastConfig(url string) embedding.OpenAIConfig {
	return embedding.OpenAIConfig{
		BaseURL: url, Model: "test-model", Timeout: 2 * time.Second, MaxRetries: 3,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	}
}

func newOpenAI(t *testing.T, cfg embedding.OpenAIConfig) *embedding.OpenAI {
	t.Helper()
	o, err := embedding.NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameVectors fails unless got[i] is bit for bit openaitest.Vector(in[i], dim).
func sameVectors(t *testing.T, in []string, got [][]float32, dim int) {
	t.Helper()
	if len(got) != len(in) {
		t.Fatalf("got %d vectors for %d texts", len(got), len(in))
	}
	for i, s := range in {
		want := openaitest.Vector(s, dim)
		if len(got[i]) != dim {
			t.Fatalf("vector %d has %d dimensions, want %d", i, len(got[i]), dim)
		}
		for j := range want {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[j]) {
				t.Fatalf("vector %d (%q) differs at %d: got %v want %v", i, s, j, got[i][j], want[j])
			}
		}
	}
}

func TestOpenAIBatching(t *testing.T) {
	for _, tc := range []struct{ n, batch, wantReq int }{
		{1, 64, 1}, {64, 64, 1}, {65, 64, 2}, {200, 64, 4}, {10, 3, 4}, {0, 64, 0},
	} {
		t.Run(fmt.Sprintf("n=%d/batch=%d", tc.n, tc.batch), func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.WithDim(8))
			cfg := fastConfig(srv.Root)
			cfg.BatchSize = tc.batch
			in := texts("batch", tc.n)
			got, err := newOpenAI(t, cfg).Embed(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if srv.Embeddings.Count() != tc.wantReq || srv.Texts() != tc.n {
				t.Fatalf("%d requests with %d texts, want %d with %d", srv.Embeddings.Count(), srv.Texts(), tc.wantReq, tc.n)
			}
			for _, req := range srv.Inputs() {
				if len(req) > tc.batch {
					t.Fatalf("a request carried %d texts, batch size is %d", len(req), tc.batch)
				}
			}
			sameVectors(t, in, got, 8)
		})
	}
}

func TestOpenAIOrdersByIndex(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithDim(4), openaitest.WithShuffle())
	cfg := fastConfig(srv.Root)
	cfg.BatchSize, cfg.Concurrency = 7, 3
	in := texts("shuffled", 50)
	got, err := newOpenAI(t, cfg).Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sameVectors(t, in, got, 4)
}

func TestOpenAIConcurrencyBound(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithDim(4))
	for range 8 {
		srv.Embeddings.Enqueue(openaitest.Slow(50 * time.Millisecond))
	}
	cfg := fastConfig(srv.Root)
	cfg.BatchSize, cfg.Concurrency = 1, 2
	if _, err := newOpenAI(t, cfg).Embed(context.Background(), texts("c", 8)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Embeddings.MaxInFlight(); got != 2 {
		t.Fatalf("max in flight %d, want 2 (the concurrency)", got)
	}
}

func TestOpenAIRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faults   []openaitest.Reply
		minWait  time.Duration
		wantReqs int
	}{
		{"429 then ok", []openaitest.Reply{openaitest.RateLimited("")}, 0, 2},
		{"429 honours Retry-After", []openaitest.Reply{openaitest.RateLimited("0.3")}, 300 * time.Millisecond, 2},
		{"500 and 503 then ok", []openaitest.Reply{openaitest.ServerError(500), openaitest.ServerError(503)}, 0, 3},
		{"timeout then ok", []openaitest.Reply{openaitest.Slow(5 * time.Second)}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.WithDim(4))
			srv.Embeddings.Enqueue(tc.faults...)
			cfg := fastConfig(srv.Root)
			cfg.Timeout = 200 * time.Millisecond
			reg := prometheus.NewRegistry()
			m, err := embedding.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Metrics = m
			o := newOpenAI(t, cfg)
			in := texts("retry", 3)
			start := time.Now()
			got, err := o.Embed(context.Background(), in)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			sameVectors(t, in, got, 4)
			if srv.Embeddings.Count() != tc.wantReqs {
				t.Fatalf("%d requests, want %d", srv.Embeddings.Count(), tc.wantReqs)
			}
			if elapsed < tc.minWait {
				t.Fatalf("returned after %v, before the server's Retry-After of %v", elapsed, tc.minWait)
			}
			if elapsed > 3*time.Second {
				t.Fatalf("took %v: the timeout did not cut the slow attempt", elapsed)
			}
			if n := testutil.ToFloat64(m.Requests.WithLabelValues(o.ID(), "200")); n != 1 {
				t.Fatalf("requests_total{code=200} = %v, want 1", n)
			}
		})
	}
}

func TestOpenAIGivesUp(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Embeddings.Enqueue(openaitest.ServerError(500), openaitest.ServerError(500), openaitest.ServerError(500))
	cfg := fastConfig(srv.Root)
	cfg.MaxRetries = 2
	_, err := newOpenAI(t, cfg).Embed(context.Background(), texts("x", 2))
	var apiErr *embedding.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("want an APIError with status 500, got %v", err)
	}
	if !strings.Contains(err.Error(), "3 attempt(s)") || srv.Embeddings.Count() != 3 {
		t.Fatalf("want 3 attempts, got %d requests and %v", srv.Embeddings.Count(), err)
	}
}

func TestOpenAIClientErrorNotRetried(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Embeddings.Enqueue(openaitest.BadRequest("input[1] is longer than the model's 512-token context"))
	_, err := newOpenAI(t, fastConfig(srv.Root)).Embed(context.Background(), texts("x", 2))
	if err == nil {
		t.Fatal("want an error")
	}
	if srv.Embeddings.Count() != 1 {
		t.Fatalf("a 400 was retried: %d requests", srv.Embeddings.Count())
	}
	for _, want := range []string{"status 400", "512-token context", "batch 0 of 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenAIInvalidResponses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dim    int // configured
		faults []openaitest.Reply
		want   []string
	}{
		{"dimension mismatch between batches", 0, []openaitest.Reply{openaitest.OK(), openaitest.WrongDim(3)}, []string{"batch 1 has 3 dimensions, batch 0 has 4"}},
		{"dimension differs from configured", 4, []openaitest.Reply{openaitest.WrongDim(5)}, []string{"batch 0 of 2", "index 0 has 5 dimensions, configured dim is 4"}},
		{"missing index", 0, []openaitest.Reply{openaitest.OK(), openaitest.MissingIndex(1)}, []string{"batch 1 of 2 (texts 2–3)", "index 1 missing"}},
		{"malformed json", 0, []openaitest.Reply{openaitest.Malformed()}, []string{"batch 0 of 2", "parsing response"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.WithDim(4))
			srv.Embeddings.Enqueue(tc.faults...)
			cfg := fastConfig(srv.Root)
			cfg.BatchSize, cfg.Concurrency, cfg.Dim = 2, 1, tc.dim
			_, err := newOpenAI(t, cfg).Embed(context.Background(), texts("bad", 4))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if srv.Embeddings.Count() > 2 {
				t.Errorf("an invalid answer was retried: %d requests", srv.Embeddings.Count())
			}
		})
	}
}

func TestOpenAIAuthAndDimensions(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithAPIKey("sekrit"))
	cfg := fastConfig(srv.Root + "/v1/") // a base URL with /v1 works too
	cfg.Dim = 6                          // sent as "dimensions": the server answers 6
	_, err := newOpenAI(t, cfg).Embed(context.Background(), []string{"a"})
	var apiErr *embedding.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a key: want 401, got %v", err)
	}
	cfg.APIKey = "sekrit"
	o := newOpenAI(t, cfg)
	got, err := o.Embed(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	sameVectors(t, []string{"a", "b"}, got, 6)
	if a := srv.Embeddings.Authorizations(); a[len(a)-1] != "Bearer sekrit" {
		t.Fatalf("Authorization %q", a[len(a)-1])
	}
}

func TestOpenAIID(t *testing.T) {
	for _, tc := range []struct {
		url  string
		dim  int
		id   string
		post string
	}{
		{"http://gw:8000", 0, "openai:m@http://gw:8000", "http://gw:8000/v1/embeddings"},
		{"http://gw:8000/v1/", 0, "openai:m@http://gw:8000", "http://gw:8000/v1/embeddings"},
		{"https://user:pw@api.example.com/proxy/v1?x=1", 256, "openai:m@https://api.example.com/proxy/dim=256", "https://user:pw@api.example.com/proxy/v1/embeddings?x=1"},
	} {
		o, err := embedding.NewOpenAI(embedding.OpenAIConfig{BaseURL: tc.url, Model: "m", Dim: tc.dim})
		if err != nil {
			t.Fatal(err)
		}
		if o.ID() != tc.id || o.Endpoint() != tc.post {
			t.Errorf("%s: ID %q endpoint %q, want %q %q", tc.url, o.ID(), o.Endpoint(), tc.id, tc.post)
		}
	}
}

func TestOpenAICancelled(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Embeddings.Enqueue(openaitest.Slow(5 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg := fastConfig(srv.Root)
	cfg.Timeout = 10 * time.Second
	_, err := newOpenAI(t, cfg).Embed(ctx, []string{"a"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	if srv.Embeddings.Count() != 1 {
		t.Fatalf("%d requests after the caller gave up", srv.Embeddings.Count())
	}
}

func TestOpenAICapsRetryAfter(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Embeddings.Enqueue(openaitest.RateLimited("3600"))
	cfg := fastConfig(srv.Root)
	cfg.MaxRetryAfter = 50 * time.Millisecond
	start := time.Now()
	if _, err := newOpenAI(t, cfg).Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v for a Retry-After of an hour capped at 50ms", d)
	}
}

func TestOpenAIRetryPastDeadline(t *testing.T) {
	// A Retry-After beyond the caller's deadline fails now, not at the deadline.
	srv := openaitest.NewServer(t)
	srv.Embeddings.Enqueue(openaitest.RateLimited("30"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := newOpenAI(t, fastConfig(srv.Root)).Embed(ctx, []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "past the deadline") || time.Since(start) > time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}
