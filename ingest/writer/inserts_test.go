package writer

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// scriptedConsumer hands out one chunk of records per poll, each once its
// gate is closed (nil: at once), then nothing, and records the offsets
// committed, in order.
type scriptedConsumer struct {
	mu        sync.Mutex
	chunks    [][]*kgo.Record
	gates     []chan struct{}
	committed []int64
}

func (c *scriptedConsumer) PollRecords(ctx context.Context, _ int) kgo.Fetches {
	c.mu.Lock()
	if len(c.gates) > 0 && c.gates[0] != nil {
		g := c.gates[0]
		c.mu.Unlock()
		select {
		case <-g:
		case <-ctx.Done():
			return nil
		}
		c.mu.Lock()
		c.gates[0] = nil
	}
	if len(c.chunks) > 0 {
		c.gates = c.gates[1:]
		recs := c.chunks[0]
		c.chunks = c.chunks[1:]
		c.mu.Unlock()
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: recs[0].Topic, Partitions: []kgo.FetchPartition{{Records: recs}}}}}}
	}
	c.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (c *scriptedConsumer) AllowRebalance() {}

func (c *scriptedConsumer) CommitRecords(_ context.Context, rs ...*kgo.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		c.committed = append(c.committed, r.Offset)
	}
	return nil
}

func (c *scriptedConsumer) ProduceSync(context.Context, ...*kgo.Record) kgo.ProduceResults {
	return nil
}
func (c *scriptedConsumer) Close() {}

func (c *scriptedConsumer) commits() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.committed)
}

// gateStore holds its first span insert until release is closed (and
// closes firstStarted when it begins); the others return at once. started
// counts inserts begun, at the times in starts.
type gateStore struct {
	*ingesttest.MemStore
	mu           sync.Mutex
	started      int
	starts       []time.Time
	sizes        []int // spans an insert
	firstStarted chan struct{}
	release      chan struct{}
}

func (s *gateStore) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	s.mu.Lock()
	s.started++
	s.starts = append(s.starts, time.Now())
	s.sizes = append(s.sizes, len(spans))
	first := s.started == 1
	s.mu.Unlock()
	if first {
		close(s.firstStarted)
		<-s.release
	}
	return s.MemStore.InsertSpans(ctx, spans)
}

func (s *gateStore) inserts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// gatedRecords is n one-span traces as spans records at offsets 0…n-1,
// and a store whose first span insert is held.
func gatedRecords(t *testing.T, n int) ([]*kgo.Record, *gateStore) {
	t.Helper()
	recs, _, err := kafka.SplitByTrace(ingesttest.Request(7, n, 1), kafka.Config{}.WithDefaults().Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		r.Offset = int64(i)
	}
	return recs, &gateStore{MemStore: ingesttest.NewMemStore(), firstStarted: make(chan struct{}), release: make(chan struct{})}
}

// startGated starts a writer over cl and store; release lets the held
// insert go on (the test's end does, at the latest, before the writer is
// shut down).
func startGated(t *testing.T, cfg Config, cl *scriptedConsumer, store *gateStore) (release func()) {
	t.Helper()
	w := New(cfg, kafka.Config{}.WithDefaults().Topics, cl, store, NewMetrics(prometheus.NewRegistry()), nil)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { close(store.release) }) }
	t.Cleanup(func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return release
}

// With two inserts allowed, a batch is stored while the one before it is
// still inserting — once that one has run for batch.max_wait, not before —
// but its offsets are committed only after that one's: committed offsets
// never run ahead of a batch not yet stored.
func TestWriterInsertsConcurrentlyCommitsInOrder(t *testing.T) {
	recs, store := gatedRecords(t, 6)
	// The second chunk arrives once the first batch is inserting.
	cl := &scriptedConsumer{chunks: [][]*kgo.Record{recs[:3], recs[3:]}, gates: []chan struct{}{nil, store.firstStarted}}
	release := startGated(t, Config{Inserts: 2, Batch: BatchConfig{MaxRows: 3, MaxWait: 300 * time.Millisecond}}, cl, store)
	ingesttest.Eventually(t, 5*time.Second, "the second batch's insert to start while the first's is held", func() bool { return store.inserts() == 2 })
	// Each batch was due at once (max_rows); the second waited out the
	// first's max_wait.
	store.mu.Lock()
	gap := store.starts[1].Sub(store.starts[0])
	store.mu.Unlock()
	if gap < 290*time.Millisecond {
		t.Errorf("the second insert started %v after the first, want >= max_wait (300ms)", gap)
	}
	time.Sleep(100 * time.Millisecond) // room for a wrong early commit
	if c := cl.commits(); len(c) != 0 {
		t.Fatalf("committed %v while the first batch was still inserting", c)
	}
	release()
	ingesttest.Eventually(t, 5*time.Second, "both batches committed", func() bool { return len(cl.commits()) == 2 })
	if c := cl.commits(); !slices.Equal(c, []int64{2, 5}) {
		t.Errorf("committed offsets %v, want [2 5] (each batch's last, in order)", c)
	}
	if n := store.Distinct(); n != 6 {
		t.Errorf("stored %d traces, want 6", n)
	}
}

// A batch that is due while the inserter is busy takes, once the inserter
// is free, what has arrived meanwhile (up to max_bytes) rather than
// leaving it for the batch after: under a backlog inserts grow, and
// ClickHouse spends less a row.
func TestDueBatchTakesWhatArrivedWhileWaiting(t *testing.T) {
	recs, store := gatedRecords(t, 9)
	// The first batch (three traces, due at max_rows) is held inserting;
	// then the next three arrive (a due batch), and three more are there
	// by the time the inserter is free.
	cl := &scriptedConsumer{chunks: [][]*kgo.Record{recs[:3], recs[3:6], recs[6:]}, gates: []chan struct{}{nil, store.firstStarted, nil}}
	release := startGated(t, Config{Batch: BatchConfig{MaxRows: 3, MaxWait: time.Minute}}, cl, store)
	<-store.firstStarted
	time.Sleep(100 * time.Millisecond) // the second batch due and waiting
	release()
	ingesttest.Eventually(t, 5*time.Second, "all nine traces stored", func() bool { return store.Distinct() == 9 })
	store.mu.Lock()
	sizes := slices.Clone(store.sizes)
	store.mu.Unlock()
	if !slices.Equal(sizes, []int{3, 6}) {
		t.Errorf("inserts of %v spans, want [3 6]: the batch waiting for the inserter takes the six that arrived", sizes)
	}
	ingesttest.Eventually(t, 5*time.Second, "both batches committed", func() bool { return len(cl.commits()) == 2 })
	if c := cl.commits(); !slices.Equal(c, []int64{2, 8}) {
		t.Errorf("committed offsets %v, want [2 8]", c)
	}
}
