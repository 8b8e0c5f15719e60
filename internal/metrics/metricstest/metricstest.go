// Package metricstest checks series names with Prometheus' own linter.
package metricstest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var labelsOf = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)

// Lint gives each vector among cs one child (so the registry exposes it),
// reads reg's exposition and runs `promtool check metrics` over it: the
// names, suffixes and help texts must follow Prometheus' conventions. It
// fails when promtool is missing unless CHAINWATCH_TEST_ALLOW_SKIP is set
// (make deps installs Debian's prometheus package, which has it). It
// returns the exposition.
func Lint(t testing.TB, reg *prometheus.Registry, cs ...prometheus.Collector) string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool not found: install Debian's prometheus package (make deps does)")
	}
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		var vals []string
		if m := labelsOf.FindStringSubmatch((<-ch).String()); m != nil && strings.TrimSpace(m[1]) != "" {
			for range strings.Split(m[1], ",") {
				vals = append(vals, "x")
			}
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
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	return body.String()
}
