package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/internal/tlsfiles"
)

// Defaults of the serving config.
const (
	DefaultListen          = ":8090"
	DefaultAttemptTimeout  = 30 * time.Second // until the first byte of an upstream answer
	DefaultRetries         = 1
	DefaultHealthInterval  = 10 * time.Second
	DefaultHealthPath      = "/models"
	DefaultTokenizer       = "cl100k_base"
	DefaultMaxBodyBytes    = 8 << 20
	DefaultSpanBuffer      = 10000
	DefaultReadyTimeout    = 2 * time.Minute
	DefaultDrainTimeout    = 30 * time.Second
	DefaultLabel           = "production"
	DefaultLabelCacheTTL   = 10 * time.Second
	DefaultMaxContentBytes = 32 << 10
)

// Config is the serving gateway's configuration: a file of its own
// (`chainwatch serve -serving FILE`), reloaded on SIGHUP or when it
// changes; Kafka and ClickHouse come from the main config.
type Config struct {
	Listen string `yaml:"listen"`
	// TLS serves the API over TLS from these files, re-read when they
	// change (internal/tlsfiles); the listener is fixed at start (a reload
	// does not move it).
	TLS tlsfiles.Config `yaml:"tls"`
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Routes are the model routes clients name in "model".
	Routes []RouteConfig `yaml:"routes"`
	// Chains is the folder of chain YAML files served as "chain:NAME".
	Chains ChainsConfig `yaml:"chains"`
	// Keys are the API keys; none configured means the gateway is open
	// (it says so at start).
	Keys []KeyConfig `yaml:"keys"`
	// KeysFile is a YAML file with more keys (a list in Keys' shape).
	KeysFile string `yaml:"keys_file"`
	// SpanBuffer bounds the traces waiting to be produced; when full, new
	// traces are dropped, counted and logged (never the call).
	SpanBuffer int `yaml:"span_buffer"`
	// Tokenizer counts tokens when an upstream reports no usage.
	Tokenizer string `yaml:"tokenizer"`
	// OmitContent leaves the messages out of the spans
	// (gen_ai.input.messages, gen_ai.output.messages): no prompt or answer
	// text reaches Kafka or ClickHouse, and text monitors have nothing to
	// read. Content is captured by default, each side cut at
	// MaxContentBytes.
	OmitContent     bool `yaml:"omit_content"`
	MaxContentBytes int  `yaml:"max_content_bytes"`
	// App and Environment name the resource of the gateway's spans.
	App         string `yaml:"app"`
	Environment string `yaml:"environment"`
}

