package genai

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// The gen_ai.evaluation.result event (OpenTelemetry GenAI semantic
// conventions): an evaluation the application ran on its own answer.
const (
	EventEvaluationResult = "gen_ai.evaluation.result"
	AttrEvaluationName    = "gen_ai.evaluation.name"
	AttrEvaluationValue   = "gen_ai.evaluation.score.value"
	AttrEvaluationLabel   = "gen_ai.evaluation.score.label"
	AttrEvaluationExplain = "gen_ai.evaluation.explanation"

	// EvaluationMetric is the metric of a score that came from an
	// application's evaluation event: the evaluator is the event's
	// gen_ai.evaluation.name.
	EvaluationMetric = "score"
)

// AppendEvaluations appends one score per gen_ai.evaluation.result event on
// spans (which AppendSpans mapped from req, so app and chain are the
// span's). An event without a name, or with neither a value nor a label,
// is not a score and is skipped; so is one on a span not in spans.
func AppendEvaluations(dst []schemas.Score, req *coltracepb.ExportTraceServiceRequest, spans []schemas.Span) []schemas.Score {
	type key struct{ trace, span string }
	var of map[key]*schemas.Span
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				for _, ev := range sp.Events {
					if ev.Name != EventEvaluationResult {
						continue
					}
					if of == nil {
						of = make(map[key]*schemas.Span, len(spans))
						for i := range spans {
							of[key{spans[i].TraceID, spans[i].SpanID}] = &spans[i]
						}
					}
					s := of[key{hex.EncodeToString(sp.TraceId), hex.EncodeToString(sp.SpanId)}]
					if s == nil {
						continue
					}
					if sc, ok := evaluationScore(ev.Attributes, s, ev.TimeUnixNano); ok {
						dst = append(dst, sc)
					}
				}
			}
		}
	}
	return dst
}

func evaluationScore(attrs []*commonpb.KeyValue, s *schemas.Span, at uint64) (schemas.Score, bool) {
	sc := schemas.Score{TraceID: s.TraceID, SpanID: s.SpanID, App: s.App, Chain: s.ChainName, Metric: EvaluationMetric}
	hasValue := false
	for _, kv := range attrs {
		switch kv.Key {
		case AttrEvaluationName:
			sc.Evaluator = kv.Value.GetStringValue()
		case AttrEvaluationValue:
			switch v := kv.Value.GetValue().(type) {
			case *commonpb.AnyValue_DoubleValue:
				sc.Value, hasValue = v.DoubleValue, true
			case *commonpb.AnyValue_IntValue:
				sc.Value, hasValue = float64(v.IntValue), true
			case *commonpb.AnyValue_StringValue: // sent as text by some SDKs
				if f, err := strconv.ParseFloat(v.StringValue, 64); err == nil {
					sc.Value, hasValue = f, true
				}
			}
		case AttrEvaluationLabel:
			sc.Label = kv.Value.GetStringValue()
		case AttrEvaluationExplain:
			sc.Reasoning = kv.Value.GetStringValue()
		}
	}
	if sc.Evaluator == "" || (!hasValue && sc.Label == "") {
		return sc, false
	}
	sc.Created = s.EndTime
	if at > 0 && at < uint64(1)<<63 {
		sc.Created = time.Unix(0, int64(at)).UTC()
	}
	return sc, true
}

// AppendRecord decodes one spans-topic record into its spans and the
// scores of the evaluation events on them (see AppendSpanRecord and
// AppendEvaluations). On error both are returned unchanged.
func AppendRecord(spans []schemas.Span, scores []schemas.Score, value []byte) ([]schemas.Span, []schemas.Score, error) {
	req, err := unmarshalTraces(value) // wire.go: proto.Unmarshal's result, fewer allocations
	if err != nil {
		return spans, scores, &RecordError{ReasonDecode, fmt.Sprintf("decoding OTLP protobuf: %v", err)}
	}
	n := len(spans)
	out, err := AppendSpans(spans, req)
	if err != nil {
		return out[:n], scores, &RecordError{ReasonInvalid, err.Error()}
	}
	return out, AppendEvaluations(scores, req, out[n:]), nil
}
