package genai

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chainwatch/chainwatch/schemas"
)

// wireFields is every field the wire reader reads, by message: its number
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
	(&commonpb.KeyValue{}).ProtoReflect(): {"key": {1, protoreflect.StringKind}, "value": {2, protoreflect.MessageKind}, "key_strindex": {3, protoreflect.Int32Kind}},
	(&commonpb.AnyValue{}).ProtoReflect(): {"string_value": {1, protoreflect.StringKind}, "bool_value": {2, protoreflect.BoolKind}, "int_value": {3, protoreflect.Int64Kind},
		"double_value": {4, protoreflect.DoubleKind}, "array_value": {5, protoreflect.MessageKind}, "kvlist_value": {6, protoreflect.MessageKind}, "bytes_value": {7, protoreflect.BytesKind},
		"string_value_strindex": {8, protoreflect.Int32Kind}},
	(&commonpb.ArrayValue{}).ProtoReflect():   {"values": {1, protoreflect.MessageKind}},
	(&commonpb.KeyValueList{}).ProtoReflect(): {"values": {1, protoreflect.MessageKind}},
}

// wireGivesUp is every field the generated code knows and the wire reader
// does not read: the strict reader gives up on a record that has one (see
// fieldSet), so a record with one costs proto.Unmarshal.
var wireGivesUp = map[protoreflect.FullName]bool{
	"opentelemetry.proto.resource.v1.Resource.entity_refs": true,
}

func TestWireFieldNumbers(t *testing.T) {
	for m, fields := range wireFields {
		fds := m.Descriptor().Fields()
		for name, want := range fields {
			fd := fds.ByName(protoreflect.Name(name))
			if fd == nil || fd.Number() != want.num || fd.Kind() != want.kind {
				t.Errorf("%s.%s: the wire reader reads field %d as %v; the descriptor says %v", m.Descriptor().FullName(), name, want.num, want.kind, fd)
			}
		}
		// A field a newer OTLP module adds makes the strict reader give up
		// on every record that has it: read it, or list it in wireGivesUp.
		for i := range fds.Len() {
			fd := fds.Get(i)
			if _, ok := fields[string(fd.Name())]; !ok && !wireGivesUp[fd.FullName()] {
				t.Errorf("%s: the generated code has it, the wire reader neither reads it nor lists it in wireGivesUp", fd.FullName())
			}
		}
	}
}

// richRequest has a span with events, links, nested values of every kind,
// a status and every scalar field set.
func richRequest() *coltracepb.ExportTraceServiceRequest {
	sp := benchRequest(1).ResourceSpans[0].ScopeSpans[0].Spans[0]
	sp.Events = []*tracepb.Span_Event{
		{TimeUnixNano: 5, Name: "gen_ai.choice", Attributes: kvs("index", 0, "message", `{"content":"x"}`)},
		{Name: "exception", Attributes: kvs("exception.message", "boom")},
		{Name: EventEvaluationResult, Attributes: kvs(AttrEvaluationName, "judge", AttrEvaluationValue, 0.5)},
	}
	sp.Links = []*tracepb.Span_Link{{TraceId: sp.TraceId, SpanId: sp.SpanId, TraceState: "a=b", Attributes: kvs("l", true, "n", kvl(kvs("k", 1)...)), Flags: 0x301}}
	sp.Attributes = append(sp.Attributes, kvs("arr", av(sv("s"), dv(-1.5), kvl(kvs("deep", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1}}}, "b", false)...), &commonpb.AnyValue{}),
		"empty", "", "nan", math.NaN(), "kv", kvl(kvs("a", av(iv(1), iv(2)))...))...)
	sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: "novalue"}, &commonpb.KeyValue{Key: "emptyvalue", Value: &commonpb.AnyValue{}})
	sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}
	sp.DroppedAttributesCount, sp.DroppedEventsCount, sp.DroppedLinksCount, sp.Flags, sp.TraceState = 1, 2, 3, 0x101, "k=v"
	req := request(kvs("service.name", "x", "chainwatch.app", av(sv("a"))), sp)
	req.ResourceSpans[0].SchemaUrl = "https://opentelemetry.io/schemas/1.37.0"
	req.ResourceSpans[0].ScopeSpans[0].Scope = &commonpb.InstrumentationScope{Name: "s", Version: "1", Attributes: kvs("scope.attr", 1)}
	return req
}

// Real requests are read by the strict reader, without falling back to
// proto.Unmarshal, and map as their canonical encoding does.
func TestWireStrictReadsRealRequests(t *testing.T) {
	reqs := append([]*coltracepb.ExportTraceServiceRequest{benchRequest(20), richRequest()}, fixtureRequests(t)...)
	for i, req := range reqs {
		body, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		sm := new(spanMapper)
		got, scores, ok := sm.run(nil, nil, body, true, true)
		if !ok {
			t.Fatalf("request %d: the strict reader gave up on a plain request", i)
		}
		want, err := AppendSpans(nil, req)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d maps differently read strictly:\n got %+v\nwant %+v", i, got, want)
		}
		if i == 1 && len(scores) != 1 {
			t.Fatalf("the rich request gave %d scores, want 1", len(scores))
		}
	}
}

