package simulate

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ShiftKind names one explicit, documented change of the simulated traffic.
type ShiftKind string

// Shift kinds. What Shift.Magnitude means depends on the kind; a Magnitude of
// 0 takes the kind's default.
const (
	// ShiftNone: the traffic never changes.
	ShiftNone ShiftKind = "none"
	// ShiftTopic: a share Magnitude (0 < m ≤ 1, default DefaultTopicShare) of
	// the affected apps' traces moves to topics that never occur before the
	// shift ("novel" topics, e.g. account deletion for the support bot).
	ShiftTopic ShiftKind = "topic"
	// ShiftLength: prompts and answers become Magnitude times longer
	// (m > 1, default DefaultLengthFactor) by extra sentences on the same
	// topic in the same language.
	ShiftLength ShiftKind = "length"
	// ShiftLanguage: a share Magnitude (0 < m ≤ 1, default
	// DefaultLanguageShare) of the affected apps' traces switches from English
	// to the app's second language (Spanish, German or French); prompts and
	// answers both switch.
	ShiftLanguage ShiftKind = "language"
	// ShiftErrorRate: the error rate becomes Magnitude (0 < m ≤ 1, default
	// DefaultShiftErrorRate) instead of Traffic.ErrorRate.
	ShiftErrorRate ShiftKind = "error_rate"
)

// ShiftKinds lists every kind in the order the docs and messages use.
var ShiftKinds = []ShiftKind{ShiftNone, ShiftTopic, ShiftLength, ShiftLanguage, ShiftErrorRate}

// Defaults. DefaultConfig returns a Config holding them.
const (
	DefaultTarget           = "http://127.0.0.1:4318"
	DefaultRate             = 10.0 // traces per second
	DefaultSeed             = 1
	DefaultEnvironment      = "demo"
	DefaultErrorRate        = 0.02
	DefaultFeedbackRate     = 0.05
	DefaultBatchInterval    = 100 * time.Millisecond
	DefaultProgressInterval = 5 * time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMaxRetries       = 5
	DefaultConcurrency      = 2

	DefaultTopicShare     = 0.6  // ShiftTopic
	DefaultLengthFactor   = 4.0  // ShiftLength
	DefaultLanguageShare  = 1.0  // ShiftLanguage
	DefaultShiftErrorRate = 0.25 // ShiftErrorRate

	// MaxTextBytes bounds Traffic.TextBytes.
	MaxTextBytes = 1 << 20
)

// Shift is the one change of the traffic a run makes, At after its start.
type Shift struct {
	Kind ShiftKind `yaml:"kind"`
	// At is the offset from the start of the run at which the shift begins.
	At time.Duration `yaml:"at"`
	// Apps are the apps the shift applies to; empty means all.
	Apps []string `yaml:"apps"`
	// Magnitude is documented per kind (see the ShiftKind constants);
	// 0 means the kind's default.
	Magnitude float64 `yaml:"magnitude"`
}

// EffectiveMagnitude is Magnitude, or the kind's default when it is 0.
func (s Shift) EffectiveMagnitude() float64 {
	if s.Magnitude != 0 {
		return s.Magnitude
	}
	switch s.Kind {
	case ShiftTopic:
		return DefaultTopicShare
	case ShiftLength:
		return DefaultLengthFactor
	case ShiftLanguage:
		return DefaultLanguageShare
	case ShiftErrorRate:
		return DefaultShiftErrorRate
	}
	return 0
}

// Traffic is what the Generator makes: which apps, how often they fail, how
// long their texts are, how often users leave feedback and the shift.
type Traffic struct {
	Seed uint64 `yaml:"seed"`
	// Apps selects apps by name (see AppNames); empty means all.
	Apps        []string `yaml:"apps"`
	Environment string   `yaml:"environment"`
	// ErrorRate is the share of traces that fail before any shift.
	ErrorRate float64 `yaml:"error_rate"`
	// FeedbackRate is the share of traces that get a user feedback record.
	FeedbackRate float64 `yaml:"feedback_rate"`
	// TextBytes, when > 0, pads or trims each llm span's prompt and answer so
	// that together they are about TextBytes bytes (a third prompt, two
	// thirds answer). 0 keeps the natural lengths (about 60-400 bytes).
	TextBytes int   `yaml:"text_bytes"`
	Shift     Shift `yaml:"shift"`
}

// Config is the configuration of a simulate run.
type Config struct {
	// Target is the collector's base URL; traces go to {Target}/v1/traces,
	// feedback to {Target}/v1/feedback.
	Target string `yaml:"target"`
	// APIKey, when set, is sent as "Authorization: Bearer <key>".
	APIKey string `yaml:"api_key"`
	// Rate is the number of traces per second.
	Rate float64 `yaml:"rate"`
	// Duration is how long to send; 0 sends until the context is cancelled.
	Duration time.Duration `yaml:"duration"`
	// BatchInterval is how often the traces due so far go out in one request.
	BatchInterval time.Duration `yaml:"batch_interval"`
	// ProgressInterval is how often a progress line is written; 0 writes
	// only the final summary.
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// RequestTimeout bounds each HTTP request.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxRetries is how many times a request is retried after a network
	// error or a retryable status (429, 502, 503, 504).
	MaxRetries int `yaml:"max_retries"`
	// Concurrency is the number of requests in flight at once.
	Concurrency int `yaml:"concurrency"`

	Traffic `yaml:",inline"`
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		Target:           DefaultTarget,
		Rate:             DefaultRate,
		BatchInterval:    DefaultBatchInterval,
		ProgressInterval: DefaultProgressInterval,
		RequestTimeout:   DefaultRequestTimeout,
		MaxRetries:       DefaultMaxRetries,
		Concurrency:      DefaultConcurrency,
		Traffic:          DefaultTraffic(),
	}
}

