package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/internal/backoff"
)

// Defaults shared by every OpenAI-compatible client in chainwatch (the
// embedder and the judge name their own timeouts and retry counts in their
// YAML; these are what an option left out takes).
const (
	DefaultTimeout          = 60 * time.Second // per attempt, body included
	DefaultMaxRetries       = 2
	DefaultBackoffBase      = 500 * time.Millisecond
	DefaultBackoffMax       = 20 * time.Second
	DefaultMaxRetryAfter    = 60 * time.Second
	DefaultJitter           = 0.5     // delays drawn from [d/2, d]
	DefaultMaxResponseBytes = 8 << 20 // a chat completion; embedders raise it
	maxErrorMessage         = 1000    // bytes of a non-JSON error body kept
)

// Opt configures a Client (franz-go's shape: options over an unexported
// config). Zero values take the defaults.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	apiKey      string
	timeout     time.Duration
	maxRetries  int
	policy      backoff.Policy
	maxInFlight int
	httpClient  *http.Client
	observe     func(code string)
	maxResponse int64
}

// APIKey is sent as "Authorization: Bearer key" (nothing when empty).
func APIKey(key string) Opt { return optFunc(func(c *config) { c.apiKey = key }) }

// Timeout bounds each attempt, connection and body included
// (DefaultTimeout). The caller's context bounds the whole call, retries and
// waits included.
func Timeout(d time.Duration) Opt {
	return optFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// MaxRetries is how many times a retryable failure is retried: up to n+1
// attempts (DefaultMaxRetries; 0 retries nothing).
func MaxRetries(n int) Opt { return optFunc(func(c *config) { c.maxRetries = max(n, 0) }) }

// Backoff shapes the waits between attempts: after the n-th failure a
// random duration in [d/2, d], d = min(base·2ⁿ⁻¹, maxDelay), or the
// server's Retry-After when longer, capped at maxRetryAfter. Zero arguments
// keep the defaults.
func Backoff(base, maxDelay, maxRetryAfter time.Duration) Opt {
	return optFunc(func(c *config) {
		if base > 0 {
			c.policy.Initial = base
		}
		if maxDelay > 0 {
			c.policy.Max = maxDelay
		}
		if maxRetryAfter > 0 {
			c.policy.MaxRetryAfter = maxRetryAfter
		}
	})
}

// MaxInFlight bounds the attempts in flight over the whole client; waiting
// for a slot counts against the caller's context, not the attempt's
// timeout. 0 (the default) is no bound.
func MaxInFlight(n int) Opt { return optFunc(func(c *config) { c.maxInFlight = max(n, 0) }) }

// HTTPClient sends the requests (default: a new http.Client). Its own
// Timeout should be 0 or longer than the attempt timeout.
func HTTPClient(hc *http.Client) Opt { return optFunc(func(c *config) { c.httpClient = hc }) }

// Observe is called once per attempt with its outcome: the HTTP status
// code ("200", "429", …), "timeout" or "transport" — a bounded label for a
// requests counter.
func Observe(fn func(code string)) Opt { return optFunc(func(c *config) { c.observe = fn }) }

// MaxResponseBytes bounds a response body (DefaultMaxResponseBytes); a
// larger answer is an error, never truncated.
func MaxResponseBytes(n int64) Opt {
	return optFunc(func(c *config) {
		if n > 0 {
			c.maxResponse = n
		}
	})
}

// Client talks to one OpenAI-compatible API: OpenAI, vLLM, Ollama,
// llama.cpp, TGI, TEI, the chainwatch serving gateway. Each attempt has its
// own timeout; transport errors, timeouts and the statuses
// backoff.RetryableStatus names are retried through backoff.Policy,
// honouring Retry-After and retry-after-ms; any other answer fails at once
// with the API's message. Safe for concurrent use.
type Client struct {
	base *url.URL
	cfg  config
	sem  chan struct{} // nil: no bound
}

// New returns a client for the API at baseURL, the root that paths such as
// "/chat/completions" are appended to: it ends in the API version, as
// OpenAI's https://api.openai.com/v1 does (http://localhost:8000/v1 for
// vLLM, http://localhost:11434/v1 for Ollama). A query in baseURL is kept
// on every request.
func New(baseURL string, opts ...Opt) (*Client, error) {
	u, err := url.Parse(baseURL)
	if baseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creating openai client: base URL must be an http(s) URL with a host, got %q", baseURL)
	}
	cfg := config{
		timeout:    DefaultTimeout,
		maxRetries: DefaultMaxRetries,
		policy: backoff.Policy{Initial: DefaultBackoffBase, Max: DefaultBackoffMax,
			MaxRetryAfter: DefaultMaxRetryAfter, Jitter: DefaultJitter},
		maxResponse: DefaultMaxResponseBytes,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	cfg.policy.MaxAttempts = cfg.maxRetries + 1
	if cfg.httpClient == nil {
		cfg.httpClient = &http.Client{}
	}
	c := &Client{base: u, cfg: cfg}
	if cfg.maxInFlight > 0 {
		c.sem = make(chan struct{}, cfg.maxInFlight)
	}
	return c, nil
}

// Endpoint is the URL a request to path (e.g. PathEmbeddings) goes to.
func (c *Client) Endpoint(path string) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// where names path for errors: the endpoint's URL path, no credentials or
// query.
func (c *Client) where(path string) string {
	return strings.TrimRight(c.base.Path, "/") + path
}

// ChatCompletion sends req to /chat/completions. The error wraps an
// *APIError, a *TimeoutError, a *ResponseError (a 200 that is not a
// completion, or has no choices), a transport error or ctx's error.
func (c *Client) ChatCompletion(ctx context.Context, req ChatCompletionRequest) (*ChatCompletion, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding chat completion request: %w", err)
	}
	raw, err := c.Post(ctx, PathChatCompletions, body)
	if err != nil {
		return nil, err
	}
	var out ChatCompletion
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, c.responseError(PathChatCompletions, raw, err)
	}
	if len(out.Choices) == 0 {
		return nil, &ResponseError{Path: c.where(PathChatCompletions), Msg: "completion has no choices"}
	}
	return &out, nil
}

