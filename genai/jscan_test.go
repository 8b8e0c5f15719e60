// The JSON reader, and the fuzz target over the message readers.

package genai

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestJSONScanString(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"plain"`, "plain", true},
		{`"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f", true},
		{`"\u00e9\u4e2d\ud83d\ude00"`, "é中😀", true},
		{`"\ud83d alone"`, "\uFFFD alone", true},
		{`"\\"`, `\`, true},
		{`"a\\\"b"`, `a\"b`, true},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{`"open`, "", false},
		{`"ends in \"`, "", false},
	}
	for _, tc := range tests {
		p := jscan{s: tc.in}
		got, ok := p.str()
		if ok != tc.ok || (ok && got != tc.want) || (ok && p.i != len(tc.in)) {
			t.Errorf("str(%s) = %q, %v (at %d), want %q, %v", tc.in, got, ok, p.i, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]bool{
		`{"a":[1,-2.5e3,true,false,null,{"b":"c\"}"}]}`: true,
		`[]`: true, `{}`: true, ` [ 1 , 2 ] `: true,
		`[1,]`: false, `{"a":}`: false, `{"a" 1}`: false, `{,}`: false, `[1 2]`: false, `tru`: false, `-`: false, ``: false,
	} {
		p := jscan{s: in}
		ok := p.skip() && p.peek() == 0
		if ok != want {
			t.Errorf("skip(%s) = %v, want %v", in, ok, want)
		}
	}
}

// FuzzMessages feeds arbitrary gen_ai.input.messages / output values through
// the mapping: it must not panic, and what it writes as JSON must be JSON.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`,
		`[{"parts":[{"type":"tool_call","id":"1","arguments":{"a":[1,2]}}],"role":"assistant","finish_reason":"stop"}]`,
		`{"role":"tool","tool_call_id":"x","content":"r\u00e9\ud83d\ude00"}`,
		`[{"role":"user","content":[{"type":"text","text":"a\"b"},{"type":"image_url"}]},"s",1,null]`,
		`[{"role":"system","content":"sys"}]`, `[{]`, `"\u12"`, `[1,]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msgs string) {
		if !utf8.ValidString(msgs) {
			// OTLP strings are UTF-8: a record holding anything else is
			// refused when it is read, and a request built in memory with
			// it cannot be encoded (AppendSpans reports the span), so the
			// mapping never sees one.
			t.Skip()
		}
		s := mapOne(t, request(nil, testSpan("gen_ai.input.messages", msgs, "gen_ai.output.messages", msgs,
			"gen_ai.prompt.0.content", msgs, "gen_ai.completion", msgs)))
		for _, k := range []string{schemas.AttrInputParts, schemas.AttrOutputParts, schemas.AttrGenAIFinishReasons} {
			if v, ok := s.Attributes[k]; ok && !json.Valid([]byte(v)) {
				t.Errorf("%s is not JSON: %q", k, v)
			}
		}
		if s.InputText == "" && s.SystemInstructions == "" && s.Attributes[schemas.AttrInputParts] == "" &&
			s.Attributes["gen_ai.input.messages"] == "" && msgs != "" && json.Valid([]byte(msgs)) && strings.Contains(msgs, "text") {
			// Nothing taken and nothing kept would be a silent loss.
			t.Errorf("input %q vanished: %+v", msgs, s.Attributes)
		}
	})
}
