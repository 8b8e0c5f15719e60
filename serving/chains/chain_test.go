package chains

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const supportV1 = `
name: support-bot
version: v1
model: small
params: {temperature: 0.2, max_tokens: 64}
template:
  system: "You answer for {{ company }}. Context: {{context}}"
  user: "{{input}}"
examples:
  - user: "Where is my order?"
    assistant: "Let me check."
retrieval: {url: "http://127.0.0.1:1/search", top_k: 2}
guards:
  input: [{type: injection, action: block}]
  output: [{type: pii, action: redact}]
metadata: {owner: support}
`

func TestParseRenderHash(t *testing.T) {
	c, err := Parse("support.yaml", []byte(supportV1))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Render(map[string]string{"company": "ACME", "context": "none", "input": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{{"system", "You answer for ACME. Context: none"}, {"user", "Where is my order?"}, {"assistant", "Let me check."}, {"user", "hi"}}
	if len(msgs) != len(want) {
		t.Fatalf("%v", msgs)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Fatalf("message %d: %v, want %v", i, msgs[i], want[i])
		}
	}
	if got := c.Variables(); strings.Join(got, ",") != "company,context,input" {
		t.Fatalf("variables %v", got)
	}
	// The hash covers content, not formatting.
	reformatted := strings.ReplaceAll(supportV1, "{temperature: 0.2, max_tokens: 64}", "\n  max_tokens: 64\n  temperature: 0.2 # comment")
	c2, err := Parse("b", []byte(reformatted))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != c2.Hash() || len(c.Hash()) != 12 {
		t.Fatalf("hash changed with formatting: %s vs %s", c.Hash(), c2.Hash())
	}
	c3, _ := Parse("c", []byte(strings.Replace(supportV1, "Let me check.", "Checking.", 1)))
	if c3.Hash() == c.Hash() {
		t.Fatal("a content change kept the hash")
	}
	// A stored definition reads back to the same hash.
	back, err := FromDefinition(c.Definition())
	if err != nil || back.Hash() != c.Hash() {
		t.Fatalf("round trip: %v, %s vs %s", err, back.Hash(), c.Hash())
	}
}

func TestMissingVariableNamesIt(t *testing.T) {
	c, _ := Parse("s", []byte(supportV1))
	_, err := c.Render(map[string]string{"context": "x", "input": "hi"})
	var mv *MissingVariableError
	if !errors.As(err, &mv) || mv.Variable != "company" || mv.Where != "template.system" || !strings.Contains(err.Error(), `"company"`) {
		t.Fatalf("got %v", err)
	}
}

func TestValidateNamesKeys(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: Bad Name\nmodel: m\ntemplate: {user: x}", "name must be lower-case"},
		{"name: a\ntemplate: {user: x}", "model (the route to call) is required"},
		{"name: a\nmodel: m\ntemplate: {}", "template needs a system or a user message"},
		{"name: a\nmodel: m\ntemplate: {user: '{{ not a var }}'}", "template.user: {{not a var}} is not a variable name"},
		{"name: a\nmodel: m\ntemplate: {user: x}\nguards: {output: [{type: injection, action: block}]}", "guards.output[0].type must be one of"},
		{"name: a\nmodel: m\ntemplate: {user: x}\nguards: {input: [{type: injection, action: redact}]}", "guards.input[0].action redact applies to pii only"},
		{"name: a\nmodel: m\ntemplate: {user: x}\nunknown_key: 1", "field unknown_key not found"},
	} {
		_, err := Parse("f.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestLoadRefusesDuplicates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(supportV1), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yml"), []byte(supportV1), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Fatalf("got %v", err)
	}
}
