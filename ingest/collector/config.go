package collector

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/internal/config"
	"github.com/chainwatch/chainwatch/internal/tlsfiles"
	"github.com/chainwatch/chainwatch/kafka"
)

// Defaults, named so that docs and code agree.
const (
	DefaultHTTPAddr          = "127.0.0.1:4318"
	DefaultGRPCAddr          = "127.0.0.1:4317"
	DefaultMaxBodyBytes      = 16 << 20
	DefaultRetryAfterSeconds = 2
)

// Config configures the HTTP and gRPC endpoints.
type Config struct {
	HTTPAddr     string `yaml:"http_addr"` // OTLP/HTTP, JSON spans, feedback, /metrics
	GRPCAddr     string `yaml:"grpc_addr"` // OTLP/gRPC; "off" disables it
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// APIKeysEnv names an environment variable holding the API keys
	// (comma-separated), APIKeysFile a file holding them (one a line; blank
	// lines and lines starting with # are skipped). The keys themselves are
	// never in the config file; the loader reads them into APIKeys.
	APIKeysEnv  string `yaml:"api_keys_env"`
	APIKeysFile string `yaml:"api_keys_file"`
	// APIKeys, when set, are required of every request (Authorization:
	// Bearer, or X-API-Key). A key read from api_keys_file may be followed
	// by " apps=a,b": it may then write only those apps' data (security.go).
	APIKeys []string `yaml:"-"`
	// TLS serves both listeners over TLS from these files, reloaded when
	// they change (internal/tlsfiles).
	TLS tlsfiles.Config `yaml:"tls"`
	// RedactPII replaces personal data in the given apps' spans and logs
	// before they reach Kafka (security.go).
	RedactPII RedactConfig `yaml:"redact_pii"`
	// MaxInflightBytes bounds the bytes of all requests being read, decoded
	// or waiting for Kafka together: a request that cannot be admitted
	// within a short wait is answered 503 before its body is read. It must
	// be >= max_body_bytes.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`

	// The producer's limits, copied from the kafka section by WithKafka
	// (not YAML keys of the collector section): a request is answered
	// within ProduceTimeout (+ a margin), and what can never fit in a
	// record or in the buffer is answered 413.
	ProduceTimeout   time.Duration `yaml:"-"`
	MaxRecordBytes   int           `yaml:"-"`
	MaxBufferedBytes int           `yaml:"-"`
}

// WithKafka copies the producer limits of k (with its defaults) into c.
func (c Config) WithKafka(k kafka.Config) Config {
	k = k.WithDefaults()
	c.ProduceTimeout, c.MaxRecordBytes, c.MaxBufferedBytes = k.ProduceTimeout, k.MaxRecordBytes, k.MaxBufferedBytes
	return c
}

// DefaultConfig is the collector section's defaults: loopback addresses,
// 16 MiB bodies, no API keys. MaxInflightBytes is left 0: WithDefaults
// derives it from max_body_bytes.
func DefaultConfig() Config {
	return Config{HTTPAddr: DefaultHTTPAddr, GRPCAddr: DefaultGRPCAddr, MaxBodyBytes: DefaultMaxBodyBytes}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.HTTPAddr == "" {
		c.HTTPAddr = d.HTTPAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = d.GRPCAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = max(DefaultMaxInflightBytes, 2*c.MaxBodyBytes)
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = kafka.DefaultProduceTimeout
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = kafka.DefaultMaxRecordBytes
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = kafka.DefaultMaxBufferedBytes
	}
	return c
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "collector.". It checks the API keys read from
// api_keys_env or api_keys_file (ReadAPIKeys) without printing them.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max_body_bytes must be > 0, got %d", c.MaxBodyBytes))
	}
	if c.MaxInflightBytes < 0 {
		errs = append(errs, fmt.Errorf("max_inflight_bytes must be > 0, got %d", c.MaxInflightBytes))
	}
	if c.MaxInflightBytes > 0 && c.MaxInflightBytes < max(c.MaxBodyBytes, 0) {
		errs = append(errs, fmt.Errorf("max_inflight_bytes must be >= max_body_bytes (%d), got %d: a body of the largest allowed size could never be admitted", c.MaxBodyBytes, c.MaxInflightBytes))
	}
	if c.APIKeysEnv != "" && c.APIKeysFile != "" {
		errs = append(errs, fmt.Errorf("api_keys_env and api_keys_file: set one, got both (%s and %s)", c.APIKeysEnv, c.APIKeysFile))
	}
	src := "api_keys"
	switch {
	case c.APIKeysFile != "":
		src = "api_keys_file"
	case c.APIKeysEnv != "":
		src = "api_keys_env"
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tls: %w", err))
	}
	if err := c.RedactPII.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, line := range c.APIKeys {
		if k := string(parseAPIKey(line).key); len(k) < 8 {
			errs = append(errs, fmt.Errorf("%s: api key %d must be at least 8 characters, got %d", src, i+1, len(k)))
		}
	}
	return errors.Join(errs...)
}

// ReadAPIKeys returns the API keys named by api_keys_env (comma-separated)
// or api_keys_file (one a line; blank lines and # comments skipped); nil
// when neither is set.
func (c Config) ReadAPIKeys() ([]string, error) {
	var raw string
	var err error
	var sep string
	switch {
	case c.APIKeysFile != "":
		raw, err = config.File("api_keys_file", c.APIKeysFile)
		sep = "\n"
	case c.APIKeysEnv != "":
		raw, err = config.Env("api_keys_env", c.APIKeysEnv)
		sep = ","
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range strings.Split(raw, sep) {
		if k = strings.TrimSpace(k); k != "" && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// ValidateLimits checks the limits that span the kafka and collector
// sections (each section's Validate checks its own): a request body of
// collector.max_body_bytes must fit in kafka.max_buffered_bytes, or the
// largest request the collector reads could only ever be answered 413. Zero
// values are taken as their defaults.
func ValidateLimits(k kafka.Config, c Config) error {
	k, c = k.WithDefaults(), c.WithDefaults()
	if c.MaxBodyBytes > int64(k.MaxBufferedBytes) {
		return fmt.Errorf("collector.max_body_bytes (%d) must be <= kafka.max_buffered_bytes (%d): a body of the largest allowed size could never be buffered for Kafka", c.MaxBodyBytes, k.MaxBufferedBytes)
	}
	return nil
}