// Embeddings sends req to /embeddings and returns the answer as the server
// sent it (checking that each input has exactly one vector is the
// caller's: it knows what it asked for). Errors as ChatCompletion's.
func (c *Client) Embeddings(ctx context.Context, req EmbeddingRequest) (*EmbeddingResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding embeddings request: %w", err)
	}
	raw, err := c.Post(ctx, PathEmbeddings, body)
	if err != nil {
		return nil, err
	}
	var out EmbeddingResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, c.responseError(PathEmbeddings, raw, err)
	}
	return &out, nil
}

// Post sends a JSON body to path, with the client's timeout, retries and
// concurrency bound, and returns the body of the 2xx answer as the server
// sent it: the pass-through for requests the typed methods do not model.
func (c *Client) Post(ctx context.Context, path string, body []byte) ([]byte, error) {
	var out []byte
	err := c.cfg.policy.Retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = c.attempt(ctx, path, body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// attempt is one round trip under its own timeout and a concurrency slot.
func (c *Client) attempt(ctx context.Context, path string, body []byte) ([]byte, error) {
	if c.sem != nil {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-c.sem }()
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.Endpoint(path), bytes.NewReader(body))
	if err != nil {
		return nil, backoff.Permanent(fmt.Errorf("building request to %s: %w", c.where(path), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "chainwatch")
	if c.cfg.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.apiKey)
	}
	failed := func(err error) error {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			c.observe("timeout")
			return &TimeoutError{Path: c.where(path), Timeout: c.cfg.timeout}
		}
		c.observe("transport")
		return &transportError{err: err}
	}
	resp, err := c.cfg.httpClient.Do(req)
	if err != nil {
		return nil, failed(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.maxResponse+1))
	if err != nil {
		return nil, failed(fmt.Errorf("reading the answer of %s: %w", c.where(path), err))
	}
	c.observe(strconv.Itoa(resp.StatusCode))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := newAPIError(resp.StatusCode, c.where(path), raw, backoff.RetryAfter(resp.Header, time.Now()))
		if !e.Retryable() {
			return nil, backoff.Permanent(e)
		}
		return nil, backoff.WithRetryAfter(e, e.RetryAfter)
	}
	if int64(len(raw)) > c.cfg.maxResponse {
		return nil, backoff.Permanent(&ResponseError{Path: c.where(path), Msg: fmt.Sprintf("response larger than %d bytes", c.cfg.maxResponse)})
	}
	return raw, nil
}

func (c *Client) observe(code string) {
	if c.cfg.observe != nil {
		c.cfg.observe(code)
	}
}

func (c *Client) responseError(path string, raw []byte, err error) error {
	return &ResponseError{Path: c.where(path), Msg: fmt.Sprintf("parsing response: %v (body starts %q)", err, backoff.Truncate(string(raw), 200))}
}

// APIError is an answer other than 2xx: its status, where, and what the
// API said.
type APIError struct {
	StatusCode int
	// Path is the URL path the request went to, e.g. /v1/embeddings.
	Path string
	// Type and Code are the API's error type and code, when it sent them.
	Type, Code string
	// Message is the API's error message, or the body (truncated) when it
	// was not an error object.
	Message string
	// RetryAfter is the server's Retry-After (or retry-after-ms), 0 if none.
	RetryAfter time.Duration
}

func newAPIError(status int, path string, raw []byte, retryAfter time.Duration) *APIError {
	e := &APIError{StatusCode: status, Path: path, RetryAfter: retryAfter}
	if b, ok := parseErrorBody(raw); ok {
		e.Message, e.Type = b.Message, b.Type
		var s string
		if json.Unmarshal(b.Code, &s) == nil {
			e.Code = s
		} else if len(b.Code) > 0 && string(b.Code) != "null" {
			e.Code = string(b.Code)
		}
	} else {
		e.Message = backoff.Truncate(strings.TrimSpace(string(raw)), maxErrorMessage)
	}
	return e
}

// Error is "status 429 (rate_limit_exceeded) from /v1/chat/completions:
// message".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d", e.StatusCode)
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " from %s", e.Path)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Retryable reports whether another attempt may succeed
// (backoff.RetryableStatus).
func (e *APIError) Retryable() bool { return backoff.RetryableStatus(e.StatusCode) }

// TimeoutError is an attempt that ran past the client's Timeout.
type TimeoutError struct {
	Path    string
	Timeout time.Duration
}

// Error says where and after how long.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("attempt at %s timed out after %v", e.Path, e.Timeout)
}

// Unwrap makes errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// ResponseError is a 2xx whose body is not a valid answer. It is not
// retried: a server that answers nonsense once answers it again.
type ResponseError struct {
	Path string
	Msg  string
}

// Error is "invalid answer from PATH: MSG".
func (e *ResponseError) Error() string {
	return fmt.Sprintf("invalid answer from %s: %s", e.Path, e.Msg)
}

// transportError is a connection-level failure (net/http's error names the
// URL, its password redacted).
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }
