package kafka_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// saramaPartition is Sarama's hash partitioner (what the OpenTelemetry
// Collector's Kafka exporter uses by default): FNV-1a 32 of the key, as
// int32, modulo the partition count, made non-negative.
func saramaPartition(key []byte, n int32) int32 {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % n
	if p < 0 {
		p = -p
	}
	return p
}

// murmur2Partition is Kafka's Java client default: murmur2 (seed
// 0x9747b28c) of the key, made positive, modulo the partition count.
func murmur2Partition(key []byte, n int32) int32 {
	const m, r = 0x5bd1e995, 24
	h := uint32(0x9747b28c) ^ uint32(len(key))
	i := 0
	for ; i+4 <= len(key); i += 4 {
		k := binary.LittleEndian.Uint32(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(key) - i {
	case 3:
		h ^= uint32(key[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h&0x7fffffff) % n
}

// A trace lands on the partition other producers of the topic pick for it:
// with sarama_compat (the default) the one the OpenTelemetry Collector's
// Kafka exporter picks with partition_traces_by_id (key = the trace id in
// hex), with murmur2 the Java client's.
func TestPartitionerMatchesOtherProducers(t *testing.T) {
	for name, want := range map[string]func([]byte, int32) int32{
		kafka.PartitionerSaramaCompat: saramaPartition,
		kafka.PartitionerMurmur2:      murmur2Partition,
	} {
		t.Run(name, func(t *testing.T) {
			_, brokers := kafkatest.NewCluster(t)
			kc := kafka.Config{Brokers: brokers, Partitions: 7, Partitioner: name}.WithDefaults()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := kafka.EnsureTopics(ctx, kc); err != nil {
				t.Fatal(err)
			}
			prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			const n = 300
			for i := 0; i < n; i++ {
				tid := make([]byte, 16)
				binary.BigEndian.PutUint64(tid, uint64(i)*0x9e3779b97f4a7c15)
				binary.BigEndian.PutUint64(tid[8:], uint64(i))
				key := []byte(hex.EncodeToString(tid))
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: kc.Topics.Spans, Key: key, Value: []byte("x")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kc.Topics.Spans), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			seen, used := 0, map[int32]bool{}
			for seen < n {
				fs := cons.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("consumed %d of %d: %v", seen, n, err)
				}
				fs.EachRecord(func(r *kgo.Record) {
					seen++
					used[r.Partition] = true
					if p := want(r.Key, 7); r.Partition != p {
						t.Errorf("key %s on partition %d, the other producers put it on %d", r.Key, r.Partition, p)
					}
				})
			}
			if len(used) < 5 {
				t.Errorf("300 keys used only %d of 7 partitions", len(used))
			}
		})
	}
}

func TestPartitionerConfig(t *testing.T) {
	if err := (kafka.Config{Partitioner: "crc32"}).Validate(); err == nil {
		t.Fatal("an unknown partitioner was accepted")
	}
	if got := (kafka.Config{}).WithDefaults().Partitioner; got != kafka.PartitionerSaramaCompat {
		t.Fatalf("default partitioner %q", got)
	}
}
