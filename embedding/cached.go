package embedding

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// Cache defaults.
const (
	// DefaultCacheTimeout bounds each cache query and insert.
	DefaultCacheTimeout = 10 * time.Second
	// DefaultLookupChunk is the number of hashes in one lookup's IN list:
	// 500 × 67 bytes keeps a query far below ClickHouse's max_query_size
	// (256 KiB).
	DefaultLookupChunk = 500
	// CacheTable is the table Cached reads and writes (schemas.Migrate's
	// migration 2).
	CacheTable = "embeddings"
)

// Cached puts a ClickHouse cache in front of an Embedder, keyed by
// (ID(), TextHash(text)) in the embeddings table. A call looks up the
// texts' vectors, embeds only the texts not found (each distinct text once,
// however often it occurs in the call), inserts those in one batch and
// returns every vector in input order: a window is never embedded twice.
//
// The cache never fails a call: when a lookup fails (ClickHouse down, a
// timeout) every text goes to the provider and nothing is inserted; when
// the insert fails the vectors are still returned. Either is logged and
// counted in chainwatch_embedding_cache_errors_total{op}. Errors of the
// provider itself, and the caller's cancellation, are returned.
//
// Concurrent calls (several workers) may embed and insert the same text
// twice; the table is a ReplacingMergeTree, so the copies merge away, and a
// lookup takes any one of them (they are equal for a deterministic
// provider).
type Cached struct {
	inner   Embedder
	conn    driver.Conn
	id      string
	idLit   string // id as a quoted SQL literal
	m       *Metrics
	log     *slog.Logger
	timeout time.Duration
	chunk   int
}

var _ Embedder = (*Cached)(nil)

// CacheOpt configures a Cached.
type CacheOpt interface{ apply(*Cached) }

type cacheOptFunc func(*Cached)

func (f cacheOptFunc) apply(c *Cached) { f(c) }

// WithMetrics counts hits, misses and cache errors on m.
func WithMetrics(m *Metrics) CacheOpt { return cacheOptFunc(func(c *Cached) { c.m = m }) }

// WithLogger logs cache failures on l (default slog.Default()).
func WithLogger(l *slog.Logger) CacheOpt { return cacheOptFunc(func(c *Cached) { c.log = l }) }

