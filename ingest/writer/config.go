package writer

import (
	"errors"
	"fmt"
	"time"

	"github.com/chainwatch/chainwatch/internal/config"
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
	DefaultInserts        = 2
	DefaultSessionTimeout = 10 * time.Second
)

// Config configures the Kafka → ClickHouse writer.
type Config struct {
	Group string      `yaml:"group"`
	Batch BatchConfig `yaml:"batch"`
	Retry RetryConfig `yaml:"retry"`
	// InsertTimeout bounds one ClickHouse insert.
	InsertTimeout time.Duration `yaml:"insert_timeout"`
	// Inserts is how many batches may be inserting at once; another
	// insert starts beside one in flight only once that one has run for
	// batch.max_wait. Offsets are committed in batch order whatever order
	// the inserts finish in. One insert at a time makes each batch wait
	// out the one before whenever an insert takes longer than
	// batch.max_wait (ClickHouse busy merging), which is where received →
	// visible's tail came from under load. The default is two (one until
	// 2026-12-06's eighth session): in eight alternating pairs of `bench
	// ingest` on the 2-core machine where it runs everything, the paced
	// p99 was lower with two in all eight (0.80–1.31 s against 0.90–3.15)
	// at the same ratio to the raw insert (0.74–1.01 against 0.70–0.93),
	// for about a fifth more ClickHouse CPU a span (0–36 %, median 19 %:
	// smaller inserts; BENCHMARKS.md). One is for a ClickHouse short of
	// CPU.
	Inserts int `yaml:"inserts"`
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

// BatchConfig bounds a batch; whichever limit is reached first makes it due.
// A due batch goes to an inserter at once if one is free; if every
// inserter is busy (a backlog), it waits for one and then takes what has
// arrived meanwhile, up to max_bytes, rather than leave it in Kafka for the
// batch after — so under a backlog inserts grow past max_rows and
// ClickHouse writes and merges fewer parts. In bench ingest's closed loop
// (2026-12-06, four alternating pairs, 17:02–17:07 UTC) inserts held about
// 36,000 spans against 25,000 and ClickHouse spent 9.7–11.9 µs a span
// against 10.8–13.2.
// The limits are checked after each poll, and a poll is asked for as many
// records as max_rows has rows left: a spans record holds a whole trace, so
// a batch can pass max_rows by up to (spans a trace − 1) × the rows that
// were left, and max_bytes by one poll. A poll sized to end a batch at
// max_rows exactly was measured (bench ingest, three alternating pairs,
// 2026-12-06 13:26–13:32 UTC): the paced p99 fell (0.55–0.80 s against
// 0.80–2.03 s) but ClickHouse spent 12–15 µs a span against 10–12 and the
// rate fell to 0.60–0.62 of the baseline against 0.63–0.87; the larger
// batches stay, with this bound as documented.
type BatchConfig struct {
	MaxRows  int           `yaml:"max_rows"`
	MaxBytes int           `yaml:"max_bytes"`
	MaxWait  time.Duration `yaml:"max_wait"`
}

// RetryConfig is the writer's backoff for retryable errors: the shared
// retry: {initial, max}.
type RetryConfig = config.Retry

// DefaultConfig is the writer section's defaults. RebalanceTimeout is left
// 0: WithDefaults derives it from session_timeout.
func DefaultConfig() Config {
	return Config{
		Group:          DefaultGroup,
		Batch:          BatchConfig{MaxRows: DefaultBatchMaxRows, MaxBytes: DefaultBatchMaxBytes, MaxWait: DefaultBatchMaxWait},
		Retry:          RetryConfig{Initial: DefaultRetryInitial, Max: DefaultRetryMax},
		InsertTimeout:  DefaultInsertTimeout,
		Inserts:        DefaultInserts,
		SessionTimeout: DefaultSessionTimeout,
	}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.Batch.MaxRows == 0 {
		c.Batch.MaxRows = d.Batch.MaxRows
	}
	if c.Batch.MaxBytes == 0 {
		c.Batch.MaxBytes = d.Batch.MaxBytes
	}
	if c.Batch.MaxWait == 0 {
		c.Batch.MaxWait = d.Batch.MaxWait
	}
	c.Retry = c.Retry.Or(d.Retry)
	if c.InsertTimeout == 0 {
		c.InsertTimeout = d.InsertTimeout
	}
	if c.Inserts == 0 {
		c.Inserts = d.Inserts
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = d.SessionTimeout
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 2 * c.SessionTimeout
	}
	return c
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "writer.". Zero values take the defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Batch.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("batch.max_rows must be > 0, got %d", c.Batch.MaxRows))
	}
	if c.Batch.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("batch.max_bytes must be > 0, got %d", c.Batch.MaxBytes))
	}
	if c.Batch.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("batch.max_wait must be > 0, got %v", c.Batch.MaxWait))
	}
	errs = append(errs, c.Retry.Or(DefaultConfig().Retry).Validate())
	if c.InsertTimeout < 0 {
		errs = append(errs, fmt.Errorf("insert_timeout must be > 0, got %v", c.InsertTimeout))
	}
	if c.SessionTimeout != 0 && (c.SessionTimeout < 6*time.Second || c.SessionTimeout > 30*time.Minute) {
		errs = append(errs, fmt.Errorf("session_timeout must be between 6s and 30m (Kafka's default group.min/max.session.timeout.ms); got %v", c.SessionTimeout))
	}
	if c.Inserts < 0 || c.Inserts > 8 {
		errs = append(errs, fmt.Errorf("inserts must be between 1 and 8, got %d", c.Inserts))
	}
	if c.RebalanceTimeout < 0 {
		errs = append(errs, fmt.Errorf("rebalance_timeout must be > 0, got %v", c.RebalanceTimeout))
	}
	return errors.Join(errs...)
}
