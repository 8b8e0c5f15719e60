package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/grafana/dashboards"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/simulate"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// promPanels are the dashboards' Prometheus panels.
func promPanels() []dashboards.Spec {
	var out []dashboards.Spec
	for _, b := range dashboards.Boards() {
		for _, r := range b.Rows {
			for _, p := range r.Panels {
				if p.PromQL != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// metricNames parses expr and returns the metric names its selectors name.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestPrometheusPanels evaluates every Prometheus panel's query in a real
// Prometheus (Debian's package) scraping a running `chainwatch up` that has
// carried traffic, a rejected request, and a failed insert (the feedback
// table detached for a moment): every metric a panel names must be
// emitted, and every query must return data.
func TestPrometheusPanels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds chainwatch and starts prometheus")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (scripts/install-deps.sh installs Debian's package): %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "chainwatch")
	build := exec.Command("go", "build", "-o", bin, "github.com/chainwatch/chainwatch/cmd/chainwatch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building chainwatch: %v\n%s", err, out)
	}
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	httpPort, kafkaPort, amPort := freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`clickhouse:
  addr: [%q]
  database: %s
collector:
  http_addr: 127.0.0.1:%d
  grpc_addr: "off"
local:
  data_dir: %s
  kafka_port: %d
  alertmanager:
    port: %d
writer:
  batch:
    max_wait: 200ms
log_level: warn
`, addr, db, httpPort, filepath.Join(dir, "data"), kafkaPort, amPort)
	cfgPath := filepath.Join(dir, "chainwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	up := exec.Command(bin, "up", "-config", cfgPath)
	var upOut bytes.Buffer
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		up.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { up.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			up.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("chainwatch up:\n%s", upOut.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitFor(t, "chainwatch up ready", 90*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// Prometheus scraping the collector's /metrics every second.
	promPort := freePort(t)
	promCfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: chainwatch\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", httpPort)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	var promOut bytes.Buffer
	prom.Stdout, prom.Stderr = &promOut, &promOut
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Kill()
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", tail(promOut.String(), 3000))
		}
	})
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)

	// Traffic: simulated traces and feedback, a malformed request (a
	// rejection), a poison record on the spans topic (a dead letter), and
	// feedback while its table is detached (insert errors).
	gen, err := simulate.NewGenerator(simulate.DefaultTraffic())
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, ct string, body []byte) int {
		resp, err := http.Post(base+path, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	send := func(n int) {
		for i := 0; i < n; i++ {
			body, _ := proto.Marshal(gen.Request(time.Now(), 20))
			if code := post("/v1/traces", "application/x-protobuf", body); code != 200 {
				t.Fatalf("traces: status %d", code)
			}
		}
	}
	send(10)
	if code := post("/v1/traces", "application/x-protobuf", []byte("not protobuf")); code != 400 {
		t.Fatalf("malformed request: status %d, want 400", code)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", kafkaPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: kafka.DefaultSpansTopic, Key: []byte("poison"), Value: []byte("not a span record")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := conn.Exec(ctx, "DETACH TABLE feedback"); err != nil {
		t.Fatal(err)
	}
	fb := `{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1}]}`
	if code := post("/v1/feedback", "application/json", []byte(fb)); code != 200 {
		t.Fatalf("feedback: status %d", code)
	}
	waitFor(t, "an insert error counted", 60*time.Second, func() bool {
		return strings.Contains(scrape(t, base), "chainwatch_writer_insert_errors_total{")
	})
	if err := conn.Exec(ctx, "ATTACH TABLE feedback"); err != nil {
		t.Fatal(err)
	}

	// Every panel's metrics exist, then every query returns data (rate
	// needs two scrapes; the monitors run every 30 s).
	panels := promPanels()
	if len(panels) < 10 {
		t.Fatalf("only %d Prometheus panels", len(panels))
	}
	pending := map[string]string{}
	for _, p := range panels {
		pending[p.Title] = p.PromQL
	}
	deadline := time.Now().Add(120 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) {
		send(2)
		for title, expr := range pending {
			if n := promQuery(t, promURL, expr); n > 0 {
				delete(pending, title)
			}
		}
		time.Sleep(time.Second)
	}
	var missing []string
	for title, expr := range pending {
		var absent []string
		for _, name := range metricNames(t, expr) {
			if promQuery(t, promURL, "count({__name__="+fmt.Sprintf("%q", name)+"})") == 0 {
				absent = append(absent, name)
			}
		}
		missing = append(missing, fmt.Sprintf("%q: %s returned no data (metrics never emitted: %v)", title, expr, absent))
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Error(m)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func scrape(t *testing.T, base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// promQuery evaluates expr now and returns the number of series.
func promQuery(t *testing.T, promURL, expr string) int {
	t.Helper()
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0 // not up yet
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if r.Status != "success" {
		t.Fatalf("%s: %s", expr, r.Error)
	}
	n := 0
	for _, s := range r.Data.Result {
		// A NaN quantile (no observations in the window) is no data.
		if !strings.Contains(string(s), `"NaN"`) {
			n++
		}
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
