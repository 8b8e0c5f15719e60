package collector

import (
	"context"
	"encoding/hex"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chainwatch/chainwatch/genai"
)

// This file is the collector's fast path for OTLP/HTTP protobuf bodies: it
// validates and splits an encoded ExportTraceServiceRequest by trace id
// without decoding it into messages, copying the encoded resources, scopes
// and spans into the records as they are.
//
// It accepts exactly the bodies that proto.Unmarshal followed by
// genai.ValidateOTLP accepts, and its records decode to what kafka.SplitByTrace
// produces from the decoded request (TestSplitByTraceWireMatchesMessagePath
// and FuzzSplitByTraceWire hold the two paths to that). So the whole body is
// walked, not only the fields the grouping needs: every field the OTLP schema
// knows is checked the way proto.Unmarshal checks it (lengths, varints, UTF-8
// of strings, nesting depth), or a body the writer cannot decode would be
// acknowledged and reach Kafka. The field table comes from the linked
// generated code's descriptors, so a field added to OTLP is checked without
// a change here.
//
// Unknown fields, and known fields sent with a wire type other than their
// own (which proto.Unmarshal keeps as unknown fields), are treated as the
// message path treats them:
//   - in Resource, InstrumentationScope and Span they survive: those messages
//     are copied byte for byte, as proto.Marshal writes the unknown fields it
//     kept;
//   - in ExportTraceServiceRequest, ResourceSpans and ScopeSpans they are
//     dropped, as kafka.SplitByTrace builds new messages of those types holding
//     only the resource or scope, the schema_url and the spans.
//
// A resource or scope field that occurs more than once (proto.Unmarshal
// merges the occurrences) is copied once per occurrence, in order, so a
// decoder merges them the same way; likewise every schema_url occurrence is
// copied and the last one wins.

// SplitByTraceWire validates an encoded OTLP ExportTraceServiceRequest and
// splits it into one Kafka record per trace, as proto.Unmarshal,
// genai.ValidateOTLP and kafka.SplitByTrace do together, without decoding the
// spans: records are keyed by the trace id in lower-case hex, in order of the
// traces' first span, and each value is an encoded ExportTraceServiceRequest
// holding that trace's spans with their resources and scopes. It returns the
// number of spans.
//
// Malformed protobuf yields an error starting "decoding OTLP protobuf: ";
// spans failing the structural checks yield the error ValidateOTLP would
// return for them (a *genai.SpanError or a join of up to ten), which
// errors.As finds. A malformed body is reported before any invalid span, as
// on the message path.
//
// When the request holds a single trace and nothing that kafka.SplitByTrace would
// drop, the record's value is body itself: the caller must not modify body
// afterwards. Otherwise the values share one new buffer.
func SplitByTraceWire(body []byte, topic string) (recs []*kgo.Record, spans int, err error) {
	recs, spans, rej, _, err := splitTracesWire(body, topic)
	if err == nil && rej.n > 0 {
		return nil, 0, rej.err
	}
	return recs, spans, err
}

// splitTracesWire is SplitByTraceWire keeping the valid spans (partial
// success): the records hold the spans that pass the structural checks,
// as kafka.SplitByTrace makes them of the request validSpans leaves, and
// the others are returned in rej. err is only a malformed body. buf is the
// pooled buffer (bufpool.go) the records' values share, nil when there is
// none; it may be recycled once the records are acknowledged or failed.
func splitTracesWire(body []byte, topic string) (recs []*kgo.Record, spans int, rej spanRejects, buf []byte, err error) {
	w := splitterPool.Get().(*wireSplitter)
	defer w.release()
	w.body = body
	if err := w.request(); err != nil {
		return nil, 0, spanRejects{}, nil, err
	}
	recs, buf = w.records(topic)
	return recs, len(w.spans), w.rej.result(), buf, nil
}

// exportTracesWire is exportTraces for an OTLP/HTTP protobuf body.
func (c *Collector) exportTracesWire(ctx context.Context, ep string, body []byte) (int, spanRejects, *httpError) {
	recs, n, rej, buf, err := splitTracesWire(body, c.topics.Spans)
	ticketFrom(ctx).recycle(buf)
	if err != nil {
		return 0, rej, badRequest("%v", err)
	}
	return c.produceValid(ctx, ep, recs, n, rej)
}

