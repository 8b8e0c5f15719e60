package collector

import (
	"errors"
	"fmt"
	"time"

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
	HTTPAddr     string   `yaml:"http_addr"` // OTLP/HTTP, JSON spans, feedback, /metrics
	GRPCAddr     string   `yaml:"grpc_addr"` // OTLP/gRPC; "off" disables it
	MaxBodyBytes int64    `yaml:"max_body_bytes"`
	APIKeys      []string `yaml:"api_keys"` // when set, every request needs one (Authorization: Bearer, or X-API-Key)
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

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
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

// Validate names the bad YAML key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("collector.max_body_bytes must be > 0"))
	}
	if c.MaxInflightBytes < 0 {
		errs = append(errs, errors.New("collector.max_inflight_bytes must be > 0"))
	}
	if c.MaxInflightBytes > 0 && c.MaxInflightBytes < max(c.MaxBodyBytes, 0) {
		errs = append(errs, fmt.Errorf("collector.max_inflight_bytes (%d) must be >= collector.max_body_bytes (%d): a body of the largest allowed size could never be admitted", c.MaxInflightBytes, c.MaxBodyBytes))
	}
	for i, k := range c.APIKeys {
		if len(k) < 8 {
			errs = append(errs, fmt.Errorf("collector.api_keys[%d] must be at least 8 characters", i))
		}
	}
	return errors.Join(errs...)
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
