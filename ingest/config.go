// Package ingest is chainwatch's spine: the collector (HTTP and gRPC in,
// Kafka out), the writer (Kafka in, ClickHouse out) and their ClickHouse and
// Kafka plumbing.
package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/chainwatch/chainwatch/kafka"
)

// Defaults, named so that docs and code agree.
const (
	DefaultHTTPAddr             = "127.0.0.1:4318"
	DefaultGRPCAddr             = "127.0.0.1:4317"
	DefaultMaxBodyBytes         = 16 << 20
	DefaultWriterGroup          = "chainwatch-writer"
	DefaultBatchMaxRows         = 20000
	DefaultBatchMaxBytes        = 64 << 20
	DefaultBatchMaxWait         = time.Second
	DefaultRetryInitial         = 200 * time.Millisecond
	DefaultRetryMax             = 10 * time.Second
	DefaultInsertTimeout        = 60 * time.Second
	DefaultWriterSessionTimeout = 10 * time.Second
	DefaultRetryAfterSeconds    = 2
)

// CollectorConfig configures the HTTP and gRPC endpoints.
type CollectorConfig struct {
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
func (c CollectorConfig) WithKafka(k kafka.Config) CollectorConfig {
	k = k.WithDefaults()
	c.ProduceTimeout, c.MaxRecordBytes, c.MaxBufferedBytes = k.ProduceTimeout, k.MaxRecordBytes, k.MaxBufferedBytes
	return c
}

// WithDefaults fills zero fields.
func (c CollectorConfig) WithDefaults() CollectorConfig {
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
func (c CollectorConfig) Validate() error {
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

// WriterConfig configures the Kafka → ClickHouse writer.
type WriterConfig struct {
	Group string      `yaml:"group"`
	Batch BatchConfig `yaml:"batch"`
	Retry RetryConfig `yaml:"retry"`
	// InsertTimeout bounds one ClickHouse insert.
	InsertTimeout time.Duration `yaml:"insert_timeout"`
	// SessionTimeout: a writer not heard from for this long (killed) loses
	// its partitions to the others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// RebalanceTimeout: how long a rebalance waits for members to rejoin.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// InstanceID makes the writer a static group member (unique per writer,
	// stable across its restarts: a pod name, say); "-" for dynamic
	// membership. Empty: `chainwatch writer` derives one from the host name
	// and its -metrics-addr when that has a fixed port.
	InstanceID string `yaml:"instance_id"`
}

// BatchConfig bounds a batch; whichever limit is reached first flushes it.
type BatchConfig struct {
	MaxRows  int           `yaml:"max_rows"`
	MaxBytes int           `yaml:"max_bytes"`
	MaxWait  time.Duration `yaml:"max_wait"`
}

// RetryConfig is the writer's backoff for retryable errors.
type RetryConfig struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// WithDefaults fills zero fields.
func (c WriterConfig) WithDefaults() WriterConfig {
	if c.Group == "" {
		c.Group = DefaultWriterGroup
	}
	if c.Batch.MaxRows == 0 {
		c.Batch.MaxRows = DefaultBatchMaxRows
	}
	if c.Batch.MaxBytes == 0 {
		c.Batch.MaxBytes = DefaultBatchMaxBytes
	}
	if c.Batch.MaxWait == 0 {
		c.Batch.MaxWait = DefaultBatchMaxWait
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = DefaultRetryInitial
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = DefaultRetryMax
	}
	if c.InsertTimeout == 0 {
		c.InsertTimeout = DefaultInsertTimeout
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultWriterSessionTimeout
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 2 * c.SessionTimeout
	}
	return c
}

// Validate names the bad YAML key.
func (c WriterConfig) Validate() error {
	var errs []error
	if c.Batch.MaxRows < 0 {
		errs = append(errs, errors.New("writer.batch.max_rows must be > 0"))
	}
	if c.Batch.MaxBytes < 0 {
		errs = append(errs, errors.New("writer.batch.max_bytes must be > 0"))
	}
	if c.Batch.MaxWait < 0 {
		errs = append(errs, errors.New("writer.batch.max_wait must be > 0"))
	}
	if c.Retry.Initial < 0 || c.Retry.Max < 0 || (c.Retry.Max > 0 && c.Retry.Initial > c.Retry.Max) {
		errs = append(errs, errors.New("writer.retry: initial and max must be > 0 and initial <= max"))
	}
	if c.InsertTimeout < 0 {
		errs = append(errs, errors.New("writer.insert_timeout must be > 0"))
	}
	if c.SessionTimeout != 0 && (c.SessionTimeout < 6*time.Second || c.SessionTimeout > 30*time.Minute) {
		errs = append(errs, fmt.Errorf("writer.session_timeout must be between 6s and 30m (Kafka's default group.min/max.session.timeout.ms); got %v", c.SessionTimeout))
	}
	if c.RebalanceTimeout < 0 {
		errs = append(errs, errors.New("writer.rebalance_timeout must be > 0"))
	}
	return errors.Join(errs...)
}

// ValidateLimits checks the limits that span the kafka and collector
// sections (each section's Validate checks its own): a request body of
// collector.max_body_bytes must fit in kafka.max_buffered_bytes, or the
// largest request the collector reads could only ever be answered 413. Zero
// values are taken as their defaults.
func ValidateLimits(k kafka.Config, c CollectorConfig) error {
	k, c = k.WithDefaults(), c.WithDefaults()
	if c.MaxBodyBytes > int64(k.MaxBufferedBytes) {
		return fmt.Errorf("collector.max_body_bytes (%d) must be <= kafka.max_buffered_bytes (%d): a body of the largest allowed size could never be buffered for Kafka", c.MaxBodyBytes, k.MaxBufferedBytes)
	}
	return nil
}