// ChainsConfig says where chains come from.
type ChainsConfig struct {
	// Source is "clickhouse" (the default: versions pushed with `chainwatch
	// chains push`, labels moved by promote and rollback) or "dir" (the
	// files of Dir as they are, for development), or "none".
	Source string `yaml:"source"`
	Dir    string `yaml:"dir"`
	// DefaultLabel is the label "chain:NAME" resolves (DefaultLabel).
	DefaultLabel string `yaml:"default_label"`
	// CacheTTL is how long a label resolution is used before asking
	// ClickHouse again; the last good one is kept while it is unreachable.
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// RouteConfig is one model route: replicas of an OpenAI-compatible
// upstream, tried in weighted random order, then the fallback routes.
type RouteConfig struct {
	Name string `yaml:"name"`
	// Model is the model name sent upstream (default: Name).
	Model string `yaml:"model"`
	// Provider is the spans' gen_ai.provider.name for this route's
	// upstream (default "openai"; e.g. "vllm", "ollama", "azure.ai.openai").
	Provider string `yaml:"provider"`
	// Timeout bounds each attempt until the upstream's first byte (headers
	// and, for streams, the first event).
	Timeout time.Duration `yaml:"timeout"`
	// IdleTimeout bounds the wait for each next event of a stream once it
	// has begun (default: Timeout): an upstream that stalls mid-stream is a
	// mid-stream failure (an SSE error event), never a hung call.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Retries is how many more replicas of this route are tried after a
	// failed attempt (before the first byte only).
	Retries int `yaml:"retries"`
	// Fallbacks are routes tried, in order, when every attempt here failed.
	Fallbacks []string        `yaml:"fallbacks"`
	Replicas  []ReplicaConfig `yaml:"replicas"`
	Health    HealthConfig    `yaml:"health"`
}

// HealthConfig is a route's active health check: GET URL+Path every
// Interval; a replica failing it gets no traffic until it passes.
type HealthConfig struct {
	Path     string        `yaml:"path"`
	Interval time.Duration `yaml:"interval"`
}

// ReplicaConfig is one upstream: a URL (ending in /v1), or a local model
// server the gateway starts and supervises.
type ReplicaConfig struct {
	URL     string         `yaml:"url"`
	Weight  int            `yaml:"weight"`
	APIKey  string         `yaml:"api_key_env"` // name of the environment variable holding the upstream's key
	Process *ProcessConfig `yaml:"process"`
}

// ProcessConfig is a supervised model-server process.
type ProcessConfig struct {
	// Command is the program and its arguments; "${PORT}" in any of them
	// is replaced by the port the gateway picked.
	Command []string          `yaml:"command"`
	Env     map[string]string `yaml:"env"`
	// GPUs lists the GPU indices this replica gets (CUDA_VISIBLE_DEVICES);
	// two replicas never share a GPU unless SharedGPU is set.
	GPUs      []int `yaml:"gpus"`
	SharedGPU bool  `yaml:"shared_gpu"`
	// ReadyPath is polled (GET) until it answers 2xx.
	ReadyPath    string        `yaml:"ready_path"`
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// KeyConfig is one API key, stored as the SHA-256 of the key (hex).
type KeyConfig struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	// Chains and Routes it may call; empty allows none of that kind,
	// ["*"] allows all.
	Chains []string `yaml:"chains"`
	Routes []string `yaml:"routes"`
	// RPM and TPM limit requests and tokens per minute (0: no limit).
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
	// BudgetTokens caps the tokens the key may use over the gateway's
	// lifetime (0: no budget).
	BudgetTokens int64 `yaml:"budget_tokens"`
}

// HashKey is the stored form of an API key.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// DefaultConfig is the config with every default set.
func DefaultConfig() Config {
	return Config{
		Listen:          DefaultListen,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		SpanBuffer:      DefaultSpanBuffer,
		Tokenizer:       DefaultTokenizer,
		MaxContentBytes: DefaultMaxContentBytes,
		App:             "chainwatch-serving",
		Chains:          ChainsConfig{DefaultLabel: DefaultLabel, CacheTTL: DefaultLabelCacheTTL},
	}
}

// LoadConfig reads a serving config file over the defaults, fills the
// routes' defaults, reads the keys file and validates.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading serving config: %w", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parsing serving config %s: %w", path, err)
	}
	if c.KeysFile != "" {
		kb, err := os.ReadFile(c.KeysFile)
		if err != nil {
			return c, fmt.Errorf("reading keys_file: %w", err)
		}
		var more []KeyConfig
		if err := yaml.Unmarshal(kb, &more); err != nil {
			return c, fmt.Errorf("parsing keys_file %s: %w", c.KeysFile, err)
		}
		c.Keys = append(c.Keys, more...)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("serving config %s: %w", path, err)
	}
	return c, nil
}

// WithDefaults fills the per-route and per-replica zero fields.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.SpanBuffer == 0 {
		c.SpanBuffer = d.SpanBuffer
	}
	if c.Tokenizer == "" {
		c.Tokenizer = d.Tokenizer
	}
	if c.MaxContentBytes == 0 {
		c.MaxContentBytes = d.MaxContentBytes
	}
	if c.Chains.Source == "" {
		c.Chains.Source = "clickhouse"
	}
	if c.Chains.DefaultLabel == "" {
		c.Chains.DefaultLabel = DefaultLabel
	}
	if c.Chains.CacheTTL == 0 {
		c.Chains.CacheTTL = DefaultLabelCacheTTL
	}
	routes := make([]RouteConfig, len(c.Routes))
	for i, r := range c.Routes {
		if r.Model == "" {
			r.Model = r.Name
		}
		if r.Provider == "" {
			r.Provider = "openai"
		}
		if r.Timeout == 0 {
			r.Timeout = DefaultAttemptTimeout
		}
		if r.IdleTimeout == 0 {
			r.IdleTimeout = r.Timeout
		}
		if r.Health.Path == "" {
			r.Health.Path = DefaultHealthPath
		}
		if r.Health.Interval == 0 {
			r.Health.Interval = DefaultHealthInterval
		}
		reps := make([]ReplicaConfig, len(r.Replicas))
		for j, rep := range r.Replicas {
			if rep.Weight == 0 {
				rep.Weight = 1
			}
			if p := rep.Process; p != nil {
				pc := *p
				if pc.ReadyTimeout == 0 {
					pc.ReadyTimeout = DefaultReadyTimeout
				}
				if pc.DrainTimeout == 0 {
					pc.DrainTimeout = DefaultDrainTimeout
				}
				if pc.ReadyPath == "" {
					pc.ReadyPath = "/v1/models"
				}
				rep.Process = &pc
			}
			reps[j] = rep
		}
		r.Replicas = reps
		routes[i] = r
	}
	c.Routes = routes
	return c
}