// Field numbers of the messages the splitter walks itself. Protobuf field
// numbers never change; TestWireSchema checks these against the descriptors.
const (
	fieldRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fieldRSResource           = 1 // ResourceSpans.resource
	fieldRSScopeSpans         = 2 // ResourceSpans.scope_spans
	fieldRSSchemaURL          = 3 // ResourceSpans.schema_url
	fieldSSScope              = 1 // ScopeSpans.scope
	fieldSSSpans              = 2 // ScopeSpans.spans
	fieldSSSchemaURL          = 3 // ScopeSpans.schema_url
	fieldSpanTraceID          = 1
	fieldSpanSpanID           = 2
	fieldSpanParentSpanID     = 4
	fieldSpanStart            = 7 // fixed64
	fieldSpanEnd              = 8 // fixed64
)

// Tags written into the records: resource_spans in the request, scope_spans
// in a ResourceSpans and spans in a ScopeSpans, all length-delimited.
var (
	tagResourceSpans = byte(protowire.EncodeTag(fieldRequestResourceSpans, protowire.BytesType))
	tagScopeSpans    = byte(protowire.EncodeTag(fieldRSScopeSpans, protowire.BytesType))
	tagSpans         = byte(protowire.EncodeTag(fieldSSSpans, protowire.BytesType))
)

// wireMsg is what the splitter knows of one message type: for each field
// number, the wire type proto.Unmarshal expects and how to check the value.
type wireMsg struct {
	name   string
	dense  []*wireField // by field number
	sparse map[protowire.Number]*wireField
}

type wireKind uint8

const (
	wkScalar  wireKind = iota // varint, fixed32 or fixed64: only its length
	wkBytes                   // any bytes
	wkString                  // bytes that must be valid UTF-8
	wkMessage                 // an embedded message, checked in turn
	wkGroup                   // a group: checked as an unknown field would be (OTLP has none)
)

type wireField struct {
	name   string // full name, for errors
	typ    protowire.Type
	kind   wireKind
	packed bool // a repeated scalar, which may also come packed
	msg    *wireMsg
}

func (m *wireMsg) field(num protowire.Number) *wireField {
	if int(num) < len(m.dense) {
		return m.dense[num]
	}
	return m.sparse[num]
}

// The OTLP trace schema, from the generated code's descriptors.
var (
	wireRequestMsg       = newWireMsg((&coltracepb.ExportTraceServiceRequest{}).ProtoReflect().Descriptor(), map[protoreflect.FullName]*wireMsg{})
	wireResourceSpansMsg = wireRequestMsg.field(fieldRequestResourceSpans).msg
	wireResourceMsg      = wireResourceSpansMsg.field(fieldRSResource).msg
	wireScopeSpansMsg    = wireResourceSpansMsg.field(fieldRSScopeSpans).msg
	wireScopeMsg         = wireScopeSpansMsg.field(fieldSSScope).msg
	wireSpanMsg          = wireScopeSpansMsg.field(fieldSSSpans).msg
)

func newWireMsg(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*wireMsg) *wireMsg {
	if m := seen[md.FullName()]; m != nil {
		return m
	}
	m := &wireMsg{name: string(md.FullName())}
	seen[md.FullName()] = m
	fds := md.Fields()
	const maxDense = 64
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		f := &wireField{name: string(fd.FullName())}
		switch fd.Kind() {
		case protoreflect.MessageKind:
			f.typ, f.kind, f.msg = protowire.BytesType, wkMessage, newWireMsg(fd.Message(), seen)
		case protoreflect.GroupKind:
			f.typ, f.kind = protowire.StartGroupType, wkGroup
		case protoreflect.StringKind:
			f.typ, f.kind = protowire.BytesType, wkBytes
			if enforceUTF8(fd) {
				f.kind = wkString
			}
		case protoreflect.BytesKind:
			f.typ, f.kind = protowire.BytesType, wkBytes
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			f.typ = protowire.Fixed32Type
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			f.typ = protowire.Fixed64Type
		default: // bool, enum and the varint integers
			f.typ = protowire.VarintType
		}
		f.packed = f.kind == wkScalar && fd.IsList()
		if n := int(fd.Number()); n < maxDense {
			if n >= len(m.dense) {
				m.dense = append(m.dense, make([]*wireField, n+1-len(m.dense))...)
			}
			m.dense[n] = f
		} else {
			if m.sparse == nil {
				m.sparse = map[protowire.Number]*wireField{}
			}
			m.sparse[fd.Number()] = f
		}
	}
	return m
}