// WithCacheTimeout bounds each cache query and insert (default
// DefaultCacheTimeout).
func WithCacheTimeout(d time.Duration) CacheOpt {
	return cacheOptFunc(func(c *Cached) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithLookupChunk sets the number of hashes per lookup query (default
// DefaultLookupChunk).
func WithLookupChunk(n int) CacheOpt {
	return cacheOptFunc(func(c *Cached) {
		if n > 0 {
			c.chunk = n
		}
	})
}

// NewCached wraps inner with the cache on conn, whose database holds the
// embeddings table.
func NewCached(inner Embedder, conn driver.Conn, opts ...CacheOpt) *Cached {
	c := &Cached{inner: inner, conn: conn, id: inner.ID(), timeout: DefaultCacheTimeout, chunk: DefaultLookupChunk}
	c.idLit = quote(c.id)
	for _, o := range opts {
		o.apply(c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// ID is the wrapped embedder's: the cache does not change the vectors.
func (c *Cached) ID() string { return c.id }

// Embed returns one vector per text, from the cache where it has them.
// Equal texts share one slice.
func (c *Cached) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedding %d texts: %w", len(texts), err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	// Distinct texts in order of first occurrence, and where each occurs.
	hashes := make([]string, len(texts))
	seen := make(map[string]struct{}, len(texts))
	var uniq []int // index into texts of each distinct text
	for i, t := range texts {
		h := TextHash(t)
		hashes[i] = h
		if _, ok := seen[h]; !ok {
			seen[h] = struct{}{}
			uniq = append(uniq, i)
		}
	}
	uniqHashes := make([]string, len(uniq))
	for k, i := range uniq {
		uniqHashes[k] = hashes[i]
	}

	cached, lookupErr := c.lookup(ctx, uniqHashes)
	if lookupErr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embedding %d texts: %w", len(texts), ctx.Err())
		}
		c.cacheFailed(OpLookup, lookupErr, len(uniq))
		cached = nil
	}

	var missTexts, missHashes []string
	for k, i := range uniq {
		if _, ok := cached[uniqHashes[k]]; !ok {
			missTexts = append(missTexts, texts[i])
			missHashes = append(missHashes, uniqHashes[k])
		}
	}
	if c.m != nil {
		c.m.CacheHits.WithLabelValues(c.id).Add(float64(len(texts) - len(missTexts)))
		c.m.CacheMisses.WithLabelValues(c.id).Add(float64(len(missTexts)))
	}
	vecs := cached
	if vecs == nil {
		vecs = make(map[string][]float32, len(missTexts))
	}
	if len(missTexts) > 0 {
		fresh, err := c.inner.Embed(ctx, missTexts)
		if err != nil {
			return nil, err
		}
		if len(fresh) != len(missTexts) {
			return nil, fmt.Errorf("embedding with %s: %d vectors for %d texts", c.id, len(fresh), len(missTexts))
		}
		for k, h := range missHashes {
			vecs[h] = fresh[k]
		}
	}
	for i, h := range hashes {
		out[i] = vecs[h]
	}
	// Checked before the insert, so a disagreeing vector is never cached.
	if err := checkDims(out, 0, "embedding with "+c.id); err != nil {
		return nil, fmt.Errorf("%w (cached and fresh vectors disagree: was the embedder's output changed without changing its ID?)", err)
	}
	if len(missTexts) > 0 && lookupErr == nil {
		fresh := make([][]float32, len(missHashes))
		for k, h := range missHashes {
			fresh[k] = vecs[h]
		}
		if err := c.insert(ctx, missHashes, fresh); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("embedding %d texts: %w", len(texts), ctx.Err())
			}
			c.cacheFailed(OpInsert, err, len(missTexts))
		}
	}
	return out, nil
}

func (c *Cached) cacheFailed(op string, err error, n int) {
	if c.m != nil {
		c.m.CacheErrors.WithLabelValues(op).Inc()
	}
	c.log.Warn("embedding cache unavailable; embedding without it", "op", op, "embedder", c.id, "texts", n, "err", err)
}

// lookup returns the cached vectors of hashes, querying chunk hashes at a
// time. Empty vectors (never written by Cached) count as absent.
func (c *Cached) lookup(ctx context.Context, hashes []string) (map[string][]float32, error) {
	found := make(map[string][]float32, len(hashes))
	var q strings.Builder
	for lo := 0; lo < len(hashes); lo += c.chunk {
		chunk := hashes[lo:min(lo+c.chunk, len(hashes))]
		q.Reset()
		q.WriteString("SELECT text_hash, " + vectorHex + " FROM " + CacheTable + " PREWHERE embedder = " + c.idLit + " AND text_hash IN (")
		for k, h := range chunk {
			if k > 0 {
				q.WriteByte(',')
			}
			q.WriteString(quote(h))
		}
		q.WriteByte(')')
		if err := c.query(ctx, q.String(), found); err != nil {
			return nil, fmt.Errorf("looking up %d cached embeddings: %w", len(chunk), err)
		}
	}
	return found, nil
}

func (c *Cached) query(ctx context.Context, q string, found map[string][]float32) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rows, err := c.conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h, hx string
		if err := rows.Scan(&h, &hx); err != nil {
			return err
		}
		v, err := decodeVectorHex(hx)
		if err != nil {
			return fmt.Errorf("decoding cached vector %s: %w", h, err)
		}
		if len(v) > 0 {
			found[h] = v
		}
	}
	return rows.Err()
}

// vectorHex selects a vector as the hex of its float32s' little-endian
// bytes (8 characters each). Scanning Array(Float32) through clickhouse-go
// goes through reflection element by element (about 1,500 allocations for
// a 256-d vector); one string per row is ~10× cheaper and as exact.
// toFixedString pads what reinterpretAsString strips (trailing zero bytes).
// Works on 18.16 and current servers.
const vectorHex = "arrayStringConcat(arrayMap(x -> hex(toFixedString(reinterpretAsString(x), 4)), vector))"

// decodeVectorHex reverses vectorHex.
func decodeVectorHex(hx string) ([]float32, error) {
	if len(hx)%8 != 0 {
		return nil, fmt.Errorf("%d hex characters, not a multiple of 8", len(hx))
	}
	b, err := hex.DecodeString(hx)
	if err != nil {
		return nil, err
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// insert writes the fresh vectors in one columnar batch with an explicit
// column list (which ClickHouse 18.16 needs).
func (c *Cached) insert(ctx context.Context, hashes []string, vecs [][]float32) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+CacheTable+" ("+strings.Join(schemas.EmbeddingColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing embeddings batch: %w", err)
	}
	defer b.Abort()
	n := len(hashes)
	ids, created := make([]string, n), make([]time.Time, n)
	now := time.Now()
	for i := range n {
		ids[i], created[i] = c.id, now
	}
	for i, col := range []any{ids, hashes, vecs, created} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("appending embeddings column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d embeddings: %w", n, err)
	}
	return nil
}

// quote makes s a ClickHouse string literal: backslash, quote and NUL
// escaped (the escaping clickhouse-go's own binding uses), so any embedder
// ID is safe in a query on every server version, 18.16 included.
func quote(s string) string {
	return "'" + literalEscaper.Replace(s) + "'"
}

var literalEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
