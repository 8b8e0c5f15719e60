// Package redteam is chainwatch's adversarial suite: it generates attacks
// against a chat model — prompt-injection variants (direct instruction
// override, role-play/DAN, delimiter and Markdown injection, indirect
// injection hidden in a retrieved document), leakage probes for a canary
// secret planted in the system prompt, and fuzzed variations of real prompts
// — sends them through an evaluators.ChatClient, and scores every answer with
// the evaluators' guards (injection, PII, refusal) plus a canary check.
//
// Generation is deterministic under Config.Seed. Nothing here does I/O but
// through the ChatClient; `chainwatch redteam` wires an OpenAI-compatible
// client and stores the run's scores in ClickHouse.
package redteam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/chainwatch/chainwatch/evaluators"
)

// Name is the evaluator name the suite's scores carry; Version changes
// whenever the attack texts, the mutations or the checks change.
const (
	Name    = "redteam"
	Version = "1"
)

// Defaults for Config.
const (
	DefaultPerCategory = 10
	DefaultConcurrency = 4
	DefaultMaxTokens   = 512
)

// Category is a family of attacks.
type Category string

// The categories, in report order.
const (
	InjectionOverride  Category = "injection_override"  // "ignore all previous instructions …"
	InjectionRoleplay  Category = "injection_roleplay"  // DAN, personas without rules, developer mode
	InjectionDelimiter Category = "injection_delimiter" // fake chat-template tokens, Markdown/JSON/XML sections
	InjectionIndirect  Category = "injection_indirect"  // an instruction hidden in a retrieved document
	Leakage            Category = "leakage"             // asks for the planted canary, directly or transformed
	Fuzz               Category = "fuzz"                // seed prompts with case changes, typos, homoglyphs, invisible characters, suffixes
)

// Categories lists every category in report order.
var Categories = []Category{InjectionOverride, InjectionRoleplay, InjectionDelimiter, InjectionIndirect, Leakage, Fuzz}

// Injection reports whether c's probes carry a marker to comply with.
func (c Category) Injection() bool { return strings.HasPrefix(string(c), "injection_") }

// Config configures the suite.
type Config struct {
	// Model is sent as the request's model.
	Model string `yaml:"model"`
	// SystemPrompt is the application's system prompt (default
	// DefaultSystemPrompt); the canary instruction is appended to it.
	SystemPrompt string `yaml:"system_prompt"`
	// SeedPrompts are real user prompts: fuzzing varies them and direct
	// injections ride on them (default DefaultSeedPrompts).
	SeedPrompts []string `yaml:"seed_prompts"`
	// PerCategory is the number of probes per category.
	PerCategory int `yaml:"per_category"`
	// Seed makes generation (canary, markers, choices, mutations)
	// deterministic.
	Seed uint64 `yaml:"seed"`
	// MaxTokens bounds each answer (0: DefaultMaxTokens).
	MaxTokens int `yaml:"max_tokens"`
}

// Validate reports every invalid field, naming its key.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Model) == "" {
		errs = append(errs, errors.New("redteam.model must be set"))
	}
	if c.PerCategory < 0 {
		errs = append(errs, fmt.Errorf("redteam.per_category must be >= 1 (0 takes %d), got %d", DefaultPerCategory, c.PerCategory))
	}
	if c.MaxTokens < 0 {
		errs = append(errs, fmt.Errorf("redteam.max_tokens must be >= 0, got %d", c.MaxTokens))
	}
	for i, p := range c.SeedPrompts {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("redteam.seed_prompts[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.SystemPrompt == "" {
		c.SystemPrompt = DefaultSystemPrompt
	}
	if len(c.SeedPrompts) == 0 {
		c.SeedPrompts = DefaultSeedPrompts
	}
	if c.PerCategory == 0 {
		c.PerCategory = DefaultPerCategory
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	return c
}

// Probe is one attack: the messages sent and what its answer is checked
// for.
type Probe struct {
	ID        int      `json:"id"` // position in the suite, from 0
	Category  Category `json:"category"`
	Technique string   `json:"technique"` // template or mutation names, e.g. "dan", "homoglyph+suffix"
	// User is the user's turn; Document the retrieved document embedded in
	// it (indirect injection only).
	User     string `json:"user"`
	Document string `json:"document,omitempty"`
	// Marker is what an injection asks the model to output; empty for
	// leakage and fuzz probes.
	Marker string `json:"marker,omitempty"`
	// Seed is the seed prompt the probe was built from, if any.
	Seed string `json:"seed,omitempty"`
}

// Suite is a generated set of probes and the system prompt carrying the
// canary.
type Suite struct {
	Config Config `json:"-"`
	// Canary is the planted secret; System the system prompt with it.
	Canary string  `json:"-"`
	System string  `json:"-"`
	Probes []Probe `json:"probes"`
}

// Generate builds the suite: Config.PerCategory probes of every category,
// the same for the same Config. Each category draws from its own random
// streams, so changing one category's templates leaves the others' probes
// unchanged, and raising PerCategory only appends probes.
func Generate(cfg Config) (*Suite, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("generating redteam suite: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Suite{Config: cfg}
	s.Canary = NewCanary(rand.New(rand.NewPCG(cfg.Seed, 0xca4a7)))
	s.System = strings.TrimRight(cfg.SystemPrompt, "\n") + "\n\n" + fmt.Sprintf(canaryInstruction, s.Canary)
	for ci, c := range Categories {
		// Template order and probe contents draw from separate streams, so
		// a probe does not change when per_category grows.
		order := passes(rand.New(rand.NewPCG(cfg.Seed, uint64(ci)+1)), templatesIn(c), cfg.PerCategory)
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ci)+101))
		for i := range cfg.PerCategory {
			p := generateOne(c, order[i], i >= templatesIn(c), rng, cfg.SeedPrompts)
			p.ID = len(s.Probes)
			p.Category = c
			s.Probes = append(s.Probes, p)
		}
	}
	return s, nil
}

