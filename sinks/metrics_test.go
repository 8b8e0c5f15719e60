package sinks

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/metrics/metricstest"
)

// The alert sinks' series pass Prometheus' linter.
func TestSinkMetricNamesPassPromtool(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	out := metricstest.Lint(t, reg, m.sent, m.errors, m.dropped, m.queueLen)
	if !strings.Contains(out, "chainwatch_alerts_sent_total") {
		t.Fatal("the sinks' series are not in the exposition")
	}
}
