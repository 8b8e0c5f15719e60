package simulate

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, k := range ShiftKinds {
		cfg := DefaultConfig()
		cfg.Shift.Kind = k
		if err := cfg.Validate(); err != nil {
			t.Errorf("shift %s with default magnitude: %v", k, err)
		}
	}
}

func TestConfigValidateNamesKey(t *testing.T) {
	tests := []struct {
		key    string
		mutate func(*Config)
	}{
		{"simulate.target", func(c *Config) { c.Target = "" }},
		{"simulate.target", func(c *Config) { c.Target = "127.0.0.1:4318" }},
		{"simulate.rate must be > 0", func(c *Config) { c.Rate = 0 }},
		{"simulate.duration", func(c *Config) { c.Duration = -time.Second }},
		{"simulate.batch_interval", func(c *Config) { c.BatchInterval = 0 }},
		{"simulate.progress_interval", func(c *Config) { c.ProgressInterval = -1 }},
		{"simulate.request_timeout", func(c *Config) { c.RequestTimeout = 0 }},
		{"simulate.max_retries", func(c *Config) { c.MaxRetries = -1 }},
		{"simulate.concurrency", func(c *Config) { c.Concurrency = 0 }},
		{"simulate.apps", func(c *Config) { c.Apps = []string{"chatbot"} }},
		{"simulate.environment", func(c *Config) { c.Environment = "" }},
		{"simulate.error_rate", func(c *Config) { c.ErrorRate = 1.5 }},
		{"simulate.feedback_rate", func(c *Config) { c.FeedbackRate = -0.1 }},
		{"simulate.text_bytes", func(c *Config) { c.TextBytes = -1 }},
		{"simulate.shift.kind must be one of none, topic, length, language, error_rate", func(c *Config) { c.Shift.Kind = "drift" }},
		{"simulate.shift.at", func(c *Config) { c.Shift.Kind = ShiftTopic; c.Shift.At = -time.Second }},
		{"simulate.shift.at", func(c *Config) { c.Shift.Kind = ShiftTopic; c.Duration = time.Minute; c.Shift.At = time.Hour }},
		{"simulate.shift.apps", func(c *Config) { c.Shift.Kind = ShiftTopic; c.Shift.Apps = []string{"chatbot"} }},
		{"simulate.shift.apps", func(c *Config) {
			c.Apps = []string{"docs-qa"}
			c.Shift = Shift{Kind: ShiftTopic, Apps: []string{"travel-agent"}}
		}},
		{"simulate.shift.magnitude", func(c *Config) { c.Shift = Shift{Kind: ShiftTopic, Magnitude: 1.5} }},
		{"simulate.shift.magnitude", func(c *Config) { c.Shift = Shift{Kind: ShiftLength, Magnitude: 0.5} }},
		{"simulate.shift.magnitude", func(c *Config) { c.Shift = Shift{Kind: ShiftErrorRate, Magnitude: -0.2} }},
		{"simulate.shift.magnitude", func(c *Config) { c.Shift = Shift{Kind: ShiftNone, Magnitude: 2} }},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		tc.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("want an error naming %q, got %v", tc.key, err)
		}
	}
}

func TestConfigValidateJoinsErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate = -1
	cfg.FeedbackRate = 2
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "simulate.rate") || !strings.Contains(err.Error(), "simulate.feedback_rate") {
		t.Fatalf("want both errors, got %v", err)
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
target: http://collector:4318
api_key: k
rate: 50
duration: 10m
seed: 9
apps: [support-bot, docs-qa]
feedback_rate: 0.1
text_bytes: 1024
shift:
  kind: language
  at: 5m
  apps: [docs-qa]
  magnitude: 0.5
`
	cfg := DefaultConfig()
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Shift{Kind: ShiftLanguage, At: 5 * time.Minute, Apps: []string{"docs-qa"}, Magnitude: 0.5}
	if cfg.Rate != 50 || cfg.Duration != 10*time.Minute || cfg.Seed != 9 || cfg.TextBytes != 1024 ||
		cfg.Shift.Kind != want.Kind || cfg.Shift.At != want.At || cfg.Shift.Magnitude != want.Magnitude ||
		len(cfg.Apps) != 2 || cfg.BatchInterval != DefaultBatchInterval {
		t.Errorf("decoded %+v", cfg)
	}
}
