package genai

import (
	"math"
	"unicode/utf8"
	"unsafe"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The writer's decoder of spans-topic records. proto.Unmarshal allocates
// every message, every attribute and copies every string: measured, it was
// the writer's largest cost (BENCHMARKS.md, "What bounds it"), more than
// the mapping itself. decodeTraces reads the same OTLP request straight
// from the wire into the same message types, but
//
//   - strings alias the record's bytes (unsafe.String; the record is not
//     modified while the mapped spans live, and franz-go does not reuse
//     fetched buffers), and
//   - messages come from slabs (one allocation per 64 attributes, not
//     three per attribute).
//
// It handles the fields OTLP traces have, with proto.Unmarshal's
// semantics for what real senders send (last scalar wins, UTF-8 checked,
// unknown enum values kept). Anything else — a malformed body, a field it
// does not know, a known field with another wire type, a singular message
// sent twice (which protobuf merges), nesting deeper than wireMaxDepth —
// makes it give up, and the caller decodes with proto.Unmarshal, whose
// verdict and error messages stay the reference. FuzzWireDecode checks
// that the two agree on every input.

// wireMaxDepth bounds the AnyValue nesting the fast path follows.
const wireMaxDepth = 64

type wireDec struct {
	b []byte
	// slabs
	kvs   []commonpb.KeyValue
	anys  []commonpb.AnyValue
	strs  []commonpb.AnyValue_StringValue
	ptrs  []*commonpb.KeyValue
	spans []tracepb.Span
	// scratch per nesting depth for attribute lists being read
	scratch [][]*commonpb.KeyValue
}

const slab = 64

func (d *wireDec) kv() *commonpb.KeyValue {
	if len(d.kvs) == 0 {
		d.kvs = make([]commonpb.KeyValue, slab)
	}
	p := &d.kvs[0]
	d.kvs = d.kvs[1:]
	return p
}

func (d *wireDec) any() *commonpb.AnyValue {
	if len(d.anys) == 0 {
		d.anys = make([]commonpb.AnyValue, slab)
	}
	p := &d.anys[0]
	d.anys = d.anys[1:]
	return p
}

func (d *wireDec) str(s string) *commonpb.AnyValue_StringValue {
	if len(d.strs) == 0 {
		d.strs = make([]commonpb.AnyValue_StringValue, slab)
	}
	p := &d.strs[0]
	d.strs = d.strs[1:]
	p.StringValue = s
	return p
}

func (d *wireDec) span() *tracepb.Span {
	if len(d.spans) == 0 {
		d.spans = make([]tracepb.Span, 16)
	}
	p := &d.spans[0]
	d.spans = d.spans[1:]
	return p
}

// list copies the attribute list read at depth into the pointer slab.
func (d *wireDec) list(depth int) []*commonpb.KeyValue {
	if depth >= len(d.scratch) {
		return nil
	}
	l := d.scratch[depth]
	if len(l) == 0 {
		return nil
	}
	if cap(d.ptrs)-len(d.ptrs) < len(l) {
		d.ptrs = make([]*commonpb.KeyValue, 0, max(4*slab, len(l)))
	}
	n := len(d.ptrs)
	d.ptrs = append(d.ptrs, l...)
	clear(d.scratch[depth])
	d.scratch[depth] = l[:0]
	return d.ptrs[n : n+len(l) : n+len(l)]
}

// decodeTraces is the fast path; ok false means: use proto.Unmarshal.
func decodeTraces(b []byte) (req *coltracepb.ExportTraceServiceRequest, ok bool) {
	d := &wireDec{b: b}
	req = &coltracepb.ExportTraceServiceRequest{}
	ok = d.fields(0, len(b), func(num protowire.Number, typ protowire.Type, i, end int) bool {
		if num != 1 || typ != protowire.BytesType {
			return false
		}
		rs := &tracepb.ResourceSpans{}
		req.ResourceSpans = append(req.ResourceSpans, rs)
		return d.resourceSpans(rs, i, end)
	})
	return req, ok
}

// fields calls f for each field of the message in b[i:end] with the value's
// bounds (for length-delimited fields, the bytes inside). It stops at the
// first field f refuses or the first malformed one.
func (d *wireDec) fields(i, end int, f func(num protowire.Number, typ protowire.Type, vi, vend int) bool) bool {
	for i < end {
		num, typ, n := protowire.ConsumeTag(d.b[i:end])
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		i += n
		var vi, vend int
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(d.b[i:end])
			if n < 0 {
				return false
			}
			vi, vend = i+n-len(v), i+n
			i += n
		case protowire.VarintType:
			_, n := protowire.ConsumeVarint(d.b[i:end])
			if n < 0 {
				return false
			}
			vi, vend = i, i+n
			i += n
		case protowire.Fixed64Type:
			if end-i < 8 {
				return false
			}
			vi, vend = i, i+8
			i += 8
		case protowire.Fixed32Type:
			if end-i < 4 {
				return false
			}
			vi, vend = i, i+4
			i += 4
		default: // groups: not in OTLP
			return false
		}
		if !f(num, typ, vi, vend) {
			return false
		}
	}
	return i == end
}

