package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
)

// gatedStore is a memStore whose inserts fail (retryably) while closed, as
// when ClickHouse is down.
type gatedStore struct {
	*memStore
	open atomic.Bool
}

func (s *gatedStore) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	if !s.open.Load() {
		return context.DeadlineExceeded
	}
	return s.memStore.InsertSpans(ctx, spans)
}

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

// Under a flood with the store down and the topic at a small retention
// that the broker applies continually, nothing acknowledged is lost: the
// collector answers 503 before the writers' unstored records could expire,
// and once the store is back every acknowledged span is stored.
func TestNothingAcknowledgedExpiresUnread(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for several seconds")
	}
	cluster, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 2, TopicRetentionBytes: 2 << 20, Compression: "none"}.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	store := &gatedStore{memStore: newMemStore()}
	wc := WriterConfig{Group: "flood", Batch: BatchConfig{MaxWait: 100 * time.Millisecond}, Retry: RetryConfig{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}}
	startWriter(t, kc, wc, store, m)
	prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	g := NewRetentionGuard(prod, "flood", []string{kc.Topics.Spans}, 0.5, m, nil)
	g.every = 100 * time.Millisecond
	go g.Run(ctx)
	c := NewCollector(CollectorConfig{}, kc.Topics, prod, m, nil)
	c.SetRetentionGuard(g)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	go func() { // the broker's retention sweep, often
		for ctx.Err() == nil {
			cluster.ApplyRetention()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var acked sync.Map
	var nAcked, n503 atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(4 * time.Second)
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				req := testRequest(uint64(s)<<32|uint64(i), 20, 1)
				for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
					sp.Attributes = append(sp.Attributes, strAttr("padding", strings.Repeat("p", 2000)))
				}
				body, _ := proto.Marshal(req)
				resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
						acked.Store(hexID(sp.TraceId)+hexID(sp.SpanId), true)
						nAcked.Add(1)
					}
				case 503:
					n503.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					t.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	if n503.Load() == 0 {
		t.Fatal("the flood was never refused: the test did not reach retention")
	}
	store.open.Store(true)
	eventually(t, 30*time.Second, "every acknowledged span stored", func() bool { return store.distinct() >= int(nAcked.Load()) })
	missing := 0
	acked.Range(func(k, _ any) bool {
		store.mu.Lock()
		if store.spans[k.(string)] == 0 {
			missing++
		}
		store.mu.Unlock()
		return true
	})
	t.Logf("%d spans acknowledged, %d requests refused with 503", nAcked.Load(), n503.Load())
	if missing > 0 || testutil.ToFloat64(m.Expired.WithLabelValues(kc.Topics.Spans)) > 0 {
		t.Fatalf("%d acknowledged spans missing, %v expired", missing, testutil.ToFloat64(m.Expired.WithLabelValues(kc.Topics.Spans)))
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
