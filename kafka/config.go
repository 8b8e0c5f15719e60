// Package kafka is chainwatch's one home for Kafka: the configuration, the
// topic names, the franz-go clients every process builds (collector,
// writer, worker owner, evaluator, the future gateway), EnsureTopics, and
// the record key (one record per trace, keyed by its trace id).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Defaults, named so that docs and code agree.
const (
	DefaultSpansTopic       = "chainwatch.spans"
	DefaultFeedbackTopic    = "chainwatch.feedback"
	DefaultScoresTopic      = "chainwatch.scores"
	DefaultLogsTopic        = "chainwatch.logs"
	DefaultDeadLetterTopic  = "chainwatch.deadletter"
	DefaultPartitions       = 6
	DefaultProduceTimeout   = 10 * time.Second
	DefaultMaxBufferedBytes = 256 << 20
	DefaultMaxRecordBytes   = 16 << 20
	DefaultCompression      = "lz4"
	// DefaultRetentionHeadroom: the collector answers 503 while unstored
	// records fill half of a partition's retention.
	DefaultRetentionHeadroom = 0.5
	DefaultPartitioner       = PartitionerSaramaCompat
)

// Topics names the Kafka topics chainwatch uses.
type Topics struct {
	Spans    string `yaml:"spans"`
	Feedback string `yaml:"feedback"`
	// Scores carries evaluation scores (schemas.Score as JSON, key = trace
	// id) from `chainwatch evaluator` to the writer.
	Scores string `yaml:"scores"`
	// Logs carries OTLP log records (an ExportLogsServiceRequest per trace,
	// key = trace id), GenAI events among them, from the collector to the
	// writer. An OpenTelemetry Collector's Kafka exporter writes logs to
	// its own logs topic (otlp_logs by default): name that topic here, or
	// set the exporter's logs topic to this one.
	Logs       string `yaml:"logs"`
	DeadLetter string `yaml:"dead_letter"`
}

// Config says where Kafka is and how chainwatch talks to it. With no
// brokers, `chainwatch up` starts an in-process broker (kfake).
type Config struct {
	Brokers           []string      `yaml:"brokers"`
	Topics            Topics        `yaml:"topics"`
	Partitions        int32         `yaml:"partitions"`         // for topics chainwatch creates
	ReplicationFactor int16         `yaml:"replication_factor"` // for topics chainwatch creates; -1 = broker default
	ProduceTimeout    time.Duration `yaml:"produce_timeout"`    // a record not acknowledged by then fails (→ 503)
	MaxBufferedBytes  int           `yaml:"max_buffered_bytes"` // producer buffer; full → 503
	MaxRecordBytes    int           `yaml:"max_record_bytes"`   // largest record (one trace); also the topics' max.message.bytes
	Compression       string        `yaml:"compression"`        // none, gzip, snappy, lz4, zstd
	// Retention of the topics chainwatch creates (retention.ms and, per
	// partition, retention.bytes); 0 leaves the broker's default. Topics
	// that exist already are not changed.
	TopicRetention      time.Duration `yaml:"topic_retention"`
	TopicRetentionBytes int64         `yaml:"topic_retention_bytes"`
	// RetentionHeadroom: the collector answers 503 while records the writer
	// group has not stored fill this share of a partition's retention
	// (bytes or time); default 0.5, -1 turns the check off.
	RetentionHeadroom float64 `yaml:"retention_headroom"`
	// Partitioner picks a record's partition from its key (the trace id in
	// hex): "sarama_compat" (FNV-1a, what the OpenTelemetry Collector's
	// Kafka exporter uses by default with partition_traces_by_id) or
	// "murmur2" (the Java client's, the Collector's `hasher: murmur2`).
	// Producers that share the spans topic must agree, or a trace is split
	// over partitions.
	Partitioner string `yaml:"partitioner"`
	// Dial, when set, opens every connection of the clients built from
	// this config (kgo.Dialer). The in-process broker sets it
	// (local/broker), so that the collector's producer, the writer and
	// the other clients of `chainwatch up` reach it in memory rather than
	// over loopback TCP; never read from the file.
	Dial func(ctx context.Context, network, host string) (net.Conn, error) `yaml:"-"`
}

