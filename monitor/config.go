// Package monitor runs chainwatch's monitors: on a schedule, it reads a
// current window of spans and a reference (an earlier production window:
// drift; an evaluation dataset version: skew) from ClickHouse, derives a
// feature from both, runs a detector, records the verdict in
// detector_results, exports it as Prometheus gauges and raises or resolves
// an alert.
package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/detectors"
	"github.com/chainwatch/chainwatch/sinks"
)

// Defaults of a monitor.
const (
	DefaultSchedule   = time.Minute
	DefaultWindow     = 10 * time.Minute
	DefaultMinSamples = 30
	DefaultSeverity   = "warning"
	// DefaultMaxSamples caps each window: larger windows are subsampled
	// (seeded), which bounds a run's time and memory.
	DefaultMaxSamples = 2000
)

// Config is the monitors section of the configuration file.
type Config struct {
	Monitors []Monitor `yaml:"monitors"`
	// GrafanaURL, when set, is linked from alerts (generatorURL) with the
	// monitor's name as a variable.
	GrafanaURL string `yaml:"grafana_url"`
}

// Monitor is one check: which spans (Selector), which Feature, compared
// with which Reference, over which Current window, by which Detector, how
// often, and how to route its alert.
type Monitor struct {
	Name      string            `yaml:"name"`
	Selector  Selector          `yaml:"selector"`
	Feature   string            `yaml:"feature"`
	Reference Reference         `yaml:"reference"`
	Current   Window            `yaml:"current"`
	Detector  string            `yaml:"detector"`
	Params    map[string]string `yaml:"params"`
	Schedule  time.Duration     `yaml:"schedule"`
	Severity  string            `yaml:"severity"`
	Labels    map[string]string `yaml:"labels"`
	MinRef    int               `yaml:"min_ref"`
	MinCur    int               `yaml:"min_cur"`
	// MaxSamples caps each window (subsampled, seeded); 0: DefaultMaxSamples.
	MaxSamples int `yaml:"max_samples"`
	// Score names the evaluation series of feature eval_score.
	Score ScoreSeries `yaml:"score"`
	// For is how many consecutive runs must find drift before the alert
	// fires (as Prometheus' `for:`); 0 or 1 fires on the first. Higher
	// values trade detection delay (For − 1 schedules) for fewer false
	// alarms: at level p_val, independent windows fire by chance with
	// probability about p_val^For.
	For int `yaml:"for"`
}

// ScoreSeries picks one evaluator's metric in eval_scores.
type ScoreSeries struct {
	Evaluator string `yaml:"evaluator"`
	Metric    string `yaml:"metric"`
}

// Selector picks spans. Empty fields match everything; ComponentKind
// defaults to "llm" (the spans that carry the model's input and output).
type Selector struct {
	App           string `yaml:"app"`
	Environment   string `yaml:"environment"`
	Chain         string `yaml:"chain"`
	ChainVersion  string `yaml:"chain_version"`
	Component     string `yaml:"component"`
	ComponentKind string `yaml:"component_kind"`
}

// Reference is what the current window is compared with: exactly one of
// Dataset ("name" for its latest version, or "name@version": skew) or a
// production window (drift): Trailing (the Size before the current window,
// ending Offset earlier) or fixed From–To.
type Reference struct {
	Dataset string        `yaml:"dataset"`
	Size    time.Duration `yaml:"size"`   // trailing window length (default: the current window's)
	Offset  time.Duration `yaml:"offset"` // gap between the trailing reference and the current window
	From    time.Time     `yaml:"from"`   // fixed window (RFC 3339)
	To      time.Time     `yaml:"to"`
}

// Window is the current window: the last Size before each tick, or the
// last Count spans before it when Count is set.
type Window struct {
	Size  time.Duration `yaml:"size"`
	Count int           `yaml:"count"`
}

// Kind is "skew" for a dataset reference, "drift" otherwise.
func (r Reference) Kind() string {
	if r.Dataset != "" {
		return "skew"
	}
	return "drift"
}

// DatasetRef splits "name@version" (version 0: latest).
func (r Reference) DatasetRef() (name string, version uint32, err error) {
	name, v, ok := strings.Cut(r.Dataset, "@")
	if !ok {
		return name, 0, nil
	}
	var n uint64
	if _, err := fmt.Sscan(v, &n); err != nil || n == 0 || n > 1<<32-1 {
		return name, 0, fmt.Errorf("version %q is not a positive integer", v)
	}
	return name, uint32(n), nil
}

// withDefaults fills the defaults of one monitor.
func (m Monitor) withDefaults() Monitor {
	if m.Schedule == 0 {
		m.Schedule = DefaultSchedule
	}
	if m.Current.Size == 0 && m.Current.Count == 0 {
		m.Current.Size = DefaultWindow
	}
	if m.Reference.Dataset == "" && m.Reference.From.IsZero() && m.Reference.Size == 0 {
		m.Reference.Size = m.Current.Size
		if m.Reference.Size == 0 {
			m.Reference.Size = DefaultWindow
		}
	}
	if m.Severity == "" {
		m.Severity = DefaultSeverity
	}
	if m.MinRef == 0 {
		m.MinRef = DefaultMinSamples
	}
	if m.MinCur == 0 {
		m.MinCur = DefaultMinSamples
	}
	if m.MaxSamples == 0 {
		m.MaxSamples = DefaultMaxSamples
	}
	if m.Selector.ComponentKind == "" {
		m.Selector.ComponentKind = "llm"
	}
	if m.Params == nil {
		m.Params = map[string]string{}
	}
	return m
}

