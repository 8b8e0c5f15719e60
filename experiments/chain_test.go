package experiments

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestChainRender(t *testing.T) {
	c := Chain{Name: "support", Version: "v1", Model: "m", Messages: []MessageTemplate{
		{Role: "system", Content: "Policy: {{ context }}"},
		{Role: "user", Content: "Q: {{question}} (lang {{lang}}) {{n}}"},
	}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	row := schemas.DatasetRow{Input: `{"question": "Where is my parcel?", "lang": "en", "n": 3}`, Context: "refunds in 30 days"}
	msgs, err := c.Render(Variables(row))
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Content != "Policy: refunds in 30 days" || msgs[1].Content != "Q: Where is my parcel? (lang en) 3" {
		t.Fatalf("rendered %+v", msgs)
	}
	// a plain-text input has only input, expected and context
	_, err = c.Render(Variables(schemas.DatasetRow{Input: "hello"}))
	if err == nil || !strings.Contains(err.Error(), "{{question}}") || !strings.Contains(err.Error(), "context, expected, input") {
		t.Fatalf("missing variable: %v", err)
	}
	// the hash covers the whole definition, the prompt version only the templates
	c2 := c
	c2.Model = "other"
	if c.Hash() == c2.Hash() || c.PromptVersion() != c2.PromptVersion() {
		t.Fatal("hash or prompt version wrong under a model change")
	}
	c3 := c
	c3.Messages = append([]MessageTemplate(nil), c.Messages...)
	c3.Messages[1].Content += "!"
	if c.PromptVersion() == c3.PromptVersion() {
		t.Fatal("prompt version unchanged under a template change")
	}
}

func TestChainValidateAndLoad(t *testing.T) {
	bad := Chain{Messages: []MessageTemplate{{Role: "robot", Content: "{{unclosed"}, {Role: "user", Content: "{{a b}}"}}}
	err := bad.Validate()
	for _, want := range []string{"chain.name", "chain.version", "chain.model", `messages[0].role "robot"`, "unclosed {{", "placeholder {{a b}}"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q: %v", want, err)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("name: s\nversion: v1\nmodel: chain:support@v1\nmesages: []\n"), 0o644)
	if _, err := LoadChain(p); err == nil || !strings.Contains(err.Error(), "mesages") {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(p, []byte("name: s\nversion: v1\nmodel: chain:support@v1\nmessages:\n  - role: user\n    content: \"{{input}}\"\n"), 0o644)
	c, err := LoadChain(p)
	if err != nil || c.Model != "chain:support@v1" {
		t.Fatalf("load: %+v %v", c, err)
	}
}
