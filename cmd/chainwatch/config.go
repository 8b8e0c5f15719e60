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
	"github.com/chainwatch/chainwatch/internal/config"
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

// DefaultLocalConfig is the local section's defaults.
func DefaultLocalConfig() LocalConfig {
	return LocalConfig{
		DataDir:    DefaultDataDir,
		KafkaPort:  DefaultLocalKafkaPort,
		ClickHouse: chserver.Config{TCPPort: DefaultLocalCHTCPPort, HTTPPort: DefaultLocalCHHTTPPort},
	}
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "local.".
func (c LocalConfig) Validate() error {
	var errs []error
	if c.KafkaPort < 0 || c.KafkaPort > 65535 {
		errs = append(errs, fmt.Errorf("kafka_port must be between 0 and 65535, got %d", c.KafkaPort))
	}
	errs = append(errs, config.Prefix("clickhouse", c.ClickHouse.Validate()), config.Prefix("alertmanager", c.Alertmanager.Validate()))
	return errors.Join(errs...)
}

// defaultConfig is every section's DefaultConfig: what the YAML is decoded
// over, so that a key left out keeps its default and a key written means
// what it says.
func defaultConfig() Config {
	return Config{
		Kafka:      kafka.DefaultConfig(),
		ClickHouse: clickhouse.DefaultConfig(),
		Collector:  collector.DefaultConfig(),
		Writer:     writer.DefaultConfig(),
		Local:      DefaultLocalConfig(),
		LogLevel:   "info",
		Worker:     monitor.DefaultWorkerConfig(),
		Alerting:   sinks.DefaultConfig(),
		Embeddings: embedding.DefaultConfig(),
		Evaluator:  runner.DefaultConfig(),
	}
}

// withDefaults fills what a zero value leaves open (fields derived from
// others, and zeros that take the default; see each section's
// WithDefaults).
func (c Config) withDefaults() Config {
	c.Kafka = c.Kafka.WithDefaults()
	c.ClickHouse = c.ClickHouse.WithDefaults()
	c.Collector = c.Collector.WithDefaults()
	c.Writer = c.Writer.WithDefaults()
	d := DefaultLocalConfig()
	if c.Local.DataDir == "" {
		c.Local.DataDir = d.DataDir
	}
	if c.Local.KafkaPort == 0 {
		c.Local.KafkaPort = d.KafkaPort
	}
	if c.Local.ClickHouse.TCPPort == 0 {
		c.Local.ClickHouse.TCPPort = d.ClickHouse.TCPPort
	}
	if c.Local.ClickHouse.HTTPPort == 0 {
		c.Local.ClickHouse.HTTPPort = d.ClickHouse.HTTPPort
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate joins every section's errors, each prefixed with its section's
// path (config.Prefix): "kafka.partitions must be > 0, got -3".
func (c Config) Validate() error {
	errs := []error{
		config.Prefix("kafka", c.Kafka.Validate()),
		config.Prefix("clickhouse", c.ClickHouse.Validate()),
		config.Prefix("collector", c.Collector.Validate()),
		collector.ValidateLimits(c.Kafka, c.Collector), // spans two sections: names both
		config.Prefix("writer", c.Writer.Validate()),
		config.Prefix("local", c.Local.Validate()),
		config.Prefix("worker", c.Worker.Validate()),
		monitor.Config{Monitors: c.Monitors}.Validate(), // names monitors[i] itself
		config.Prefix("alerting", c.Alerting.Validate()),
		config.Prefix("embeddings", c.Embeddings.Validate()),
		config.Prefix("evaluator", c.Evaluator.Validate()),
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level must be one of debug, info, warn, error; got %q", c.LogLevel))
	}
	return errors.Join(errs...)
}

// removedKeys are keys chainwatch no longer reads, with what replaced them:
// a YAML that still has one is refused with a message naming the new key,
// not a bare "field not found". Secrets are never read from the file.
var removedKeys = []struct{ path, use string }{
	{"clickhouse.password", "the password is not read from the config file: name an environment variable holding it in clickhouse.password_env (or set CHAINWATCH_CLICKHOUSE_PASSWORD)"},
	{"collector.api_keys", "API keys are not read from the config file: name an environment variable holding them (comma-separated) in collector.api_keys_env, or a file holding them (one a line) in collector.api_keys_file (or set CHAINWATCH_COLLECTOR_API_KEYS)"},
	{"embeddings.api_key", "the API key is not read from the config file: name an environment variable holding it in embeddings.api_key_env (default " + embedding.EnvAPIKey + ")"},
	{"evaluator.judge.api_key", "the API key is not read from the config file: name an environment variable holding it in evaluator.judge.api_key_env"},
	{"alerting.backoff_initial", "it is now alerting.retry.initial (retry: {initial, max}, as everywhere)"},
	{"alerting.backoff_max", "it is now alerting.retry.max (retry: {initial, max}, as everywhere)"},
}

// checkRemovedKeys reports every removed key doc sets.
func checkRemovedKeys(doc *yaml.Node) error {
	var errs []error
	for _, k := range removedKeys {
		if n := lookupKey(doc, strings.Split(k.path, ".")); n != nil {
			errs = append(errs, fmt.Errorf("%s (line %d) is no longer read: %s", k.path, n.Line, k.use))
		}
	}
	return errors.Join(errs...)
}

// lookupKey returns the key node at path under the mapping n, or nil.
func lookupKey(n *yaml.Node, path []string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			return n.Content[i]
		}
		return lookupKey(n.Content[i+1], path[1:])
	}
	return nil
}

// readSecrets fills the secrets the *_env and *_file keys name, unless an
// environment override set them already.
func (c *Config) readSecrets() error {
	var errs []error
	if c.ClickHouse.Password == "" {
		pw, err := config.Env("clickhouse.password_env", c.ClickHouse.PasswordEnv)
		c.ClickHouse.Password = pw
		errs = append(errs, err)
	}
	if c.Collector.APIKeys == nil {
		keys, err := c.Collector.ReadAPIKeys()
		c.Collector.APIKeys = keys
		errs = append(errs, config.Prefix("collector", err))
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

// loadConfig reads path (may be empty: all defaults) over the defaults,
// applies the environment, reads the secrets the *_env and *_file keys
// name, and validates. Unknown YAML keys are errors: a typo must not
// silently fall back to a default; a removed key is an error naming its
// replacement.
func loadConfig(path string) (Config, error) {
	c := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return c, fmt.Errorf("parsing config %s: %w", path, err)
		}
		if err := checkRemovedKeys(&doc); err != nil {
			return c, fmt.Errorf("invalid config %s:\n%w", path, err)
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
	secretsErr := c.readSecrets()
	c = c.withDefaults()
	if err := errors.Join(secretsErr, c.Validate()); err != nil {
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