// Validate names every bad key, relative to the serving config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := c.TLS.Validate(); err != nil {
		bad("tls: %v", err)
	}
	if c.MaxBodyBytes <= 0 {
		bad("max_body_bytes must be > 0, got %d", c.MaxBodyBytes)
	}
	if c.SpanBuffer <= 0 {
		bad("span_buffer must be > 0, got %d", c.SpanBuffer)
	}
	if c.MaxContentBytes < 0 {
		bad("max_content_bytes must be > 0 (or left out for %d), got %d", DefaultMaxContentBytes, c.MaxContentBytes)
	}
	names := map[string]bool{}
	gpus := map[int]string{}
	for i, r := range c.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			bad("%s.name is required", at)
		case strings.HasPrefix(r.Name, ChainPrefix):
			bad("%s.name %q must not start with %q (that names a chain)", at, r.Name, ChainPrefix)
		case names[r.Name]:
			bad("%s.name %q is used twice", at, r.Name)
		}
		names[r.Name] = true
		if r.Timeout < 0 || r.IdleTimeout < 0 {
			bad("%s.timeout and idle_timeout must be >= 0, got %v and %v", at, r.Timeout, r.IdleTimeout)
		}
		if r.Retries < 0 {
			bad("%s.retries must be >= 0, got %d", at, r.Retries)
		}
		if len(r.Replicas) == 0 {
			bad("%s.replicas: a route needs at least one replica", at)
		}
		for j, rep := range r.Replicas {
			rat := fmt.Sprintf("%s.replicas[%d]", at, j)
			if rep.Weight < 0 {
				bad("%s.weight must be >= 0, got %d", rat, rep.Weight)
			}
			switch {
			case rep.URL != "" && rep.Process != nil:
				bad("%s: give url or process, not both", rat)
			case rep.URL == "" && rep.Process == nil:
				bad("%s: url or process is required", rat)
			case rep.URL != "":
				u, err := url.Parse(rep.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					bad("%s.url must be an http(s) URL with a host, got %q", rat, rep.URL)
				}
			default:
				p := rep.Process
				if len(p.Command) == 0 {
					bad("%s.process.command is required", rat)
				}
				for _, g := range p.GPUs {
					if g < 0 {
						bad("%s.process.gpus: GPU index must be >= 0, got %d", rat, g)
					}
					if other, ok := gpus[g]; ok && !p.SharedGPU {
						bad("%s.process.gpus: GPU %d is already given to %s (set shared_gpu: true to share it)", rat, g, other)
					}
					gpus[g] = rat
				}
			}
		}
	}
	for i, r := range c.Routes {
		for _, f := range r.Fallbacks {
			if !names[f] {
				bad("routes[%d].fallbacks: unknown route %q", i, f)
			}
			if f == r.Name {
				bad("routes[%d].fallbacks: a route cannot fall back to itself", i)
			}
		}
	}
	seen := map[string]bool{}
	for i, k := range c.Keys {
		at := fmt.Sprintf("keys[%d]", i)
		if k.Name == "" {
			bad("%s.name is required", at)
		}
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != sha256.Size {
			bad("%s.sha256 must be 64 hex digits (the SHA-256 of the key; `chainwatch chains hash-key` prints it)", at)
		}
		if seen[strings.ToLower(k.SHA256)] {
			bad("%s: the same key hash is listed twice", at)
		}
		seen[strings.ToLower(k.SHA256)] = true
		if k.RPM < 0 || k.TPM < 0 || k.BudgetTokens < 0 {
			bad("%s: rpm, tpm and budget_tokens must be >= 0", at)
		}
	}
	switch c.Chains.Source {
	case "", "clickhouse", "none":
	case "dir":
		if c.Chains.Dir == "" {
			bad("chains.dir is required with chains.source: dir")
		}
	default:
		bad("chains.source must be clickhouse, dir or none, got %q", c.Chains.Source)
	}
	if c.Chains.CacheTTL < 0 {
		bad("chains.cache_ttl must be >= 0, got %v", c.Chains.CacheTTL)
	}
	return errors.Join(errs...)
}
