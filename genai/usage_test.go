package genai

import (
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// The current conventions' usage detail, streaming flag and time to first
// chunk map to their columns and leave the attribute map; a value of the
// wrong type stays an attribute.
func TestUsageDetailAndStreaming(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	span := func(attrs ...*commonpb.KeyValue) schemas.Span {
		t.Helper()
		req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: []byte("0123456789abcdef"), SpanId: []byte("abcdefgh"), Name: "chat",
			StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()),
			Attributes: append(evkvs("gen_ai.operation.name", "chat", schemas.AttrGenAIUsageInputTokens, 100, schemas.AttrGenAIUsageOutputTokens, 40), attrs...),
		}}}}}}}
		spans, err := AppendSpans(nil, req)
		if err != nil || len(spans) != 1 {
			t.Fatalf("%v %d", err, len(spans))
		}
		return spans[0]
	}
	b := func(k string, v bool) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
	}
	s := span(append(evkvs(schemas.AttrGenAIUsageCacheReadInputTokens, 64, schemas.AttrGenAIUsageCacheCreationInputTokens, 16,
		schemas.AttrGenAIUsageReasoningOutputTokens, 12, schemas.AttrGenAIResponseTimeToFirstChunk, 0.25), b(schemas.AttrGenAIRequestStream, true))...)
	if s.CacheReadInputTokens != 64 || s.CacheCreationInputTokens != 16 || s.ReasoningOutputTokens != 12 || !s.Stream || s.TimeToFirstChunkMS != 250 {
		t.Fatalf("span %+v", s)
	}
	for _, k := range []string{schemas.AttrGenAIUsageCacheReadInputTokens, schemas.AttrGenAIRequestStream, schemas.AttrGenAIResponseTimeToFirstChunk} {
		if _, kept := s.Attributes[k]; kept {
			t.Errorf("%s is both a column and an attribute", k)
		}
	}
	odd := span(evkvs(schemas.AttrGenAIRequestStream, "yes", schemas.AttrGenAIResponseTimeToFirstChunk, "fast")...)
	if odd.Stream || odd.TimeToFirstChunkMS != 0 || odd.Attributes[schemas.AttrGenAIRequestStream] != "yes" || odd.Attributes[schemas.AttrGenAIResponseTimeToFirstChunk] != "fast" {
		t.Fatalf("wrongly typed values: %+v", odd)
	}
}

// gen_ai.tool.definitions (a JSON string or a structured value) and an
// apply_guardrail span's gen_ai.guardrail.result event have their own
// columns and leave the attributes; the chainwatch JSON form carries every
// column of the current conventions through to the same mapping.
func TestToolDefinitionsAndGuardrailResult(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	one := func(sp *tracepb.Span) schemas.Span {
		t.Helper()
		sp.TraceId, sp.SpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano = []byte("0123456789abcdef"), []byte("abcdefgh"), uint64(start.UnixNano()), uint64(start.Add(time.Second).UnixNano())
		spans, err := AppendSpans(nil, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}}})
		if err != nil || len(spans) != 1 {
			t.Fatalf("%v %d", err, len(spans))
		}
		return spans[0]
	}
	defs := `[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]`
	s := one(&tracepb.Span{Name: "chat", Attributes: evkvs("gen_ai.operation.name", "chat", schemas.AttrGenAIToolDefinitions, defs)})
	if s.ToolDefinitions != defs || s.Attributes[schemas.AttrGenAIToolDefinitions] != "" {
		t.Errorf("tool definitions: column %q, attributes %v", s.ToolDefinitions, s.Attributes)
	}
	g := one(&tracepb.Span{Name: "guard", Attributes: evkvs("gen_ai.operation.name", "apply_guardrail"),
		Events: []*tracepb.Span_Event{{Name: schemas.EventGuardrailResult, Attributes: evkvs("gen_ai.guardrail.decision", "block", "gen_ai.guardrail.name", "pii")}}})
	if g.ComponentKind != schemas.KindGuardrail || g.GuardrailResult != `{"gen_ai.guardrail.decision":"block","gen_ai.guardrail.name":"pii"}` || len(g.Attributes) != 0 {
		t.Errorf("guardrail: kind %q result %q attributes %v", g.ComponentKind, g.GuardrailResult, g.Attributes)
	}

	want := schemas.Span{TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708", Name: "chat", StartTime: start, EndTime: start.Add(time.Second),
		App: "a", ComponentName: "chat", ComponentKind: schemas.KindLLM, Operation: "chat", InputText: "q", OutputText: "a", InputTokens: 10, OutputTokens: 4,
		CacheReadInputTokens: 6, CacheCreationInputTokens: 2, ReasoningOutputTokens: 3, Stream: true, TimeToFirstChunkMS: 125,
		SystemInstructions: "Be brief.", ToolDefinitions: defs, Status: schemas.StatusUnset}
	spans, err := AppendSpans(nil, (&JSONBatch{Spans: []schemas.Span{want}}).ToOTLP())
	if err != nil || len(spans) != 1 {
		t.Fatalf("%v", err)
	}
	got := spans[0]
	got.Attributes = nil
	if !spanEqual(got, want) {
		t.Errorf("JSON form round trip:\n got %+v\nwant %+v", got, want)
	}
}

// OpenInference's llm.tools.{i}.tool.json_schema and OpenLLMetry's
// llm.request.functions.{i}.* become tool_definitions (in index order)
// and leave the attributes; gen_ai.tool.definitions wins over both.
func TestIndexedToolDefinitions(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	one := func(attrs ...*commonpb.KeyValue) schemas.Span {
		t.Helper()
		spans, err := AppendSpans(nil, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: []byte("0123456789abcdef"), SpanId: []byte("abcdefgh"), Name: "chat", StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.UnixNano()),
			Attributes: attrs}}}}}}})
		if err != nil || len(spans) != 1 {
			t.Fatalf("%v", err)
		}
		return spans[0]
	}
	w := `{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}`
	oi := one(evkvs("openinference.span.kind", "LLM", "llm.tools.1.tool.json_schema", `{"type":"function","function":{"name":"b"}}`, "llm.tools.0.tool.json_schema", w)...)
	if oi.ToolDefinitions != `[`+w+`,{"type":"function","function":{"name":"b"}}]` || len(oi.Attributes) != 0 {
		t.Errorf("OpenInference: %q, attributes %v", oi.ToolDefinitions, oi.Attributes)
	}
	tl := one(evkvs("llm.request.type", "chat", "llm.request.functions.0.name", "get_weather", "llm.request.functions.0.description", "Weather now",
		"llm.request.functions.0.arguments", `{"type":"object","properties":{"city":{"type":"string"}}}`, "llm.request.functions.1.name", "noargs")...)
	if tl.ToolDefinitions != `[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"type":"function","name":"noargs"}]` ||
		tl.Attributes["llm.request.functions.0.name"] != "" {
		t.Errorf("OpenLLMetry: %q, attributes %v", tl.ToolDefinitions, tl.Attributes)
	}
	both := one(evkvs(schemas.AttrGenAIToolDefinitions, `[{"name":"x"}]`, "llm.tools.0.tool.json_schema", w)...)
	if both.ToolDefinitions != `[{"name":"x"}]` || both.Attributes["llm.tools.0.tool.json_schema"] != w {
		t.Errorf("precedence: %q, attributes %v", both.ToolDefinitions, both.Attributes)
	}
}
