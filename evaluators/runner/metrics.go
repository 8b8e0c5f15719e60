package runner

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics"
)

// Metrics are the runner's series. Label values are bounded: evaluator
// names come from the config, outcomes from evaluators.Reason plus "ok" and
// "budget_exhausted", apps from the traffic (as on every chainwatch series).
type Metrics struct {
	SpansConsumed  prometheus.Counter       // spans decoded from the spans topic
	SpansSampled   *prometheus.CounterVec   // spans selected for evaluation, by app
	Evaluations    *prometheus.CounterVec   // metric results, by evaluator and outcome (ok or the failure reason)
	JudgeSeconds   prometheus.Histogram     // latency of judge evaluations that called the model (cache hits excluded)
	ScoresProduced prometheus.Counter       // score records acknowledged by Kafka
	ProduceErrors  prometheus.Counter       // failed produce attempts (retried)
	CommitErrors   prometheus.Counter       // failed offset commits (the records are evaluated again)
	DecodeErrors   prometheus.Counter       // span records that could not be decoded (skipped; the writer dead-letters them)
	ConsumerLag    *prometheus.GaugeVec     // records behind the high watermark, by topic and partition
	BatchSeconds   *prometheus.HistogramVec // consume→commit time of a batch, by stage (evaluate, produce, commit)
	// Scores is the score series: valid score values acknowledged by Kafka,
	// by app, chain, chain version, evaluator and metric. Buckets cover both
	// 0–1 metrics (tenths) and 1–5 ratings; rate(sum)/rate(count) is the
	// mean score, the series a dashboard or a Prometheus rule watches.
	Scores *prometheus.HistogramVec
}

// Outcomes besides the failure reasons.
const (
	OutcomeOK              = "ok"
	OutcomeBudgetExhausted = "budget_exhausted" // nothing recorded: the judge's hourly token budget is spent
	OutcomeNoContent       = "no_content"       // evaluator "content": a sampled span whose output never arrived (neither on the span nor as GenAI events)
)

// NewMetrics creates the series and registers them on reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SpansConsumed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "spans_consumed_total", Help: "Spans read from the spans topic.",
		}),
		SpansSampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "spans_sampled_total", Help: "Spans selected for evaluation, by app.",
		}, []string{"app"}),
		Evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "evaluations_total", Help: "Metric results by evaluator and outcome (ok, a failure reason, or budget_exhausted).",
		}, []string{"evaluator", "outcome"}),
		JudgeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "judge_seconds", Help: "Latency of judge evaluations that called the model, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		ScoresProduced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "scores_produced_total", Help: "Score records acknowledged by Kafka.",
		}),
		ProduceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "produce_errors_total", Help: "Failed attempts to produce scores (retried; offsets wait).",
		}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "commit_errors_total", Help: "Failed offset commits; the records are evaluated again and the table deduplicates.",
		}),
		DecodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "decode_errors_total", Help: "Span records that could not be decoded and were skipped.",
		}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "consumer_lag", Help: "Records between the evaluator's position and the partition's high watermark.",
		}, []string{"topic", "partition"}),
		BatchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "evaluator", Name: "batch_seconds", Help: "Time per batch stage (evaluate, produce, commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"stage"}),
		Scores: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "eval", Name: "score", Help: "Evaluation scores recorded, by app, chain, chain version, evaluator and metric (failed evaluations excluded).",
			Buckets: []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 2, 3, 4, 5},
		}, []string{"app", "chain", "chain_version", "evaluator", "metric"}),
	}
	metrics.Must(errors.Join(metrics.Register(reg, &m.SpansConsumed), metrics.Register(reg, &m.SpansSampled), metrics.Register(reg, &m.Evaluations), metrics.Register(reg, &m.JudgeSeconds), metrics.Register(reg, &m.ScoresProduced), metrics.Register(reg, &m.ProduceErrors), metrics.Register(reg, &m.CommitErrors), metrics.Register(reg, &m.DecodeErrors), metrics.Register(reg, &m.ConsumerLag), metrics.Register(reg, &m.BatchSeconds), metrics.Register(reg, &m.Scores)))
	return m
}