// enforceUTF8 mirrors protobuf-go's internal/strs.EnforceUTF8: proto3
// strings must be valid UTF-8, editions say so per field.
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.Syntax() == protoreflect.Editions {
		if e, ok := fd.(interface{ EnforceUTF8() bool }); ok {
			return e.EnforceUTF8()
		}
	}
	return fd.Syntax() == protoreflect.Proto3
}

// wireError is a body proto.Unmarshal would refuse.
type wireError struct {
	at   int    // byte offset in the body
	in   string // the message or field being read
	what string // proto.Unmarshal's words for it
}

const (
	errWireData  = "cannot parse invalid wire-format data"
	errWireUTF8  = "string field contains invalid UTF-8"
	errWireDepth = "exceeded maximum recursion depth"
)

func (e *wireError) Error() string {
	return "decoding OTLP protobuf: " + e.what + " (" + e.in + " at byte " + strconv.Itoa(e.at) + ")"
}

// maxWireDepth is proto.Unmarshal's default recursion limit: messages nest at
// most this deep, the request counting as the first.
const maxWireDepth = protowire.DefaultRecursionLimit

// consumeTag reads a field's tag as proto.Unmarshal does: the field number
// must be valid and an end-group tag outside a group is an error.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 { // field numbers below 16: most tags
		num, typ := protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		if num == 0 || typ == protowire.EndGroupType {
			return 0, 0, -1
		}
		return num, typ, 1
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber || typ == protowire.EndGroupType {
		return 0, 0, -1
	}
	return num, typ, n
}

// check walks the encoding b of one message of type m, found at byte at of
// the body and nested depth deep, as proto.Unmarshal would parse it.
func (m *wireMsg) check(b []byte, at, depth int) error {
	if depth > maxWireDepth {
		return &wireError{at, m.name, errWireDepth}
	}
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return &wireError{at + i, m.name, errWireData}
		}
		i += n
		n, err := m.checkField(num, typ, b[i:], at+i, depth)
		if err != nil {
			return err
		}
		i += n
	}
	return nil
}

// checkField passes over the value of field num, whose tag was just read,
// in a message of type m nested depth deep, and returns its length.
func (m *wireMsg) checkField(num protowire.Number, typ protowire.Type, b []byte, at, depth int) (int, error) {
	if f := m.field(num); f != nil && typ == f.typ {
		switch f.kind {
		case wkString:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, &wireError{at, f.name, errWireData}
			}
			if !utf8.Valid(v) {
				return 0, &wireError{at, f.name, errWireUTF8}
			}
			return n, nil
		case wkMessage:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, &wireError{at, f.name, errWireData}
			}
			return n, f.msg.check(v, at+n-len(v), depth+1)
		}
	} else if f != nil && f.packed && typ == protowire.BytesType {
		v, n := protowire.ConsumeBytes(b)
		for len(v) > 0 && n >= 0 {
			k := protowire.ConsumeFieldValue(num, f.typ, v)
			if k < 0 {
				n = -1
				break
			}
			v = v[k:]
		}
		if n < 0 {
			return 0, &wireError{at, f.name, errWireData}
		}
		return n, nil
	}
	// A scalar or bytes of the right wire type, or an unknown field.
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, &wireError{at, m.name, errWireData}
	}
	return n, nil
}

// wireSplitter holds one call's scratch state; calls reuse it through
// splitterPool, so a request costs no allocations beyond its records.
type wireSplitter struct {
	body []byte

	rs     []wireHdr // per ResourceSpans: its resource and schema_url fields in rsHdr
	rsHdr  []byte
	ss     []wireSS // per ScopeSpans
	ssHdr  []byte
	spans  []wireSpanRef
	traces []wireTrace
	index  map[[16]byte]int32 // trace id → index in traces
	sizes  []int              // encoded sizes, see traceSize
	rej    spanRejectList     // the spans left out for failing the checks

	// dropped reports that kafka.SplitByTrace would leave something out of the
	// records (unknown fields of the request, a ResourceSpans or a
	// ScopeSpans; an entry without spans; an invalid span), so body is not
	// a valid record of a single trace.
	dropped bool
}

