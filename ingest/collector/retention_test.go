package collector

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// The guard refuses once records the group has not stored fill the
// headroom of retention.bytes, and accepts again when the writer caught up.
func TestRetentionGuardRefusesNearRetentionBytes(t *testing.T) {
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 1, TopicRetentionBytes: 1 << 20, Compression: "none"}.WithDefaults()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := NewMetrics(nil)
	g := NewRetentionGuard(cl, "rg", []string{kc.Topics.Spans}, 0.5, m, nil)
	check := func() string {
		t.Helper()
		if err := g.Check(ctx); err != nil {
			t.Fatal(err)
		}
		return g.Refusal()
	}
	if r := check(); r != "" {
		t.Fatalf("empty topic refused: %s", r)
	}
	// 400 KiB unstored: 39 % of 1 MiB, below the headroom.
	big := make([]byte, 4<<10)
	rand.Read(big)
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kc.Topics.Spans, Value: big}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if r := check(); r != "" {
		t.Fatalf("refused at 39 %% of retention: %s", r)
	}
	for i := 0; i < 40; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kc.Topics.Spans, Value: big}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r := check()
	if !strings.Contains(r, "retention.bytes") || !strings.Contains(r, kc.Topics.Spans+"/0") {
		t.Fatalf("at 55 %% of retention: refusal %q, want one naming the partition and retention.bytes", r)
	}
	if v := testutil.ToFloat64(m.UnstoredShare.WithLabelValues(kc.Topics.Spans, "0")); v < 0.5 || v > 0.6 {
		t.Fatalf("unstored share gauge %v, want ≈0.55", v)
	}
	if testutil.ToFloat64(m.WritersBehind) != 1 {
		t.Fatal("writers_behind gauge not set")
	}
	// The group commits everything but the last 10 records: accepted again.
	gcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup("rg"), kgo.ConsumeTopics(kc.Topics.Spans), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer gcl.Close()
	var last *kgo.Record
	for last == nil || last.Offset < 129 {
		gcl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Offset == 129 {
				last = r
			}
		})
	}
	if err := gcl.CommitRecords(ctx, last); err != nil {
		t.Fatal(err)
	}
	if r := check(); r != "" {
		t.Fatalf("refused after the group caught up: %s", r)
	}
}
