package runner

import (
	"math"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigValidateNamesKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"rate", func(c *Config) { c.Sample.Rate = 1.5 }, "sample.rate must be in [0,1]"},
		{"negative rate", func(c *Config) { c.Sample.Rate = -0.1 }, "sample.rate must be in [0,1]"},
		{"override rate", func(c *Config) { c.Sample.Overrides = []Override{{App: "a", Rate: 2}} }, "sample.overrides[0].rate must be in [0,1]"},
		{"override target", func(c *Config) { c.Sample.Overrides = []Override{{Rate: 0.5}} }, "sample.overrides[0] must name an app or a chain"},
		{"guard", func(c *Config) { c.Guards = []string{"pii", "toxicity"} }, `guards: unknown guard "toxicity"`},
		{"reference", func(c *Config) { c.ReferenceMetrics = []string{"meteor"} }, `reference_metrics: unknown metric "meteor"`},
		{"rubric", func(c *Config) { c.Rubric = "vibes" }, "rubric must be one of"},
		{"concurrency", func(c *Config) { c.Concurrency = -1 }, "concurrency must be >= 1"},
		{"judge model", func(c *Config) { c.Judge.BaseURL = "http://localhost:8000/v1" }, "judge.model must be set"},
		{"judge url", func(c *Config) { c.Judge.BaseURL, c.Judge.Model = "localhost:8000", "m" }, "judge.base_url must be an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the zero config (section left out) must be valid: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig invalid: %v", err)
	}
}

// Keys left out keep their defaults; keys set to zero stay zero.
func TestConfigYAMLDefaults(t *testing.T) {
	c := DefaultConfig() // the loader decodes over the defaults
	doc := "sample:\n  rate: 0\n  overrides:\n    - app: support-bot\n      rate: 0.5\njudge:\n  base_url: http://127.0.0.1:8000/v1\n  model: m\n  cache_size: 0\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if c.Sample.Rate != 0 || c.Judge.CacheSize != 0 {
		t.Errorf("explicit zeros lost: rate %v, cache_size %d", c.Sample.Rate, c.Judge.CacheSize)
	}
	if c.Group != DefaultGroup || c.Judge.Timeout == 0 || c.Judge.TokensPerHour == 0 || len(c.Guards) != 3 || c.Sample.ComponentKinds[0] != "llm" {
		t.Errorf("defaults lost: %+v", c)
	}
	if err := c.Validate(); err != nil || !c.JudgeEnabled() {
		t.Errorf("Validate() = %v, judge enabled %v", err, c.JudgeEnabled())
	}
}

func TestSamplerOverridesAndDeterminism(t *testing.T) {
	s := NewSampler(SampleConfig{Rate: 0.1, ComponentKinds: []string{"llm"}, Overrides: []Override{
		{App: "a", Rate: 0.5}, {App: "a", Chain: "c", Rate: 1}, {Chain: "c", Rate: 0}, {App: "off", Rate: 0},
	}})
	for _, tc := range []struct {
		app, chain string
		want       float64
	}{{"a", "c", 1}, {"a", "x", 0.5}, {"b", "c", 0}, {"b", "x", 0.1}, {"off", "c", 0}} {
		if got := s.Rate(tc.app, tc.chain); got != tc.want {
			t.Errorf("Rate(%s, %s) = %v, want %v", tc.app, tc.chain, got, tc.want)
		}
	}
	if !s.Sampled("a", "c", "00") || s.Sampled("off", "x", "00") {
		t.Error("rates 1 and 0 must sample all and nothing")
	}
	if !s.Evaluable("llm", "x") || s.Evaluable("llm", "") || s.Evaluable("tool", "x") {
		t.Error("Evaluable: llm spans with output only")
	}
	// TraceFraction is uniform even over sequential ids: the share below r is r
	// within 4 binomial sd, and it depends on the id alone.
	const n = 20000
	below := 0
	for i := range n {
		id := hex(0) + hex(uint64(i)) // sequential ids: the worst case for a weak hash
		f := TraceFraction(id)
		if f != TraceFraction(id) || f < 0 || f >= 1 {
			t.Fatalf("TraceFraction(%s) = %v", id, f)
		}
		if f < 0.25 {
			below++
		}
	}
	if sd := math.Sqrt(n * 0.25 * 0.75); math.Abs(float64(below)-n*0.25) > 4*sd {
		t.Errorf("%d of %d ids below 0.25, want %v ± %.0f", below, n, n*0.25, 4*sd)
	}
}

func hex(v uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}