type wireHdr struct{ off, end int }

type wireSS struct {
	rs int32
	wireHdr
}

type wireSpanRef struct {
	ss       int32 // index in wireSplitter.ss
	next     int32 // the trace's next span, or -1
	off, end int   // the encoded span in the body
}

type wireTrace struct {
	id         [16]byte
	head, tail int32
	size       int
}

var splitterPool = sync.Pool{New: func() any { return &wireSplitter{index: map[[16]byte]int32{}} }}

// Bounds on the scratch state kept for reuse.
const (
	maxPooledSpans    = 1 << 16
	maxPooledHdrBytes = 1 << 20
)

func (w *wireSplitter) release() {
	if cap(w.spans) > maxPooledSpans || cap(w.rsHdr)+cap(w.ssHdr) > maxPooledHdrBytes {
		return
	}
	w.body = nil
	w.rs, w.rsHdr, w.ss, w.ssHdr = w.rs[:0], w.rsHdr[:0], w.ss[:0], w.ssHdr[:0]
	w.spans, w.traces, w.sizes = w.spans[:0], w.traces[:0], w.sizes[:0]
	clear(w.index)
	w.rej.reset()
	w.dropped = false
	splitterPool.Put(w)
}

// bytesAt reads a length-delimited value at body[i:end] and returns its
// bounds.
func (w *wireSplitter) bytesAt(i, end int) (start, stop int, ok bool) {
	v, n := protowire.ConsumeBytes(w.body[i:end])
	if n < 0 {
		return 0, 0, false
	}
	return i + n - len(v), i + n, true
}

func (w *wireSplitter) request() error {
	const depth = 1
	end := len(w.body)
	for i := 0; i < end; {
		num, typ, n := consumeTag(w.body[i:end])
		if n < 0 {
			return &wireError{i, wireRequestMsg.name, errWireData}
		}
		i += n
		if num == fieldRequestResourceSpans && typ == protowire.BytesType {
			start, stop, ok := w.bytesAt(i, end)
			if !ok {
				return &wireError{i, wireRequestMsg.name, errWireData}
			}
			if err := w.resourceSpans(start, stop, depth+1); err != nil {
				return err
			}
			i = stop
			continue
		}
		w.dropped = true
		n, err := wireRequestMsg.checkField(num, typ, w.body[i:end], i, depth)
		if err != nil {
			return err
		}
		i += n
	}
	return nil
}

func (w *wireSplitter) resourceSpans(i, end, depth int) error {
	if depth > maxWireDepth {
		return &wireError{i, wireResourceSpansMsg.name, errWireDepth}
	}
	ri := len(w.rs)
	w.rs = append(w.rs, wireHdr{off: len(w.rsHdr)})
	nspans, si := len(w.spans), 0
	for i < end {
		field := i
		num, typ, n := consumeTag(w.body[i:end])
		if n < 0 {
			return &wireError{i, wireResourceSpansMsg.name, errWireData}
		}
		i += n
		if typ == protowire.BytesType && (num == fieldRSResource || num == fieldRSScopeSpans || num == fieldRSSchemaURL) {
			start, stop, ok := w.bytesAt(i, end)
			if !ok {
				return &wireError{i, wireResourceSpansMsg.name, errWireData}
			}
			switch num {
			case fieldRSResource:
				if err := wireResourceMsg.check(w.body[start:stop], start, depth+1); err != nil {
					return err
				}
				w.rsHdr = append(w.rsHdr, w.body[field:stop]...)
			case fieldRSScopeSpans:
				if err := w.scopeSpans(ri, si, start, stop, depth+1); err != nil {
					return err
				}
				si++
			case fieldRSSchemaURL:
				if !utf8.Valid(w.body[start:stop]) {
					return &wireError{i, wireResourceSpansMsg.field(num).name, errWireUTF8}
				}
				w.rsHdr = append(w.rsHdr, w.body[field:stop]...)
			}
			i = stop
			continue
		}
		w.dropped = true
		n, err := wireResourceSpansMsg.checkField(num, typ, w.body[i:end], i, depth)
		if err != nil {
			return err
		}
		i += n
	}
	w.rs[ri].end = len(w.rsHdr)
	if len(w.spans) == nspans {
		w.dropped = true
	}
	return nil
}