// WithDefaults returns the config with every monitor's defaults filled in.
func (c Config) WithDefaults() Config {
	out := c
	out.Monitors = make([]Monitor, len(c.Monitors))
	for i, m := range c.Monitors {
		out.Monitors[i] = m.withDefaults()
	}
	return out
}

// Validate reports every invalid field, naming it by its YAML path
// (monitors[2].feature).
func (c Config) Validate() error {
	var errs []error
	seen := map[string]int{}
	for i, m := range c.Monitors {
		at := fmt.Sprintf("monitors[%d]", i)
		if m.Name != "" {
			at = fmt.Sprintf("monitors[%d] (%s)", i, m.Name)
		}
		errs = append(errs, m.validate(at))
		if j, dup := seen[m.Name]; dup && m.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: %q is also the name of monitors[%d]", at, m.Name, j))
		}
		seen[m.Name] = i
	}
	return errors.Join(errs...)
}

func (m Monitor) validate(at string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", at, field, fmt.Sprintf(format, args...)))
	}
	if m.Name == "" {
		bad("name", "is required")
	} else if strings.ContainsAny(m.Name, " \t\n\"'`") {
		bad("name", "%q: no spaces or quotes", m.Name)
	}
	f, ok := features[m.Feature]
	if !ok {
		bad("feature", "%q is not one of %s", m.Feature, strings.Join(FeatureNames(), ", "))
	}
	if _, known := detectors.Lookup(m.Detector); m.Detector == "" {
		bad("detector", "is required")
	} else if !known {
		bad("detector", "%q is not a detector; one of %s", m.Detector, strings.Join(detectors.Names(), ", "))
	} else if ok && !slices.Contains(f.kind.detectors(), m.Detector) {
		bad("detector", "%q does not apply to %s feature %q; one of %s", m.Detector, f.kind, m.Feature, strings.Join(f.kind.detectors(), ", "))
	}
	if ok && m.Detector != "" {
		if err := checkParams(m.Detector, m.Params); err != nil {
			bad("params", "%v", err)
		}
	}
	if ok && f.source != fromSpans && m.Current.Count > 0 {
		bad("current.count", "feature %q needs a time window (current.size)", m.Feature)
	}
	if m.Feature == "eval_score" && (m.Score.Evaluator == "" || m.Score.Metric == "") {
		bad("score", "feature eval_score needs score.evaluator and score.metric")
	}
	if m.Feature != "eval_score" && m.Score != (ScoreSeries{}) {
		bad("score", "is only for feature eval_score")
	}
	r := m.Reference
	modes := 0
	if r.Dataset != "" {
		modes++
		if _, _, err := r.DatasetRef(); err != nil {
			bad("reference.dataset", "%v", err)
		}
		if ok && !f.fromDataset {
			bad("reference.dataset", "feature %q does not exist in datasets (they have texts only)", m.Feature)
		}
	}
	if !r.From.IsZero() || !r.To.IsZero() {
		modes++
		if !r.To.After(r.From) {
			bad("reference.to", "must be after reference.from (%s), got %s", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
		}
	}
	if r.Size < 0 {
		bad("reference.size", "must be ≥ 0, got %v", r.Size)
	}
	if r.Offset < 0 {
		bad("reference.offset", "must be ≥ 0, got %v", r.Offset)
	}
	if r.Size > 0 && modes > 0 {
		modes++
	}
	if modes > 1 {
		bad("reference", "set one of dataset, from/to, or size (trailing window)")
	}
	if m.Current.Size < 0 {
		bad("current.size", "must be ≥ 0, got %v", m.Current.Size)
	}
	if m.Current.Count < 0 {
		bad("current.count", "must be ≥ 0, got %d", m.Current.Count)
	}
	if m.Current.Size > 0 && m.Current.Count > 0 {
		bad("current", "set size or count, not both; got size %v and count %d", m.Current.Size, m.Current.Count)
	}
	if m.Schedule < 0 || (m.Schedule > 0 && m.Schedule < time.Second) {
		bad("schedule", "must be ≥ 1s, got %v", m.Schedule)
	}
	if m.For < 0 {
		bad("for", "must be ≥ 0, got %d", m.For)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"min_ref", m.MinRef}, {"min_cur", m.MinCur}, {"max_samples", m.MaxSamples}} {
		if f.n < 0 {
			bad(f.key, "must be ≥ 0, got %d", f.n)
		}
	}
	if m.MaxSamples > 0 && (m.MaxSamples < m.MinRef || m.MaxSamples < m.MinCur) {
		bad("max_samples", "%d is below min_ref/min_cur", m.MaxSamples)
	}
	switch m.Severity {
	case "", "info", "warning", "critical", "page":
	default:
		bad("severity", "%q is not one of info, warning, critical, page", m.Severity)
	}
	for k := range m.Labels {
		if reservedLabels[k] {
			bad("labels."+k, "is set by chainwatch")
		} else if !sinks.ValidLabelName(k) {
			bad("labels."+k, "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")
		}
	}
	return errors.Join(errs...)
}

// reservedLabels are the alert labels chainwatch sets itself.
var reservedLabels = map[string]bool{"alertname": true, "app": true, "chain": true, "monitor": true,
	"feature": true, "detector": true, "severity": true, "kind": true}

// Version identifies a monitor's configuration: a short hash of its
// defaults-filled YAML. It is stored with every result, so a change of
// parameters is visible in the history.
func (m Monitor) Version() string {
	b, _ := yaml.Marshal(m.withDefaults())
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// ParseConfig reads a monitors file (unknown keys are errors), fills the
// defaults and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parsing monitors: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c.WithDefaults(), nil
}
