package serving

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Metrics are the gateway's Prometheus series (chainwatch_serving_*).
type Metrics struct {
	requests       *prometheus.CounterVec   // chain, route, code
	latency        *prometheus.HistogramVec // chain, route, replica
	ttft           *prometheus.HistogramVec // route
	overhead       prometheus.Histogram
	tokens         *prometheus.CounterVec // route, kind (input/output), source (upstream/bpe)
	upstreamErrors *prometheus.CounterVec // route, replica, reason
	retries        *prometheus.CounterVec // route
	fallbacks      *prometheus.CounterVec // from, to
	rejections     *prometheus.CounterVec // reason
	guards         *prometheus.CounterVec // type, result
	replicaUp      *prometheus.GaugeVec   // route, replica
	spansDropped   *prometheus.CounterVec // reason
	reloads        *prometheus.CounterVec // result
	procState      *prometheus.GaugeVec   // replica, state
	procRestarts   *prometheus.CounterVec // child
}

// NewMetrics builds the series and registers them on reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = metrics.Namespace, "serving"
	lat := []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m := &Metrics{
		requests:       prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total", Help: "Calls answered, by chain (empty for a route called directly), route and HTTP status."}, []string{"chain", "route", "code"}),
		latency:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds", Help: "Call duration, to the last byte, by chain, route and the replica that answered.", Buckets: lat}, []string{"chain", "route", "replica"}),
		ttft:           prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "time_to_first_token_seconds", Help: "Time from the request to the first streamed event sent.", Buckets: lat}, []string{"route"}),
		overhead:       prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "overhead_seconds", Help: "The gateway's own time before an answer's first byte (excluding upstream waits).", Buckets: []float64{.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1}}),
		tokens:         prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tokens_total", Help: "Tokens by route, kind (input, output) and source (upstream usage, or bpe when the upstream reported none)."}, []string{"route", "kind", "source"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "upstream_errors_total", Help: "Failed upstream attempts by route, replica and reason."}, []string{"route", "replica", "reason"}),
		retries:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retries_total", Help: "Attempts on another replica of the same route."}, []string{"route"}),
		fallbacks:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fallbacks_total", Help: "Moves to a fallback route."}, []string{"from", "to"}),
		rejections:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "limit_rejections_total", Help: "Calls refused by access control: no_key, bad_key, forbidden, rpm, tpm, budget."}, []string{"reason"}),
		guards:         prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "guard_results_total", Help: "Guard runs by type and result (pass, blocked, redacted, flagged)."}, []string{"type", "result"}),
		replicaUp:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "replica_up", Help: "1 when a replica passes its health check."}, []string{"route", "replica"}),
		spansDropped:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "spans_dropped_total", Help: "Spans not sent to Kafka, by reason (queue_full, produce, encode, closed)."}, []string{"reason"}),
		reloads:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "config_reloads_total", Help: "Serving config reloads: applied, or rejected (the running config kept)."}, []string{"result"}),
		procState:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "process_state", Help: "1 for the state a supervised model-server process is in."}, []string{"replica", "state"}),
		procRestarts:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "process_restarts_total", Help: "Restart attempts of supervised model-server processes."}, []string{"child"}),
	}
	metrics.Must(metrics.Register(reg, &m.requests))
	metrics.Must(metrics.Register(reg, &m.latency))
	metrics.Must(metrics.Register(reg, &m.ttft))
	metrics.Must(metrics.Register(reg, &m.overhead))
	metrics.Must(metrics.Register(reg, &m.tokens))
	metrics.Must(metrics.Register(reg, &m.upstreamErrors))
	metrics.Must(metrics.Register(reg, &m.retries))
	metrics.Must(metrics.Register(reg, &m.fallbacks))
	metrics.Must(metrics.Register(reg, &m.rejections))
	metrics.Must(metrics.Register(reg, &m.guards))
	metrics.Must(metrics.Register(reg, &m.replicaUp))
	metrics.Must(metrics.Register(reg, &m.spansDropped))
	metrics.Must(metrics.Register(reg, &m.reloads))
	metrics.Must(metrics.Register(reg, &m.procState))
	metrics.Must(metrics.Register(reg, &m.procRestarts))
	return m
}

// SpansDropped is the exporter's drop counter.
func (m *Metrics) SpansDropped(reason string, spans int) {
	m.spansDropped.WithLabelValues(reason).Add(float64(spans))
}
