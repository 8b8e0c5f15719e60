// Token counts, status, ids and times as the OTLP mapping stores them.

package genai

import (
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestAppendSpansTokenForms(t *testing.T) {
	tests := []struct {
		name string
		v    *commonpb.AnyValue
		want int64
		kept bool
	}{
		{"int", iv(42), 42, false},
		{"double", dv(42), 42, false},
		{"double rounds", dv(41.6), 42, false},
		{"string", sv("42"), 42, false},
		{"string with spaces", sv(" 42 "), 42, false},
		{"string double", sv("42.0"), 42, false},
		{"negative is no count", iv(-1), 0, true},
		{"garbage is no count", sv("lots"), 0, true},
		{"NaN is no count", dv(nan()), 0, true},
	}
	t.Run("a value that is no count yields to a lower key, with a warning", func(t *testing.T) {
		s := mapOne(t, request(nil, testSpan("gen_ai.usage.input_tokens", "n/a", "llm.token_count.prompt", 9)))
		if s.InputTokens != 9 {
			t.Errorf("InputTokens = %d, want 9", s.InputTokens)
		}
		checkAttrs(t, withColumns(s), map[string]string{schemas.AttrMappingWarning: `gen_ai.usage.input_tokens: "n/a" is not a token count`},
			[]string{"gen_ai.usage.input_tokens", "llm.token_count.prompt"})
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, testSpan("gen_ai.usage.input_tokens", tc.v, "gen_ai.usage.completion_tokens", tc.v)))
			if s.InputTokens != tc.want || s.OutputTokens != tc.want {
				t.Errorf("tokens = %d/%d, want %d", s.InputTokens, s.OutputTokens, tc.want)
			}
			_, kept := s.Attributes["gen_ai.usage.input_tokens"]
			if kept != tc.kept {
				t.Errorf("attribute kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestAppendSpansStatus(t *testing.T) {
	withStatus := func(code tracepb.Status_StatusCode, msg string, attrs ...any) *tracepb.Span {
		s := testSpan(attrs...)
		s.Status = &tracepb.Status{Code: code, Message: msg}
		return s
	}
	withEvents := func(s *tracepb.Span, evs ...*tracepb.Span_Event) *tracepb.Span {
		s.Events = evs
		return s
	}
	tests := []struct {
		name        string
		span        *tracepb.Span
		status, msg string
	}{
		{"unset", testSpan(), schemas.StatusUnset, ""},
		{"ok", withStatus(tracepb.Status_STATUS_CODE_OK, ""), schemas.StatusOK, ""},
		{"error with message", withStatus(tracepb.Status_STATUS_CODE_ERROR, "rate limited",
			"error.type", "429"), schemas.StatusError, "rate limited"},
		{"error message from the exception event", withEvents(withStatus(tracepb.Status_STATUS_CODE_ERROR, "", "error.type", "Timeout"),
			event("exception", "exception.type", "Timeout"), event("exception", "exception.message", "took 30s")), schemas.StatusError, "took 30s"},
		{"error message from error.type", withStatus(tracepb.Status_STATUS_CODE_ERROR, "", "error.type", "Timeout"), schemas.StatusError, "Timeout"},
		{"exception without error status leaves the message empty", withEvents(testSpan(),
			event("exception", "exception.message", "handled")), schemas.StatusUnset, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.Status != tc.status || s.ErrorMessage != tc.msg {
				t.Errorf("status = %q %q, want %q %q", s.Status, s.ErrorMessage, tc.status, tc.msg)
			}
		})
	}
}

func TestAppendSpansIDsAndTimes(t *testing.T) {
	sp := testSpan()
	sp.TraceId = mustHex("ABCDEF0123456789ABCDEF0123456789")
	sp.ParentSpanId = make([]byte, 8) // all zero: a root span
	dst := []schemas.Span{{Name: "already there"}}
	dst, err := AppendSpans(dst, request(nil, sp))
	if err != nil {
		t.Fatal(err)
	}
	s := dst[1]
	if dst[0].Name != "already there" || s.TraceID != "abcdef0123456789abcdef0123456789" || s.SpanID != testSpanID || s.ParentSpanID != "" {
		t.Errorf("ids %q %q %q", s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if !s.StartTime.Equal(time.Unix(0, int64(testStart))) || s.StartTime.Location() != time.UTC || s.Duration() != 1500*time.Millisecond {
		t.Errorf("times %v %v", s.StartTime, s.Duration())
	}
}