// DefaultConfig is the kafka section's defaults: no brokers (the embedded
// broker), chainwatch's topic names, lz4.
func DefaultConfig() Config {
	return Config{
		Topics: Topics{
			Spans:      DefaultSpansTopic,
			Feedback:   DefaultFeedbackTopic,
			Scores:     DefaultScoresTopic,
			Logs:       DefaultLogsTopic,
			DeadLetter: DefaultDeadLetterTopic,
		},
		Partitions:        DefaultPartitions,
		ReplicationFactor: -1,
		ProduceTimeout:    DefaultProduceTimeout,
		MaxBufferedBytes:  DefaultMaxBufferedBytes,
		MaxRecordBytes:    DefaultMaxRecordBytes,
		Compression:       DefaultCompression,
		RetentionHeadroom: DefaultRetentionHeadroom,
		Partitioner:       DefaultPartitioner,
	}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Topics.Spans == "" {
		c.Topics.Spans = d.Topics.Spans
	}
	if c.Topics.Feedback == "" {
		c.Topics.Feedback = d.Topics.Feedback
	}
	if c.Topics.Logs == "" {
		c.Topics.Logs = d.Topics.Logs
	}
	if c.Topics.Scores == "" {
		c.Topics.Scores = d.Topics.Scores
	}
	if c.Topics.DeadLetter == "" {
		c.Topics.DeadLetter = d.Topics.DeadLetter
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = d.ReplicationFactor
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = d.ProduceTimeout
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = d.MaxBufferedBytes
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = d.MaxRecordBytes
	}
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	if c.Partitioner == "" {
		c.Partitioner = d.Partitioner
	}
	return c
}

// Validate names the bad key relative to the section ("partitions must be
// > 0, got -3") and the value given; the loader adds "kafka.".
func (c Config) Validate() error {
	var errs []error
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions must be > 0, got %d", c.Partitions))
	}
	if c.ProduceTimeout < 0 {
		errs = append(errs, fmt.Errorf("produce_timeout must be > 0, got %v", c.ProduceTimeout))
	}
	if c.MaxBufferedBytes < 0 {
		errs = append(errs, fmt.Errorf("max_buffered_bytes must be > 0, got %d", c.MaxBufferedBytes))
	}
	if c.MaxRecordBytes < 0 {
		errs = append(errs, fmt.Errorf("max_record_bytes must be > 0, got %d", c.MaxRecordBytes))
	}
	if c.MaxRecordBytes > 0 && c.MaxBufferedBytes > 0 && c.MaxRecordBytes > c.MaxBufferedBytes {
		errs = append(errs, fmt.Errorf("max_record_bytes must be <= max_buffered_bytes (%d), got %d: a record of the largest allowed size could never be buffered", c.MaxBufferedBytes, c.MaxRecordBytes))
	}
	if c.RetentionHeadroom != -1 && (c.RetentionHeadroom < 0 || c.RetentionHeadroom >= 1) {
		errs = append(errs, fmt.Errorf("retention_headroom must be in (0, 1), or -1 for off; got %v", c.RetentionHeadroom))
	}
	if c.TopicRetention < 0 || c.TopicRetentionBytes < 0 {
		errs = append(errs, fmt.Errorf("topic_retention and topic_retention_bytes must be >= 0, got %v and %d", c.TopicRetention, c.TopicRetentionBytes))
	}
	switch c.Partitioner {
	case "", PartitionerSaramaCompat, PartitionerMurmur2:
	default:
		errs = append(errs, fmt.Errorf("partitioner must be %s or %s; got %q", PartitionerSaramaCompat, PartitionerMurmur2, c.Partitioner))
	}
	switch c.Compression {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("compression must be one of none, gzip, snappy, lz4, zstd; got %q", c.Compression))
	}
	t := c.Topics
	seen := map[string]bool{}
	for _, name := range []string{t.Spans, t.Feedback, t.Scores, t.Logs, t.DeadLetter} {
		if name != "" && seen[name] {
			errs = append(errs, fmt.Errorf("topics: spans, feedback, scores, logs and dead_letter must be distinct, got %q twice", name))
			break
		}
		seen[name] = true
	}
	return errors.Join(errs...)
}
