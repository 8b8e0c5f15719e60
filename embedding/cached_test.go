package embedding_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// migrated returns a connection to a fresh database with the schema.
func migrated(tb testing.TB) driver.Conn {
	tb.Helper()
	addr, db := chtest.Database(tb)
	conn := chtest.Conn(tb, addr, db)
	if _, err := schemas.Migrate(context.Background(), clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		tb.Fatalf("migrating: %v", err)
	}
	return conn
}

type cacheFixture struct {
	srv     *openaitest.Server
	cached  *embedding.Cached
	metrics *embedding.Metrics
	log     *bytes.Buffer
}

func newCacheFixture(t *testing.T, conn driver.Conn, opts ...embedding.CacheOpt) cacheFixture {
	t.Helper()
	srv := openaitest.NewServer(t, openaitest.WithDim(8))
	m, err := embedding.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	opts = append([]embedding.CacheOpt{embedding.WithMetrics(m), embedding.WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))}, opts...)
	return cacheFixture{srv: srv, cached: embedding.NewCached(newOpenAI(t, fastConfig(srv.Root)), conn, opts...), metrics: m, log: &buf}
}

func (f cacheFixture) counter(c *prometheus.CounterVec, label string) float64 {
	return testutil.ToFloat64(c.WithLabelValues(label))
}

