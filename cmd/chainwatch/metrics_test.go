package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/internal/supervise"
)

var labelsOf = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)

// touch gives every vector among the exported fields of the metrics struct
// m one child, so that the registry exposes it.
func touch(t *testing.T, m any) {
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !f.CanInterface() {
			continue
		}
		c, ok := f.Interface().(prometheus.Collector)
		if !ok {
			continue
		}
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		d := (<-ch).String()
		var n int
		if m := labelsOf.FindStringSubmatch(d); m != nil && strings.TrimSpace(m[1]) != "" {
			n = len(strings.Split(m[1], ","))
		}
		vals := make([]string, n)
		for j := range vals {
			vals[j] = "x"
		}
		switch x := c.(type) {
		case *prometheus.CounterVec:
			x.WithLabelValues(vals...).Inc()
		case *prometheus.GaugeVec:
			x.WithLabelValues(vals...).Set(1)
		case *prometheus.HistogramVec:
			x.WithLabelValues(vals...).Observe(1)
		}
	}
}

// Every series of the ingest path, the evaluator, the embedder and the
// supervisor follows Prometheus' naming conventions, as its own linter
// (`promtool check metrics`) reads them.
func TestMetricNamesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool not found: install Debian's prometheus package (make deps does)")
	}
	reg := prometheus.NewRegistry()
	em, err := embedding.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []any{collector.NewMetrics(reg), writer.NewMetrics(reg), runner.NewMetrics(reg), em} {
		touch(t, m)
	}
	supervise.RestartsCounter(reg).WithLabelValues("clickhouse").Inc()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"chainwatch_collector_received_total", "chainwatch_writer_records_expired_total", "chainwatch_eval_score", "chainwatch_embedding_requests_total", "chainwatch_local_restarts_total"} {
		if !strings.Contains(string(body), "# TYPE "+name+" ") {
			t.Errorf("%s is not in the exposition: the check would not see it", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
