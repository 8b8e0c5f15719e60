package writer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Metrics are the writer's pipeline-health series.
// Every reason label takes a value from a fixed set (see the reason*
// constants), so cardinality stays bounded.
type Metrics struct {
	ConsumerLag    *prometheus.GaugeVec     // records behind the partition's high watermark
	BatchRows      *prometheus.HistogramVec // rows per insert, by table
	InsertSeconds  *prometheus.HistogramVec // insert latency, by table
	InsertErrors   *prometheus.CounterVec   // failed inserts, by table and kind (retryable, permanent)
	RowsWritten    *prometheus.CounterVec   // rows inserted, by table
	DeadLetters    *prometheus.CounterVec   // records sent to the dead-letter topic, by source topic and reason
	CommitErrors   prometheus.Counter       // offset commits that failed (records are redelivered)
	EndToEndSecond prometheus.Histogram     // span end time → inserted, a freshness signal
	Expired        *prometheus.CounterVec   // records the log dropped (retention) before the writer stored them, by topic
}

// Reasons, the bounded label values of Rejected and DeadLetters.
const (
	reasonDecode  = genai.ReasonDecode
	reasonInvalid = genai.ReasonInvalid
	reasonInsert  = "insert_permanent"
)

// NewMetrics creates the series and registers them on reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lat := prometheus.ExponentialBuckets(0.0005, 2, 16)
	m := &Metrics{
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "consumer_lag", Help: "Records between the writer's position and the partition's high watermark.",
		}, []string{"topic", "partition"}),
		BatchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "batch_rows", Help: "Rows per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"table"}),
		InsertSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "insert_seconds", Help: "ClickHouse insert latency.", Buckets: lat,
		}, []string{"table"}),
		InsertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "insert_errors_total", Help: "Failed ClickHouse inserts, by table and kind (retryable or permanent).",
		}, []string{"table", "kind"}),
		RowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "rows_written_total", Help: "Rows inserted into ClickHouse, by table (replays included).",
		}, []string{"table"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "dead_letters_total", Help: "Records sent to the dead-letter topic, by source topic and reason.",
		}, []string{"topic", "reason"}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "commit_errors_total", Help: "Offset commits that failed; their records are delivered again and deduplicated by ClickHouse.",
		}),
		EndToEndSecond: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "span_age_seconds", Help: "Age of a span (now − its end time) when its batch was inserted.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "writer", Name: "records_expired_total", Help: "Records Kafka deleted (retention) before the writer stored them: acknowledged data lost. Alert on any increase.",
		}, []string{"topic"}),
	}
	metrics.Must(errors.Join(metrics.Register(reg, &m.ConsumerLag), metrics.Register(reg, &m.BatchRows), metrics.Register(reg, &m.InsertSeconds), metrics.Register(reg, &m.InsertErrors), metrics.Register(reg, &m.RowsWritten), metrics.Register(reg, &m.DeadLetters), metrics.Register(reg, &m.CommitErrors), metrics.Register(reg, &m.EndToEndSecond), metrics.Register(reg, &m.Expired)))
	return m
}
