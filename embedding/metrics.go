package embedding

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Metrics are the embedding metrics. One value serves every embedder of a
// process; the embedder label is the Embedder's ID.
//
//	chainwatch_embedding_cache_hits_total{embedder}     texts answered without the provider (cached, or a repeat within the call)
//	chainwatch_embedding_cache_misses_total{embedder}   texts sent to the provider
//	chainwatch_embedding_cache_errors_total{op}         cache failures, op = lookup | insert (the call went on without the cache)
//	chainwatch_embedding_requests_total{embedder,code}  HTTP attempts of the openai provider, code = status code, "timeout" or "transport"
//	chainwatch_embedding_duration_seconds{embedder}     one Embed call of the embedder New returns, cache included
type Metrics struct {
	CacheHits   *prometheus.CounterVec
	CacheMisses *prometheus.CounterVec
	CacheErrors *prometheus.CounterVec
	Requests    *prometheus.CounterVec
	Duration    *prometheus.HistogramVec
}

// Cache operations, the values of the op label of CacheErrors.
const (
	OpLookup = "lookup"
	OpInsert = "insert"
)

// NewMetrics creates the metrics and registers them on reg (nil registers
// nothing). Metrics already registered on reg — a second New in the same
// process — are reused, so every embedder counts into the same series.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		CacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "embedding", Name: "cache_hits_total",
			Help: "Texts embedded without calling the provider: found in the ClickHouse cache, or repeated within one call.",
		}, []string{"embedder"}),
		CacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "embedding", Name: "cache_misses_total",
			Help: "Texts sent to the embedding provider by the cache.",
		}, []string{"embedder"}),
		CacheErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "embedding", Name: "cache_errors_total",
			Help: "Embedding cache operations that failed (op: lookup, insert); the embedding went on without the cache.",
		}, []string{"op"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "embedding", Name: "requests_total",
			Help: "HTTP attempts to an embedding endpoint by result (code: HTTP status, timeout, transport).",
		}, []string{"embedder", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "embedding", Name: "duration_seconds",
			Help:    "Latency of one Embed call (a window's texts), cache lookups and inserts included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms … ~4.4 min
		}, []string{"embedder"}),
	}
	if err := errors.Join(metrics.Register(reg, &m.CacheHits), metrics.Register(reg, &m.CacheMisses),
		metrics.Register(reg, &m.CacheErrors), metrics.Register(reg, &m.Requests), metrics.Register(reg, &m.Duration)); err != nil {
		return nil, err
	}
	return m, nil
}

// timed observes the duration of every Embed call of the embedder New
// returns.
type timed struct {
	Embedder
	hist prometheus.Observer
}

var _ Embedder = timed{}

func (t timed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	start := time.Now()
	v, err := t.Embedder.Embed(ctx, texts)
	t.hist.Observe(time.Since(start).Seconds())
	return v, err
}
