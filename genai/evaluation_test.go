package genai

import (
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func evkvs(pairs ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(pairs); i += 2 {
		kv := &commonpb.KeyValue{Key: pairs[i].(string)}
		switch v := pairs[i+1].(type) {
		case string:
			kv.Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
		case float64:
			kv.Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
		case int:
			kv.Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(v)}}
		}
		out = append(out, kv)
	}
	return out
}

// An application's gen_ai.evaluation.result events become scores of their
// span: evaluator = gen_ai.evaluation.name, value, label, explanation; an
// event with neither a value nor a label, or without a name, is not one.
func TestEvaluationEventsBecomeScores(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := start.Add(2 * time.Second)
	ev := func(attrs ...any) *tracepb.Span_Event {
		return &tracepb.Span_Event{Name: EventEvaluationResult, TimeUnixNano: uint64(at.UnixNano()), Attributes: evkvs(attrs...)}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: evkvs("service.name", "support-bot")},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: []byte("0123456789abcdef"), SpanId: []byte("abcdefgh"), Name: "chat gpt-4o",
			StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()),
			Attributes: evkvs("gen_ai.operation.name", "chat", "chainwatch.chain.name", "answer"),
			Events: []*tracepb.Span_Event{
				ev(AttrEvaluationName, "relevance", AttrEvaluationValue, 0.82, AttrEvaluationLabel, "relevant", AttrEvaluationExplain, "on topic"),
				ev(AttrEvaluationName, "toxicity", AttrEvaluationValue, 0),
				ev(AttrEvaluationName, "tone", AttrEvaluationLabel, "friendly"),
				ev(AttrEvaluationName, "empty"),                        // no value, no label
				ev(AttrEvaluationValue, 1.0),                           // no name
				{Name: "gen_ai.choice", Attributes: evkvs("index", 0)}, // not an evaluation
			},
		}}}},
	}}}
	value, _ := proto.Marshal(req)
	spans, scores, err := AppendRecord(nil, nil, value)
	if err != nil || len(spans) != 1 {
		t.Fatalf("spans %d, err %v", len(spans), err)
	}
	if len(scores) != 3 {
		t.Fatalf("%d scores, want 3: %+v", len(scores), scores)
	}
	s := scores[0]
	if s.TraceID != spans[0].TraceID || s.SpanID != spans[0].SpanID || s.App != "support-bot" || s.Chain != "answer" ||
		s.Evaluator != "relevance" || s.Metric != EvaluationMetric || s.Value != 0.82 || s.Label != "relevant" ||
		s.Reasoning != "on topic" || !s.Created.Equal(at) {
		t.Errorf("relevance score %+v", s)
	}
	if scores[1].Evaluator != "toxicity" || scores[1].Value != 0 || scores[1].Label != "" {
		t.Errorf("toxicity score %+v (an integer 0 is a value)", scores[1])
	}
	if scores[2].Evaluator != "tone" || scores[2].Label != "friendly" || scores[2].Value != 0 {
		t.Errorf("tone score %+v (a label alone is a score)", scores[2])
	}
}