// DefaultTraffic returns a Traffic with every default filled in: all apps,
// no shift.
func DefaultTraffic() Traffic {
	return Traffic{
		Seed:         DefaultSeed,
		Environment:  DefaultEnvironment,
		ErrorRate:    DefaultErrorRate,
		FeedbackRate: DefaultFeedbackRate,
		Shift:        Shift{Kind: ShiftNone},
	}
}

// Validate reports every invalid field of c, each message naming its YAML key
// under "simulate.".
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Target == "" {
		bad("simulate.target must be set (the collector's base URL, e.g. %s)", DefaultTarget)
	} else if u, err := url.Parse(c.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("simulate.target must be an http(s) URL with a host, got %q", c.Target)
	}
	if !(c.Rate > 0) {
		bad("simulate.rate must be > 0, got %v", c.Rate)
	}
	if c.Duration < 0 {
		bad("simulate.duration must be >= 0 (0 runs until interrupted), got %v", c.Duration)
	}
	if c.BatchInterval <= 0 {
		bad("simulate.batch_interval must be > 0, got %v", c.BatchInterval)
	}
	if c.ProgressInterval < 0 {
		bad("simulate.progress_interval must be >= 0, got %v", c.ProgressInterval)
	}
	if c.RequestTimeout <= 0 {
		bad("simulate.request_timeout must be > 0, got %v", c.RequestTimeout)
	}
	if c.MaxRetries < 0 {
		bad("simulate.max_retries must be >= 0, got %d", c.MaxRetries)
	}
	if c.Concurrency < 1 {
		bad("simulate.concurrency must be >= 1, got %d", c.Concurrency)
	}
	if err := c.Traffic.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Duration > 0 && c.Shift.Kind != ShiftNone && c.Shift.Kind != "" && c.Shift.At >= c.Duration {
		bad("simulate.shift.at (%v) must be < simulate.duration (%v), or the shift never starts", c.Shift.At, c.Duration)
	}
	return errors.Join(errs...)
}

// Validate reports every invalid field of t, each message naming its YAML key
// under "simulate.".
func (t Traffic) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, a := range t.Apps {
		if findApp(a) == nil {
			bad("simulate.apps: unknown app %q (known: %s)", a, strings.Join(AppNames(), ", "))
		}
	}
	if t.Environment == "" {
		bad("simulate.environment must be set (e.g. %q)", DefaultEnvironment)
	}
	if t.ErrorRate < 0 || t.ErrorRate > 1 {
		bad("simulate.error_rate must be in [0, 1], got %v", t.ErrorRate)
	}
	if t.FeedbackRate < 0 || t.FeedbackRate > 1 {
		bad("simulate.feedback_rate must be in [0, 1], got %v", t.FeedbackRate)
	}
	if t.TextBytes < 0 || t.TextBytes > MaxTextBytes {
		bad("simulate.text_bytes must be in [0, %d], got %d", MaxTextBytes, t.TextBytes)
	}
	s := t.Shift
	if !slices.Contains(ShiftKinds, s.Kind) && s.Kind != "" {
		names := make([]string, len(ShiftKinds))
		for i, k := range ShiftKinds {
			names[i] = string(k)
		}
		bad("simulate.shift.kind must be one of %s, got %q", strings.Join(names, ", "), s.Kind)
	}
	if s.At < 0 {
		bad("simulate.shift.at must be >= 0, got %v", s.At)
	}
	for _, a := range s.Apps {
		if findApp(a) == nil {
			bad("simulate.shift.apps: unknown app %q (known: %s)", a, strings.Join(AppNames(), ", "))
		} else if len(t.Apps) > 0 && !slices.Contains(t.Apps, a) {
			bad("simulate.shift.apps: app %q is not among simulate.apps", a)
		}
	}
	m := s.Magnitude
	switch s.Kind {
	case ShiftTopic, ShiftLanguage, ShiftErrorRate:
		if m < 0 || m > 1 {
			bad("simulate.shift.magnitude for kind %s must be in (0, 1] (a share), or 0 for the default, got %v", s.Kind, m)
		}
	case ShiftLength:
		if m != 0 && !(m > 1 && m <= 100) {
			bad("simulate.shift.magnitude for kind length must be in (1, 100] (a length factor), or 0 for the default, got %v", m)
		}
	case ShiftNone, "":
		if m != 0 {
			bad("simulate.shift.magnitude must be 0 when simulate.shift.kind is none, got %v", m)
		}
	}
	return errors.Join(errs...)
}

// active reports whether the shift has a kind that changes anything.
func (s Shift) active() bool { return s.Kind != ShiftNone && s.Kind != "" }
