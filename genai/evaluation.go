package genai

import (
	"fmt"
	"math"
	"strconv"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

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

// evaluations appends a score per gen_ai.evaluation.result event of sp,
// mapped onto s. An event without a name, or with neither a value nor a
// label, is not a score and is skipped. The scores are tied to their span by
// trace and span id once the whole request is mapped (tieScores).
func (t *spanMapper) evaluations(dst []schemas.Score, s *schemas.Span, sp *wSpan) []schemas.Score {
	for i := range sp.events {
		ev := &sp.events[i]
		if ev.name != EventEvaluationResult {
			continue
		}
		if sc, ok := evaluationScore(ev.attrs, s, ev.time); ok {
			dst = append(dst, sc)
			t.pending = append(t.pending, pendingScore{i: len(dst) - 1, endTime: !validEventTime(ev.time)})
		}
	}
	return dst
}

// tieScores gives each score taken from an event the app, chain and (for
// an event without a time) time of the last span of the request with the
// event's trace and span id: a request that repeats a span id stores the
// scores under the span stored last.
func (t *spanMapper) tieScores(scores []schemas.Score, spans []schemas.Span) {
	type key struct{ trace, span string }
	of := make(map[key]*schemas.Span, len(spans))
	for i := range spans {
		of[key{spans[i].TraceID, spans[i].SpanID}] = &spans[i]
	}
	for _, p := range t.pending {
		sc := &scores[p.i]
		s := of[key{sc.TraceID, sc.SpanID}]
		sc.App, sc.Chain = s.App, s.ChainName
		if p.endTime {
			sc.Created = s.EndTime
		}
	}
}

func validEventTime(at uint64) bool { return at > 0 && at < uint64(1)<<63 }

func evaluationScore(attrs []wKV, s *schemas.Span, at uint64) (schemas.Score, bool) {
	sc := schemas.Score{TraceID: s.TraceID, SpanID: s.SpanID, App: s.App, Chain: s.ChainName, Metric: EvaluationMetric}
	hasValue := false
	for _, kv := range attrs {
		switch kv.key {
		case AttrEvaluationName:
			sc.Evaluator = stringValue(kv.v)
		case AttrEvaluationValue:
			switch kv.v.typ {
			case vDouble:
				sc.Value, hasValue = math.Float64frombits(kv.v.n), true
			case vInt:
				sc.Value, hasValue = float64(int64(kv.v.n)), true
			case vString: // sent as text by some SDKs
				if f, err := strconv.ParseFloat(kv.v.s, 64); err == nil {
					sc.Value, hasValue = f, true
				}
			}
		case AttrEvaluationLabel:
			sc.Label = stringValue(kv.v)
		case AttrEvaluationExplain:
			sc.Reasoning = stringValue(kv.v)
		}
	}
	if sc.Evaluator == "" || (!hasValue && sc.Label == "") {
		return sc, false
	}
	sc.Created = s.EndTime
	if validEventTime(at) {
		sc.Created = time.Unix(0, int64(at)).UTC()
	}
	return sc, true
}

// stringValue is v's string member, "" for any other type.
func stringValue(v wVal) string {
	if v.typ == vString {
		return v.s
	}
	return ""
}

// AppendRecord decodes one spans-topic record into its spans and the
// scores of the gen_ai.evaluation.result events on them (see
// AppendSpanRecord). On error both are returned unchanged.
//
// The record is read by the strict wire reader (wire.go). Where it gives
// up, proto.Unmarshal decides: its error is the record's, and what it
// decodes is re-encoded (proto.Marshal) and mapped by the same reader and
// mapping, so every record maps the way its canonical encoding does.
func AppendRecord(spans []schemas.Span, scores []schemas.Score, value []byte) ([]schemas.Span, []schemas.Score, error) {
	t := getSpanMapper()
	defer putSpanMapper(t)
	out, sc, ok := t.run(spans, scores, value, true, true)
	if !ok {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(value, req); err != nil {
			return spans, scores, &RecordError{ReasonDecode, fmt.Sprintf("decoding OTLP protobuf: %v", err)}
		}
		canon, err := proto.Marshal(req)
		if err != nil {
			return spans, scores, &RecordError{ReasonDecode, fmt.Sprintf("re-encoding OTLP protobuf: %v", err)}
		}
		if out, sc, ok = t.run(spans, scores, canon, false, true); !ok {
			return spans, scores, &RecordError{ReasonDecode, "decoding OTLP protobuf: its canonical encoding does not read back"}
		}
	}
	if err := t.errs.Err(); err != nil {
		return spans, scores, &RecordError{ReasonInvalid, err.Error()}
	}
	return out, sc, nil
}
