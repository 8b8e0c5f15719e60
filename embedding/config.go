package embedding

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
)

// Providers.
const (
	ProviderLexical = "lexical"
	ProviderOpenAI  = "openai"
)

// Defaults, named so that docs and code agree.
const (
	DefaultProvider    = ProviderLexical
	DefaultDim         = 256 // lexical only; an openai model has its own
	DefaultBatchSize   = 64
	DefaultConcurrency = 4
	DefaultTimeout     = 30 * time.Second // per HTTP attempt
	DefaultMaxRetries  = 3
	DefaultCache       = true
	// EnvAPIKey is the default of api_key_env: the environment variable
	// holding the openai bearer token.
	EnvAPIKey = "CHAINWATCH_EMBEDDINGS_API_KEY"
)

// Config is the "embeddings" section of the config file.
//
//	embeddings:
//	  provider: openai            # lexical (default) | openai
//	  base_url: http://localhost:8000
//	  model: BAAI/bge-small-en-v1.5
//	  batch_size: 64
//	  concurrency: 4
//	  timeout: 30s
//	  api_key_env: CHAINWATCH_EMBEDDINGS_API_KEY
//	  max_retries: 3
//	  cache: true
type Config struct {
	// Provider is "lexical" (the built-in offline embedder, the default) or
	// "openai" (any OpenAI-compatible /v1/embeddings endpoint).
	Provider string `yaml:"provider"`
	// BaseURL is the openai server's root; requests go to
	// BaseURL/v1/embeddings (a BaseURL ending in /v1 works too).
	BaseURL string `yaml:"base_url"`
	// Model is the openai model name.
	Model string `yaml:"model"`
	// APIKeyEnv names the environment variable holding the openai bearer
	// token (default CHAINWATCH_EMBEDDINGS_API_KEY); the key itself is never
	// in the config file. Empty sends no token.
	APIKeyEnv string `yaml:"api_key_env"`
	// APIKey, set in Go, is used instead of APIKeyEnv's variable.
	APIKey string `yaml:"-"`
	// Dim is the lexical embedder's dimension (0: DefaultDim); for openai,
	// when set, it is sent as "dimensions" and enforced.
	Dim int `yaml:"dim"`
	// Seed is the lexical projection's seed.
	Seed uint64 `yaml:"seed"`
	// BatchSize is the number of texts per openai request.
	BatchSize int `yaml:"batch_size"`
	// Concurrency bounds the openai requests in flight per call.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds each openai HTTP attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how many times an openai request is retried on 429,
	// 5xx and timeouts; 0 disables retries.
	MaxRetries int `yaml:"max_retries"`
	// Cache puts the ClickHouse cache in front of the provider.
	Cache bool `yaml:"cache"`
}

// DefaultConfig is the embeddings section's defaults: the lexical
// embedder behind the ClickHouse cache.
func DefaultConfig() Config {
	return Config{
		Provider:    DefaultProvider,
		APIKeyEnv:   EnvAPIKey,
		BatchSize:   DefaultBatchSize,
		Concurrency: DefaultConcurrency,
		Timeout:     DefaultTimeout,
		MaxRetries:  DefaultMaxRetries,
		Cache:       DefaultCache,
	}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig). MaxRetries and
// Cache, whose zero means something (no retries, no cache), are left as
// they are. The API key is not read from the environment here but in New,
// so a printed config holds no secret.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Provider == "" {
		c.Provider = d.Provider
	}
	if c.Dim == 0 && c.Provider == ProviderLexical {
		c.Dim = DefaultDim
	}
	c.BatchSize = orDefault(c.BatchSize, d.BatchSize)
	c.Concurrency = orDefault(c.Concurrency, d.Concurrency)
	c.Timeout = orDefault(c.Timeout, d.Timeout)
	return c
}

// CacheEnabled reports whether the ClickHouse cache is on.
func (c Config) CacheEnabled() bool { return c.Cache }

// Validate names every bad key relative to the section and the value
// given; the loader adds "embeddings.". Zero counts and durations are
// valid: they take the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Provider {
	case "", ProviderLexical:
	case ProviderOpenAI:
		if c.BaseURL == "" {
			bad("base_url is required for provider openai (the server's root, e.g. http://localhost:8000), got \"\"")
		} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base_url must be an http(s) URL with a host, got %q", c.BaseURL)
		}
		if c.Model == "" {
			bad("model is required for provider openai (e.g. text-embedding-3-small), got \"\"")
		}
	default:
		bad("provider must be %q or %q, got %q", ProviderLexical, ProviderOpenAI, c.Provider)
	}
	if c.Dim < 0 {
		bad("dim must be > 0 (0 takes the default), got %d", c.Dim)
	}
	if c.BatchSize < 0 {
		bad("batch_size must be > 0 (0 takes %d), got %d", DefaultBatchSize, c.BatchSize)
	}
	if c.Concurrency < 0 {
		bad("concurrency must be > 0 (0 takes %d), got %d", DefaultConcurrency, c.Concurrency)
	}
	if c.Timeout < 0 {
		bad("timeout must be > 0 (0 takes %v), got %v", DefaultTimeout, c.Timeout)
	}
	if c.MaxRetries < 0 {
		bad("max_retries must be >= 0, got %d", c.MaxRetries)
	}
	return errors.Join(errs...)
}

// New builds the configured embedder: the provider, behind the ClickHouse
// cache when cache is on (conn is then required; the embeddings table is
// schemas.Migrate's), with metrics registered on reg (nil: none). The API
// key, when not in cfg.APIKey, is read from the variable api_key_env names.
func New(cfg Config, conn driver.Conn, reg prometheus.Registerer) (Embedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if cfg.CacheEnabled() && conn == nil {
		return nil, errors.New("embeddings.cache is on but there is no ClickHouse connection (set embeddings.cache: false to embed without it)")
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering embedding metrics: %w", err)
	}
	var e Embedder
	switch cfg.Provider {
	case ProviderLexical:
		e = NewLexical(cfg.Dim, cfg.Seed)
	case ProviderOpenAI:
		key := cfg.APIKey
		if key == "" && cfg.APIKeyEnv != "" {
			key = os.Getenv(cfg.APIKeyEnv)
		}
		o, err := NewOpenAI(OpenAIConfig{
			BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: key, Dim: cfg.Dim,
			BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, Timeout: cfg.Timeout,
			MaxRetries: cfg.MaxRetries, Metrics: m,
		})
		if err != nil {
			return nil, err
		}
		e = o
	}
	if cfg.CacheEnabled() {
		e = NewCached(e, conn, WithMetrics(m), WithLogger(slog.Default()))
	}
	return timed{Embedder: e, hist: m.Duration.WithLabelValues(e.ID())}, nil
}
