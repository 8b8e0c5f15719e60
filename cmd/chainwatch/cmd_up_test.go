package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/internal/health"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// A `chainwatch writer` process serves /healthz and /readyz beside
// /metrics: ready once its broker, ClickHouse and group are, 503 naming
// kafka when the broker goes away, /healthz 200 throughout.
func TestWriterProcessServesReadiness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := chainwatchBinary(t)
	cluster, brokers := kafkatest.NewCluster(t)
	addr, db := chtest.Database(t)
	if err := kafka.EnsureTopics(context.Background(), kafka.Config{Brokers: brokers}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "writer", "-metrics-addr", metricsAddr)
	cmd.Env = append(os.Environ(), "CHAINWATCH_KAFKA_BROKERS="+brokers[0], "CHAINWATCH_CLICKHOUSE_ADDR="+addr,
		"CHAINWATCH_CLICKHOUSE_DATABASE="+db, "CHAINWATCH_LOG_LEVEL=error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	get := func(path string) (int, health.Report, string) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + metricsAddr + path)
		if err != nil {
			return 0, health.Report{}, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r health.Report
		_ = json.Unmarshal(b, &r)
		return resp.StatusCode, r, string(b)
	}
	waitFor := func(what string, cond func(int, health.Report) bool) health.Report {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, r, body := get("/readyz")
			if cond(code, r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never %s: %d %s", what, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	r := waitFor("ready", func(code int, r health.Report) bool { return code == 200 && r.Ready })
	names := []string{}
	for _, c := range r.Components {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "kafka,clickhouse,writers" {
		t.Errorf("components %v, want kafka, clickhouse, writers", names)
	}
	if code, _, body := get("/metrics"); code != 200 || !strings.Contains(body, "chainwatch_writer_") {
		t.Errorf("/metrics: %d", code)
	}

	cluster.Close()
	r = waitFor("503 naming kafka", func(code int, r health.Report) bool {
		return code == 503 && len(r.Failing) > 0 && strings.HasPrefix(r.Failing[0], "kafka:")
	})
	t.Logf("broker gone: %v", r.Failing)
	if code, live, _ := get("/healthz"); code != 200 || len(live.Components) != 3 {
		t.Errorf("/healthz %d %+v, want 200 with the components", code, live)
	}
}
