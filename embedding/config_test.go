package embedding_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  embedding.Config
		want []string // substrings of the error; none: valid
	}{
		{"zero is the lexical default", embedding.Config{}, nil},
		{"openai", embedding.Config{Provider: "openai", BaseURL: "http://gw:8000", Model: "bge"}, nil},
		{"openai without base_url", embedding.Config{Provider: "openai", Model: "bge"}, []string{"base_url is required for provider openai"}},
		{"openai bad url and no model", embedding.Config{Provider: "openai", BaseURL: "gw:8000"}, []string{"base_url must be an http(s) URL", "model is required"}},
		{"unknown provider", embedding.Config{Provider: "bert"}, []string{`provider must be "lexical" or "openai", got "bert"`}},
		{"negatives", embedding.Config{Dim: -1, BatchSize: -1, Concurrency: -2, Timeout: -time.Second, MaxRetries: -1},
			[]string{"dim must be > 0 (0 takes the default), got -1", "batch_size must be > 0", "concurrency must be > 0", "timeout must be > 0", "max_retries must be >= 0, got -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	var cfg embedding.Config
	doc := "provider: openai\nbase_url: http://gw:8000\nmodel: bge\nbatch_size: 16\ntimeout: 5s\nmax_retries: 0\ncache: false\n"
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	if cfg.BatchSize != 16 || cfg.Timeout != 5*time.Second || cfg.MaxRetries != 0 || cfg.CacheEnabled() ||
		cfg.Concurrency != embedding.DefaultConcurrency {
		t.Fatalf("decoded %+v", cfg)
	}
	d := embedding.DefaultConfig().WithDefaults()
	if d.Provider != embedding.ProviderLexical || d.Dim != embedding.DefaultDim || d.MaxRetries != embedding.DefaultMaxRetries || !d.CacheEnabled() {
		t.Fatalf("defaults %+v", d)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	t.Run("cache needs a connection", func(t *testing.T) {
		_, err := embedding.New(embedding.DefaultConfig(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "embeddings.cache") {
			t.Fatalf("want an error naming embeddings.cache, got %v", err)
		}
	})
	t.Run("lexical without cache", func(t *testing.T) {
		e, err := embedding.New(embedding.Config{Dim: 16, Seed: 3, Cache: false}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID() != "lexical-v1/dim=16/seed=3" {
			t.Fatalf("ID %q", e.ID())
		}
	})
	t.Run("openai key from env cached and counted", func(t *testing.T) {
		t.Setenv(embedding.EnvAPIKey, "from-env")
		srv := openaitest.NewServer(t, openaitest.WithAPIKey("from-env"), openaitest.WithDim(4))
		reg := prometheus.NewRegistry()
		cfg := embedding.Config{Provider: "openai", BaseURL: srv.Root, Model: "bge", APIKeyEnv: embedding.EnvAPIKey, MaxRetries: 0, Cache: true}
		e, err := embedding.New(cfg, migrated(t), reg)
		if err != nil {
			t.Fatal(err)
		}
		// A second embedder on the same registry shares the metrics.
		if _, err := embedding.New(cfg, migrated(t), reg); err != nil {
			t.Fatalf("second New on one registry: %v", err)
		}
		for range 2 {
			if _, err := e.Embed(ctx, []string{"a", "b"}); err != nil {
				t.Fatal(err)
			}
		}
		if srv.Embeddings.Count() != 1 {
			t.Fatalf("%d requests, want 1 (the second call is cached)", srv.Embeddings.Count())
		}
		for name, want := range map[string]int{
			"chainwatch_embedding_cache_hits_total":   1,
			"chainwatch_embedding_cache_misses_total": 1,
			"chainwatch_embedding_requests_total":     1,
			"chainwatch_embedding_duration_seconds":   1,
		} {
			if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
				t.Errorf("%s: %d series (err %v), want %d", name, n, err, want)
			}
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chainwatch_embedding_cache_hits_total Texts embedded without calling the provider: found in the ClickHouse cache, or repeated within one call.
# TYPE chainwatch_embedding_cache_hits_total counter
chainwatch_embedding_cache_hits_total{embedder="openai:bge@`+srv.Root+`"} 2
`), "chainwatch_embedding_cache_hits_total"); err != nil {
			t.Error(err)
		}
	})
}