func (w *wireSplitter) scopeSpans(ri, si, i, end, depth int) error {
	if depth > maxWireDepth {
		return &wireError{i, wireScopeSpansMsg.name, errWireDepth}
	}
	ssi := len(w.ss)
	w.ss = append(w.ss, wireSS{rs: int32(ri), wireHdr: wireHdr{off: len(w.ssHdr)}})
	nspans, pi := len(w.spans), 0
	for i < end {
		field := i
		num, typ, n := consumeTag(w.body[i:end])
		if n < 0 {
			return &wireError{i, wireScopeSpansMsg.name, errWireData}
		}
		i += n
		if typ == protowire.BytesType && (num == fieldSSScope || num == fieldSSSpans || num == fieldSSSchemaURL) {
			start, stop, ok := w.bytesAt(i, end)
			if !ok {
				return &wireError{i, wireScopeSpansMsg.name, errWireData}
			}
			switch num {
			case fieldSSScope:
				if err := wireScopeMsg.check(w.body[start:stop], start, depth+1); err != nil {
					return err
				}
				w.ssHdr = append(w.ssHdr, w.body[field:stop]...)
			case fieldSSSpans:
				if err := w.span(ri, si, pi, ssi, start, stop, depth+1); err != nil {
					return err
				}
				pi++
			case fieldSSSchemaURL:
				if !utf8.Valid(w.body[start:stop]) {
					return &wireError{i, wireScopeSpansMsg.field(num).name, errWireUTF8}
				}
				w.ssHdr = append(w.ssHdr, w.body[field:stop]...)
			}
			i = stop
			continue
		}
		w.dropped = true
		n, err := wireScopeSpansMsg.checkField(num, typ, w.body[i:end], i, depth)
		if err != nil {
			return err
		}
		i += n
	}
	w.ss[ssi].end = len(w.ssHdr)
	if len(w.spans) == nspans {
		w.dropped = true
	}
	return nil
}

// span checks the span at body[i:end], resource_spans[ri].scope_spans[si]
// .spans[pi], and files it under its trace. Fields other than the ids and
// times are checked as proto.Unmarshal would parse them and left alone.
func (w *wireSplitter) span(ri, si, pi, ssi, i, end, depth int) error {
	if depth > maxWireDepth {
		return &wireError{i, wireSpanMsg.name, errWireDepth}
	}
	off := i
	var traceID, spanID, parentID []byte
	var startNano, endNano uint64
	for i < end {
		num, typ, n := consumeTag(w.body[i:end])
		if n < 0 {
			return &wireError{i, wireSpanMsg.name, errWireData}
		}
		i += n
		b := w.body[i:end]
		switch {
		case typ == protowire.BytesType && (num == fieldSpanTraceID || num == fieldSpanSpanID || num == fieldSpanParentSpanID):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return &wireError{i, wireSpanMsg.field(num).name, errWireData}
			}
			switch num {
			case fieldSpanTraceID:
				traceID = v
			case fieldSpanSpanID:
				spanID = v
			default:
				parentID = v
			}
			i += n
		case typ == protowire.Fixed64Type && (num == fieldSpanStart || num == fieldSpanEnd):
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return &wireError{i, wireSpanMsg.field(num).name, errWireData}
			}
			if num == fieldSpanStart {
				startNano = v
			} else {
				endNano = v
			}
			i += n
		default:
			n, err := wireSpanMsg.checkField(num, typ, b, i, depth)
			if err != nil {
				return err
			}
			i += n
		}
	}
	if field, reason := genai.CheckSpanFields(traceID, spanID, parentID, startNano, endNano); field != "" {
		w.rej.add(genai.NewSpanError(ri, si, pi, spanID, field, reason))
		w.dropped = true // left out of the records
		return nil
	}

	var id [16]byte
	copy(id[:], traceID)
	t := int32(len(w.traces)) - 1
	if t < 0 || w.traces[t].id != id { // spans of a trace often come together
		var ok bool
		if t, ok = w.index[id]; !ok {
			t = int32(len(w.traces))
			w.index[id] = t
			w.traces = append(w.traces, wireTrace{id: id, head: -1, tail: -1})
		}
	}
	sp := int32(len(w.spans))
	w.spans = append(w.spans, wireSpanRef{ss: int32(ssi), next: -1, off: off, end: end})
	tr := &w.traces[t]
	if tr.tail < 0 {
		tr.head = sp
	} else {
		w.spans[tr.tail].next = sp
	}
	tr.tail = sp
	return nil
}

// records builds one record per trace. Each value is an encoded
// ExportTraceServiceRequest: for each run of the trace's spans sharing a
// ResourceSpans, a ResourceSpans holding that one's resource and schema_url
// fields and, for each run sharing a ScopeSpans, a ScopeSpans holding its
// scope and schema_url fields and the spans, as kafka.SplitByTrace groups
// them. buf is the pooled buffer the values share (nil when the one record's
// value is the body).
func (w *wireSplitter) records(topic string) (recs []*kgo.Record, buf []byte) {
	nt := len(w.traces)
	if nt == 0 {
		return nil, nil
	}
	store := make([]kgo.Record, nt)
	recs = make([]*kgo.Record, nt)
	keys := make([]byte, 32*nt)
	if nt == 1 && !w.dropped {
		hex.Encode(keys, w.traces[0].id[:])
		store[0] = kgo.Record{Topic: topic, Key: keys, Value: w.body}
		recs[0] = &store[0]
		return recs, nil
	}
	total := 0
	for t := range w.traces {
		w.traces[t].size = w.traceSize(t)
		total += w.traces[t].size
	}
	buf = getBuf(total)
	k := 0
	for t := range w.traces {
		start := len(buf)
		buf, k = w.appendTrace(buf, t, k)
		key := keys[32*t : 32*t+32 : 32*t+32]
		hex.Encode(key, w.traces[t].id[:])
		store[t] = kgo.Record{Topic: topic, Key: key, Value: buf[start:len(buf):len(buf)]}
		recs[t] = &store[t]
	}
	return recs, buf
}

// traceSize returns the encoded size of trace t's record value and appends
// the sizes of its ResourceSpans and ScopeSpans to w.sizes, in the order
// appendTrace writes them.
func (w *wireSplitter) traceSize(t int) int {
	size := 0
	for sp := w.traces[t].head; sp >= 0; {
		r := w.ss[w.spans[sp].ss].rs
		rslot := len(w.sizes)
		w.sizes = append(w.sizes, 0)
		rsSize := w.rs[r].end - w.rs[r].off
		for sp >= 0 && w.ss[w.spans[sp].ss].rs == r {
			s := w.spans[sp].ss
			sslot := len(w.sizes)
			w.sizes = append(w.sizes, 0)
			ssSize := w.ss[s].end - w.ss[s].off
			for ; sp >= 0 && w.spans[sp].ss == s; sp = w.spans[sp].next {
				ssSize += sizeField(w.spans[sp].end - w.spans[sp].off)
			}
			w.sizes[sslot] = ssSize
			rsSize += sizeField(ssSize)
		}
		w.sizes[rslot] = rsSize
		size += sizeField(rsSize)
	}
	return size
}

// sizeField is the encoded size of a length-delimited field with a one-byte
// tag and n bytes of value.
func sizeField(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// appendTrace appends trace t's record value to buf, reading the sizes
// traceSize left in w.sizes from index k on, and returns the next index.
func (w *wireSplitter) appendTrace(buf []byte, t, k int) ([]byte, int) {
	for sp := w.traces[t].head; sp >= 0; {
		r := w.ss[w.spans[sp].ss].rs
		buf = protowire.AppendVarint(append(buf, tagResourceSpans), uint64(w.sizes[k]))
		k++
		buf = append(buf, w.rsHdr[w.rs[r].off:w.rs[r].end]...)
		for sp >= 0 && w.ss[w.spans[sp].ss].rs == r {
			s := w.spans[sp].ss
			buf = protowire.AppendVarint(append(buf, tagScopeSpans), uint64(w.sizes[k]))
			k++
			buf = append(buf, w.ssHdr[w.ss[s].off:w.ss[s].end]...)
			for ; sp >= 0 && w.spans[sp].ss == s; sp = w.spans[sp].next {
				span := w.body[w.spans[sp].off:w.spans[sp].end]
				buf = protowire.AppendVarint(append(buf, tagSpans), uint64(len(span)))
				buf = append(buf, span...)
			}
		}
	}
	return buf, k
}