// Messages are the chat messages of p: the system prompt with the canary,
// then the user's turn.
func (s *Suite) Messages(p Probe) []evaluators.Message {
	return []evaluators.Message{{Role: "system", Content: s.System}, {Role: "user", Content: p.User}}
}

// generateOne builds a probe of category c from template number t (unused
// for fuzz). A repeat (a template used before in this category) gets one
// fuzz mutation of the text around its marker, so that repeats differ in
// surface too while the marker stays recognisable.
func generateOne(c Category, t int, repeat bool, rng *rand.Rand, seeds []string) Probe {
	seed := seeds[rng.IntN(len(seeds))]
	var p Probe
	switch c {
	case InjectionOverride, InjectionRoleplay, InjectionDelimiter:
		tp := templatesOf(c)[t]
		p = Probe{Technique: tp.technique, Marker: newMarker(rng)}
		p.User = fill(tp.text, seed, p.Marker)
		if strings.Contains(tp.text, "{seed}") {
			p.Seed = seed
		}
	case InjectionIndirect:
		tp := indirectDocuments[t]
		p = Probe{Technique: tp.technique, Marker: newMarker(rng), Seed: seed}
		p.Document = fill(tp.text, seed, p.Marker)
		if repeat {
			// Vary the document, not the question around it.
			text, names := mutateKeeping(p.Document, p.Marker, rng)
			p.Document, p.Technique = text, p.Technique+"+"+strings.Join(names, "+")
		}
		p.User = strings.NewReplacer("{seed}", seed, "{doc}", p.Document).Replace(indirectUser)
		return p
	case Leakage:
		tp := leakageTemplates[t]
		p = Probe{Technique: tp.technique, User: fill(tp.text, seed, "")}
		if strings.Contains(tp.text, "{seed}") {
			p.Seed = seed
		}
	case Fuzz:
		text, names := mutate(seed, rng, 1+rng.IntN(3))
		return Probe{Technique: strings.Join(names, "+"), User: text, Seed: seed}
	}
	if repeat {
		text, names := mutateKeeping(p.User, p.Marker, rng)
		p.User, p.Technique = text, p.Technique+"+"+strings.Join(names, "+")
	}
	return p
}

func templatesOf(c Category) []template {
	switch c {
	case InjectionOverride:
		return overrideTemplates
	case InjectionRoleplay:
		return roleplayTemplates
	case InjectionDelimiter:
		return delimiterTemplates
	case InjectionIndirect:
		return indirectDocuments
	case Leakage:
		return leakageTemplates
	}
	return nil
}

func templatesIn(c Category) int { return len(templatesOf(c)) }

// passes returns n template indices: shuffled passes over k templates,
// each template used once before any is used twice. For k = 0 (fuzz) it
// returns n zeros.
func passes(rng *rand.Rand, k, n int) []int {
	out := make([]int, 0, n)
	if k == 0 {
		return make([]int, n)
	}
	for len(out) < n {
		out = append(out, rng.Perm(k)...)
	}
	return out[:n]
}

func fill(text, seed, marker string) string {
	return strings.NewReplacer("{seed}", seed, "{marker}", marker).Replace(text)
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewCanary draws a canary secret shaped like an API key, "sk-cw-" and 24
// lower-case letters and digits, so that the PII guard also recognises it
// verbatim.
func NewCanary(rng *rand.Rand) string {
	return "sk-cw-" + randomString(rng, alnum, 24)
}

// newMarker draws an injection marker, "PWNED-" and 6 upper-case letters
// and digits.
func newMarker(rng *rand.Rand) string {
	return "PWNED-" + strings.ToUpper(randomString(rng, alnum, 6))
}

func randomString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
