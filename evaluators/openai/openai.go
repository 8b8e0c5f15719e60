// Package openai is a client for OpenAI-compatible chat-completions
// endpoints (OpenAI, vLLM, Ollama, llama.cpp, TGI, the chainwatch serving
// gateway) implementing evaluators.ChatClient. Each attempt has its own
// timeout; 429, 408, 5xx, transport errors and timeouts are retried with
// exponential backoff and jitter, honouring Retry-After (and OpenAI's
// retry-after-ms); a semaphore bounds the requests in flight.
package openai

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
	"os"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/internal/httpretry"
)

// Defaults. Config fields left zero take them in New.
const (
	DefaultTimeout       = evaluators.DefaultJudgeTimeout
	DefaultMaxRetries    = evaluators.DefaultJudgeMaxRetries
	DefaultConcurrency   = evaluators.DefaultJudgeConcurrency
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 20 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
	maxResponseBytes     = 8 << 20
)

// Config configures a Client. The YAML keys sit under "judge", beside the
// judge's own settings (evaluators.JudgeConfig); ConfigFromJudge derives one.
type Config struct {
	// BaseURL is the API root; requests go to BaseURL + "/chat/completions".
	BaseURL string `yaml:"base_url"`
	// APIKey is sent as a bearer token when set. It is never read from YAML.
	APIKey string `yaml:"-"`
	// Timeout bounds each attempt, connection and body included.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how many times a retryable failure is retried.
	MaxRetries int `yaml:"max_retries"`
	// Concurrency bounds the attempts in flight; waiting for a slot counts
	// against the caller's context, not the attempt's timeout.
	Concurrency int `yaml:"concurrency"`
	// BackoffBase and BackoffMax shape the backoff: attempt n waits a random
	// duration in [d/2, d] with d = min(BackoffBase·2ⁿ, BackoffMax).
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxRetryAfter caps how long a server's Retry-After is honoured.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// HTTPClient is used when set (its own Timeout should be 0 or longer
	// than Timeout).
	HTTPClient *http.Client `yaml:"-"`
}

// ConfigFromJudge derives a client config from the judge's, reading the API
// key from the environment variable jc.APIKeyEnv names.
func ConfigFromJudge(jc evaluators.JudgeConfig) Config {
	c := Config{BaseURL: jc.BaseURL, Timeout: jc.Timeout, MaxRetries: jc.MaxRetries, Concurrency: jc.Concurrency}
	if jc.APIKeyEnv != "" {
		c.APIKey = os.Getenv(jc.APIKeyEnv)
	}
	return c
}

// Validate reports every invalid field, naming its YAML key under "judge.".
// Zero durations and counts are valid: New fills in the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("judge.base_url must be an http(s) URL with a host, got %q", c.BaseURL)
	}
	if c.Timeout < 0 {
		bad("judge.timeout must be > 0 (0 takes %v), got %v", DefaultTimeout, c.Timeout)
	}
	if c.MaxRetries < 0 {
		bad("judge.max_retries must be >= 0, got %d", c.MaxRetries)
	}
	if c.Concurrency < 0 {
		bad("judge.concurrency must be >= 1 (0 takes %d), got %d", DefaultConcurrency, c.Concurrency)
	}
	if c.BackoffBase < 0 || c.BackoffMax < 0 || c.MaxRetryAfter < 0 {
		bad("judge.backoff_base, judge.backoff_max and judge.max_retry_after must be >= 0")
	}
	return errors.Join(errs...)
}

// Client talks to one OpenAI-compatible endpoint. Safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	sem      chan struct{}
}

var _ evaluators.ChatClient = (*Client)(nil)

// New validates cfg, fills in defaults and returns a client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("creating chat client: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		http:     hc,
		sem:      make(chan struct{}, cfg.Concurrency),
	}, nil
}

// APIError is a non-200 answer (or a 200 whose body is not a completion).
type APIError struct {
	StatusCode int
	Type       string
	Message    string
	// RetryAfter is the server's Retry-After (or retry-after-ms), 0 if none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("status %d (%s): %s", e.StatusCode, e.Type, e.Message)
	}
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Message)
}

// Reason is the evaluators failure label of the error.
func (e *APIError) Reason() string {
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return string(evaluators.ReasonRateLimited)
	case e.StatusCode >= 500 || e.StatusCode == http.StatusOK || e.StatusCode == http.StatusRequestTimeout:
		return string(evaluators.ReasonJudgeUnavailable)
	}
	return string(evaluators.ReasonJudgeRejected)
}

// Retryable reports whether another attempt may succeed.
func (e *APIError) Retryable() bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestTimeout,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// TimeoutError is an attempt that ran past Config.Timeout.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("attempt timed out after %v", e.Timeout) }

