package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// The serve wiring: a serving config with a route and a chains folder,
// spans to a broker; the API, /metrics and /healthz answer, and stop
// shuts it all down.
func TestServeWiring(t *testing.T) {
	up := openaitest.NewServer(t)
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers}.WithDefaults()
	if err := kafka.EnsureTopics(t.Context(), kc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "chains"), 0o755)
	os.WriteFile(filepath.Join(dir, "chains", "bot.yaml"), []byte("name: bot\nmodel: small\ntemplate: {user: '{{input}}'}\n"), 0o644)
	path := filepath.Join(dir, "serving.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:0\nroutes:\n  - name: small\n    replicas: [{url: "+up.URL+"}]\nchains: {source: dir, dir: "+filepath.Join(dir, "chains")+"}\n"), 0o644)
	reg := prometheus.NewRegistry()
	stop, addr, err := startServing(t.Context(), Config{}, kc, Config{}.ClickHouse, path, "", reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chain:bot","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Chainwatch-Chain-Version") == "" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	for _, p := range []string{"/metrics", "/healthz"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (p == "/metrics" && !strings.Contains(string(b), "chainwatch_serving_requests_total")) {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after stop")
	}
}
