// Package experiments runs a chain version over an evaluation dataset
// version with a set of evaluators (`chainwatch experiment run`), records
// the run in ClickHouse and traces every call like production, and compares
// two runs item by item with the paired statistics of experiments/stats
// (`chainwatch experiment compare`): a terminal table, JSON, JUnit XML,
// Markdown and a self-contained HTML report, and the CI verdict.
//
// A chain version here is an inline definition — a model name and message
// templates — sent to any OpenAI-compatible endpoint. The serving gateway's
// chains fit the same shape: the model is "chain:NAME@VERSION" and the
// gateway resolves it; the definition hash then covers only what this side
// sends.
package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// MessageTemplate is one message of a chain's prompt: its role and its
// content with {{variable}} placeholders.
type MessageTemplate struct {
	Role    string `yaml:"role" json:"role"`
	Content string `yaml:"content" json:"content"`
}

// Chain is a chain version as an experiment runs it.
type Chain struct {
	Name        string            `yaml:"name" json:"name"`
	Version     string            `yaml:"version" json:"version"`
	Model       string            `yaml:"model" json:"model"`
	TemplateID  string            `yaml:"prompt_template_id" json:"prompt_template_id,omitempty"`
	Messages    []MessageTemplate `yaml:"messages" json:"messages"`
	Temperature *float64          `yaml:"temperature" json:"temperature,omitempty"`
	MaxTokens   int               `yaml:"max_tokens" json:"max_tokens,omitempty"`
}

// LoadChain reads a chain definition from a YAML file.
func LoadChain(path string) (Chain, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Chain{}, fmt.Errorf("reading chain file: %w", err)
	}
	// The serving gateway's chain format (template: {system, user},
	// examples, params): one definition for both.
	var probe map[string]any
	if yaml.Unmarshal(b, &probe) == nil && probe["template"] != nil {
		sc, err := chains.Parse(path, b)
		if err != nil {
			return Chain{}, err
		}
		return FromServing(sc, "")
	}
	var c Chain
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Chain{}, fmt.Errorf("chain file %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Chain{}, fmt.Errorf("chain file %s: %w", path, err)
	}
	return c, nil
}

// Validate names the first problem of each field.
func (c Chain) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("chain.name is empty"))
	}
	if c.Version == "" {
		errs = append(errs, errors.New("chain.version is empty"))
	}
	if c.Model == "" {
		errs = append(errs, errors.New("chain.model is empty (a model name, or chain:NAME@VERSION for the gateway)"))
	}
	if len(c.Messages) == 0 {
		errs = append(errs, errors.New("chain.messages is empty"))
	}
	for i, m := range c.Messages {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			errs = append(errs, fmt.Errorf("chain.messages[%d].role %q: want system, user, assistant or developer", i, m.Role))
		}
		if _, err := parseTemplate(m.Content); err != nil {
			errs = append(errs, fmt.Errorf("chain.messages[%d].content: %w", i, err))
		}
	}
	if c.Temperature != nil && (*c.Temperature < 0 || *c.Temperature > 2) {
		errs = append(errs, fmt.Errorf("chain.temperature %v outside [0, 2]", *c.Temperature))
	}
	if c.MaxTokens < 0 {
		errs = append(errs, errors.New("chain.max_tokens must be >= 0"))
	}
	return errors.Join(errs...)
}

// Definition is the chain as canonical JSON: what the hash covers and what
// the experiments row stores.
func (c Chain) Definition() string {
	b, _ := json.Marshal(c) // fields in declaration order: canonical
	return string(b)
}

// Hash is the hex SHA-256 of the definition: two runs with the same hash
// sent the same prompts to the same model name.
func (c Chain) Hash() string {
	h := sha256.Sum256([]byte(c.Definition()))
	return hex.EncodeToString(h[:])
}

// PromptVersion is the first 12 hex digits of the SHA-256 of the message
// templates alone: it changes with the prompt text, not with the model.
func (c Chain) PromptVersion() string {
	b, _ := json.Marshal(c.Messages)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// Ref is NAME@VERSION.
func (c Chain) Ref() string { return c.Name + "@" + c.Version }

// Variables are the values a dataset row gives the templates: input,
// expected and context, and, when the input is a JSON object, each of its
// keys (strings as they are, other values as JSON).
func Variables(row schemas.DatasetRow) map[string]string {
	v := map[string]string{"input": row.Input, "expected": row.Expected, "context": row.Context}
	var obj map[string]json.RawMessage
	if strings.HasPrefix(strings.TrimSpace(row.Input), "{") && json.Unmarshal([]byte(row.Input), &obj) == nil {
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v[k] = s
			} else {
				v[k] = string(raw)
			}
		}
	}
	return v
}

