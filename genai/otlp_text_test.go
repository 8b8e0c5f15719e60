// Text assembly: messages, parts, unknown attributes kept, malformed content.

package genai

import (
	"encoding/json"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestAppendSpansTextAssembly(t *testing.T) {
	tests := []struct {
		name       string
		span       *tracepb.Span
		in, out    string
		attrs      map[string]string
		gone       []string
		wantNoWarn bool
	}{
		{
			name: "several messages and parts join with newlines, in order; developer counts as system",
			span: testSpan("gen_ai.input.messages", `[
				{"parts":[{"type":"text","content":"sys one"}],"role":"system"},
				{"role":"developer","parts":[{"type":"text","content":"sys two"}]},
				{"role":"user","parts":[{"type":"text","content":"first"},{"type":"image","uri":"s3://x"},{"type":"text","content":"second"}]},
				{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"text","content":"reply"}]},
				{"role":"user","parts":[{"type":"text","content":"third \u00e9\ud83d\ude00"}]}]`),
			in: "first\nsecond\nreply\nthird é😀",
			attrs: map[string]string{
				schemas.AttrInputSystem: "sys one\nsys two",
				schemas.AttrInputParts:  `[{"type":"image","uri":"s3://x"},{"type":"reasoning","content":"hmm"}]`,
			},
			wantNoWarn: true,
		},
		{
			name: "OpenAI-shaped messages: content strings, content parts, tool_calls, tool results",
			span: testSpan("gen_ai.input.messages", `[{"content":"be brief","role":"system"},
				{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"u"}}]},
				{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c1","content":"42"}]`,
				"gen_ai.output.messages", `{"role":"assistant","content":"The answer is 42.","finish_reason":"stop"}`),
			in:  "look",
			out: "The answer is 42.",
			attrs: map[string]string{
				schemas.AttrInputSystem:          "be brief",
				schemas.AttrInputParts:           `[{"type":"image_url","image_url":{"url":"u"}},{"type":"tool_call","id":"c1","name":"f","arguments":{}},{"type":"tool_call_response","id":"c1","response":"42"}]`,
				"gen_ai.response.finish_reasons": `["stop"]`,
			},
			wantNoWarn: true,
		},
		{
			name: "output parts: tool calls and several choices",
			span: testSpan("gen_ai.output.messages", av(
				kvl(kvs("role", "assistant", "parts", av(kvl(kvs("type", "text", "content", "one")...)), "finish_reason", "stop")...),
				kvl(kvs("role", "assistant", "parts", av(
					kvl(kvs("type", "tool_call", "id", "t1", "name", "lookup", "arguments", kvl(kvs("q", "x")...))...),
				), "finish_reason", "tool_calls")...),
				kvl(kvs("role", "assistant", "parts", av(kvl(kvs("type", "text", "content", "two")...)))...),
			)),
			out: "one\ntwo",
			attrs: map[string]string{
				schemas.AttrOutputParts:          `[{"type":"tool_call","id":"t1","name":"lookup","arguments":{"q":"x"}}]`,
				"gen_ai.response.finish_reasons": `["stop","tool_calls"]`,
			},
			wantNoWarn: true,
		},
		{
			name: "finish_reasons already on the span are not overwritten",
			span: testSpan("gen_ai.response.finish_reasons", av(sv("length")),
				"gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"x"}],"finish_reason":"stop"}]`),
			out:   "x",
			attrs: map[string]string{"gen_ai.response.finish_reasons": `["length"]`},
		},
		{
			name: "an older message event can carry its body as JSON",
			span: func() *tracepb.Span {
				s := testSpan()
				s.Events = []*tracepb.Span_Event{
					event("gen_ai.user.message", "body", `{"content":"from body"}`),
					event("gen_ai.user.message", "content", kvl(kvs("type", "text", "text", "structured")...)),
					event("gen_ai.choice", "message", kvl(kvs("role", "assistant", "content", "structured answer")...), "finish_reason", "stop"),
					event("gen_ai.choice", "content", "second choice"),
				}
				return s
			}(),
			in:    "from body\nstructured",
			out:   "structured answer\nsecond choice",
			attrs: map[string]string{"gen_ai.response.finish_reasons": `["stop"]`},
			gone:  []string{"event.gen_ai.user.message", "event.gen_ai.choice"},
		},
		{
			name: "message events that lose to gen_ai.input.messages and disagree are kept as events",
			span: func() *tracepb.Span {
				s := testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"A"}]}]`)
				s.Events = []*tracepb.Span_Event{event("gen_ai.user.message", "content", "B"), event("gen_ai.user.message", "content", "C")}
				return s
			}(),
			in:    "A",
			attrs: map[string]string{"event.gen_ai.user.message": `[{"content":"B"},{"content":"C"}]`},
		},
		{
			name: "indexed keys out of order are read in index order; tool call keys are read, other sub-keys stay",
			span: testSpan(
				"gen_ai.prompt.10.content", "ten", "gen_ai.prompt.2.content", "two", "gen_ai.prompt.2.role", "user",
				"gen_ai.prompt.10.role", "user", "gen_ai.prompt.3.role", "tool", "gen_ai.prompt.3.content", "tool says",
				"gen_ai.prompt.3.tool_call_id", "c7", "gen_ai.prompt.3.name", "calc",
				"gen_ai.completion.0.tool_calls.0.name", "f"),
			in:  "two\nten",
			out: "tool_call f()",
			attrs: map[string]string{
				schemas.AttrInputParts:  `[{"type":"tool_call_response","id":"c7","response":"tool says"}]`,
				schemas.AttrOutputParts: `[{"type":"tool_call","name":"f"}]`,
				"gen_ai.prompt.3.name":  "calc",
			},
			gone: []string{"gen_ai.prompt.10.content", "gen_ai.prompt.3.content", "gen_ai.prompt.3.role",
				"gen_ai.prompt.3.tool_call_id", "gen_ai.completion.0.tool_calls.0.name"},
		},
		{
			name: "OpenLLMetry multimodal content as a JSON array of typed parts",
			span: testSpan("gen_ai.prompt.0.role", "user",
				"gen_ai.prompt.0.content", `[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:..."}}]`,
				"gen_ai.prompt.1.content", `[{"not":"typed"}]`),
			in:    "what is this?\n[{\"not\":\"typed\"}]",
			attrs: map[string]string{schemas.AttrInputParts: `[{"type":"image_url","image_url":{"url":"data:..."}}]`},
		},
		{
			name: "a higher source with only a system prompt contributes it; the text comes from the next one",
			span: testSpan("gen_ai.input.messages", `[{"role":"system","parts":[{"type":"text","content":"be nice"}]}]`,
				"input.value", "question"),
			in:    "question",
			attrs: map[string]string{schemas.AttrInputSystem: "be nice"},
			gone:  []string{"gen_ai.input.messages", "input.value"},
		},
		{
			name:  "an empty indexed content yields nothing and stays",
			span:  testSpan("gen_ai.prompt.0.content", "", "input.value", "v"),
			in:    "v",
			attrs: map[string]string{"gen_ai.prompt.0.content": ""},
			gone:  []string{"input.value"},
		},
		{
			name: "legacy gen_ai.prompt attribute as plain text",
			span: testSpan("gen_ai.prompt", "user: hi", "gen_ai.completion", "[not json"),
			in:   "user: hi",
			out:  "[not json",
		},
		{
			name: "a plain string message and a non-object element",
			span: testSpan("gen_ai.input.messages", `["just text", 42]`),
			in:   "just text",
			attrs: map[string]string{
				schemas.AttrInputParts: `[42]`,
			},
			wantNoWarn: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.InputText != tc.in {
				t.Errorf("InputText = %q, want %q", s.InputText, tc.in)
			}
			if s.OutputText != tc.out {
				t.Errorf("OutputText = %q, want %q", s.OutputText, tc.out)
			}
			checkAttrs(t, withColumns(s), tc.attrs, tc.gone)
			if w, ok := s.Attributes[schemas.AttrMappingWarning]; ok && tc.wantNoWarn {
				t.Errorf("unexpected warning %q", w)
			}
			for _, k := range []string{schemas.AttrInputParts, schemas.AttrOutputParts, "gen_ai.response.finish_reasons"} {
				if v, ok := s.Attributes[k]; ok && !json.Valid([]byte(v)) {
					t.Errorf("%s is not valid JSON: %s", k, v)
				}
			}
		})
	}
}

// --- attributes kept -----------------------------------------------------------

func TestAppendSpansKeepsUnknownAttributes(t *testing.T) {
	sp := testSpan(
		"http.route", "/chat",
		"retries", 3,
		"ratio", 0.25,
		"flag", true,
		"tags", av(sv("a"), sv("b\"c")),
		"nested", kvl(kvs("k", 1, "l", av(bv(false)), "m", &commonpb.AnyValue{})...),
		"raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}},
		"shared", "from span",
		"empty", &commonpb.AnyValue{},
	)
	sp.Kind = tracepb.Span_SPAN_KIND_SERVER
	sp.Events = []*tracepb.Span_Event{
		event("retry", "attempt", 1),
		event("retry", "attempt", 2, "why", "429"),
		event("feedback", "score", 0.5),
		event("gen_ai.evaluation.result", "gen_ai.evaluation.name", "relevance", "gen_ai.evaluation.score.value", 0.9),
	}
	sp.Links = []*tracepb.Span_Link{{TraceId: mustHex(testTraceID), SpanId: mustHex("1111111111111111"), Attributes: kvs("link.kind", "follows")}}
	req := request(kvs("service.name", "svc", "host.name", "h1", "shared", "from resource", "process.pid", 42), sp)
	req.ResourceSpans[0].ScopeSpans[0].Scope = &commonpb.InstrumentationScope{Name: "lib", Version: "1.2", Attributes: kvs("scope.attr", "s", "shared", "from scope")}
	s := mapOne(t, req)
	checkAttrs(t, withColumns(s), map[string]string{
		"http.route":                     "/chat",
		"retries":                        "3",
		"ratio":                          "0.25",
		"flag":                           "true",
		"tags":                           `["a","b\"c"]`,
		"nested":                         `{"k":1,"l":[false],"m":null}`,
		"raw":                            "AAEC",
		"shared":                         "from span",
		"empty":                          "",
		"host.name":                      "h1",
		"process.pid":                    "42",
		"scope.attr":                     "s",
		schemas.AttrScopeName:            "lib",
		schemas.AttrScopeVersion:         "1.2",
		schemas.AttrSpanKind:             "server",
		"event.retry":                    `[{"attempt":1},{"attempt":2,"why":"429"}]`,
		"event.feedback":                 `{"score":0.5}`,
		"event.gen_ai.evaluation.result": `{"gen_ai.evaluation.name":"relevance","gen_ai.evaluation.score.value":0.9}`,
		schemas.AttrLinks:                `[{"trace_id":"` + testTraceID + `","span_id":"1111111111111111","attributes":{"link.kind":"follows"}}]`,
	}, []string{"service.name", schemas.AttrMappingWarning})
	if s.App != "svc" {
		t.Errorf("App = %q", s.App)
	}
}

func TestAppendSpansMalformedContent(t *testing.T) {
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	tests := []struct {
		name     string
		span     *tracepb.Span
		in, out  string
		warnings []string
	}{
		{
			name:     "input messages that are not JSON are kept raw as the text",
			span:     testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"cut off`),
			in:       `[{"role":"user","parts":[{"type":"text","content":"cut off`,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name: "both sides malformed: both warnings",
			span: testSpan("gen_ai.input.messages", "hello there", "gen_ai.output.messages", iv(7)),
			in:   "hello there",
			out:  "7",
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text",
				"gen_ai.output.messages: not an array of messages, kept raw as the text"},
		},
		{
			name:     "trailing garbage after valid JSON",
			span:     testSpan("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}] extra`),
			out:      `[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}] extra`,
			warnings: []string{"gen_ai.output.messages: not valid JSON, kept raw as the text"},
		},
		{
			name:     "nesting deeper than the reader follows",
			span:     testSpan("gen_ai.input.messages", deep),
			in:       deep,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name:     "bad escape",
			span:     testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"a\qb"}]}]`),
			in:       `[{"role":"user","parts":[{"type":"text","content":"a\qb"}]}]`,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name: "a message event with a non-string content",
			span: func() *tracepb.Span {
				s := testSpan()
				s.Events = []*tracepb.Span_Event{event("gen_ai.user.message", "content", 12), event("gen_ai.choice", "message", "not json")}
				return s
			}(),
			in:  "12",
			out: "not json",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.InputText != tc.in || s.OutputText != tc.out {
				t.Errorf("texts = %q / %q, want %q / %q", s.InputText, s.OutputText, tc.in, tc.out)
			}
			if got, want := s.Attributes[schemas.AttrMappingWarning], strings.Join(tc.warnings, "; "); got != want {
				t.Errorf("warning = %q, want %q", got, want)
			}
		})
	}
}
