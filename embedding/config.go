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
	// EnvAPIKey is read when api_key is not in the config.
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
	// APIKey is the openai bearer token. Empty reads CHAINWATCH_EMBEDDINGS_API_KEY;
	// prefer the environment to a key in a file.
	APIKey string `yaml:"api_key"`
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
	// 5xx and timeouts; unset takes DefaultMaxRetries, 0 disables retries.
	MaxRetries *int `yaml:"max_retries"`
	// Cache puts the ClickHouse cache in front of the provider; unset is
	// true.
	Cache *bool `yaml:"cache"`
}

// WithDefaults fills the fields left unset. The API key is not read from the
// environment here but in New, so a printed config holds no secret.
func (c Config) WithDefaults() Config {
	if c.Provider == "" {
		c.Provider = DefaultProvider
	}
	if c.Dim == 0 && c.Provider == ProviderLexical {
		c.Dim = DefaultDim
	}
	c.BatchSize = orDefault(c.BatchSize, DefaultBatchSize)
	c.Concurrency = orDefault(c.Concurrency, DefaultConcurrency)
	c.Timeout = orDefault(c.Timeout, DefaultTimeout)
	if c.MaxRetries == nil {
		n := DefaultMaxRetries
		c.MaxRetries = &n
	}
	if c.Cache == nil {
		b := DefaultCache
		c.Cache = &b
	}
	return c
}

// CacheEnabled reports whether the ClickHouse cache is on (unset is on).
func (c Config) CacheEnabled() bool { return c.Cache == nil || *c.Cache }

// Validate reports every invalid field, naming its YAML key under
// "embeddings.". Zero counts and durations are valid: they take the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Provider {
	case "", ProviderLexical:
	case ProviderOpenAI:
		if c.BaseURL == "" {
			bad("embeddings.base_url is required for provider openai (the server's root, e.g. http://localhost:8000)")
		} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("embeddings.base_url must be an http(s) URL with a host, got %q", c.BaseURL)
		}
		if c.Model == "" {
			bad("embeddings.model is required for provider openai (e.g. text-embedding-3-small)")
		}
	default:
		bad("embeddings.provider must be %q or %q, got %q", ProviderLexical, ProviderOpenAI, c.Provider)
	}
	if c.Dim < 0 {
		bad("embeddings.dim must be > 0 (0 takes the default), got %d", c.Dim)
	}
	if c.BatchSize < 0 {
		bad("embeddings.batch_size must be > 0 (0 takes %d), got %d", DefaultBatchSize, c.BatchSize)
	}
	if c.Concurrency < 0 {
		bad("embeddings.concurrency must be > 0 (0 takes %d), got %d", DefaultConcurrency, c.Concurrency)
	}
	if c.Timeout < 0 {
		bad("embeddings.timeout must be > 0 (0 takes %v), got %v", DefaultTimeout, c.Timeout)
	}
	if c.MaxRetries != nil && *c.MaxRetries < 0 {
		bad("embeddings.max_retries must be >= 0, got %d", *c.MaxRetries)
	}
	return errors.Join(errs...)
}

// New builds the configured embedder: the provider, behind the ClickHouse
// cache when cache is on (conn is then required; the embeddings table is
// schemas.Migrate's), with metrics registered on reg (nil: none). The API
// key, when not in cfg, is read from CHAINWATCH_EMBEDDINGS_API_KEY.
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
		if key == "" {
			key = os.Getenv(EnvAPIKey)
		}
		o, err := NewOpenAI(OpenAIConfig{
			BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: key, Dim: cfg.Dim,
			BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, Timeout: cfg.Timeout,
			MaxRetries: *cfg.MaxRetries, Metrics: m,
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
