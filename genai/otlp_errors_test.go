// Structural errors, their bound, and nil-tolerance of the OTLP mapping.

package genai

import (
	"errors"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestAppendSpansStructuralErrors(t *testing.T) {
	mod := func(f func(*tracepb.Span)) *tracepb.Span {
		s := testSpan()
		f(s)
		return s
	}
	tests := []struct {
		name     string
		span     *tracepb.Span
		field    string
		msg      string
		wantSpan string
	}{
		{"short trace id", mod(func(s *tracepb.Span) { s.TraceId = []byte{1, 2, 3} }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must be 16 bytes, got 3", testSpanID},
		{"missing trace id", mod(func(s *tracepb.Span) { s.TraceId = nil }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must be 16 bytes, got 0", testSpanID},
		{"zero trace id", mod(func(s *tracepb.Span) { s.TraceId = make([]byte, 16) }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must not be all zero", testSpanID},
		{"long span id", mod(func(s *tracepb.Span) { s.SpanId = make([]byte, 9) }), "span_id",
			"resource_spans[0].scope_spans[1].spans[1]: span_id: must be 8 bytes, got 9", ""},
		{"zero span id", mod(func(s *tracepb.Span) { s.SpanId = make([]byte, 8) }), "span_id",
			"resource_spans[0].scope_spans[1].spans[1]: span_id: must not be all zero", ""},
		{"bad parent", mod(func(s *tracepb.Span) { s.ParentSpanId = []byte{1} }), "parent_span_id",
			"resource_spans[0].scope_spans[1].spans[1]: parent_span_id: must be empty or 8 bytes, got 1", testSpanID},
		{"no start", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = 0 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: must not be zero", testSpanID},
		{"end before start", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = s.StartTimeUnixNano - 1 }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: must not be before start_time_unix_nano (start 1760000000000000000, end 1759999999999999999)", testSpanID},
		{"start after 2262", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = 1 << 63; s.EndTimeUnixNano = 1 << 63 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2262-04-11T23:47:16.854775808Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"start in 2200", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = unixNano2200; s.EndTimeUnixNano = unixNano2200 + 1 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"start 1ns after the range", mod(func(s *tracepb.Span) {
			s.StartTimeUnixNano = schemas.MaxStorableUnixNano + 1
			s.EndTimeUnixNano = schemas.MaxStorableUnixNano + 1
		}), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2106-02-07T06:28:15.000000001Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"end in 2200", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = unixNano2200 }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"end at the largest uint64", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = ^uint64(0) }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: 2554-07-21T23:34:33.709551615Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := testSpan()
			req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{good}}, {Spans: []*tracepb.Span{good, tc.span, good}}},
			}}}
			for _, fn := range []struct {
				name string
				run  func() error
			}{
				{"ValidateOTLP", func() error { return ValidateOTLP(req) }},
				{"AppendSpans", func() error {
					spans, err := AppendSpans(nil, req)
					if len(spans) != 3 {
						t.Errorf("AppendSpans kept %d spans, want the 3 good ones", len(spans))
					}
					return err
				}},
			} {
				err := fn.run()
				if err == nil {
					t.Fatalf("%s: no error", fn.name)
				}
				if err.Error() != tc.msg {
					t.Errorf("%s: error\n %q, want\n %q", fn.name, err.Error(), tc.msg)
				}
				var se *SpanError
				if !errors.As(err, &se) {
					t.Fatalf("%s: %T is not a *SpanError", fn.name, err)
				}
				if se.Resource != 0 || se.Scope != 1 || se.Span != 1 || se.Field != tc.field || se.SpanID != tc.wantSpan {
					t.Errorf("%s: %+v", fn.name, *se)
				}
			}
		})
	}
}

func TestErrorsAreBounded(t *testing.T) {
	var spans []*tracepb.Span
	for i := 0; i < 13; i++ {
		s := testSpan()
		s.TraceId = nil
		spans = append(spans, s)
	}
	spans = append(spans, testSpan())
	req := request(nil, spans...)
	err := ValidateOTLP(req)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 || lines[10] != "and 3 more spans with errors" || !strings.HasPrefix(lines[9], "resource_spans[0].scope_spans[0].spans[9]: ") {
		t.Errorf("error:\n%v", err)
	}
	got, err2 := AppendSpans(nil, req)
	if len(got) != 1 || err2 == nil || err2.Error() != err.Error() {
		t.Errorf("AppendSpans: %d spans, %v", len(got), err2)
	}
	if err := ValidateOTLP(request(nil, testSpan())); err != nil {
		t.Errorf("valid request: %v", err)
	}
	if got, err := AppendSpans(nil, nil); len(got) != 0 || err != nil {
		t.Errorf("nil request: %v %v", got, err)
	}
}

func TestAppendSpansToleratesNils(t *testing.T) {
	sp := testSpan("k", "v")
	sp.Attributes = append(sp.Attributes, nil, &commonpb.KeyValue{Key: "nil.value"}, &commonpb.KeyValue{Key: schemas.AttrChainName})
	sp.Events = []*tracepb.Span_Event{nil, {Name: "gen_ai.user.message"}, {Name: "gen_ai.choice", Attributes: []*commonpb.KeyValue{nil}}}
	sp.Links = []*tracepb.Span_Link{nil}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		nil,
		{ScopeSpans: []*tracepb.ScopeSpans{nil, {Scope: &commonpb.InstrumentationScope{Attributes: []*commonpb.KeyValue{nil}}, Spans: []*tracepb.Span{nil, sp}}}},
	}}
	if err := ValidateOTLP(req); err != nil {
		t.Fatal(err)
	}
	s := mapOne(t, req)
	checkAttrs(t, withColumns(s), map[string]string{"k": "v", "nil.value": ""}, []string{schemas.AttrChainName})
}
