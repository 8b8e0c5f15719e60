package embedding

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chainwatch/chainwatch/internal/httpretry"
)

// OpenAI client defaults beyond Config's.
const (
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 20 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
	maxResponseBytes     = 256 << 20 // a batch of 2048 × 3072-d vectors as JSON is ~130 MB
	maxErrorBody         = 1000      // bytes of an error body kept in the error
)

// OpenAIConfig configures an OpenAI client. Zero counts and durations take
// the defaults (DefaultBatchSize, …), except MaxRetries: 0 is no retry.
type OpenAIConfig struct {
	// BaseURL is the server's root, e.g. http://localhost:8000; requests go
	// to BaseURL + "/v1/embeddings". A BaseURL that already ends in /v1 is
	// accepted as well (https://api.openai.com/v1).
	BaseURL string
	// Model is sent as "model".
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer APIKey".
	APIKey string
	// Dim, when > 0, is sent as "dimensions" (OpenAI's text-embedding-3
	// models and matryoshka models on vLLM shorten their output to it) and
	// every returned vector must have it. 0 takes the model's dimension.
	Dim int
	// BatchSize is the number of texts per request.
	BatchSize int
	// Concurrency bounds the requests in flight per Embed call.
	Concurrency int
	// Timeout bounds each HTTP attempt, body included.
	Timeout time.Duration
	// MaxRetries is how many times a batch is retried after a 429, 408,
	// 5xx, timeout or transport error (up to MaxRetries+1 attempts).
	MaxRetries int
	// Attempt n (from 0) waits a random duration in [d/2, d] with
	// d = min(BackoffBase·2ⁿ, BackoffMax), or the server's Retry-After
	// (capped at MaxRetryAfter) when it sent one.
	BackoffBase, BackoffMax, MaxRetryAfter time.Duration
	// HTTPClient is used when set; its own Timeout should be 0.
	HTTPClient *http.Client
	// Metrics, when set, counts requests by status code.
	Metrics *Metrics
}

// OpenAI embeds through an OpenAI-compatible POST /v1/embeddings endpoint:
// the chainwatch serving gateway, vLLM, Ollama, TEI, OpenAI. Texts go in
// batches of BatchSize, up to Concurrency batches in flight; each attempt
// has its own timeout; 429, 408, 5xx, timeouts and transport errors are
// retried with exponential backoff and jitter, honouring Retry-After. Any
// other 4xx fails at once with the server's body in the error. Every answer
// is checked: each index present exactly once, every vector of the same
// dimension. Safe for concurrent use.
type OpenAI struct {
	cfg      OpenAIConfig
	id       string
	endpoint string
	http     *http.Client
}

var _ Embedder = (*OpenAI)(nil)

// NewOpenAI checks cfg and fills in its defaults.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.BaseURL)
	if cfg.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creating openai embedder: base URL must be an http(s) URL with a host, got %q", cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, errors.New("creating openai embedder: model is required")
	}
	if cfg.Dim < 0 || cfg.BatchSize < 0 || cfg.Concurrency < 0 || cfg.Timeout < 0 || cfg.MaxRetries < 0 ||
		cfg.BackoffBase < 0 || cfg.BackoffMax < 0 || cfg.MaxRetryAfter < 0 {
		return nil, errors.New("creating openai embedder: negative dim, batch size, concurrency, timeout, retries or backoff")
	}
	cfg.BatchSize = orDefault(cfg.BatchSize, DefaultBatchSize)
	cfg.Concurrency = orDefault(cfg.Concurrency, DefaultConcurrency)
	cfg.Timeout = orDefault(cfg.Timeout, DefaultTimeout)
	cfg.BackoffBase = orDefault(cfg.BackoffBase, DefaultBackoffBase)
	cfg.BackoffMax = orDefault(cfg.BackoffMax, DefaultBackoffMax)
	cfg.MaxRetryAfter = orDefault(cfg.MaxRetryAfter, DefaultMaxRetryAfter)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// The root without credentials, query or a trailing /v1: the ID must not
	// leak secrets into metrics and ClickHouse, and …/v1 and … are one server.
	root := *u
	root.User, root.RawQuery, root.Fragment = nil, "", ""
	root.Path = strings.TrimSuffix(strings.TrimRight(root.Path, "/"), "/v1")
	root.RawPath = ""
	rootURL := strings.TrimRight(root.String(), "/")
	id := "openai:" + cfg.Model + "@" + rootURL
	if cfg.Dim > 0 {
		id += "/dim=" + strconv.Itoa(cfg.Dim)
	}
	ep := *u
	ep.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1") + "/v1/embeddings"
	ep.RawPath = ""
	return &OpenAI{cfg: cfg, id: id, endpoint: ep.String(), http: hc}, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// ID is "openai:MODEL@ROOT", with "/dim=N" when Dim is set; ROOT is the base
// URL without credentials, query or a trailing /v1.
func (o *OpenAI) ID() string { return o.id }

// Endpoint is the URL requests are posted to.
func (o *OpenAI) Endpoint() string { return o.endpoint }

// APIError is an answer other than 200, or a 200 whose body is not a valid
// embeddings response (StatusCode 200).
type APIError struct {
	StatusCode int
	// Body is the response body, truncated.
	Body string
	// RetryAfter is the server's Retry-After (or retry-after-ms), 0 if none.
	RetryAfter time.Duration
}

// Error is "status N: body".
func (e *APIError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("status %d", e.StatusCode)
	}
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Body)
}

