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
	firstStarted chan struct{}
	release      chan struct{}
}

func (s *gateStore) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	s.mu.Lock()
	s.started++
	s.starts = append(s.starts, time.Now())
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

// With two inserts allowed, a batch is stored while the one before it is
// still inserting — once that one has run for batch.max_wait, not before —
// but its offsets are committed only after that one's: committed offsets
// never run ahead of a batch not yet stored.
func TestWriterInsertsConcurrentlyCommitsInOrder(t *testing.T) {
	kc := kafka.Config{}.WithDefaults()
	recs, _, err := kafka.SplitByTrace(ingesttest.Request(7, 6, 1), kc.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		r.Offset = int64(i)
	}
	store := &gateStore{MemStore: ingesttest.NewMemStore(), firstStarted: make(chan struct{}), release: make(chan struct{})}
	// The second chunk arrives once the first batch is inserting.
	cl := &scriptedConsumer{chunks: [][]*kgo.Record{recs[:3], recs[3:]}, gates: []chan struct{}{nil, store.firstStarted}}
	w := New(Config{Inserts: 2, Batch: BatchConfig{MaxRows: 3, MaxWait: 300 * time.Millisecond}}, kc.Topics, cl, store, NewMetrics(prometheus.NewRegistry()), nil)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { close(store.release) }) }
	defer func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
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
		t.Errorf("stored %d spans, want 6", n)
	}
}

// backlogConsumer holds a backlog and hands out at most max records a
// poll, as franz-go's PollRecords does.
type backlogConsumer struct {
	scriptedConsumer
	backlog []*kgo.Record
}

func (c *backlogConsumer) PollRecords(ctx context.Context, max int) kgo.Fetches {
	c.mu.Lock()
	if len(c.backlog) == 0 {
		c.mu.Unlock()
		<-ctx.Done()
		return nil
	}
	n := min(max, len(c.backlog))
	recs := c.backlog[:n]
	c.backlog = c.backlog[n:]
	c.mu.Unlock()
	return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: recs[0].Topic, Partitions: []kgo.FetchPartition{{Records: recs}}}}}}
}

// sizeStore records the rows of each span insert.
type sizeStore struct {
	*ingesttest.MemStore
	mu    sync.Mutex
	sizes []int
}

func (s *sizeStore) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(spans))
	s.mu.Unlock()
	return s.MemStore.InsertSpans(ctx, spans)
}

// batch.max_rows bounds rows, though a poll is bounded in records and a
// spans record holds a whole trace: draining a backlog of 4-span traces
// with max_rows 10, no insert exceeds 10 rows by more than one trace's.
func TestWriterBatchRowsBoundWithMultiSpanRecords(t *testing.T) {
	kc := kafka.Config{}.WithDefaults()
	recs, _, err := kafka.SplitByTrace(ingesttest.Request(11, 40, 4), kc.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		r.Offset = int64(i)
	}
	cl := &backlogConsumer{backlog: recs}
	store := &sizeStore{MemStore: ingesttest.NewMemStore()}
	w := New(Config{Batch: BatchConfig{MaxRows: 10, MaxWait: time.Second}}, kc.Topics, cl, store, NewMetrics(prometheus.NewRegistry()), nil)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	ingesttest.Eventually(t, 10*time.Second, "the backlog stored", func() bool { return store.Distinct() == 160 })
	store.mu.Lock()
	defer store.mu.Unlock()
	total := 0
	for _, n := range store.sizes {
		total += n
		if n > 10+3 {
			t.Errorf("an insert of %d rows with max_rows 10 and 4-span records (inserts %v)", n, store.sizes)
			break
		}
	}
	if total != 160 {
		t.Errorf("%d rows inserted, want 160", total)
	}
}
