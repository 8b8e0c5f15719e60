package monitor

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics/metricstest"
)

// The worker's series pass Prometheus' linter.
func TestWorkerMetricNamesPassPromtool(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newWorkerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	out := metricstest.Lint(t, reg, m.statistic, m.pValue, m.drift, m.lastRun, m.samples, m.runs, m.stage, m.alerts, m.writeErrors)
	if !strings.Contains(out, "chainwatch_monitor_statistic") {
		t.Fatal("the worker's series are not in the exposition")
	}
}