func (d *wireDec) varint(i, end int) uint64 {
	v, _ := protowire.ConsumeVarint(d.b[i:end])
	return v
}

func (d *wireDec) fixed64(i int) uint64 { v, _ := protowire.ConsumeFixed64(d.b[i:]); return v }
func (d *wireDec) fixed32(i int) uint32 { v, _ := protowire.ConsumeFixed32(d.b[i:]); return v }

// string aliases b[i:end]; false when it is not valid UTF-8 (proto3).
func (d *wireDec) string(i, end int) (string, bool) {
	if i == end {
		return "", true
	}
	s := d.b[i:end]
	if !utf8.Valid(s) {
		return "", false
	}
	return unsafe.String(&s[0], len(s)), true
}

// bytes aliases b[i:end] (nil when empty, as proto.Unmarshal leaves it).
func (d *wireDec) bytes(i, end int) []byte {
	if i == end {
		return []byte{}
	}
	return d.b[i:end:end]
}

func (d *wireDec) resourceSpans(rs *tracepb.ResourceSpans, i, end int) bool {
	return d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		switch {
		case num == 1 && typ == protowire.BytesType && rs.Resource == nil:
			rs.Resource = &resourcepb.Resource{}
			return d.resource(rs.Resource, vi, vend)
		case num == 2 && typ == protowire.BytesType:
			ss := &tracepb.ScopeSpans{}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
			return d.scopeSpans(ss, vi, vend)
		case num == 3 && typ == protowire.BytesType:
			var ok bool
			rs.SchemaUrl, ok = d.string(vi, vend)
			return ok
		}
		return false
	})
}

func (d *wireDec) resource(r *resourcepb.Resource, i, end int) bool {
	ok := d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return d.keyValue(0, vi, vend)
		case num == 2 && typ == protowire.VarintType:
			r.DroppedAttributesCount = uint32(d.varint(vi, vend))
			return true
		}
		return false
	})
	r.Attributes = d.list(0)
	return ok
}

func (d *wireDec) scopeSpans(ss *tracepb.ScopeSpans, i, end int) bool {
	return d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		switch {
		case num == 1 && typ == protowire.BytesType && ss.Scope == nil:
			ss.Scope = &commonpb.InstrumentationScope{}
			return d.scope(ss.Scope, vi, vend)
		case num == 2 && typ == protowire.BytesType:
			sp := d.span()
			ss.Spans = append(ss.Spans, sp)
			return d.spanFields(sp, vi, vend)
		case num == 3 && typ == protowire.BytesType:
			var ok bool
			ss.SchemaUrl, ok = d.string(vi, vend)
			return ok
		}
		return false
	})
}

func (d *wireDec) scope(sc *commonpb.InstrumentationScope, i, end int) bool {
	ok := d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		var ok bool
		switch {
		case num == 1 && typ == protowire.BytesType:
			sc.Name, ok = d.string(vi, vend)
		case num == 2 && typ == protowire.BytesType:
			sc.Version, ok = d.string(vi, vend)
		case num == 3 && typ == protowire.BytesType:
			ok = d.keyValue(0, vi, vend)
		case num == 4 && typ == protowire.VarintType:
			sc.DroppedAttributesCount, ok = uint32(d.varint(vi, vend)), true
		}
		return ok
	})
	sc.Attributes = d.list(0)
	return ok
}

