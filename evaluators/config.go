package evaluators

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Judge defaults. DefaultJudgeConfig returns a JudgeConfig holding them.
const (
	DefaultJudgeTimeout       = 30 * time.Second // per HTTP attempt
	DefaultJudgeMaxRetries    = 3                // HTTP retries on 429, 5xx, timeouts
	DefaultJudgeParseRetries  = 2                // re-asks after a malformed verdict
	DefaultJudgeConcurrency   = 4                // judge calls in flight per client
	DefaultJudgeTokensPerHour = 1_000_000
	DefaultJudgeCacheSize     = 10_000 // verdicts kept in the LRU
	DefaultJudgeMaxTokens     = 512    // max_tokens of a verdict
	DefaultJudgeAPIKeyEnv     = "CHAINWATCH_JUDGE_API_KEY"
)

// JudgeConfig configures the LLM judges and the client they use, under the
// YAML key "judge".
type JudgeConfig struct {
	// Model is the judge model name sent in each request.
	Model string `yaml:"model"`
	// BaseURL is the OpenAI-compatible API root, e.g.
	// https://api.openai.com/v1 or http://localhost:8000/v1; requests go to
	// BaseURL + "/chat/completions".
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable holding the bearer token; the
	// key itself never sits in the config file. Empty sends no token.
	APIKeyEnv string `yaml:"api_key_env"`
	// Timeout bounds each HTTP attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how many times a call is retried on 429, 5xx, transport
	// errors and timeouts (so up to MaxRetries+1 attempts).
	MaxRetries int `yaml:"max_retries"`
	// ParseRetries is how many times the judge is re-asked after a malformed
	// verdict before the evaluation is recorded as failed.
	ParseRetries int `yaml:"parse_retries"`
	// Concurrency bounds the calls in flight.
	Concurrency int `yaml:"concurrency"`
	// TokensPerHour is the budget over any sliding hour (prompt +
	// completion tokens as the API reports them); 0 means unlimited.
	TokensPerHour int `yaml:"tokens_per_hour"`
	// CacheSize is how many verdicts the LRU keeps; 0 disables the cache.
	CacheSize int `yaml:"cache_size"`
	// MaxTokens is the max_tokens of each verdict.
	MaxTokens int `yaml:"max_tokens"`
	// InputUSDPerMTok and OutputUSDPerMTok price prompt and completion
	// tokens (USD per million) for Result.CostUSD; 0 records no cost.
	InputUSDPerMTok  float64 `yaml:"input_usd_per_mtok"`
	OutputUSDPerMTok float64 `yaml:"output_usd_per_mtok"`
	// JSONMode sends response_format {"type": "json_object"}.
	JSONMode bool `yaml:"json_mode"`
}

// DefaultJudgeConfig returns the defaults; Model and BaseURL must still be set.
func DefaultJudgeConfig() JudgeConfig {
	return JudgeConfig{
		APIKeyEnv:     DefaultJudgeAPIKeyEnv,
		Timeout:       DefaultJudgeTimeout,
		MaxRetries:    DefaultJudgeMaxRetries,
		ParseRetries:  DefaultJudgeParseRetries,
		Concurrency:   DefaultJudgeConcurrency,
		TokensPerHour: DefaultJudgeTokensPerHour,
		CacheSize:     DefaultJudgeCacheSize,
		MaxTokens:     DefaultJudgeMaxTokens,
	}
}

// Validate names every bad key relative to the judge block and the value
// given; the evaluator section adds "judge." and the loader "evaluator.".
func (c JudgeConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Model == "" {
		bad("model must be set (the judge model's name, e.g. gpt-4o-mini), got \"\"")
	}
	if c.BaseURL == "" {
		bad("base_url must be set (an OpenAI-compatible API root, e.g. http://localhost:8000/v1), got \"\"")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base_url must be an http(s) URL with a host, got %q", c.BaseURL)
	}
	if c.Timeout <= 0 {
		bad("timeout must be > 0, got %v", c.Timeout)
	}
	if c.MaxRetries < 0 {
		bad("max_retries must be >= 0, got %d", c.MaxRetries)
	}
	if c.ParseRetries < 0 {
		bad("parse_retries must be >= 0, got %d", c.ParseRetries)
	}
	if c.Concurrency < 1 {
		bad("concurrency must be >= 1, got %d", c.Concurrency)
	}
	if c.TokensPerHour < 0 {
		bad("tokens_per_hour must be >= 0 (0 is unlimited), got %d", c.TokensPerHour)
	}
	if c.CacheSize < 0 {
		bad("cache_size must be >= 0 (0 disables the cache), got %d", c.CacheSize)
	}
	if c.MaxTokens < 0 {
		bad("max_tokens must be >= 0 (0 is the server's default), got %d", c.MaxTokens)
	}
	if c.InputUSDPerMTok < 0 {
		bad("input_usd_per_mtok must be >= 0, got %v", c.InputUSDPerMTok)
	}
	if c.OutputUSDPerMTok < 0 {
		bad("output_usd_per_mtok must be >= 0, got %v", c.OutputUSDPerMTok)
	}
	return errors.Join(errs...)
}
