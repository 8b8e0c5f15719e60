// Package openai is the judge's evaluators.ChatClient over chainwatch's one
// OpenAI-compatible client (the top-level openai package): the judge.*
// YAML keys, the mapping between evaluators' chat types and the wire, and
// the failure reasons (rate_limited, judge_unavailable, judge_rejected,
// timeout) of its errors. Timeouts, retries with backoff and Retry-After,
// and the bound on requests in flight are the client's.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/openai"
)

// Defaults. Config fields left zero take them in New.
// Backoff defaults are openai.DefaultBackoffBase, DefaultBackoffMax and
// DefaultMaxRetryAfter.
const (
	DefaultTimeout     = evaluators.DefaultJudgeTimeout
	DefaultMaxRetries  = evaluators.DefaultJudgeMaxRetries
	DefaultConcurrency = evaluators.DefaultJudgeConcurrency
)

// Config configures a Client. The YAML keys sit under "judge", beside the
// judge's own settings (evaluators.JudgeConfig); ConfigFromJudge derives one.
type Config struct {
	// BaseURL is the API's base URL, with its version (…/v1); requests go
	// to BaseURL + "/chat/completions".
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
	// BackoffBase and BackoffMax shape the backoff: after the n-th failure
	// a random duration in [d/2, d] with d = min(BackoffBase·2ⁿ⁻¹, BackoffMax).
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

// Client is the judge's chat client over one OpenAI-compatible endpoint.
// Safe for concurrent use.
type Client struct {
	c *openai.Client
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
	c, err := openai.New(cfg.BaseURL,
		openai.APIKey(cfg.APIKey),
		openai.Timeout(cfg.Timeout),
		openai.MaxRetries(cfg.MaxRetries),
		openai.MaxInFlight(cfg.Concurrency),
		openai.Backoff(cfg.BackoffBase, cfg.BackoffMax, cfg.MaxRetryAfter),
		openai.HTTPClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("creating chat client: %w", err)
	}
	return &Client{c: c}, nil
}

// APIError is a non-2xx answer (openai.APIError).
type APIError = openai.APIError

// TimeoutError is an attempt that ran past Config.Timeout.
type TimeoutError = openai.TimeoutError

// reasonError gives a client error its evaluators failure label.
type reasonError struct {
	reason evaluators.Reason
	err    error
}

func (e *reasonError) Error() string  { return e.err.Error() }
func (e *reasonError) Unwrap() error  { return e.err }
func (e *reasonError) Reason() string { return string(e.reason) }

// reasonOf labels a failed call: 429 rate_limited; 5xx, 408, 425, a 2xx
// that is no completion and transport errors judge_unavailable; other 4xx
// judge_rejected; an attempt past its timeout timeout.
func reasonOf(err error) evaluators.Reason {
	var apiErr *APIError
	var tErr *TimeoutError
	var rErr *openai.ResponseError
	switch {
	case errors.As(err, &apiErr):
		switch {
		case apiErr.StatusCode == http.StatusTooManyRequests:
			return evaluators.ReasonRateLimited
		case apiErr.Retryable():
			return evaluators.ReasonJudgeUnavailable
		}
		return evaluators.ReasonJudgeRejected
	case errors.As(err, &tErr):
		return evaluators.ReasonTimeout
	case errors.As(err, &rErr):
		return evaluators.ReasonJudgeUnavailable
	}
	return evaluators.ReasonJudgeUnavailable
}

// Chat sends req, retrying retryable failures. The returned error wraps an
// *APIError, a *TimeoutError, an *openai.ResponseError, a transport error
// or ctx's error, and carries its evaluators failure reason (ctx's error
// none: evaluators.ReasonOf reads it).
func (c *Client) Chat(ctx context.Context, req evaluators.ChatRequest) (evaluators.ChatResponse, error) {
	temp := req.Temperature
	wr := openai.ChatCompletionRequest{Model: req.Model, Temperature: &temp, MaxTokens: req.MaxTokens}
	for _, m := range req.Messages {
		wr.Messages = append(wr.Messages, openai.Message(m))
	}
	if req.JSONMode {
		wr.ResponseFormat = &openai.ResponseFormat{Type: "json_object"}
	}
	resp, err := c.c.ChatCompletion(ctx, wr)
	if err != nil {
		err = fmt.Errorf("calling chat completions: %w", err)
		if ctx.Err() != nil {
			return evaluators.ChatResponse{}, err
		}
		return evaluators.ChatResponse{}, &reasonError{reason: reasonOf(err), err: err}
	}
	out := evaluators.ChatResponse{Model: resp.Model}
	if p := resp.Choices[0].Message.Content; p != nil {
		out.Content = *p
	}
	if resp.Usage != nil {
		out.Usage = evaluators.Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}
	}
	return out, nil
}
