// Package chains holds chains as versioned artifacts (prompt-as-code): a
// YAML file per chain with its prompt template, few-shot examples, model
// route and parameters, optional retrieval and guard steps and metadata.
// A version is immutable and named by the hash of its content (plus an
// optional human version); Store records versions and label deployments in
// ClickHouse (chain_versions, chain_deployments) and Resolver answers
// "which version does label L of chain C serve" with a short cache that
// keeps the last good answer while ClickHouse is unreachable.
package chains

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Chain is one chain definition.
type Chain struct {
	Name string `yaml:"name" json:"name"`
	// Version is the optional human version ("v3"); the content hash
	// identifies the version either way.
	Version     string         `yaml:"version,omitempty" json:"version,omitempty"`
	Description string         `yaml:"description,omitempty" json:"description,omitempty"`
	Model       string         `yaml:"model" json:"model"` // the model route
	Params      map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	Template    Template       `yaml:"template" json:"template"`
	Examples    []Example      `yaml:"examples,omitempty" json:"examples,omitempty"`
	Retrieval   *Retrieval     `yaml:"retrieval,omitempty" json:"retrieval,omitempty"`
	Guards      Guards         `yaml:"guards,omitempty" json:"guards,omitempty"`
	Metadata    map[string]any `yaml:"metadata,omitempty" json:"metadata,omitempty"`
}

// Template is the prompt: a system and a user message with {{variables}}.
type Template struct {
	ID     string `yaml:"id,omitempty" json:"id,omitempty"` // default: the chain's name
	System string `yaml:"system,omitempty" json:"system,omitempty"`
	User   string `yaml:"user,omitempty" json:"user,omitempty"`
}

// Example is one few-shot exchange, sent between the system message and
// the user's.
type Example struct {
	User      string `yaml:"user" json:"user"`
	Assistant string `yaml:"assistant" json:"assistant"`
}

// Retrieval fetches passages before the model call: POST URL with
// {"query": <rendered user message>, "top_k": TopK}, answered
// {"documents": ["…", …]}; the passages, joined by blank lines, become the
// template variable Variable (default "context").
type Retrieval struct {
	URL      string `yaml:"url" json:"url"`
	TopK     int    `yaml:"top_k,omitempty" json:"top_k,omitempty"`
	Variable string `yaml:"variable,omitempty" json:"variable,omitempty"`
}

// Guards are the checks around the model call, from evaluators.
type Guards struct {
	Input  []Guard `yaml:"input,omitempty" json:"input,omitempty"`
	Output []Guard `yaml:"output,omitempty" json:"output,omitempty"`
}

// Guard is one check: Type "injection" (input), "pii" (input or output) or
// "refusal" (output); Action "block" (the call fails with 400, or for an
// output 502 before anything was sent), "redact" (pii only: the matches are
// replaced) or "flag" (recorded on the span only). On streamed answers an
// output guard can only flag: the answer has been sent when it runs.
type Guard struct {
	Type   string `yaml:"type" json:"type"`
	Action string `yaml:"action" json:"action"`
}

// Guard types and actions.
const (
	GuardInjection = "injection"
	GuardPII       = "pii"
	GuardRefusal   = "refusal"
	ActionBlock    = "block"
	ActionRedact   = "redact"
	ActionFlag     = "flag"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Parse reads one chain from YAML; where names it in errors.
func Parse(where string, b []byte) (*Chain, error) {
	var c Chain
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parsing chain %s: %w", where, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("chain %s: %w", where, err)
	}
	return &c, nil
}