// Render fills the templates from vars. A placeholder with no value is an
// error naming it and the variables there are.
func (c Chain) Render(vars map[string]string) ([]openai.Message, error) {
	out := make([]openai.Message, 0, len(c.Messages))
	for i, m := range c.Messages {
		parts, err := parseTemplate(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		var b strings.Builder
		for _, p := range parts {
			if !p.isVar {
				b.WriteString(p.text)
				continue
			}
			val, ok := vars[p.text]
			if !ok {
				names := make([]string, 0, len(vars))
				for k := range vars {
					names = append(names, k)
				}
				sort.Strings(names)
				return nil, fmt.Errorf("messages[%d]: no value for {{%s}} (the row has %s)", i, p.text, strings.Join(names, ", "))
			}
			b.WriteString(val)
		}
		out = append(out, openai.Message{Role: m.Role, Content: b.String()})
	}
	return out, nil
}

type tmplPart struct {
	text  string
	isVar bool
}

// parseTemplate splits s at {{name}} placeholders (spaces inside the braces
// are trimmed; a name is letters, digits, _ . and -).
func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if s != "" {
				parts = append(parts, tmplPart{text: s})
			}
			return parts, nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at %q", abbreviate(s[i:]))
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		if name == "" {
			return nil, errors.New("empty {{}} placeholder")
		}
		for _, r := range name {
			if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return nil, fmt.Errorf("placeholder {{%s}}: want letters, digits, _ . -", name)
			}
		}
		if i > 0 {
			parts = append(parts, tmplPart{text: s[:i]})
		}
		parts = append(parts, tmplPart{text: name, isVar: true})
		s = s[i+j+2:]
	}
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// FromServing is a serving-gateway chain version (serving/chains: what
// `chainwatch chains push` stores and labels point at) as an experiment
// runs it: the system message, the few-shot examples and the user
// message, sent to the chain's model route (name it with --endpoint: the
// gateway, or the upstream the route points to) with its temperature and
// max_tokens. version is the stored version's hash ("" : the chain's
// human version, else its content hash). A chain with a retrieval step or
// guards runs those in the gateway only: run it through the gateway
// (--endpoint the gateway, model chain:NAME@VERSION in a chain file), not
// from here, so the experiment tests what production runs.
func FromServing(sc *chains.Chain, version string) (Chain, error) {
	if sc.Retrieval != nil || len(sc.Guards.Input) > 0 || len(sc.Guards.Output) > 0 {
		return Chain{}, fmt.Errorf("chain %s has a retrieval step or guards, which only the serving gateway runs: run the experiment through the gateway (a chain file with model chain:%s@VERSION and --endpoint the gateway)", sc.Name, sc.Name)
	}
	c := Chain{Name: sc.Name, Version: version, Model: sc.Model, TemplateID: sc.Template.ID}
	if c.Version == "" {
		c.Version = sc.Version
	}
	if c.Version == "" {
		c.Version = sc.Hash()
	}
	if c.TemplateID == "" {
		c.TemplateID = sc.Name
	}
	if sc.Template.System != "" {
		c.Messages = append(c.Messages, MessageTemplate{Role: "system", Content: sc.Template.System})
	}
	for _, e := range sc.Examples {
		c.Messages = append(c.Messages, MessageTemplate{Role: "user", Content: e.User}, MessageTemplate{Role: "assistant", Content: e.Assistant})
	}
	if sc.Template.User != "" {
		c.Messages = append(c.Messages, MessageTemplate{Role: "user", Content: sc.Template.User})
	}
	switch v := sc.Params["temperature"].(type) {
	case float64:
		c.Temperature = &v
	case int:
		f := float64(v)
		c.Temperature = &f
	}
	switch v := sc.Params["max_tokens"].(type) {
	case int:
		c.MaxTokens = v
	case float64:
		c.MaxTokens = int(v)
	}
	return c, c.Validate()
}
