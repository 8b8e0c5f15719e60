package pipeline

import (
	"bytes"
	"context"
	"encoding/hex"
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

	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
)

// gatedStore is a MemStore whose inserts fail (retryably) while closed, as
// when ClickHouse is down.
type gatedStore struct {
	*ingesttest.MemStore
	open atomic.Bool
}

func (s *gatedStore) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	if !s.open.Load() {
		return context.DeadlineExceeded
	}
	return s.MemStore.InsertSpans(ctx, spans)
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
	cm, wm := collector.NewMetrics(nil), writer.NewMetrics(nil)
	store := &gatedStore{MemStore: ingesttest.NewMemStore()}
	wc := writer.Config{Group: "flood", Batch: writer.BatchConfig{MaxWait: 100 * time.Millisecond}, Retry: writer.RetryConfig{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}}
	cl, err := kgo.NewClient(writer.ConsumerOpts(kc, wc, kc.Topics.Spans, kc.Topics.Feedback)...)
	if err != nil {
		t.Fatal(err)
	}
	w := writer.New(wc, kc.Topics, cl, store, wm, nil)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())
	prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	g := collector.NewRetentionGuard(prod, "flood", []string{kc.Topics.Spans}, 0.5, cm, nil)
	g.Interval = 100 * time.Millisecond
	go g.Run(ctx)
	c := collector.New(collector.Config{}, kc.Topics, prod, cm, nil)
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
				req := ingesttest.Request(uint64(s)<<32|uint64(i), 20, 1)
				for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
					sp.Attributes = append(sp.Attributes, ingesttest.StrAttr("padding", strings.Repeat("p", 2000)))
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
						acked.Store(hex.EncodeToString(sp.TraceId)+hex.EncodeToString(sp.SpanId), true)
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
	ingesttest.Eventually(t, 30*time.Second, "every acknowledged span stored", func() bool { return store.Distinct() >= int(nAcked.Load()) })
	missing := 0
	acked.Range(func(k, _ any) bool {
		if store.Has(k.(string)) == 0 {
			missing++
		}
		return true
	})
	t.Logf("%d spans acknowledged, %d requests refused with 503", nAcked.Load(), n503.Load())
	if missing > 0 || testutil.ToFloat64(wm.Expired.WithLabelValues(kc.Topics.Spans)) > 0 {
		t.Fatalf("%d acknowledged spans missing, %v expired", missing, testutil.ToFloat64(wm.Expired.WithLabelValues(kc.Topics.Spans)))
	}
}
