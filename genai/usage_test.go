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
