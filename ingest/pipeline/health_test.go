package pipeline_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/internal/health"
	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/kafka"
)

func getHealth(t *testing.T, url string) (int, health.Report) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r health.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %d %q: %v", url, resp.StatusCode, b, err)
	}
	return resp.StatusCode, r
}

// waitReadyz polls /readyz until it answers want and, when it is 503, names
// a failing component starting with name; it returns that report.
func waitReadyz(t *testing.T, base string, want int, name string, d time.Duration) health.Report {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		code, r := getHealth(t, base+"/readyz")
		if code == want && (want == 200) == r.Ready {
			if want == 200 {
				return r
			}
			for _, f := range r.Failing {
				if strings.HasPrefix(f, name+":") {
					return r
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %+v after %s, want %d (naming %q)", code, r, d, want, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The local ClickHouse killed under `chainwatch up`: /readyz turns 503
// naming clickhouse, /healthz stays 200 and says it is restarting; the
// supervisor brings it back on the same address, /readyz is 200 again, the
// restart is counted, and the spans accepted meanwhile are stored.
func TestLocalClickHouseKilledIsRestarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := pipeline.Start(ctx, pipeline.Options{
		Kafka:     kafka.Config{Partitions: 4},
		Collector: collector.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "off"},
		Writer: writer.Config{Batch: writer.BatchConfig{MaxWait: 200 * time.Millisecond},
			Retry: writer.RetryConfig{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Shutdown(sctx)
	})
	if p.CHServer == nil {
		t.Fatal("no local clickhouse started")
	}
	base := "http://" + p.Collector.HTTPAddr()
	r := waitReadyz(t, base, 200, "", 30*time.Second)
	if len(r.Components) != 3 {
		t.Errorf("/readyz components %+v, want kafka, clickhouse, writers", r.Components)
	}
	if code := send(t, base, traces(41, 100)); code != 200 {
		t.Fatalf("status %d", code)
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 100, 20*time.Second)

	addr, old := p.CHServer.Addr(), p.CHServer.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Accepted while ClickHouse is away: Kafka holds them.
	if code := send(t, base, traces(42, 100)); code != 200 {
		t.Fatalf("status %d during the outage", code)
	}
	if st := p.CHServer.Status(); st.State == supervise.Running && p.CHServer.PID() == old {
		t.Logf("sent before the supervisor saw the exit: %+v", st)
	}
	r = waitReadyz(t, base, 503, "clickhouse", 10*time.Second)
	t.Logf("during the outage: %v", r.Failing)
	// /readyz fails as soon as a ping does; the supervisor records the exit
	// when it reaps the process, which a loaded machine may do a little
	// later: wait for it (while the server is away or restarting).
	var seen bool
	for deadline := time.Now().Add(15 * time.Second); !seen && time.Now().Before(deadline); {
		code, live := getHealth(t, base+"/healthz")
		if code != 200 {
			t.Errorf("/healthz %d during the outage, want 200 (liveness)", code)
		}
		for _, c := range live.Components {
			if c.Name == "clickhouse" && c.LastExit != "" {
				seen = true
				if c.OK && c.Restarts == 0 {
					t.Errorf("/healthz clickhouse component %+v: an exit recorded but OK before any restart", c)
				}
			}
		}
		if !seen {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !seen {
		t.Errorf("/healthz never showed the clickhouse exit")
	}

	r = waitReadyz(t, base, 200, "", 60*time.Second)
	if p.CHServer.Addr() != addr || p.CHServer.PID() == old {
		t.Errorf("after the restart: %s pid %d, was %s pid %d", p.CHServer.Addr(), p.CHServer.PID(), addr, old)
	}
	for _, c := range r.Components {
		if c.Name == "clickhouse" && (c.State != "running" || c.Restarts != 1 || !strings.Contains(c.LastExit, "killed")) {
			t.Errorf("clickhouse component after the restart %+v", c)
		}
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 200, 60*time.Second)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `chainwatch_local_restarts_total{child="clickhouse"} 1`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// /readyz names the broker when it is gone, and /healthz still answers
// 200 within its short budget.
func TestReadyzNamesTheBroker(t *testing.T) {
	p := startPipeline(t, pipeline.Options{})
	base := "http://" + p.Collector.HTTPAddr()
	waitReadyz(t, base, 200, "", 30*time.Second)
	p.Broker.Stop()
	r := waitReadyz(t, base, 503, "kafka", 20*time.Second)
	t.Logf("broker gone: %v", r.Failing)
	start := time.Now()
	if code, _ := getHealth(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz %d with the broker gone, want 200", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("/healthz took %s", d)
	}
}