// Load reads every *.yaml and *.yml file of dir, one chain each, sorted by
// name; two files naming one chain are an error.
func Load(dir string) ([]*Chain, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []*Chain
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading chain: %w", err)
		}
		c, err := Parse(f, b)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[c.Name]; ok {
			return nil, fmt.Errorf("chain %q is defined twice: %s and %s", c.Name, prev, f)
		}
		seen[c.Name] = f
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Validate names what is wrong, key by key.
func (c *Chain) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRE.MatchString(c.Name) {
		bad("name must be lower-case letters, digits, '.', '_' or '-', got %q", c.Name)
	}
	if strings.ContainsAny(c.Version, "@ ") {
		bad("version must not contain '@' or spaces, got %q", c.Version)
	}
	if c.Model == "" {
		bad("model (the route to call) is required")
	}
	if c.Template.System == "" && c.Template.User == "" {
		bad("template needs a system or a user message")
	}
	for _, part := range []struct{ key, text string }{{"template.system", c.Template.System}, {"template.user", c.Template.User}} {
		if _, err := variables(part.text); err != nil {
			bad("%s: %v", part.key, err)
		}
	}
	if r := c.Retrieval; r != nil {
		if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
			bad("retrieval.url must be an http(s) URL, got %q", r.URL)
		}
		if r.TopK < 0 {
			bad("retrieval.top_k must be >= 0, got %d", r.TopK)
		}
	}
	check := func(key string, gs []Guard, types ...string) {
		for i, g := range gs {
			at := fmt.Sprintf("guards.%s[%d]", key, i)
			ok := false
			for _, t := range types {
				ok = ok || g.Type == t
			}
			if !ok {
				bad("%s.type must be one of %v, got %q", at, types, g.Type)
			}
			switch g.Action {
			case ActionBlock, ActionFlag:
			case ActionRedact:
				if g.Type != GuardPII {
					bad("%s.action redact applies to pii only", at)
				}
			default:
				bad("%s.action must be block, redact or flag, got %q", at, g.Action)
			}
		}
	}
	check("input", c.Guards.Input, GuardInjection, GuardPII)
	check("output", c.Guards.Output, GuardPII, GuardRefusal)
	return errors.Join(errs...)
}

// TemplateID is the template's id: Template.ID or the chain's name.
func (c *Chain) TemplateID() string {
	if c.Template.ID != "" {
		return c.Template.ID
	}
	return c.Name
}

// Definition is the canonical JSON form of the chain: what the hash covers
// and what chain_versions stores (map keys sorted by encoding/json).
func (c *Chain) Definition() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encoding chain %s: %v", c.Name, err)) // only JSON-able YAML values reach here
	}
	return b
}

// Hash is the content hash of the definition: the first 12 hex digits of
// its SHA-256. Formatting and comments of the YAML do not change it; any
// change to what is served does.
func (c *Chain) Hash() string {
	h := sha256.Sum256(c.Definition())
	return hex.EncodeToString(h[:])[:12]
}

// Ref is how the chain's version is shown: "name@hash (version)".
func (c *Chain) Ref() string {
	if c.Version != "" {
		return c.Name + "@" + c.Version + " (" + c.Hash() + ")"
	}
	return c.Name + "@" + c.Hash()
}

// FromDefinition decodes a stored definition.
func FromDefinition(b []byte) (*Chain, error) {
	var c Chain
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decoding chain definition: %w", err)
	}
	return &c, nil
}

var varRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// variables lists the {{names}} of text, in order of first use.
func variables(text string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range varRE.FindAllStringSubmatch(text, -1) {
		n := m[1]
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(n) {
			return nil, fmt.Errorf("{{%s}} is not a variable name (letters, digits, '_')", n)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Variables lists the template's variables (system first, then user).
func (c *Chain) Variables() []string {
	s, _ := variables(c.Template.System)
	u, _ := variables(c.Template.User)
	for _, v := range u {
		found := false
		for _, x := range s {
			found = found || x == v
		}
		if !found {
			s = append(s, v)
		}
	}
	return s
}

// MissingVariableError is a template variable the request did not give.
type MissingVariableError struct {
	Variable string
	Where    string // "template.system" or "template.user"
	Chain    string
}

func (e *MissingVariableError) Error() string {
	return fmt.Sprintf("chain %s: %s uses variable %q, which the request does not give (send it in \"variables\")", e.Chain, e.Where, e.Variable)
}

// Message is a rendered chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Render fills the template: system message, the examples as user and
// assistant turns, then the user message. A variable vars lacks is a
// *MissingVariableError.
func (c *Chain) Render(vars map[string]string) ([]Message, error) {
	fill := func(where, text string) (string, error) {
		var missing error
		out := varRE.ReplaceAllStringFunc(text, func(m string) string {
			n := strings.TrimSpace(m[2 : len(m)-2])
			v, ok := vars[n]
			if !ok && missing == nil {
				missing = &MissingVariableError{Variable: n, Where: where, Chain: c.Name}
			}
			return v
		})
		return out, missing
	}
	var msgs []Message
	if c.Template.System != "" {
		s, err := fill("template.system", c.Template.System)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, Message{Role: "system", Content: s})
	}
	for _, e := range c.Examples {
		msgs = append(msgs, Message{Role: "user", Content: e.User}, Message{Role: "assistant", Content: e.Assistant})
	}
	if c.Template.User != "" {
		u, err := fill("template.user", c.Template.User)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, Message{Role: "user", Content: u})
	}
	return msgs, nil
}
