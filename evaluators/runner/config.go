package runner

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/internal/config"
	"github.com/chainwatch/chainwatch/schemas"
)

// Defaults, named so that docs and code agree.
const (
	DefaultGroup              = "chainwatch-evaluator"
	DefaultSampleRate         = 0.1
	DefaultReferenceAttribute = "chainwatch.reference"
	DefaultRubric             = "quality"
	DefaultConcurrency        = 8
	DefaultBatchMaxRecords    = 256
	DefaultBatchMaxWait       = time.Second
	DefaultRetryInitial       = 200 * time.Millisecond
	DefaultRetryMax           = 10 * time.Second
)

// Guard and reference-metric names accepted by the config.
var (
	GuardNames           = []string{"pii", "injection", "refusal", "json"}
	ReferenceMetricNames = []string{"exact_match", "token_f1", "bleu", "rouge_l", "embedding_cosine"}
	DefaultGuards        = []string{"pii", "injection", "refusal"}
	DefaultReference     = []string{"exact_match", "token_f1", "rouge_l"}
)

// Config configures `chainwatch evaluator` under the YAML key "evaluator".
// The loader decodes the YAML over DefaultConfig: a key left out keeps its
// default; a key present with a zero value means zero (sample.rate: 0
// samples nothing).
type Config struct {
	// Group is the Kafka consumer group, distinct from the writer's.
	Group string `yaml:"group"`
	// ContentWait is how long after a span's end the evaluator waits for
	// the GenAI events (OTLP logs) of a sampled span that has no output
	// text of its own, before reading them from ClickHouse; default 10 s,
	// -1 (any negative) never reads them.
	ContentWait time.Duration `yaml:"content_wait"`
	Sample      SampleConfig  `yaml:"sample"`
	// Guards run on every sampled span: pii, injection, refusal, json.
	Guards []string `yaml:"guards"`
	// JSONSchemaFile, with guard json, checks outputs against this JSON
	// Schema (the subset evaluators/README.md documents), not only for
	// JSON validity.
	JSONSchemaFile string `yaml:"json_schema_file"`
	// ReferenceMetrics run when the span carries ReferenceAttribute:
	// exact_match, token_f1, bleu, rouge_l. Spans without it are skipped by
	// these metrics (nothing is recorded).
	ReferenceMetrics   []string `yaml:"reference_metrics"`
	ReferenceAttribute string   `yaml:"reference_attribute"`
	// Judge is the pointwise LLM judge, on when judge.base_url is set.
	Judge evaluators.JudgeConfig `yaml:"judge"`
	// Rubric is the judge's built-in rubric: quality, correctness,
	// groundedness, helpfulness or safety.
	Rubric string `yaml:"rubric"`
	// Concurrency bounds the spans evaluated at once (and so the judge
	// calls the runner starts; the judge client has its own limit too).
	Concurrency int         `yaml:"concurrency"`
	Batch       BatchConfig `yaml:"batch"`
	Retry       RetryConfig `yaml:"retry"`
}

// SampleConfig says which spans are evaluated.
type SampleConfig struct {
	// Rate is the share of traces evaluated, in [0, 1], unless an override
	// matches. The decision is a hash of the trace id: every span of a
	// sampled trace is evaluated, and a restart samples the same traces.
	Rate      float64    `yaml:"rate"`
	Overrides []Override `yaml:"overrides"`
	// ComponentKinds are the component kinds evaluated (default llm); a
	// span must also have output text.
	ComponentKinds []string `yaml:"component_kinds"`
}

// Override sets the rate of one app, or of one chain of it. The most
// specific match wins (app and chain, then app alone, then chain alone).
type Override struct {
	App   string  `yaml:"app"`
	Chain string  `yaml:"chain"`
	Rate  float64 `yaml:"rate"`
}

// BatchConfig bounds how many records are evaluated between commits.
type BatchConfig struct {
	MaxRecords int           `yaml:"max_records"`
	MaxWait    time.Duration `yaml:"max_wait"`
}

// RetryConfig is the backoff for producing scores while Kafka refuses them:
// the shared retry: {initial, max}.
type RetryConfig = config.Retry