// Wire-building helpers: a length-delimited field, a varint field.
func lenField(num protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, concat(parts...))
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func marshal(t testing.TB, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oneSpanRecord is a request with one resource (given as its encoded
// fields), one scope and the span (given as its encoded fields).
func oneSpanRecord(resource, span []byte) []byte {
	return lenField(1, lenField(1, resource), lenField(2, lenField(2, span)))
}

// What the strict reader is not sure of goes through proto.Unmarshal and
// proto.Marshal; the result is what the canonical encoding maps to, and
// proto's error where it refuses. Unknown field numbers are skipped by the
// strict reader itself.
func TestWireUnusualRecords(t *testing.T) {
	span := marshal(t, testSpan("gen_ai.request.model", "m", "k", "v"))
	res := marshal(t, &resourcepb.Resource{Attributes: kvs("service.name", "svc")})
	res2 := marshal(t, &resourcepb.Resource{Attributes: kvs("chainwatch.environment", "prod")})
	nested := sv("leaf")
	for range 100 {
		nested = av(nested)
	}
	deep := marshal(t, &commonpb.KeyValue{Key: "deep", Value: nested})
	for _, c := range []struct {
		name   string
		body   []byte
		strict bool // the strict reader reads it itself
		check  func(t *testing.T, s schemas.Span)
	}{
		{"plain", oneSpanRecord(res, span), true, nil},
		{"unknown fields everywhere", lenField(1, lenField(1, res, varintField(99, 7)), lenField(2, lenField(2, span, varintField(200, 1), lenField(201, []byte("x"))), varintField(50, 1)), varintField(77, 3)), true,
			func(t *testing.T, s schemas.Span) {
				if s.App != "svc" || s.ModelRequested != "m" || s.Attributes["k"] != "v" {
					t.Errorf("span %+v", s)
				}
			}},
		{"resource after its spans", lenField(1, lenField(2, lenField(2, span)), lenField(1, res)), true,
			func(t *testing.T, s schemas.Span) {
				if s.App != "svc" {
					t.Errorf("app %q", s.App)
				}
			}},
		{"resource sent twice (merged)", lenField(1, lenField(1, res), lenField(2, lenField(2, span)), lenField(1, res2)), false,
			func(t *testing.T, s schemas.Span) {
				if s.App != "svc" || s.Environment != "prod" {
					t.Errorf("app %q, environment %q: the two resources are not merged", s.App, s.Environment)
				}
			}},
		{"span name as a varint (an unknown field to proto)", oneSpanRecord(res, concat(span, varintField(5, 1))), false,
			func(t *testing.T, s schemas.Span) {
				if s.Name != "span" {
					t.Errorf("name %q", s.Name)
				}
			}},
		{"nesting deeper than the strict reader follows", oneSpanRecord(res, concat(span, lenField(9, deep))), false,
			func(t *testing.T, s schemas.Span) {
				if want := strings.Repeat("[", 100) + `"leaf"` + strings.Repeat("]", 100); s.Attributes["deep"] != want {
					t.Errorf("deep = %q", s.Attributes["deep"])
				}
			}},
		{"string value sent twice", oneSpanRecord(res, concat(span, lenField(9, lenField(1, []byte("twice")), lenField(2, lenField(1, []byte("a")), lenField(1, []byte("b")))))), false,
			func(t *testing.T, s schemas.Span) {
				if s.Attributes["twice"] != "b" {
					t.Errorf("twice = %q", s.Attributes["twice"])
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, ok := new(spanMapper).run(nil, nil, c.body, true, true); ok != c.strict {
				t.Errorf("strict reader ok = %v, want %v", ok, c.strict)
			}
			spans, _, err := AppendRecord(nil, nil, c.body)
			if err != nil || len(spans) != 1 {
				t.Fatalf("%d spans, %v", len(spans), err)
			}
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(c.body, req); err != nil {
				t.Fatal(err)
			}
			canon, _, err := AppendRecord(nil, nil, marshal(t, req))
			if err != nil || !reflect.DeepEqual(spans, canon) {
				t.Fatalf("maps other than its canonical encoding (%v):\n%+v\n%+v", err, spans, canon)
			}
			if c.check != nil {
				c.check(t, spans[0])
			}
		})
	}
	// A field the generated code knows and the reader does not read
	// (Resource.entity_refs) is checked by proto.Unmarshal: the strict
	// reader gives up on it, never skips it.
	entity := marshal(t, &resourcepb.Resource{Attributes: kvs("service.name", "svc"), EntityRefs: []*commonpb.EntityRef{{Type: "service", IdKeys: []string{"service.name"}}}})
	if _, _, ok := new(spanMapper).run(nil, nil, oneSpanRecord(entity, span), true, true); ok {
		t.Error("the strict reader read a resource with entity_refs")
	}
	if spans, _, err := AppendRecord(nil, nil, oneSpanRecord(entity, span)); err != nil || len(spans) != 1 || spans[0].App != "svc" {
		t.Errorf("a resource with entity_refs: %d spans, %v", len(spans), err)
	}
	// Invalid UTF-8 and malformed bodies: proto.Unmarshal's verdict.
	for _, body := range [][]byte{
		oneSpanRecord(concat(res, lenField(3, lenField(2, []byte{'s', 0x9f, 'c'}))), span),
		oneSpanRecord(res, concat(span, lenField(5, []byte{0xff}))),
		oneSpanRecord(res, concat(span, lenField(9, lenField(1, []byte("k")), lenField(2, lenField(5, lenField(1, lenField(1, []byte{0xc0, 0x80}))))))),
		oneSpanRecord(res, span)[:20],
	} {
		_, _, err := AppendRecord(nil, nil, body)
		uerr := proto.Unmarshal(body, &coltracepb.ExportTraceServiceRequest{})
		var re *RecordError
		if uerr == nil || !errors.As(err, &re) || re.Reason != ReasonDecode || re.Msg != "decoding OTLP protobuf: "+uerr.Error() {
			t.Errorf("error %v; proto.Unmarshal says %v", err, uerr)
		}
	}
}

// FuzzWireCanonical: the one mapping reads any record as it reads the
// record's canonical encoding (proto.Unmarshal, then proto.Marshal): the
// same spans, the same scores, the same error; and a record proto.Unmarshal
// refuses is refused with its error.
func FuzzWireCanonical(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		f.Add(marshal(f, benchRequest(n)))
	}
	f.Add(marshal(f, richRequest()))
	for _, req := range fixtureRequests(f) {
		f.Add(marshal(f, req))
	}
	span := marshal(f, testSpan("gen_ai.request.model", "m"))
	res := marshal(f, &resourcepb.Resource{Attributes: kvs("service.name", "svc")})
	f.Add(lenField(1, lenField(1, res), lenField(2, lenField(2, span)), lenField(1, res)))
	f.Add(oneSpanRecord(res, concat(span, varintField(5, 1), varintField(300, 1))))
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, scores, err := AppendRecord(nil, nil, body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if uerr := proto.Unmarshal(body, req); uerr != nil {
			var re *RecordError
			if !errors.As(err, &re) || re.Reason != ReasonDecode || re.Msg != "decoding OTLP protobuf: "+uerr.Error() {
				t.Fatalf("error %v; proto.Unmarshal says %v", err, uerr)
			}
			return
		}
		canon, merr := proto.Marshal(req)
		if merr != nil {
			t.Fatal(merr)
		}
		cspans, cscores, cerr := AppendRecord(nil, nil, canon)
		if fmt.Sprint(err) != fmt.Sprint(cerr) {
			t.Fatalf("error %v, canonical encoding's %v (%x)", err, cerr, body)
		}
		if !reflect.DeepEqual(spans, cspans) {
			t.Fatalf("spans differ from the canonical encoding's:\n%+v\n%+v", spans, cspans)
		}
		if len(scores) != len(cscores) {
			t.Fatalf("%d scores, the canonical encoding %d", len(scores), len(cscores))
		}
		for i := range scores {
			a, b := scores[i], cscores[i]
			if math.Float64bits(a.Value) != math.Float64bits(b.Value) {
				t.Fatalf("score %d: value %v, canonical %v", i, a.Value, b.Value)
			}
			a.Value, b.Value = 0, 0
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("score %d: %+v, canonical %+v", i, a, b)
			}
		}
	})
}

// Reading spans allocates nothing once the reader's slices have grown: a
// span costs only the memory of its row.
func TestWireReadingAllocatesNothing(t *testing.T) {
	body := marshal(t, richRequest())
	r := &wireReader{strict: true}
	read := func() {
		rss := entries{b: body, num: 1}
		for rs, ok := rss.next(); ok; rs, ok = rss.next() {
			if !r.resourceSpans(rs) {
				t.Fatal("resource_spans refused")
			}
			scopes := entries{b: rs, num: 2}
			for ss, ok := scopes.next(); ok; ss, ok = scopes.next() {
				if !r.scopeSpans(ss) {
					t.Fatal("scope_spans refused")
				}
				spans := entries{b: ss, num: 2}
				for sp, ok := spans.next(); ok; sp, ok = spans.next() {
					if !r.span(sp) {
						t.Fatal("span refused")
					}
				}
			}
		}
	}
	read()
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("reading a request allocates %v times", n)
	}
}
