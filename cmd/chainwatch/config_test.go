package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"writer:\n  batch:\n    max_rows: -1\n", "writer.batch.max_rows"},
		{"kafka:\n  compression: brotli\n", "kafka.compression"},
		{"collector:\n  api_keys: [short]\n", "collector.api_keys[0]"},
		{"clickhouse:\n  database: 'bad-name'\n", "clickhouse.database"},
		{"log_level: loud\n", "log_level"},
		{"kafka:\n  topics: {spans: a, feedback: a}\n", "kafka.topics"},
		{"writer:\n  retry: {initial: 5s, max: 1s}\n", "writer.retry"},
		{"writer:\n  session_timeout: 1s\n", "writer.session_timeout"},
		{"kafka:\n  retention_headroom: 1.5\n", "kafka.retention_headroom"},
		{"kafka:\n  max_buffered_bytes: 1048576\n", "collector.max_body_bytes"}, // a 16 MiB body could never be buffered
		{"collectr:\n  http_addr: x\n", "field collectr not found"},             // typos are errors, not defaults
	} {
		_, err := loadConfig(writeConfig(t, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error naming %s", tc.yaml, err, tc.want)
		}
	}
}

func TestConfigAllErrorsAtOnce(t *testing.T) {
	_, err := loadConfig(writeConfig(t, "writer:\n  batch: {max_rows: -1, max_bytes: -1}\nkafka:\n  partitions: -3\n"))
	for _, want := range []string{"writer.batch.max_rows", "writer.batch.max_bytes", "kafka.partitions"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestConfigDefaultsAndEnv(t *testing.T) {
	t.Setenv("CHAINWATCH_KAFKA_BROKERS", "k1:9092, k2:9092")
	t.Setenv("CHAINWATCH_CLICKHOUSE_PASSWORD", "pw")
	c, err := loadConfig(writeConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "k2:9092" || c.ClickHouse.Password != "pw" {
		t.Fatalf("env not applied: %+v %+v", c.Kafka.Brokers, c.ClickHouse)
	}
	if c.Writer.Batch.MaxRows == 0 || c.Collector.HTTPAddr == "" || c.Local.ClickHouse.TCPPort != DefaultLocalCHTCPPort {
		t.Fatalf("defaults not filled: %+v", c)
	}
}
