package writer

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// produceTraces sends n one-span traces (ids from seed) to the spans topic.
func produceTraces(t *testing.T, kc kafka.Config, seed uint64, n int) {
	t.Helper()
	prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	recs, _, err := kafka.SplitByTrace(ingesttest.Request(seed, n, 1), kc.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func startWriter(t *testing.T, kc kafka.Config, wc Config, store clickhouse.Store, m *Metrics) *Writer {
	t.Helper()
	cl, err := kgo.NewClient(ConsumerOpts(kc, wc, kc.Topics.Spans, kc.Topics.Feedback)...)
	if err != nil {
		t.Fatal(err)
	}
	w := New(wc, kc.Topics, cl, store, m, nil)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	})
	return w
}

// groupMembers is how many members of group hold partitions.
func groupMembers(t *testing.T, brokers []string, group string) (members int, state string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return 0, err.Error()
	}
	g := gs[group]
	for _, m := range g.Members {
		if a, ok := m.Assigned.AsConsumer(); ok && len(a.Topics) > 0 {
			members++
		}
	}
	return members, g.State
}

// An idle writer never blocks a rebalance: a second writer joining a group
// whose only member has nothing to do gets partitions, and both consume.
// (Before: with BlockRebalanceOnPoll, the idle member's empty polls blocked
// every rebalance forever and the group stalled.)
func TestIdleWriterDoesNotBlockRebalance(t *testing.T) {
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 4}.WithDefaults()
	if err := kafka.EnsureTopics(context.Background(), kc); err != nil {
		t.Fatal(err)
	}
	wc := Config{Group: "idle", Batch: BatchConfig{MaxWait: 100 * time.Millisecond}}
	store := ingesttest.NewMemStore()
	startWriter(t, kc, wc, store, NewMetrics(nil))
	ingesttest.Eventually(t, 15*time.Second, "the first writer to hold partitions", func() bool { n, _ := groupMembers(t, brokers, "idle"); return n == 1 })
	time.Sleep(500 * time.Millisecond) // idle polls
	startWriter(t, kc, wc, store, NewMetrics(nil))
	ingesttest.Eventually(t, 20*time.Second, "both writers to hold partitions", func() bool { n, _ := groupMembers(t, brokers, "idle"); return n == 2 })
	produceTraces(t, kc, 1, 400)
	ingesttest.Eventually(t, 20*time.Second, "400 spans stored", func() bool { return store.Distinct() == 400 })
}

// Records that retention deletes before the writer stored them are not
// skipped silently: the writer counts them in
// chainwatch_writer_records_expired_total, logs the partition and offsets,
// and goes on from the log start.
func TestWriterCountsRecordsExpiredBeforeStored(t *testing.T) {
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 1}.WithDefaults()
	if err := kafka.EnsureTopics(context.Background(), kc); err != nil {
		t.Fatal(err)
	}
	wc := Config{Group: "expiry", Batch: BatchConfig{MaxWait: 100 * time.Millisecond}}
	store := ingesttest.NewMemStore()
	m := NewMetrics(nil)
	// A first writer stores 10 records and commits; it stops.
	produceTraces(t, kc, 1, 10)
	w := startWriter(t, kc, wc, store, m)
	ingesttest.Eventually(t, 20*time.Second, "10 spans stored", func() bool { return store.Distinct() == 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// 50 more arrive while no writer runs; retention deletes the first 40
	// of them (DeleteRecords moves the log start as retention does).
	produceTraces(t, kc, 2, 50)
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: kc.Topics.Spans, Partition: 0, At: 50})
	if _, err := kadm.NewClient(adm).DeleteRecords(ctx, os); err != nil {
		t.Fatal(err)
	}
	startWriter(t, kc, wc, store, m)
	ingesttest.Eventually(t, 20*time.Second, "the 10 surviving spans stored", func() bool { return store.Distinct() == 20 })
	if got := testutil.ToFloat64(m.Expired.WithLabelValues(kc.Topics.Spans)); got != 40 {
		t.Fatalf("records_expired_total = %v, want 40", got)
	}
}
