package collector

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Metrics are the collector's pipeline-health series.
// Every reason label takes a value from a fixed set (see the reason*
// constants), so cardinality stays bounded.
type Metrics struct {
	Received       *prometheus.CounterVec   // spans or feedback records accepted, by endpoint
	Requests       *prometheus.CounterVec   // requests by endpoint and status code
	Rejected       *prometheus.CounterVec   // requests rejected, by endpoint and reason
	RejectedSpans  *prometheus.CounterVec   // spans refused one by one (partial success, or all of a 400), by endpoint and reason (invalid_<field>)
	RejectedLogs   *prometheus.CounterVec   // log records refused one by one, by endpoint and reason (invalid_<field>)
	Redacted       *prometheus.CounterVec   // PII replaced before producing, by kind
	ProduceSeconds *prometheus.HistogramVec // time from request to Kafka ack, by endpoint
	InflightBytes  prometheus.Gauge         // request bytes admitted and not yet released (≤ collector.max_inflight_bytes)

	UnstoredShare *prometheus.GaugeVec // per partition: the part of its retention held by records not yet stored
	WritersBehind prometheus.Gauge     // 1 while the collector refuses because the writers are near retention
}

// Reasons, the bounded label values of Rejected and DeadLetters.
const (
	reasonBadRequest   = "bad_request"
	reasonTooLarge     = "too_large"
	reasonUnauthorized = "unauthorized"
	reasonUnsupported  = "unsupported_media_type"
	reasonBufferFull   = "buffer_full"
	reasonUnavailable  = "kafka_unavailable"
	reasonBehind       = "writers_behind"
	reasonDecode       = "decode"
	reasonForbidden    = "forbidden"
)

// NewMetrics creates the series and registers them on reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lat := prometheus.ExponentialBuckets(0.0005, 2, 16)
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "received_total", Help: "Records accepted and acknowledged by Kafka, by endpoint (spans or feedback).",
		}, []string{"endpoint"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "requests_total", Help: "Requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "rejected_total", Help: "Requests answered with an error, by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		RejectedSpans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "rejected_spans_total", Help: "Spans refused for failing the structural checks, by endpoint and reason (invalid_<field>): left out of a partially stored request, or every span of a request answered 400 for them.",
		}, []string{"endpoint", "reason"}),
		RejectedLogs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "rejected_log_records_total", Help: "OTLP log records refused for failing the structural checks, by endpoint and reason (invalid_<field>): left out of a partially stored request, or every record of a request answered 400 for them.",
		}, []string{"endpoint", "reason"}),
		Redacted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "redacted_total", Help: "Personal data and secrets replaced in spans, log records and feedback before they were produced (collector.redact_pii), by kind.",
		}, []string{"kind"}),
		ProduceSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "produce_seconds", Help: "Time from a request's arrival to Kafka's acknowledgement.", Buckets: lat,
		}, []string{"endpoint"}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "inflight_bytes", Help: "Request bytes the collector has admitted and not yet released (read, decoded or waiting for Kafka); at most collector.max_inflight_bytes.",
		}),
		UnstoredShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "kafka", Name: "unstored_retention_ratio", Help: "Per partition, the larger of (bytes not yet stored / retention.bytes) and (age of the oldest record not yet stored / retention.ms); the collector refuses at kafka.retention_headroom.",
		}, []string{"topic", "partition"}),
		WritersBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "collector", Name: "writers_behind", Help: "1 while the collector answers 503 because records not yet stored approach the topics' retention.",
		}),
	}
	metrics.Must(errors.Join(metrics.Register(reg, &m.Received), metrics.Register(reg, &m.Requests), metrics.Register(reg, &m.Rejected), metrics.Register(reg, &m.RejectedSpans), metrics.Register(reg, &m.RejectedLogs), metrics.Register(reg, &m.Redacted), metrics.Register(reg, &m.ProduceSeconds), metrics.Register(reg, &m.InflightBytes), metrics.Register(reg, &m.UnstoredShare), metrics.Register(reg, &m.WritersBehind)))
	return m
}
