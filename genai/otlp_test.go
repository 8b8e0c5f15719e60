// Helpers the OTLP mapping tests share: attribute values, spans, requests,
// and the golden-file flag.

package genai

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chainwatch/chainwatch/schemas"
)

var updateGolden = flag.Bool("update-mapping", false, "rewrite genai/testdata/dialects/*.golden.json from the current mapping")

func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func iv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
func dv(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func bv(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func av(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}
func kvl(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}

// kvs builds attributes from key, value pairs; values may be string, int,
// float64, bool or *commonpb.AnyValue.
func kvs(pairs ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(pairs); i += 2 {
		var v *commonpb.AnyValue
		switch x := pairs[i+1].(type) {
		case string:
			v = sv(x)
		case int:
			v = iv(int64(x))
		case float64:
			v = dv(x)
		case bool:
			v = bv(x)
		case *commonpb.AnyValue:
			v = x
		default:
			panic("kvs: unsupported value")
		}
		out = append(out, &commonpb.KeyValue{Key: pairs[i].(string), Value: v})
	}
	return out
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testSpanID  = "00f067aa0ba902b7"
	testStart   = uint64(1760000000000000000)
)

func testSpan(attrs ...any) *tracepb.Span {
	return &tracepb.Span{
		TraceId:           mustHex(testTraceID),
		SpanId:            mustHex(testSpanID),
		Name:              "span",
		StartTimeUnixNano: testStart,
		EndTimeUnixNano:   testStart + 1500000000,
		Attributes:        kvs(attrs...),
	}
}

func event(name string, attrs ...any) *tracepb.Span_Event {
	return &tracepb.Span_Event{Name: name, TimeUnixNano: testStart + 1, Attributes: kvs(attrs...)}
}

func request(res []*commonpb.KeyValue, spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: res},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

func mapOne(t *testing.T, req *coltracepb.ExportTraceServiceRequest) schemas.Span {
	t.Helper()
	spans, err := AppendSpans(nil, req)
	if err != nil {
		t.Fatalf("AppendSpans: %v", err)
	}
	if len(spans) != 1 {
		t.Fatalf("AppendSpans returned %d spans, want 1", len(spans))
	}
	return spans[0]
}

// checkAttrs checks that each key of want is in got with that value, and
// each key of gone is absent.
// withColumns is s's attributes with the text columns that were attributes
// once under their old key (chainwatch.input.system → SystemInstructions),
// for the tables that name them so.
func withColumns(s schemas.Span) map[string]string {
	if s.SystemInstructions == "" {
		return s.Attributes
	}
	m := make(map[string]string, len(s.Attributes)+1)
	for k, v := range s.Attributes {
		m[k] = v
	}
	m[schemas.AttrInputSystem] = s.SystemInstructions
	return m
}

func checkAttrs(t *testing.T, got map[string]string, want map[string]string, gone []string) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("attribute %q missing, want %q", k, v)
		} else if g != v {
			t.Errorf("attribute %q = %q, want %q", k, g, v)
		}
	}
	for _, k := range gone {
		if v, ok := got[k]; ok {
			t.Errorf("attribute %q = %q should have been consumed", k, v)
		}
	}
}

// otlpJSONRequest reads an OTLP/JSON request as the OTLP specification
// writes it: ids in hex (protojson alone would read them as base64).
func otlpJSONRequest(t *testing.T, data []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var fix func(any)
	fix = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					x[k] = base64.StdEncoding.EncodeToString(mustHex(s))
					continue
				}
				fix(e)
			}
		case []any:
			for _, e := range x {
				fix(e)
			}
		}
	}
	fix(doc)
	fixed, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := protojson.Unmarshal(fixed, req); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	return req
}

func spanNamed(t *testing.T, spans []schemas.Span, name string) schemas.Span {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span named %q", name)
	return schemas.Span{}
}

// --- dialects ----------------------------------------------------------------

type spanWant struct {
	name  string // span to check
	check func(t *testing.T, s schemas.Span)
	attrs map[string]string
	gone  []string
}