func (d *wireDec) spanFields(sp *tracepb.Span, i, end int) bool {
	ok := d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		ok := true
		switch {
		case num == 1 && typ == protowire.BytesType:
			sp.TraceId = d.bytes(vi, vend)
		case num == 2 && typ == protowire.BytesType:
			sp.SpanId = d.bytes(vi, vend)
		case num == 3 && typ == protowire.BytesType:
			sp.TraceState, ok = d.string(vi, vend)
		case num == 4 && typ == protowire.BytesType:
			sp.ParentSpanId = d.bytes(vi, vend)
		case num == 5 && typ == protowire.BytesType:
			sp.Name, ok = d.string(vi, vend)
		case num == 6 && typ == protowire.VarintType:
			sp.Kind = tracepb.Span_SpanKind(int32(d.varint(vi, vend)))
		case num == 7 && typ == protowire.Fixed64Type:
			sp.StartTimeUnixNano = d.fixed64(vi)
		case num == 8 && typ == protowire.Fixed64Type:
			sp.EndTimeUnixNano = d.fixed64(vi)
		case num == 9 && typ == protowire.BytesType:
			ok = d.keyValue(0, vi, vend)
		case num == 10 && typ == protowire.VarintType:
			sp.DroppedAttributesCount = uint32(d.varint(vi, vend))
		case num == 11 && typ == protowire.BytesType:
			ev := &tracepb.Span_Event{}
			sp.Events = append(sp.Events, ev)
			ok = d.event(ev, vi, vend)
		case num == 12 && typ == protowire.VarintType:
			sp.DroppedEventsCount = uint32(d.varint(vi, vend))
		case num == 13 && typ == protowire.BytesType:
			ln := &tracepb.Span_Link{}
			sp.Links = append(sp.Links, ln)
			ok = d.link(ln, vi, vend)
		case num == 14 && typ == protowire.VarintType:
			sp.DroppedLinksCount = uint32(d.varint(vi, vend))
		case num == 15 && typ == protowire.BytesType && sp.Status == nil:
			sp.Status = &tracepb.Status{}
			ok = d.status(sp.Status, vi, vend)
		case num == 16 && typ == protowire.Fixed32Type:
			sp.Flags = d.fixed32(vi)
		default:
			ok = false
		}
		return ok
	})
	// Events and links read their attributes at depth 0 too, setting the
	// span's list aside meanwhile (stash): it is complete only here.
	sp.Attributes = d.list(0)
	return ok
}

func (d *wireDec) event(ev *tracepb.Span_Event, i, end int) bool {
	saved := d.stash()
	ok := d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		ok := true
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			ev.TimeUnixNano = d.fixed64(vi)
		case num == 2 && typ == protowire.BytesType:
			ev.Name, ok = d.string(vi, vend)
		case num == 3 && typ == protowire.BytesType:
			ok = d.keyValue(0, vi, vend)
		case num == 4 && typ == protowire.VarintType:
			ev.DroppedAttributesCount = uint32(d.varint(vi, vend))
		default:
			ok = false
		}
		return ok
	})
	ev.Attributes = d.list(0)
	d.unstash(saved)
	return ok
}

func (d *wireDec) link(ln *tracepb.Span_Link, i, end int) bool {
	saved := d.stash()
	ok := d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		ok := true
		switch {
		case num == 1 && typ == protowire.BytesType:
			ln.TraceId = d.bytes(vi, vend)
		case num == 2 && typ == protowire.BytesType:
			ln.SpanId = d.bytes(vi, vend)
		case num == 3 && typ == protowire.BytesType:
			ln.TraceState, ok = d.string(vi, vend)
		case num == 4 && typ == protowire.BytesType:
			ok = d.keyValue(0, vi, vend)
		case num == 5 && typ == protowire.VarintType:
			ln.DroppedAttributesCount = uint32(d.varint(vi, vend))
		case num == 6 && typ == protowire.Fixed32Type:
			ln.Flags = d.fixed32(vi)
		default:
			ok = false
		}
		return ok
	})
	ln.Attributes = d.list(0)
	d.unstash(saved)
	return ok
}