// DefaultConfig returns every default; the judge is off (no base_url).
func DefaultConfig() Config {
	return Config{
		Group:              DefaultGroup,
		Sample:             SampleConfig{Rate: DefaultSampleRate, ComponentKinds: []string{string(schemas.KindLLM)}},
		Guards:             slices.Clone(DefaultGuards),
		ReferenceMetrics:   slices.Clone(DefaultReference),
		ReferenceAttribute: DefaultReferenceAttribute,
		Judge:              evaluators.DefaultJudgeConfig(),
		Rubric:             DefaultRubric,
		Concurrency:        DefaultConcurrency,
		Batch:              BatchConfig{MaxRecords: DefaultBatchMaxRecords, MaxWait: DefaultBatchMaxWait},
		Retry:              RetryConfig{Initial: DefaultRetryInitial, Max: DefaultRetryMax},
	}
}

// WithDefaults fills the fields whose zero value is not meaningful (a
// Config that was never unmarshalled, e.g. the evaluator section left out).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if reflect.ValueOf(c).IsZero() {
		return d // the section was left out
	}
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.Sample.ComponentKinds == nil {
		c.Sample.ComponentKinds = d.Sample.ComponentKinds
	}
	if c.ReferenceAttribute == "" {
		c.ReferenceAttribute = d.ReferenceAttribute
	}
	if c.Rubric == "" {
		c.Rubric = d.Rubric
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Batch.MaxRecords == 0 {
		c.Batch.MaxRecords = d.Batch.MaxRecords
	}
	if c.Batch.MaxWait == 0 {
		c.Batch.MaxWait = d.Batch.MaxWait
	}
	c.Retry = c.Retry.Or(d.Retry)
	j, dj := &c.Judge, d.Judge
	if j.Timeout == 0 {
		j.Timeout = dj.Timeout
	}
	if j.Concurrency == 0 {
		j.Concurrency = dj.Concurrency
	}
	if j.APIKeyEnv == "" {
		j.APIKeyEnv = dj.APIKeyEnv
	}
	return c
}

// JudgeEnabled reports whether the LLM judge runs (judge.base_url is set).
func (c Config) JudgeEnabled() bool { return c.Judge.BaseURL != "" }

// rubrics are the built-in rubrics by name.
var rubrics = map[string]evaluators.Rubric{
	"quality":      evaluators.QualityRubric,
	"correctness":  evaluators.CorrectnessRubric,
	"groundedness": evaluators.GroundednessRubric,
	"helpfulness":  evaluators.HelpfulnessRubric,
	"safety":       evaluators.SafetyRubric,
}

// Validate reports every invalid field of the effective config (defaults
// applied), naming its key relative to the section and the value given;
// the loader adds "evaluator.".
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(c.Sample.Rate >= 0 && c.Sample.Rate <= 1) {
		bad("sample.rate must be in [0,1], got %v", c.Sample.Rate)
	}
	for i, o := range c.Sample.Overrides {
		if o.App == "" && o.Chain == "" {
			bad("sample.overrides[%d] must name an app or a chain, got neither", i)
		}
		if !(o.Rate >= 0 && o.Rate <= 1) {
			bad("sample.overrides[%d].rate must be in [0,1], got %v", i, o.Rate)
		}
	}
	if len(c.Sample.ComponentKinds) == 0 {
		bad("sample.component_kinds must name at least one component kind (e.g. llm), got none")
	}
	for _, g := range c.Guards {
		if !slices.Contains(GuardNames, g) {
			bad("guards: unknown guard %q (want one of %s)", g, strings.Join(GuardNames, ", "))
		}
	}
	if c.JSONSchemaFile != "" && !slices.Contains(c.Guards, "json") {
		bad("json_schema_file is set (%s) but guards does not include json, got %v", c.JSONSchemaFile, c.Guards)
	}
	for _, m := range c.ReferenceMetrics {
		if !slices.Contains(ReferenceMetricNames, m) {
			bad("reference_metrics: unknown metric %q (want one of %s)", m, strings.Join(ReferenceMetricNames, ", "))
		}
	}
	if _, ok := rubrics[c.Rubric]; !ok {
		bad("rubric must be one of quality, correctness, groundedness, helpfulness, safety; got %q", c.Rubric)
	}
	if c.Concurrency < 1 {
		bad("concurrency must be >= 1, got %d", c.Concurrency)
	}
	if c.Batch.MaxRecords < 1 {
		bad("batch.max_records must be > 0, got %d", c.Batch.MaxRecords)
	}
	if c.Batch.MaxWait <= 0 {
		bad("batch.max_wait must be > 0, got %v", c.Batch.MaxWait)
	}
	errs = append(errs, c.Retry.Validate())
	if c.JudgeEnabled() {
		errs = append(errs, config.Prefix("judge", c.Judge.Validate()))
	}
	return errors.Join(errs...)
}
