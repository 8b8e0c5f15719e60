package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOpts are the franz-go options of the collector's producer:
// idempotent (franz-go's default), acks from all in-sync replicas, a bounded
// buffer (full → kgo.ErrMaxBuffered → 503) and a delivery timeout (Kafka
// unreachable → the request fails → 503).
func ProducerOpts(c Config) []kgo.Opt {
	c = c.WithDefaults()
	return []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedBytes(c.MaxBufferedBytes),
		kgo.ProducerBatchMaxBytes(int32(c.MaxRecordBytes)),
		kgo.RecordDeliveryTimeout(c.ProduceTimeout),
		kgo.ProducerBatchCompression(compression(c.Compression)),
	}
}

// ConsumerOpts are the franz-go options of a consumer-group member that
// commits by hand, after its records are stored.
func ConsumerOpts(c Config, group string, topics ...string) []kgo.Opt {
	c = c.WithDefaults()
	return []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(int32(max(64<<20, c.MaxRecordBytes))),
		kgo.FetchMaxPartitionBytes(int32(max(16<<20, c.MaxRecordBytes))),
		// The dead-letter producer shares the client.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(c.MaxRecordBytes + 4096)),
		kgo.RecordDeliveryTimeout(c.ProduceTimeout),
	}
}

func compression(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "zstd":
		return kgo.ZstdCompression()
	case "none":
		return kgo.NoCompression()
	default:
		return kgo.Lz4Compression()
	}
}

// EnsureTopics creates chainwatch's topics when they are missing; existing
// topics are left as they are.
func EnsureTopics(ctx context.Context, c Config) error {
	c = c.WithDefaults()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		return fmt.Errorf("creating kafka admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cfgs := map[string]*string{"max.message.bytes": ptr(strconv.Itoa(c.MaxRecordBytes + 4096))}
	if c.TopicRetention > 0 {
		cfgs["retention.ms"] = ptr(strconv.FormatInt(c.TopicRetention.Milliseconds(), 10))
	}
	if c.TopicRetentionBytes > 0 {
		cfgs["retention.bytes"] = ptr(strconv.FormatInt(c.TopicRetentionBytes, 10))
	}
	resps, err := adm.CreateTopics(ctx, c.Partitions, c.ReplicationFactor, cfgs, c.Topics.Spans, c.Topics.Feedback, c.Topics.Scores, c.Topics.DeadLetter)
	if err != nil {
		return fmt.Errorf("creating kafka topics: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("creating kafka topic %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }
