package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/amserver"
	"github.com/chainwatch/chainwatch/local/chserver"
	"github.com/chainwatch/chainwatch/monitor"
	"github.com/chainwatch/chainwatch/sinks"
)

// Config is the whole process configuration: one YAML file, then
// environment overrides (envOverrides), then defaults.
type Config struct {
	Kafka      kafka.Config      `yaml:"kafka"`
	ClickHouse clickhouse.Config `yaml:"clickhouse"`
	Collector  collector.Config  `yaml:"collector"`
	Writer     writer.Config     `yaml:"writer"`
	Local      LocalConfig       `yaml:"local"`
	LogLevel   string            `yaml:"log_level"`
	// Worker, Monitors, Alerting and Embeddings drive `chainwatch worker`
	// (and the worker inside `chainwatch up`). With no monitors, the
	// worker runs monitor.DefaultMonitors.
	Worker     monitor.WorkerConfig `yaml:"worker"`
	Monitors   []monitor.Monitor    `yaml:"monitors"`
	Alerting   sinks.Config         `yaml:"alerting"`
	Embeddings embedding.Config     `yaml:"embeddings"`
	// Evaluator drives `chainwatch evaluator` (continuous evaluation).
	Evaluator runner.Config `yaml:"evaluator"`
}

// LocalConfig shapes the embedded default of `chainwatch up`: what it starts
// when kafka.brokers or clickhouse.addr are empty.
type LocalConfig struct {
	DataDir    string          `yaml:"data_dir"`   // default .chainwatch
	KafkaPort  int             `yaml:"kafka_port"` // in-process broker; default 19092
	ClickHouse chserver.Config `yaml:"clickhouse"`
	// Alertmanager is started by `chainwatch up` when
	// prometheus-alertmanager is on PATH and alerting.alertmanager.urls is
	// empty.
	Alertmanager amserver.Config `yaml:"alertmanager"`
}

// Defaults of the embedded mode.
const (
	DefaultDataDir         = ".chainwatch"
	DefaultLocalKafkaPort  = 19092
	DefaultLocalCHTCPPort  = 19000
	DefaultLocalCHHTTPPort = 18123
)

func (c Config) withDefaults() Config {
	c.Kafka = c.Kafka.WithDefaults()
	c.ClickHouse = c.ClickHouse.WithDefaults()
	c.Collector = c.Collector.WithDefaults()
	c.Writer = c.Writer.WithDefaults()
	if c.Local.DataDir == "" {
		c.Local.DataDir = DefaultDataDir
	}
	if c.Local.KafkaPort == 0 {
		c.Local.KafkaPort = DefaultLocalKafkaPort
	}
	if c.Local.ClickHouse.TCPPort == 0 {
		c.Local.ClickHouse.TCPPort = DefaultLocalCHTCPPort
	}
	if c.Local.ClickHouse.HTTPPort == 0 {
		c.Local.ClickHouse.HTTPPort = DefaultLocalCHHTTPPort
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate joins every section's errors.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate(), c.ClickHouse.Validate(), c.Collector.Validate(), collector.ValidateLimits(c.Kafka, c.Collector), c.Writer.Validate(), c.Local.ClickHouse.Validate(),
		c.Worker.Validate(), monitor.Config{Monitors: c.Monitors}.Validate(), c.Alerting.Validate(), c.Embeddings.Validate(), c.Evaluator.Validate()}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level must be one of debug, info, warn, error; got %q", c.LogLevel))
	}
	if p := c.Local.Alertmanager.Port; p < 0 || p > 65535 {
		errs = append(errs, errors.New("local.alertmanager.port must be between 0 and 65535"))
	}
	if c.Local.KafkaPort < 0 || c.Local.KafkaPort > 65535 {
		errs = append(errs, errors.New("local.kafka_port must be between 0 and 65535"))
	}
	return errors.Join(errs...)
}

// envOverrides are the settings an operator most often sets per deployment.
var envOverrides = []struct {
	name string
	set  func(*Config, string)
}{
	{"CHAINWATCH_KAFKA_BROKERS", func(c *Config, v string) { c.Kafka.Brokers = splitList(v) }},
	{"CHAINWATCH_CLICKHOUSE_ADDR", func(c *Config, v string) { c.ClickHouse.Addr = splitList(v) }},
	{"CHAINWATCH_CLICKHOUSE_DATABASE", func(c *Config, v string) { c.ClickHouse.Database = v }},
	{"CHAINWATCH_CLICKHOUSE_USERNAME", func(c *Config, v string) { c.ClickHouse.Username = v }},
	{"CHAINWATCH_CLICKHOUSE_PASSWORD", func(c *Config, v string) { c.ClickHouse.Password = v }},
	{"CHAINWATCH_COLLECTOR_HTTP_ADDR", func(c *Config, v string) { c.Collector.HTTPAddr = v }},
	{"CHAINWATCH_COLLECTOR_GRPC_ADDR", func(c *Config, v string) { c.Collector.GRPCAddr = v }},
	{"CHAINWATCH_COLLECTOR_API_KEYS", func(c *Config, v string) { c.Collector.APIKeys = splitList(v) }},
	{"CHAINWATCH_WRITER_INSTANCE_ID", func(c *Config, v string) { c.Writer.InstanceID = v }},
	{"CHAINWATCH_DATA_DIR", func(c *Config, v string) { c.Local.DataDir = v }},
	{"CHAINWATCH_LOG_LEVEL", func(c *Config, v string) { c.LogLevel = v }},
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// loadConfig reads path (may be empty: all defaults), applies the
// environment and validates. Unknown YAML keys are errors: a typo must not
// silently fall back to a default.
func loadConfig(path string) (Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("parsing config %s: %w", path, err)
		}
	}
	for _, o := range envOverrides {
		if v, ok := os.LookupEnv(o.name); ok {
			o.set(&c, v)
		}
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("invalid config:\n%w", err)
	}
	return c, nil
}

// clickHouseOrLocal is clickhouse as configured, or else the local server
// that `chainwatch up` starts: what the one-shot commands (migrate, report)
// talk to.
func (c Config) clickHouseOrLocal() clickhouse.Config {
	chc := c.ClickHouse
	if len(chc.Addr) == 0 {
		chc.Addr = []string{fmt.Sprintf("127.0.0.1:%d", c.Local.ClickHouse.TCPPort)}
	}
	return chc
}
