package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline-health series of the collector and the writer.
// Every reason label takes a value from a fixed set (see the reason*
// constants), so cardinality stays bounded.
type Metrics struct {
	Received       *prometheus.CounterVec   // spans or feedback records accepted, by endpoint
	Requests       *prometheus.CounterVec   // requests by endpoint and status code
	Rejected       *prometheus.CounterVec   // requests rejected, by endpoint and reason
	ProduceSeconds *prometheus.HistogramVec // time from request to Kafka ack, by endpoint
	InflightBytes  prometheus.Gauge         // request bytes admitted and not yet released (≤ collector.max_inflight_bytes)

	ConsumerLag    *prometheus.GaugeVec     // records behind the partition's high watermark
	BatchRows      *prometheus.HistogramVec // rows per insert, by table
	InsertSeconds  *prometheus.HistogramVec // insert latency, by table
	InsertErrors   *prometheus.CounterVec   // failed inserts, by table and kind (retryable, permanent)
	RowsWritten    *prometheus.CounterVec   // rows inserted, by table
	DeadLetters    *prometheus.CounterVec   // records sent to the dead-letter topic, by source topic and reason
	CommitErrors   prometheus.Counter       // offset commits that failed (records are redelivered)
	EndToEndSecond prometheus.Histogram     // span end time → inserted, a freshness signal
	Expired        *prometheus.CounterVec   // records the log dropped (retention) before the writer stored them, by topic

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
	reasonInvalid      = "invalid"
	reasonInsert       = "insert_permanent"
)

// NewMetrics creates the series and registers them on reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lat := prometheus.ExponentialBuckets(0.0005, 2, 16)
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_collector_received_total", Help: "Records accepted and acknowledged by Kafka, by endpoint (spans or feedback).",
		}, []string{"endpoint"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_collector_requests_total", Help: "Requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_collector_rejected_total", Help: "Requests answered with an error, by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		ProduceSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chainwatch_collector_produce_seconds", Help: "Time from a request's arrival to Kafka's acknowledgement.", Buckets: lat,
		}, []string{"endpoint"}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chainwatch_collector_inflight_bytes", Help: "Request bytes the collector has admitted and not yet released (read, decoded or waiting for Kafka); at most collector.max_inflight_bytes.",
		}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chainwatch_writer_consumer_lag", Help: "Records between the writer's position and the partition's high watermark.",
		}, []string{"topic", "partition"}),
		BatchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chainwatch_writer_batch_rows", Help: "Rows per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"table"}),
		InsertSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chainwatch_writer_insert_seconds", Help: "ClickHouse insert latency.", Buckets: lat,
		}, []string{"table"}),
		InsertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_writer_insert_errors_total", Help: "Failed ClickHouse inserts, by table and kind (retryable or permanent).",
		}, []string{"table", "kind"}),
		RowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_writer_rows_written_total", Help: "Rows inserted into ClickHouse, by table (replays included).",
		}, []string{"table"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_writer_dead_letters_total", Help: "Records sent to the dead-letter topic, by source topic and reason.",
		}, []string{"topic", "reason"}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chainwatch_writer_commit_errors_total", Help: "Offset commits that failed; their records are delivered again and deduplicated by ClickHouse.",
		}),
		EndToEndSecond: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chainwatch_writer_span_age_seconds", Help: "Age of a span (now − its end time) when its batch was inserted.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chainwatch_writer_records_expired_total", Help: "Records Kafka deleted (retention) before the writer stored them: acknowledged data lost. Alert on any increase.",
		}, []string{"topic"}),
		UnstoredShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chainwatch_kafka_unstored_retention_ratio", Help: "Per partition, the larger of (bytes not yet stored / retention.bytes) and (age of the oldest record not yet stored / retention.ms); the collector refuses at kafka.retention_headroom.",
		}, []string{"topic", "partition"}),
		WritersBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chainwatch_collector_writers_behind", Help: "1 while the collector answers 503 because records not yet stored approach the topics' retention.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Received, m.Requests, m.Rejected, m.ProduceSeconds, m.InflightBytes, m.ConsumerLag, m.BatchRows,
			m.InsertSeconds, m.InsertErrors, m.RowsWritten, m.DeadLetters, m.CommitErrors, m.EndToEndSecond,
			m.Expired, m.UnstoredShare, m.WritersBehind)
	}
	return m
}