// Retryable reports whether another attempt may succeed: 408, 429 and 5xx.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// TimeoutError is an attempt that ran past its timeout.
type TimeoutError struct{ Timeout time.Duration }

// Error says how long the attempt ran.
func (e *TimeoutError) Error() string { return fmt.Sprintf("attempt timed out after %v", e.Timeout) }

// Unwrap makes errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// responseError is a 200 whose body is not a valid answer; not retried (a
// server that answers nonsense once will answer it again).
type responseError struct{ msg string }

func (e *responseError) Error() string { return e.msg }

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

type wireRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

type wireResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed embeds texts in batches, up to Concurrency in flight. On the first
// batch that fails (after its retries) the others are cancelled and the
// error names the batch and its texts' positions.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedding %d texts: %w", len(texts), err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bs := o.cfg.BatchSize
	nb := (len(texts) + bs - 1) / bs
	sem := make(chan struct{}, o.cfg.Concurrency)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
loop:
	for b := range nb {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		lo, hi := b*bs, min((b+1)*bs, len(texts))
		wg.Go(func() {
			defer func() { <-sem }()
			vecs, err := o.embedBatch(ctx, texts[lo:hi])
			if err != nil {
				fail(fmt.Errorf("embedding batch %d of %d (texts %d–%d) with %s: %w", b, nb, lo, hi-1, o.id, err))
				return
			}
			copy(out[lo:hi], vecs)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedding %d texts with %s: %w", len(texts), o.id, err)
	}
	// Each batch is consistent; batches must agree with each other too.
	d := len(out[0])
	for b := range nb {
		if got := len(out[b*bs]); got != d {
			return nil, fmt.Errorf("embedding with %s: batch %d has %d dimensions, batch 0 has %d", o.id, b, got, d)
		}
	}
	return out, nil
}

// embedBatch sends one batch, retrying what may succeed on another try.
func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(wireRequest{Model: o.cfg.Model, Input: texts, Dimensions: o.cfg.Dim})
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		vecs, err := o.attempt(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait, retry := o.backoff(err, attempt)
		if !retry || attempt >= o.cfg.MaxRetries {
			return nil, fmt.Errorf("%d attempt(s): %w", attempt+1, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("%d attempt(s), next retry in %v is past the deadline: %w", attempt+1, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// backoff decides whether err is retried and after how long.
func (o *OpenAI) backoff(err error, attempt int) (time.Duration, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if !apiErr.Retryable() {
			return 0, false
		}
		if apiErr.RetryAfter > 0 {
			return min(apiErr.RetryAfter, o.cfg.MaxRetryAfter), true
		}
	}
	var respErr *responseError
	if errors.As(err, &respErr) {
		return 0, false
	}
	d := o.cfg.BackoffBase << min(attempt, 30)
	if d <= 0 || d > o.cfg.BackoffMax {
		d = o.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1), true
}

// attempt is one HTTP round trip under its own timeout.
func (o *OpenAI) attempt(ctx context.Context, body []byte, n int) ([][]float32, error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	failed := func(err error) error {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			o.count("timeout")
			return &TimeoutError{Timeout: o.cfg.Timeout}
		}
		o.count("transport")
		return &transportError{err: err}
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, failed(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, failed(fmt.Errorf("reading response: %w", err))
	}
	o.count(strconv.Itoa(resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{StatusCode: resp.StatusCode, Body: httpretry.Truncate(strings.TrimSpace(string(raw)), maxErrorBody),
			RetryAfter: httpretry.RetryAfter(resp.Header, time.Now())}
	}
	if len(raw) > maxResponseBytes {
		return nil, &responseError{fmt.Sprintf("response larger than %d bytes", maxResponseBytes)}
	}
	return o.decode(raw, n)
}

// decode parses and checks a 200 answer for a batch of n texts.
func (o *OpenAI) decode(raw []byte, n int) ([][]float32, error) {
	var wr wireResponse
	if err := json.Unmarshal(raw, &wr); err != nil {
		return nil, &responseError{fmt.Sprintf("parsing response: %v (body starts %q)", err, httpretry.Truncate(string(raw), 200))}
	}
	out := make([][]float32, n)
	for k, d := range wr.Data {
		if d.Index == nil {
			return nil, &responseError{fmt.Sprintf("data[%d] has no index", k)}
		}
		i := *d.Index
		switch {
		case i < 0 || i >= n:
			return nil, &responseError{fmt.Sprintf("data[%d] has index %d, outside the batch of %d texts", k, i, n)}
		case out[i] != nil:
			return nil, &responseError{fmt.Sprintf("index %d appears more than once", i)}
		case len(d.Embedding) == 0:
			return nil, &responseError{fmt.Sprintf("index %d has an empty embedding", i)}
		}
		out[i] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, &responseError{fmt.Sprintf("index %d missing from the response (%d of %d texts answered)", i, len(wr.Data), n)}
		}
	}
	want := len(out[0])
	if o.cfg.Dim > 0 {
		want = o.cfg.Dim
	}
	for i, v := range out {
		if len(v) != want {
			if o.cfg.Dim > 0 {
				return nil, &responseError{fmt.Sprintf("index %d has %d dimensions, configured dim is %d", i, len(v), want)}
			}
			return nil, &responseError{fmt.Sprintf("index %d has %d dimensions, index 0 has %d", i, len(v), want)}
		}
	}
	return out, nil
}

func (o *OpenAI) count(code string) {
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Requests.WithLabelValues(o.id, code).Inc()
	}
}
