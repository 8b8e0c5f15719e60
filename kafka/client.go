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
	return append(c.connOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedBytes(c.MaxBufferedBytes),
		kgo.ProducerBatchMaxBytes(int32(c.MaxRecordBytes)),
		kgo.RecordDeliveryTimeout(c.ProduceTimeout),
		kgo.ProducerBatchCompression(compression(c.Compression)),
		kgo.RecordPartitioner(Partitioner(c.Partitioner)),
	)
}

// ConsumerOpts are the franz-go options of a consumer-group member that
// commits by hand, after its records are stored.
func ConsumerOpts(c Config, group string, topics ...string) []kgo.Opt {
	c = c.WithDefaults()
	// Every partition consumed gets its share of a fetch. A broker fills
	// a fetch response in the order the request names the partitions
	// until FetchMaxBytes; franz-go rotates that order by one partition a
	// fetch over all the topics consumed, but names a topic's partitions
	// in number order. With 16 MiB a partition a 64 MiB response held four
	// partitions, so under a backlog the spans topic's partitions 0-3
	// came first in most fetches and 4-5 fell behind (bench ingest,
	// 2026-12-06 16:44 UTC: 4 and 5 were 12,000-15,000 records behind
	// while 0-3 were caught up), until the retention guard refused
	// records for one of them with the backlog over all six far below its
	// limit. With each partition's share capped so that all of them fit,
	// each fetch serves every partition. A record larger than the share
	// still comes, when its partition is the first non-empty one of a
	// fetch (as Kafka's KIP-74 and kfake both answer), which the rotation
	// brings round. The share is at least 1 MiB, so that with hundreds of
	// partitions a trace of a few hundred KiB is not left waiting for that
	// turn; past 64 partitions consumed they no longer all fit, as before.
	fetchMax := max(64<<20, c.MaxRecordBytes)
	share := max(fetchMax/(max(len(topics), 1)*int(c.Partitions)), 1<<20)
	return append(c.connOpts(),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(int32(fetchMax)),
		kgo.FetchMaxPartitionBytes(int32(share)),
		// The dead-letter producer shares the client.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(c.MaxRecordBytes+4096)),
		kgo.RecordDeliveryTimeout(c.ProduceTimeout),
	)
}

// connOpts are what every client of c needs to connect: the seed brokers
// and, where c has one, its dialer.
func (c Config) connOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.Dial != nil {
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	return opts
}

// NewClient is the franz-go client every chainwatch process builds: the
// seed brokers of c (the one place where what every connection needs is
// set) plus opts.
func NewClient(c Config, opts ...kgo.Opt) (*kgo.Client, error) {
	c = c.WithDefaults()
	cl, err := kgo.NewClient(append(c.connOpts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client for %v: %w", c.Brokers, err)
	}
	return cl, nil
}

// NewAdmin is an admin client; Close closes its connection.
func NewAdmin(c Config) (*kadm.Client, error) {
	cl, err := NewClient(c)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
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
	adm, err := NewAdmin(c)
	if err != nil {
		return err
	}
	defer adm.Close()
	cfgs := map[string]*string{"max.message.bytes": ptr(strconv.Itoa(c.MaxRecordBytes + 4096))}
	if c.TopicRetention > 0 {
		cfgs["retention.ms"] = ptr(strconv.FormatInt(c.TopicRetention.Milliseconds(), 10))
	}
	if c.TopicRetentionBytes > 0 {
		cfgs["retention.bytes"] = ptr(strconv.FormatInt(c.TopicRetentionBytes, 10))
	}
	resps, err := adm.CreateTopics(ctx, c.Partitions, c.ReplicationFactor, cfgs, c.Topics.Spans, c.Topics.Feedback, c.Topics.Scores, c.Topics.Logs, c.Topics.DeadLetter)
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
