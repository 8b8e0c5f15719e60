package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// Under a backlog larger than one fetch, every partition still gets its
// share of each fetch: with 16 MiB a partition, a 64 MiB fetch of six
// partitions 16 MiB behind each served partitions 0-3 and left 4 and 5 for
// later — fetch after fetch while the backlog lasted (ConsumerOpts'
// comment).
func TestEveryPartitionGetsAShareOfAFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 96 MiB")
	}
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 6}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedBytes(256<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	value := make([]byte, 256<<10)
	var recs []*kgo.Record
	for p := range int32(6) {
		for range 64 { // 16 MiB a partition
			recs = append(recs, &kgo.Record{Topic: kc.Topics.Spans, Partition: p, Value: value})
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kafka.ConsumerOpts(kc, "share", kc.Topics.Spans)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	defer cons.AllowRebalance() // BlockRebalanceOnPoll: leaving the group waits for it
	for ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if fs.NumRecords() == 0 {
			continue
		}
		got := map[int32]int{}
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition]++ })
		if len(got) != 6 {
			t.Fatalf("the first fetch served partitions %v (records each), want all six", got)
		}
		return
	}
	t.Fatal(ctx.Err())
}

// A partition's share is at least 1 MiB, however many partitions.
func TestFetchShareFloor(t *testing.T) {
	for _, tc := range []struct {
		partitions int32
		topics     int
		want       int32
	}{{6, 3, (64 << 20) / 18}, {200, 3, 1 << 20}} {
		kc := kafka.Config{Brokers: []string{"127.0.0.1:1"}, Partitions: tc.partitions}.WithDefaults()
		topics := []string{"a", "b", "c"}[:tc.topics]
		cl, err := kgo.NewClient(kafka.ConsumerOpts(kc, "g", topics...)...)
		if err != nil {
			t.Fatal(err)
		}
		got := cl.OptValue(kgo.FetchMaxPartitionBytes).(int32)
		cl.Close()
		if got != tc.want {
			t.Errorf("%d partitions × %d topics: a partition's share %d, want %d", tc.partitions, tc.topics, got, tc.want)
		}
	}
}
