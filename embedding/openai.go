package embedding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chainwatch/chainwatch/openai"
)

// maxResponseBytes bounds an embeddings answer: a batch of 2048 × 3072-d
// vectors as JSON is ~130 MB.
const maxResponseBytes = 256 << 20

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
	// After the n-th failed attempt the client waits a random duration in
	// [d/2, d] with d = min(BackoffBase·2ⁿ⁻¹, BackoffMax), or the server's
	// Retry-After (capped at MaxRetryAfter) when longer; zero takes
	// openai.DefaultBackoffBase, DefaultBackoffMax, DefaultMaxRetryAfter.
	BackoffBase, BackoffMax, MaxRetryAfter time.Duration
	// HTTPClient is used when set; its own Timeout should be 0.
	HTTPClient *http.Client
	// Metrics, when set, counts requests by status code.
	Metrics *Metrics
}

// OpenAI embeds through an OpenAI-compatible POST /v1/embeddings endpoint:
// the chainwatch serving gateway, vLLM, Ollama, TEI, OpenAI. Texts go in
// batches of BatchSize, up to Concurrency batches in flight; each attempt
// has its own timeout; the openai client retries 408, 425, 429, 5xx (but
// 501 and 505), timeouts and transport errors with exponential backoff and
// jitter, honouring Retry-After. Any other answer fails at once with the
// server's message in the error. Every answer
// is checked: each index present exactly once, every vector of the same
// dimension. Safe for concurrent use.
type OpenAI struct {
	cfg      OpenAIConfig
	id       string
	endpoint string
	client   *openai.Client
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
	// The API's base URL is the root (credentials and query kept) + /v1.
	base := *u
	base.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1") + "/v1"
	base.RawPath = ""
	o := &OpenAI{cfg: cfg, id: id}
	client, err := openai.New(base.String(),
		openai.APIKey(cfg.APIKey),
		openai.Timeout(cfg.Timeout),
		openai.MaxRetries(cfg.MaxRetries),
		openai.Backoff(cfg.BackoffBase, cfg.BackoffMax, cfg.MaxRetryAfter),
		openai.HTTPClient(cfg.HTTPClient),
		openai.MaxResponseBytes(maxResponseBytes),
		openai.Observe(o.count))
	if err != nil {
		return nil, fmt.Errorf("creating openai embedder: %w", err)
	}
	o.client, o.endpoint = client, client.Endpoint(openai.PathEmbeddings)
	return o, nil
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

// APIError is an answer other than 2xx (openai.APIError).
type APIError = openai.APIError

// TimeoutError is an attempt that ran past its timeout (openai.TimeoutError).
type TimeoutError = openai.TimeoutError

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

// embedBatch sends one batch (the client retries what may succeed on
// another try) and checks the answer.
func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := o.client.Embeddings(ctx, openai.EmbeddingRequest{Model: o.cfg.Model, Input: texts, Dimensions: o.cfg.Dim})
	if err != nil {
		return nil, err
	}
	return o.check(resp, len(texts))
}

// check orders a 2xx answer for a batch of n texts by index: each index
// present exactly once, every vector of the same (configured) dimension.
// Such an answer is not retried: a server that answers nonsense once will
// answer it again.
func (o *OpenAI) check(wr *openai.EmbeddingResponse, n int) ([][]float32, error) {
	out := make([][]float32, n)
	for k, d := range wr.Data {
		if d.Index == nil {
			return nil, fmt.Errorf("data[%d] has no index", k)
		}
		i := *d.Index
		switch {
		case i < 0 || i >= n:
			return nil, fmt.Errorf("data[%d] has index %d, outside the batch of %d texts", k, i, n)
		case out[i] != nil:
			return nil, fmt.Errorf("index %d appears more than once", i)
		case len(d.Embedding) == 0:
			return nil, fmt.Errorf("index %d has an empty embedding", i)
		}
		out[i] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("index %d missing from the response (%d of %d texts answered)", i, len(wr.Data), n)
		}
	}
	want := len(out[0])
	if o.cfg.Dim > 0 {
		want = o.cfg.Dim
	}
	for i, v := range out {
		if len(v) != want {
			if o.cfg.Dim > 0 {
				return nil, fmt.Errorf("index %d has %d dimensions, configured dim is %d", i, len(v), want)
			}
			return nil, fmt.Errorf("index %d has %d dimensions, index 0 has %d", i, len(v), want)
		}
	}
	return out, nil
}

func (o *OpenAI) count(code string) {
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Requests.WithLabelValues(o.id, code).Inc()
	}
}