// Reason is "timeout".
func (e *TimeoutError) Reason() string { return string(evaluators.ReasonTimeout) }

// Unwrap makes errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// transportError is a connection-level failure.
type transportError struct{ err error }

func (e *transportError) Error() string  { return e.err.Error() }
func (e *transportError) Unwrap() error  { return e.err }
func (e *transportError) Reason() string { return string(evaluators.ReasonJudgeUnavailable) }

type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type wireRequest struct {
	Model          string            `json:"model"`
	Messages       []wireMessage     `json:"messages"`
	Temperature    float64           `json:"temperature"`
	MaxTokens      int               `json:"max_tokens,omitempty"`
	ResponseFormat map[string]string `json:"response_format,omitempty"`
}

type wireResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

type wireError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// Chat sends req, retrying retryable failures. The returned error wraps an
// *APIError, a *TimeoutError, a transport error or ctx's error.
func (c *Client) Chat(ctx context.Context, req evaluators.ChatRequest) (evaluators.ChatResponse, error) {
	wr := wireRequest{Model: req.Model, Temperature: req.Temperature, MaxTokens: req.MaxTokens}
	for _, m := range req.Messages {
		wr.Messages = append(wr.Messages, wireMessage(m))
	}
	if req.JSONMode {
		wr.ResponseFormat = map[string]string{"type": "json_object"}
	}
	body, err := json.Marshal(wr)
	if err != nil {
		return evaluators.ChatResponse{}, fmt.Errorf("encoding chat request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, body)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return evaluators.ChatResponse{}, fmt.Errorf("calling chat completions: %w", ctx.Err())
		}
		wait, retry := c.retryAfter(err, attempt)
		if !retry || attempt >= c.cfg.MaxRetries {
			return evaluators.ChatResponse{}, fmt.Errorf("calling chat completions (%d attempt(s)): %w", attempt+1, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return evaluators.ChatResponse{}, fmt.Errorf("calling chat completions (%d attempt(s), next retry in %v is past the deadline): %w", attempt+1, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return evaluators.ChatResponse{}, fmt.Errorf("waiting to retry chat completions: %w", ctx.Err())
		}
	}
}

// retryAfter decides whether err is retried and after how long.
func (c *Client) retryAfter(err error, attempt int) (time.Duration, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if !apiErr.Retryable() {
			return 0, false
		}
		if apiErr.RetryAfter > 0 {
			return min(apiErr.RetryAfter, c.cfg.MaxRetryAfter), true
		}
	}
	d := c.cfg.BackoffBase << min(attempt, 30)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1), true
}

// attempt is one HTTP round trip under its own timeout and a concurrency slot.
func (c *Client) attempt(ctx context.Context, body []byte) (evaluators.ChatResponse, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return evaluators.ChatResponse{}, ctx.Err()
	}
	defer func() { <-c.sem }()

	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return evaluators.ChatResponse{}, fmt.Errorf("building request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	timedOut := func(err error) error {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			return &TimeoutError{Timeout: c.cfg.Timeout}
		}
		return &transportError{err: err}
	}
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return evaluators.ChatResponse{}, timedOut(err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponseBytes))
	if err != nil {
		return evaluators.ChatResponse{}, timedOut(fmt.Errorf("reading response: %w", err))
	}
	if hresp.StatusCode != http.StatusOK {
		e := &APIError{StatusCode: hresp.StatusCode, RetryAfter: httpretry.RetryAfter(hresp.Header, time.Now())}
		var we wireError
		if json.Unmarshal(raw, &we) == nil && we.Error.Message != "" {
			e.Type, e.Message = we.Error.Type, we.Error.Message
		} else {
			e.Message = httpretry.Truncate(string(raw), 200)
		}
		return evaluators.ChatResponse{}, e
	}
	var wresp wireResponse
	if err := json.Unmarshal(raw, &wresp); err != nil {
		return evaluators.ChatResponse{}, &APIError{StatusCode: http.StatusOK, Message: "parsing completion: " + err.Error()}
	}
	if len(wresp.Choices) == 0 {
		return evaluators.ChatResponse{}, &APIError{StatusCode: http.StatusOK, Message: "completion has no choices"}
	}
	out := evaluators.ChatResponse{Model: wresp.Model}
	if p := wresp.Choices[0].Message.Content; p != nil {
		out.Content = *p
	}
	if wresp.Usage != nil {
		out.Usage = evaluators.Usage{PromptTokens: wresp.Usage.PromptTokens, CompletionTokens: wresp.Usage.CompletionTokens}
	}
	return out, nil
}
