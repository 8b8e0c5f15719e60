package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOpts are the franz-go options of the collector's producer:
// idempotent (franz-go's default), acks from all in-sync replicas, a bounded
// buffer (full → kgo.ErrMaxBuffered → 503) and a delivery timeout (Kafka
// unreachable → the request fails → 503).
func ProducerOpts(c KafkaConfig) []kgo.Opt {
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
func ConsumerOpts(c KafkaConfig, group string, topics ...string) []kgo.Opt {
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

// WriterConsumerOpts are ConsumerOpts for the writer group, which must
// never skip a record silently:
//   - a position Kafka no longer holds (retention deleted records before
//     they were stored) is not reset quietly: the fetch fails with
//     OffsetOutOfRange and the writer counts, logs and repositions
//     (Writer.expired);
//   - a shorter session timeout (writer.session_timeout, default 10 s), so
//     the partitions of a killed writer move to the others in seconds, not
//     Kafka's 45 s; and a rebalance timeout (writer.rebalance_timeout,
//     default 20 s) that bounds how long a rebalance waits for a member
//     that does not rejoin (a member busy inserting a batch past it is
//     dropped from the generation; its batch is delivered again);
//   - with writer.instance_id ("-": none), static membership: a writer
//     restarted under the same id takes its partitions back without a
//     rebalance.
func WriterConsumerOpts(c KafkaConfig, w WriterConfig, topics ...string) []kgo.Opt {
	w = w.WithDefaults()
	opts := append(ConsumerOpts(c, w.Group, topics...),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.SessionTimeout(w.SessionTimeout),
		kgo.HeartbeatInterval(max(100*time.Millisecond, w.SessionTimeout/10)),
		kgo.RebalanceTimeout(w.RebalanceTimeout),
	)
	if w.InstanceID != "" && w.InstanceID != "-" {
		opts = append(opts, kgo.InstanceID(w.InstanceID))
	}
	return opts
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
func EnsureTopics(ctx context.Context, c KafkaConfig) error {
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
