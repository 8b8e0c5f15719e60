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
	t.Setenv("CW_TEST_SHORT_KEYS", "short")
	for _, tc := range []struct{ yaml, want string }{
		{"writer:\n  batch:\n    max_rows: -1\n", "writer.batch.max_rows"},
		{"kafka:\n  compression: brotli\n", "kafka.compression"},
		{"collector:\n  api_keys_env: CW_TEST_SHORT_KEYS\n", "collector.api_keys_env: api key 1 must be at least 8 characters"},
		{"clickhouse:\n  database: 'bad-name'\n", "clickhouse.database"},
		{"log_level: loud\n", "log_level"},
		{"kafka:\n  topics: {spans: a, feedback: a}\n", "kafka.topics"},
		{"writer:\n  retry: {initial: 5s, max: 1s}\n", "writer.retry"},
		{"writer:\n  session_timeout: 1s\n", "writer.session_timeout"},
		{"writer:\n  inserts: 9\n", "writer.inserts must be between 1 and 8, got 9"},
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

// One bad value in each section: every message names the key's full path
// (the section's, added by the loader) and the value given.
func TestConfigEachSectionNamesPathAndValue(t *testing.T) {
	const doc = `
kafka:
  partitions: -3
clickhouse:
  retention_days: -2
collector:
  max_body_bytes: -7
writer:
  batch: {max_rows: -11}
  retry: {initial: 5s, max: 1s}
local:
  kafka_port: 70000
  clickhouse: {tcp_port: -1}
  alertmanager: {port: 99999}
worker:
  concurrency: -4
monitors:
  - name: m
    feature: output_length
    detector: ks
    for: -2
alerting:
  queue_capacity: -5
  retry: {initial: -1s}
embeddings:
  batch_size: -6
evaluator:
  sample: {rate: 1.5}
  retry: {max: -2s}
  judge: {base_url: "http://127.0.0.1:8000/v1", model: m, concurrency: -8}
log_level: loud
`
	_, err := loadConfig(writeConfig(t, doc))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"kafka.partitions must be > 0, got -3",
		"clickhouse.retention_days must be >= 0, got -2",
		"collector.max_body_bytes must be > 0, got -7",
		"writer.batch.max_rows must be > 0, got -11",
		"writer.retry.initial must be <= retry.max, got initial 5s and max 1s",
		"local.kafka_port must be between 0 and 65535, got 70000",
		"local.clickhouse.tcp_port must be between 0 and 65535, got -1",
		"local.alertmanager.port must be between 0 and 65535, got 99999",
		"worker.concurrency must be > 0, got -4",
		"monitors[0] (m).for: must be ≥ 0, got -2",
		"alerting.queue_capacity must be > 0 (or unset for the default 10000), got -5",
		"alerting.retry.initial must be > 0, got -1s",
		"embeddings.batch_size must be > 0 (0 takes 64), got -6",
		"evaluator.sample.rate must be in [0,1], got 1.5",
		"evaluator.retry.max must be > 0, got -2s",
		"evaluator.judge.concurrency must be >= 1, got -8",
		`log_level must be one of debug, info, warn, error; got "loud"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// Secrets are never read from the file: a YAML that still holds one is
// refused, naming the key that replaced it.
func TestConfigRefusesInlineSecrets(t *testing.T) {
	for _, tc := range []struct{ yaml, old, use string }{
		{"clickhouse:\n  password: hunter22\n", "clickhouse.password (line 2) is no longer read", "clickhouse.password_env"},
		{"collector:\n  api_keys: [secret-key-1]\n", "collector.api_keys (line 2) is no longer read", "collector.api_keys_env"},
		{"embeddings:\n  api_key: sk-123\n", "embeddings.api_key (line 2) is no longer read", "embeddings.api_key_env"},
		{"evaluator:\n  judge:\n    api_key: sk-123\n", "evaluator.judge.api_key (line 3) is no longer read", "evaluator.judge.api_key_env"},
		{"alerting:\n  backoff_initial: 1s\n", "alerting.backoff_initial (line 2) is no longer read", "alerting.retry.initial"},
	} {
		_, err := loadConfig(writeConfig(t, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.old) || !strings.Contains(err.Error(), tc.use) {
			t.Errorf("%q: got %v, want an error naming %s and %s", tc.yaml, err, tc.old, tc.use)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter22") || strings.Contains(err.Error(), "sk-123")) {
			t.Errorf("%q: the error repeats the secret: %v", tc.yaml, err)
		}
	}
}

// The secrets come from the variables and files the *_env and *_file keys
// name; CHAINWATCH_CLICKHOUSE_PASSWORD still wins over password_env.
func TestConfigSecretsFromEnvAndFile(t *testing.T) {
	t.Setenv("CW_TEST_CH_PW", "from-env")
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# collector keys\nsecret-key-1\n\nsecret-key-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(writeConfig(t, "clickhouse:\n  password_env: CW_TEST_CH_PW\ncollector:\n  api_keys_file: "+keys+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClickHouse.Password != "from-env" || len(c.Collector.APIKeys) != 2 || c.Collector.APIKeys[1] != "secret-key-2" {
		t.Fatalf("secrets not read: password %q, keys %q", c.ClickHouse.Password, c.Collector.APIKeys)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_PASSWORD", "override")
	if c, err = loadConfig(writeConfig(t, "clickhouse:\n  password_env: CW_TEST_CH_PW\n")); err != nil || c.ClickHouse.Password != "override" {
		t.Fatalf("CHAINWATCH_CLICKHOUSE_PASSWORD not applied: %q, %v", c.ClickHouse.Password, err)
	}
	_, err = loadConfig(writeConfig(t, "collector:\n  api_keys_env: CW_TEST_UNSET_KEYS\n"))
	if err == nil || !strings.Contains(err.Error(), "collector.api_keys_env names the environment variable CW_TEST_UNSET_KEYS, which is not set") {
		t.Fatalf("unset variable: got %v", err)
	}
}