// bitsEqual fails unless a and b hold bit-identical vectors.
func bitsEqual(t *testing.T, a, b [][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d vectors", len(a), len(b))
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("vector %d: %d vs %d dimensions", i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Fatalf("vector %d differs at %d: %v vs %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}

func TestCachedSecondCallIsFree(t *testing.T) {
	f := newCacheFixture(t, migrated(t), embedding.WithLookupChunk(7)) // several lookup queries per call
	ctx := context.Background()
	in := texts("window", 40)
	first, err := f.cached.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	sameVectors(t, in, first, 8)
	reqs := f.srv.Embeddings.Count()
	if f.srv.Texts() != 40 {
		t.Fatalf("first call sent %d texts to the provider, want 40", f.srv.Texts())
	}
	second, err := f.cached.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if f.srv.Embeddings.Count() != reqs {
		t.Fatalf("second call made %d provider requests, want 0", f.srv.Embeddings.Count()-reqs)
	}
	bitsEqual(t, first, second) // Float32 survives ClickHouse exactly
	id := f.cached.ID()
	if h, m := f.counter(f.metrics.CacheHits, id), f.counter(f.metrics.CacheMisses, id); h != 40 || m != 40 {
		t.Fatalf("hits %v misses %v, want 40 and 40", h, m)
	}
	if f.log.Len() != 0 {
		t.Fatalf("unexpected log: %s", f.log)
	}
}

func TestCachedPartialWindow(t *testing.T) {
	f := newCacheFixture(t, migrated(t))
	ctx := context.Background()
	all := texts("sliding", 15)
	if _, err := f.cached.Embed(ctx, all[:10]); err != nil {
		t.Fatal(err)
	}
	f.srv.Reset()
	window := all[5:15]
	got, err := f.cached.Embed(ctx, window)
	if err != nil {
		t.Fatal(err)
	}
	sameVectors(t, window, got, 8)
	var sent []string
	for _, r := range f.srv.Inputs() {
		sent = append(sent, r...)
	}
	if !slices.Equal(sent, all[10:15]) {
		t.Fatalf("provider got %q, want only the 5 new texts %q", sent, all[10:15])
	}
}

func TestCachedDuplicatesEmbeddedOnce(t *testing.T) {
	f := newCacheFixture(t, migrated(t))
	in := []string{"a", "b", "a", "a", "", "b", "c", ""}
	got, err := f.cached.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sameVectors(t, in, got, 8)
	if f.srv.Texts() != 4 {
		t.Fatalf("provider got %d texts (%q), want the 4 distinct ones", f.srv.Texts(), f.srv.Inputs())
	}
	id := f.cached.ID()
	if h, m := f.counter(f.metrics.CacheHits, id), f.counter(f.metrics.CacheMisses, id); h != 4 || m != 4 {
		t.Fatalf("hits %v misses %v, want 4 and 4", h, m)
	}
	// Inserted once each: a fresh Cached (another worker) finds all four.
	f.srv.Reset()
	if _, err := f.cached.Embed(context.Background(), []string{"c", "", "b", "a"}); err != nil {
		t.Fatal(err)
	}
	if f.srv.Embeddings.Count() != 0 {
		t.Fatalf("%d provider requests for cached texts", f.srv.Embeddings.Count())
	}
}

// renamed gives an embedder another ID (same vectors).
type renamed struct {
	embedding.Embedder
	id string
}

func (r renamed) ID() string { return r.id }

// counting counts the texts an embedder is asked for.
type counting struct {
	embedding.Embedder
	texts int
}

func (c *counting) Embed(ctx context.Context, in []string) ([][]float32, error) {
	c.texts += len(in)
	return c.Embedder.Embed(ctx, in)
}

func TestCachedKeysByEmbedderID(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	in := texts("ids", 5)
	// Quotes, backslashes and NUL in the ID must be literal, not SQL.
	for _, id := range []string{"plain", `it's \' a "test"\`, "nul\x00byte", "x' OR 1=1 --"} {
		inner := &counting{Embedder: renamed{embedding.NewLexical(16, 1), id}}
		c := embedding.NewCached(inner, conn)
		for range 2 {
			if _, err := c.Embed(ctx, in); err != nil {
				t.Fatalf("%q: %v", id, err)
			}
		}
		if inner.texts != 5 {
			t.Errorf("ID %q: provider embedded %d texts over two calls, want 5 (one miss each, then hits only for this ID)", id, inner.texts)
		}
	}
}

func TestCachedLargeWindow(t *testing.T) {
	// 1,201 texts: three lookup queries of up to 500 hashes.
	conn := migrated(t)
	inner := &counting{Embedder: embedding.NewLexical(32, 0)}
	c := embedding.NewCached(inner, conn)
	in := texts("large", 1201)
	first, err := c.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if inner.texts != 1201 {
		t.Fatalf("provider embedded %d texts, want 1201", inner.texts)
	}
	bitsEqual(t, first, second)
}

func TestCachedFallsBackWhenClickHouseFails(t *testing.T) {
	t.Run("lookup: connection closed", func(t *testing.T) {
		conn := migrated(t)
		conn.Close()
		f := newCacheFixture(t, conn)
		in := []string{"x", "y", "x"}
		got, err := f.cached.Embed(context.Background(), in)
		if err != nil {
			t.Fatalf("a cache failure failed the call: %v", err)
		}
		sameVectors(t, in, got, 8)
		if n := f.counter(f.metrics.CacheErrors, embedding.OpLookup); n != 1 {
			t.Fatalf("cache_errors_total{op=lookup} = %v, want 1", n)
		}
		if n := f.counter(f.metrics.CacheErrors, embedding.OpInsert); n != 0 {
			t.Fatalf("cache_errors_total{op=insert} = %v: no insert should follow a failed lookup", n)
		}
		if !strings.Contains(f.log.String(), "op=lookup") {
			t.Fatalf("no log of the reason: %q", f.log)
		}
	})
	t.Run("lookup: server killed", func(t *testing.T) {
		srv := chtest.StartPrivate(t)
		conn := chtest.Conn(t, srv.Addr(), "default")
		if _, err := schemas.Migrate(context.Background(), clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
			t.Fatal(err)
		}
		f := newCacheFixture(t, conn, embedding.WithCacheTimeout(2*time.Second))
		if _, err := f.cached.Embed(context.Background(), []string{"warm"}); err != nil {
			t.Fatal(err)
		}
		srv.Kill() // as a crash would; Stop waits for connections to close
		in := []string{"warm", "cold"}
		start := time.Now()
		got, err := f.cached.Embed(context.Background(), in)
		if err != nil {
			t.Fatalf("ClickHouse down failed the call: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v: the cache timeout (2s) did not bound the lookup", d)
		}
		sameVectors(t, in, got, 8)
		if n := f.counter(f.metrics.CacheErrors, embedding.OpLookup); n != 1 {
			t.Fatalf("cache_errors_total{op=lookup} = %v, want 1", n)
		}
	})
	t.Run("insert: table of the wrong shape", func(t *testing.T) {
		addr, db := chtest.Database(t)
		conn := chtest.Conn(t, addr, db)
		// Lookups work, inserts fail (no created_at column).
		if err := conn.Exec(context.Background(), "CREATE TABLE embeddings (embedder String, text_hash String, vector Array(Float32)) ENGINE = MergeTree ORDER BY (embedder, text_hash)"); err != nil {
			t.Fatal(err)
		}
		f := newCacheFixture(t, conn)
		in := []string{"p", "q"}
		got, err := f.cached.Embed(context.Background(), in)
		if err != nil {
			t.Fatalf("a cache failure failed the call: %v", err)
		}
		sameVectors(t, in, got, 8)
		if l, i := f.counter(f.metrics.CacheErrors, embedding.OpLookup), f.counter(f.metrics.CacheErrors, embedding.OpInsert); l != 0 || i != 1 {
			t.Fatalf("cache errors lookup=%v insert=%v, want 0 and 1", l, i)
		}
	})
}

func TestCachedProviderErrorIsReturned(t *testing.T) {
	f := newCacheFixture(t, migrated(t))
	f.srv.Embeddings.Enqueue(openaitest.BadRequest("nope"))
	_, err := f.cached.Embed(context.Background(), []string{"a"})
	var apiErr *embedding.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("want the provider's 400, got %v", err)
	}
	// Nothing was cached: the next call asks the provider again.
	if _, err := f.cached.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if f.srv.Embeddings.Count() != 2 {
		t.Fatalf("%d requests, want 2", f.srv.Embeddings.Count())
	}
}

// fixedBits embeds every text as the same vector of given bit patterns.
type fixedBits []uint32

func (f fixedBits) ID() string { return "fixed-bits" }

func (f fixedBits) Embed(_ context.Context, in []string) ([][]float32, error) {
	out := make([][]float32, len(in))
	for i := range out {
		out[i] = make([]float32, len(f))
		for j, b := range f {
			out[i][j] = math.Float32frombits(b)
		}
	}
	return out, nil
}

func TestCachedRoundTripsEveryBitPattern(t *testing.T) {
	// Zero high bytes are what reinterpretAsString would strip: the lookup
	// must keep them.
	bits := fixedBits{0, 0x80000000, 0x00000001, 0x00000100, 0x00010000, 0x3fc00000, 0x7f800000, 0xff800000, 0x7fc00000, 0x00800000, 0x7f7fffff}
	conn := migrated(t)
	inner := &counting{Embedder: bits}
	c := embedding.NewCached(inner, conn)
	first, err := c.Embed(context.Background(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Embed(context.Background(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if inner.texts != 1 {
		t.Fatalf("the second call was not served from the cache (%d texts embedded)", inner.texts)
	}
	for j, b := range bits {
		if got := math.Float32bits(second[0][j]); got != b || math.Float32bits(first[0][j]) != b {
			t.Errorf("element %d: stored %#08x, read back %#08x", j, b, got)
		}
	}
}

// settableDim embeds every text as a vector of ones of the current dim,
// under one ID: an embedder whose output changed without its ID.
type settableDim struct {
	dim   int
	texts int
}

func (s *settableDim) ID() string { return "settable" }

func (s *settableDim) Embed(_ context.Context, in []string) ([][]float32, error) {
	s.texts += len(in)
	out := make([][]float32, len(in))
	for i := range out {
		out[i] = slices.Repeat([]float32{1}, s.dim)
	}
	return out, nil
}

func TestCachedRefusesDisagreeingVectors(t *testing.T) {
	inner := &settableDim{dim: 4}
	c := embedding.NewCached(inner, migrated(t))
	ctx := context.Background()
	if _, err := c.Embed(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	inner.dim = 5
	_, err := c.Embed(ctx, []string{"a", "b"})
	if err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("want a dimension disagreement, got %v", err)
	}
	// "b" was not cached by the failed call.
	inner.texts = 0
	if _, err := c.Embed(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if inner.texts != 1 {
		t.Fatalf("b came from the cache: the disagreeing vector was inserted")
	}
}
