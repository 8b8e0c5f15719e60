package genai

import (
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireFields is every field the fast path reads, by message: its number
// and kind must be what the generated code says (a renumbered or retyped
// field would otherwise be read wrong, not refused).
var wireFields = map[protoreflect.Message]map[string]struct {
	num  protoreflect.FieldNumber
	kind protoreflect.Kind
}{
	(&coltracepb.ExportTraceServiceRequest{}).ProtoReflect(): {"resource_spans": {1, protoreflect.MessageKind}},
	(&tracepb.ResourceSpans{}).ProtoReflect():                {"resource": {1, protoreflect.MessageKind}, "scope_spans": {2, protoreflect.MessageKind}, "schema_url": {3, protoreflect.StringKind}},
	(&resourcepb.Resource{}).ProtoReflect():                  {"attributes": {1, protoreflect.MessageKind}, "dropped_attributes_count": {2, protoreflect.Uint32Kind}},
	(&tracepb.ScopeSpans{}).ProtoReflect():                   {"scope": {1, protoreflect.MessageKind}, "spans": {2, protoreflect.MessageKind}, "schema_url": {3, protoreflect.StringKind}},
	(&commonpb.InstrumentationScope{}).ProtoReflect(): {"name": {1, protoreflect.StringKind}, "version": {2, protoreflect.StringKind},
		"attributes": {3, protoreflect.MessageKind}, "dropped_attributes_count": {4, protoreflect.Uint32Kind}},
	(&tracepb.Span{}).ProtoReflect(): {"trace_id": {1, protoreflect.BytesKind}, "span_id": {2, protoreflect.BytesKind}, "trace_state": {3, protoreflect.StringKind},
		"parent_span_id": {4, protoreflect.BytesKind}, "name": {5, protoreflect.StringKind}, "kind": {6, protoreflect.EnumKind},
		"start_time_unix_nano": {7, protoreflect.Fixed64Kind}, "end_time_unix_nano": {8, protoreflect.Fixed64Kind},
		"attributes": {9, protoreflect.MessageKind}, "dropped_attributes_count": {10, protoreflect.Uint32Kind}, "events": {11, protoreflect.MessageKind},
		"dropped_events_count": {12, protoreflect.Uint32Kind}, "links": {13, protoreflect.MessageKind}, "dropped_links_count": {14, protoreflect.Uint32Kind},
		"status": {15, protoreflect.MessageKind}, "flags": {16, protoreflect.Fixed32Kind}},
	(&tracepb.Span_Event{}).ProtoReflect(): {"time_unix_nano": {1, protoreflect.Fixed64Kind}, "name": {2, protoreflect.StringKind},
		"attributes": {3, protoreflect.MessageKind}, "dropped_attributes_count": {4, protoreflect.Uint32Kind}},
	(&tracepb.Span_Link{}).ProtoReflect(): {"trace_id": {1, protoreflect.BytesKind}, "span_id": {2, protoreflect.BytesKind}, "trace_state": {3, protoreflect.StringKind},
		"attributes": {4, protoreflect.MessageKind}, "dropped_attributes_count": {5, protoreflect.Uint32Kind}, "flags": {6, protoreflect.Fixed32Kind}},
	(&tracepb.Status{}).ProtoReflect():    {"message": {2, protoreflect.StringKind}, "code": {3, protoreflect.EnumKind}},
	(&commonpb.KeyValue{}).ProtoReflect(): {"key": {1, protoreflect.StringKind}, "value": {2, protoreflect.MessageKind}},
	(&commonpb.AnyValue{}).ProtoReflect(): {"string_value": {1, protoreflect.StringKind}, "bool_value": {2, protoreflect.BoolKind}, "int_value": {3, protoreflect.Int64Kind},
		"double_value": {4, protoreflect.DoubleKind}, "array_value": {5, protoreflect.MessageKind}, "kvlist_value": {6, protoreflect.MessageKind}, "bytes_value": {7, protoreflect.BytesKind}},
	(&commonpb.ArrayValue{}).ProtoReflect():   {"values": {1, protoreflect.MessageKind}},
	(&commonpb.KeyValueList{}).ProtoReflect(): {"values": {1, protoreflect.MessageKind}},
}

func TestWireFieldNumbers(t *testing.T) {
	for m, fields := range wireFields {
		fds := m.Descriptor().Fields()
		for name, want := range fields {
			fd := fds.ByName(protoreflect.Name(name))
			if fd == nil || fd.Number() != want.num || fd.Kind() != want.kind {
				t.Errorf("%s.%s: the fast path reads field %d as %v; the descriptor says %v", m.Descriptor().FullName(), name, want.num, want.kind, fd)
			}
		}
	}
}

// Real requests take the fast path and decode to what proto.Unmarshal
// gives: the benchmark's, the dialect fixtures', one with events, links,
// nested values of every kind and a status.
func TestWireDecodeMatchesProtoUnmarshal(t *testing.T) {
	reqs := []*coltracepb.ExportTraceServiceRequest{benchRequest(20)}
	sp := benchRequest(1).ResourceSpans[0].ScopeSpans[0].Spans[0]
	sp.Events = []*tracepb.Span_Event{{TimeUnixNano: 5, Name: "gen_ai.choice", Attributes: kvs("index", 0, "message", `{"content":"x"}`)}, {Name: "exception"}}
	sp.Links = []*tracepb.Span_Link{{TraceId: sp.TraceId, SpanId: sp.SpanId, TraceState: "a=b", Attributes: kvs("l", true), Flags: 0x301}}
	sp.Attributes = append(sp.Attributes, kvs("arr", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
		{Value: &commonpb.AnyValue_StringValue{StringValue: "s"}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: -1.5}},
		{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs("deep", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1}}}, "b", false)}}}}}}},
		"empty", "")...)
	sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}
	sp.DroppedAttributesCount, sp.DroppedEventsCount, sp.DroppedLinksCount, sp.Flags, sp.TraceState = 1, 2, 3, 0x101, "k=v"
	reqs = append(reqs, request(kvs("service.name", "x"), sp))
	for i, req := range reqs {
		body, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeTraces(body)
		if !ok {
			t.Fatalf("request %d: the fast path gave up on a plain request", i)
		}
		if !proto.Equal(got, req) {
			t.Fatalf("request %d decodes differently:\n got %v\nwant %v", i, got, req)
		}
	}
}

// FuzzWireDecode: wherever the fast path decodes a body, proto.Unmarshal
// decodes it too, to an equal message; where proto.Unmarshal refuses a
// body, the fast path gives up (unmarshalTraces then returns the
// reference error).
func FuzzWireDecode(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		b, _ := proto.Marshal(benchRequest(n))
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		ref := &coltracepb.ExportTraceServiceRequest{}
		rerr := proto.Unmarshal(body, ref)
		got, ok := decodeTraces(body)
		switch {
		case ok && rerr != nil:
			t.Fatalf("the fast path accepted a body proto.Unmarshal refuses (%v)", rerr)
		case ok && !proto.Equal(got, ref):
			t.Fatalf("decodes differ:\n fast %v\n ref  %v", got, ref)
		}
	})
}
