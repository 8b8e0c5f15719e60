package pipeline

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
)

// The alert rules users adopt (docs/alerts.rules.yml) pass Prometheus' own
// checker and unit tests, and name only series this package emits — a rule
// over a metric nothing exports would never fire.
func TestAlertRules(t *testing.T) {
	reg := prometheus.NewRegistry()
	cm, wm, em := collector.NewMetrics(reg), writer.NewMetrics(reg), runner.NewMetrics(reg)
	em.Evaluations.WithLabelValues("judge", "ok").Add(0)
	wm.Expired.WithLabelValues("t").Add(0) // vectors appear once they have a child
	cm.UnstoredShare.WithLabelValues("t", "0").Set(0)
	wm.InsertErrors.WithLabelValues("spans", "retryable").Add(0)
	wm.DeadLetters.WithLabelValues("t", "invalid").Add(0)
	wm.ConsumerLag.WithLabelValues("t", "0").Set(0)
	wm.RowsWritten.WithLabelValues("spans").Add(0)
	wm.InsertSeconds.WithLabelValues("spans").Observe(0)
	cm.Rejected.WithLabelValues("traces", "bad_request").Add(0)
	cm.Received.WithLabelValues("traces").Add(0)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	rules, err := os.ReadFile("../../docs/alerts.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The monitor worker's series are declared in monitor/worker.go (its
	// constructor is unexported): a name must be declared there.
	monitorSrc, err := os.ReadFile("../../monitor/worker.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`chainwatch_[a-z_]+`).FindAllString(string(rules), -1) {
		if rest, ok := strings.CutPrefix(name, "chainwatch_monitor_"); ok && strings.Contains(string(monitorSrc), `Subsystem: "monitor", Name: "`+rest+`"`) {
			continue
		}
		if !have[name] {
			t.Errorf("docs/alerts.rules.yml names %s, which the collector, writer, evaluator and monitor metrics do not register", name)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool not found: install Debian's prometheus package (make deps does)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.rules.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../docs"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