// stash sets aside the depth-0 list being read (a span's attributes) while
// an event or link reads its own.
func (d *wireDec) stash() []*commonpb.KeyValue {
	if len(d.scratch) == 0 {
		return nil
	}
	s := d.scratch[0]
	d.scratch[0] = nil
	return s
}

func (d *wireDec) unstash(s []*commonpb.KeyValue) {
	if len(d.scratch) > 0 {
		d.scratch[0] = s
	}
}

func (d *wireDec) status(st *tracepb.Status, i, end int) bool {
	return d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		ok := true
		switch {
		case num == 2 && typ == protowire.BytesType:
			st.Message, ok = d.string(vi, vend)
		case num == 3 && typ == protowire.VarintType:
			st.Code = tracepb.Status_StatusCode(int32(d.varint(vi, vend)))
		default:
			ok = false
		}
		return ok
	})
}

// keyValue reads one KeyValue and appends it to the list at depth.
func (d *wireDec) keyValue(depth, i, end int) bool {
	if depth >= wireMaxDepth {
		return false
	}
	for len(d.scratch) <= depth {
		d.scratch = append(d.scratch, nil)
	}
	kv := d.kv()
	d.scratch[depth] = append(d.scratch[depth], kv)
	return d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var ok bool
			kv.Key, ok = d.string(vi, vend)
			return ok
		case num == 2 && typ == protowire.BytesType && kv.Value == nil:
			kv.Value = d.any()
			return d.anyValue(kv.Value, depth+1, vi, vend)
		}
		return false
	})
}

func (d *wireDec) anyValue(v *commonpb.AnyValue, depth, i, end int) bool {
	if depth >= wireMaxDepth {
		return false
	}
	set := false // a message member sent twice would merge: not handled here
	return d.fields(i, end, func(num protowire.Number, typ protowire.Type, vi, vend int) bool {
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, ok := d.string(vi, vend)
			v.Value = d.str(s)
			return ok
		case num == 2 && typ == protowire.VarintType:
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: d.varint(vi, vend) != 0}
		case num == 3 && typ == protowire.VarintType:
			v.Value = &commonpb.AnyValue_IntValue{IntValue: int64(d.varint(vi, vend))}
		case num == 4 && typ == protowire.Fixed64Type:
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: math.Float64frombits(d.fixed64(vi))}
		case num == 5 && typ == protowire.BytesType && !set:
			set = true
			arr := &commonpb.ArrayValue{}
			v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: arr}
			return d.fields(vi, vend, func(num protowire.Number, typ protowire.Type, ei, eend int) bool {
				if num != 1 || typ != protowire.BytesType {
					return false
				}
				e := d.any()
				arr.Values = append(arr.Values, e)
				return d.anyValue(e, depth+1, ei, eend)
			})
		case num == 6 && typ == protowire.BytesType && !set:
			set = true
			kl := &commonpb.KeyValueList{}
			v.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: kl}
			saved := d.scratchAt(depth)
			ok := d.fields(vi, vend, func(num protowire.Number, typ protowire.Type, ei, eend int) bool {
				if num != 1 || typ != protowire.BytesType {
					return false
				}
				return d.keyValue(depth, ei, eend)
			})
			kl.Values = d.list(depth)
			d.restoreAt(depth, saved)
			return ok
		case num == 7 && typ == protowire.BytesType:
			v.Value = &commonpb.AnyValue_BytesValue{BytesValue: d.bytes(vi, vend)}
		default:
			return false
		}
		return true
	})
}

// scratchAt sets aside the list being read at depth (a kvlist nested in a
// list of the same depth is read there in turn).
func (d *wireDec) scratchAt(depth int) []*commonpb.KeyValue {
	for len(d.scratch) <= depth {
		d.scratch = append(d.scratch, nil)
	}
	s := d.scratch[depth]
	d.scratch[depth] = nil
	return s
}

func (d *wireDec) restoreAt(depth int, s []*commonpb.KeyValue) { d.scratch[depth] = s }

// unmarshalTraces decodes an OTLP ExportTraceServiceRequest: the fast path
// when it can, else proto.Unmarshal (the reference, and its errors).
func unmarshalTraces(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	if req, ok := decodeTraces(b); ok {
		return req, nil
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, err
	}
	return req, nil
}
