package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/internal/metrics/metricstest"
	"github.com/chainwatch/chainwatch/internal/supervise"
)

// Every series of the ingest path, the evaluator, the embedder and the
// supervisor follows Prometheus' naming conventions, as its own linter
// (`promtool check metrics`) reads them.
func TestMetricNamesPassPromtool(t *testing.T) {
	reg := prometheus.NewRegistry()
	em, err := embedding.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cm, wm, rm := collector.NewMetrics(reg), writer.NewMetrics(reg), runner.NewMetrics(reg)
	restarts := supervise.RestartsCounter(reg)
	body := metricstest.Lint(t, reg, cm.Received, cm.Requests, cm.Rejected, cm.ProduceSeconds, cm.InflightBytes, cm.UnstoredShare, cm.WritersBehind,
		wm.ConsumerLag, wm.BatchRows, wm.InsertSeconds, wm.InsertErrors, wm.RowsWritten, wm.DeadLetters, wm.CommitErrors, wm.EndToEndSecond, wm.Expired,
		rm.SpansConsumed, rm.SpansSampled, rm.Evaluations, rm.JudgeSeconds, rm.ScoresProduced, rm.ProduceErrors, rm.CommitErrors, rm.DecodeErrors, rm.ConsumerLag, rm.BatchSeconds, rm.Scores,
		em.CacheHits, em.CacheMisses, em.CacheErrors, em.Requests, em.Duration, restarts)
	for _, name := range []string{"chainwatch_collector_received_total", "chainwatch_writer_records_expired_total", "chainwatch_eval_score", "chainwatch_embedding_requests_total", "chainwatch_local_restarts_total"} {
		if !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("%s is not in the exposition: the check would not see it", name)
		}
	}
}
