package writer

import (
	"errors"
	"fmt"
	"time"
)

// Defaults, named so that docs and code agree.
const (
	DefaultGroup          = "chainwatch-writer"
	DefaultBatchMaxRows   = 20000
	DefaultBatchMaxBytes  = 64 << 20
	DefaultBatchMaxWait   = time.Second
	DefaultRetryInitial   = 200 * time.Millisecond
	DefaultRetryMax       = 10 * time.Second
	DefaultInsertTimeout  = 60 * time.Second
	DefaultSessionTimeout = 10 * time.Second
)

// Config configures the Kafka → ClickHouse writer.
type Config struct {
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
func (c Config) WithDefaults() Config {
	if c.Group == "" {
		c.Group = DefaultGroup
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
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 2 * c.SessionTimeout
	}
	return c
}

// Validate names the bad YAML key.
func (c Config) Validate() error {
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
