// The wire view of OTLP trace requests: the one reader the span mapping
// reads from.

package genai

import (
	"iter"
	"unicode/utf8"
	"unsafe"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The mapping never sees the OTLP message types. It reads a flat view
// decoded straight from the protobuf encoding (the spans-topic record, or
// proto.Marshal of a request built in memory):
//
//   - wSpan holds what the mapping reads of one span: ids, name, kind,
//     times, status, its attributes and events as slices of wKV and wEvent
//     (reused from span to span: a span costs no allocation to decode),
//     and its links as their raw encodings (read when rendered).
//   - wVal is one AnyValue: a type, a string (a string value, or the raw
//     encoding of a bytes, array or kvlist value) and a number (int, bool,
//     double bits). Arrays and kvlists are iterated from their raw bytes by
//     valIter and kvIter when, and only when, the mapping needs them.
//   - Strings alias the encoding (unsafe.String; the record is not
//     modified while the mapped spans live, and franz-go does not reuse
//     fetched buffers).
//
// Reading is strict or canonical. Strict (a record as it came): the reader
// decodes what OTLP traces have, with proto.Unmarshal's semantics for what
// real senders send (last scalar wins, unknown field numbers skipped as
// proto keeps them as unknown fields the mapping never reads, UTF-8
// checked). Anything it cannot be sure of — a malformed body, a known
// field with another wire type, a group, a singular message or a oneof
// member sent twice (which protobuf merges), nesting deeper than
// wireMaxDepth — makes it give up; the caller then decodes with
// proto.Unmarshal, whose verdict and error message stay the reference, and
// maps proto.Marshal of the result: canonical bytes, read without the
// strict checks (a known field with another wire type is one of proto's
// unknown fields there, and is skipped). Either way the same mapping reads
// the same view; FuzzWireCanonical checks that a record and its canonical
// re-encoding map to the same rows.

// wireMaxDepth bounds the AnyValue nesting the strict reader follows.
const wireMaxDepth = 64

// fieldSet is the field numbers the generated code of one OTLP message
// knows. A field it knows is no unknown field to proto.Unmarshal, which
// checks it (UTF-8 in its strings, its nested messages): where the reader
// does not read such a field (one a newer OTLP added, as Resource's
// entity_refs), the strict reader gives up on it rather than skip it, so
// that it never accepts what proto.Unmarshal refuses. Numbers the
// generated code does not know are skipped, as proto keeps them unread.
type fieldSet []bool

func fieldsOf(m proto.Message) fieldSet {
	fds := m.ProtoReflect().Descriptor().Fields()
	var s fieldSet
	for i := range fds.Len() {
		n := int(fds.Get(i).Number())
		for len(s) <= n {
			s = append(s, false)
		}
		s[n] = true
	}
	return s
}

// unread reports whether a field the reader does not read may be skipped:
// true unless strict and the generated code knows it.
func (s fieldSet) unread(n protowire.Number, strict bool) bool {
	return !strict || int(n) >= len(s) || !s[n]
}

var (
	fsRequest       = fieldsOf(&coltracepb.ExportTraceServiceRequest{})
	fsResourceSpans = fieldsOf(&tracepb.ResourceSpans{})
	fsResource      = fieldsOf(&resourcepb.Resource{})
	fsScopeSpans    = fieldsOf(&tracepb.ScopeSpans{})
	fsScope         = fieldsOf(&commonpb.InstrumentationScope{})
	fsSpan          = fieldsOf(&tracepb.Span{})
	fsEvent         = fieldsOf(&tracepb.Span_Event{})
	fsLink          = fieldsOf(&tracepb.Span_Link{})
	fsStatus        = fieldsOf(&tracepb.Status{})
	fsKeyValue      = fieldsOf(&commonpb.KeyValue{})
	fsAnyValue      = fieldsOf(&commonpb.AnyValue{})
	fsArray         = fieldsOf(&commonpb.ArrayValue{})
	fsKVList        = fieldsOf(&commonpb.KeyValueList{})
)

// Value types of wVal.
const (
	vAbsent uint8 = iota // a KeyValue without a value
	vEmpty               // an AnyValue with no member set
	vString
	vBool
	vInt
	vDouble
	vBytes
	vArray  // s: the ArrayValue's encoding
	vKvlist // s: the KeyValueList's encoding
	vOther  // a member the mapping has no reading for (string_value_strindex)
)

type wVal struct {
	typ uint8
	s   string
	n   uint64
}

type wKV struct {
	key string
	v   wVal
}

type wEvent struct {
	time  uint64
	name  string
	attrs []wKV
}

type wSpan struct {
	traceID, spanID, parentID []byte
	name                      string
	kind                      int32
	start, end                uint64
	attrs                     []wKV
	events                    []wEvent
	links                     []string // each Span.Link's encoding
	statusCode                int32
	statusMsg                 string
}

// bs is s's bytes, read-only.
func bs(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// str aliases b.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// field is one field of a message: its number, wire type and value (the
// bytes inside for length-delimited fields, the varint or fixed value
// decoded into n otherwise).
type field struct {
	num protowire.Number
	typ protowire.Type
	b   []byte
	n   uint64
}

// next reads the field at the start of *b. ok false: malformed, or (strict)
// a group. A canonical reader skips groups itself (skip is true then).
func next(b *[]byte, f *field, strict bool) (ok, skip bool) {
	// Fast path: a one-byte tag (fields 1-15) of a length-delimited field
	// with a one-byte length, as most of an OTLP request is.
	if s := *b; len(s) >= 2 && s[0] < 0x80 && s[0]&7 == byte(protowire.BytesType) && s[0] >= 8 && s[1] < 0x80 {
		if l := int(s[1]); l <= len(s)-2 {
			f.num, f.typ, f.b = protowire.Number(s[0]>>3), protowire.BytesType, s[2:2+l:2+l]
			*b = s[2+l:]
			return true, false
		}
	}
	num, typ, n := protowire.ConsumeTag(*b)
	if n < 0 || num > protowire.MaxValidNumber {
		return false, false
	}
	*b = (*b)[n:]
	f.num, f.typ = num, typ
	switch typ {
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(*b)
		if n < 0 {
			return false, false
		}
		f.b, *b = v, (*b)[n:]
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(*b)
		if n < 0 {
			return false, false
		}
		f.n, *b = v, (*b)[n:]
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(*b)
		if n < 0 {
			return false, false
		}
		f.n, *b = v, (*b)[n:]
	case protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(*b)
		if n < 0 {
			return false, false
		}
		f.n, *b = uint64(v), (*b)[n:]
	default:
		if strict {
			return false, false
		}
		n := protowire.ConsumeFieldValue(num, typ, *b)
		if n < 0 {
			return false, false
		}
		*b = (*b)[n:]
		return true, true
	}
	return true, false
}

// is reports whether f is field num of wire type typ. A field with that
// number and another type is one of proto's unknown fields: refused when
// strict (ok false), skipped otherwise.
func (f *field) is(num protowire.Number, typ protowire.Type, strict bool) (match, ok bool) {
	if f.num != num {
		return false, true
	}
	if f.typ != typ {
		return false, !strict
	}
	return true, true
}

// text is f's bytes as a proto3 string: false when strict and not UTF-8.
func text(b []byte, strict bool) (string, bool) {
	if strict && !utf8.Valid(b) {
		return "", false
	}
	return str(b), true
}

// readKV reads one KeyValue.
func readKV(b []byte, depth int, strict bool) (kv wKV, ok bool) {
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, strict)
		if !ok {
			return kv, false
		}
		if skip {
			continue
		}
		switch f.num {
		case 1:
			m, ok := f.is(1, protowire.BytesType, strict)
			if !ok {
				return kv, false
			}
			if m {
				if kv.key, ok = text(f.b, strict); !ok {
					return kv, false
				}
			}
		case 2:
			m, ok := f.is(2, protowire.BytesType, strict)
			if !ok || m && strict && kv.v.typ != vAbsent { // a second value merges
				return kv, false
			}
			if m {
				if kv.v, ok = readAny(f.b, depth+1, strict); !ok {
					return kv, false
				}
			}
		case 3: // key_strindex (profiles' string table): not read
			if _, ok := f.is(3, protowire.VarintType, strict); !ok {
				return kv, false
			}
		default:
			if !fsKeyValue.unread(f.num, strict) {
				return kv, false
			}
		}
	}
	return kv, true
}

// readAny reads one AnyValue. Strict, it checks nested arrays and kvlists
// whole (UTF-8, structure, depth), so that iterating them later cannot fail.
func readAny(b []byte, depth int, strict bool) (v wVal, ok bool) {
	if strict && depth > wireMaxDepth {
		return v, false
	}
	v.typ = vEmpty
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, strict)
		if !ok {
			return v, false
		}
		if skip {
			continue
		}
		if f.num < 1 || f.num > 8 {
			if !fsAnyValue.unread(f.num, strict) {
				return v, false
			}
			continue
		}
		want := protowire.BytesType
		switch f.num {
		case 2, 3, 8:
			want = protowire.VarintType
		case 4:
			want = protowire.Fixed64Type
		}
		if f.typ != want {
			if strict {
				return v, false
			}
			continue
		}
		if strict && v.typ != vEmpty { // a second member: replaced or merged
			return v, false
		}
		switch f.num {
		case 1:
			v.typ, v.n = vString, 0
			if v.s, ok = text(f.b, strict); !ok {
				return v, false
			}
		case 2:
			v.typ, v.s, v.n = vBool, "", 0
			if f.n != 0 {
				v.n = 1
			}
		case 3:
			v.typ, v.s, v.n = vInt, "", f.n
		case 4:
			v.typ, v.s, v.n = vDouble, "", f.n
		case 5:
			v.typ, v.s, v.n = vArray, str(f.b), 0
			if strict && !checkList(f.b, depth, false) {
				return v, false
			}
		case 6:
			v.typ, v.s, v.n = vKvlist, str(f.b), 0
			if strict && !checkList(f.b, depth, true) {
				return v, false
			}
		case 7:
			v.typ, v.s, v.n = vBytes, str(f.b), 0
		case 8: // string_value_strindex (profiles' string table)
			v.typ, v.s, v.n = vOther, "", 0
		}
	}
	return v, true
}

// checkList checks an ArrayValue or KeyValueList encoding strictly.
func checkList(b []byte, depth int, kvs bool) bool {
	var f field
	for len(b) > 0 {
		if ok, _ := next(&b, &f, true); !ok {
			return false
		}
		m, ok := f.is(1, protowire.BytesType, true)
		if !ok {
			return false
		}
		if !m {
			fs := fsArray
			if kvs {
				fs = fsKVList
			}
			if !fs.unread(f.num, true) {
				return false
			}
			continue
		}
		if kvs {
			_, ok = readKV(f.b, depth, true)
		} else {
			_, ok = readAny(f.b, depth+1, true)
		}
		if !ok {
			return false
		}
	}
	return true
}

// kvIter iterates the KeyValues of a list: a slice read already, or the
// entries of field num of an encoded message (a KeyValueList's values are
// field 1, a link's attributes field 4). The encoding was checked when it
// was read; an entry that does not parse ends the iteration.
type kvIter struct {
	list []wKV
	raw  []byte
	num  protowire.Number
}

func kvSlice(l []wKV) kvIter { return kvIter{list: l} }
func kvRaw(s string) kvIter  { return kvIter{raw: bs(s), num: 1} }

// all yields the key-values in order, for range loops.
func (it kvIter) all() iter.Seq[wKV] {
	return func(yield func(wKV) bool) {
		for {
			kv, ok := it.next()
			if !ok || !yield(kv) {
				return
			}
		}
	}
}

func (it *kvIter) next() (wKV, bool) {
	if it.raw == nil {
		if len(it.list) == 0 {
			return wKV{}, false
		}
		kv := it.list[0]
		it.list = it.list[1:]
		return kv, true
	}
	var f field
	for len(it.raw) > 0 {
		if ok, skip := next(&it.raw, &f, false); !ok {
			it.raw = nil
			return wKV{}, false
		} else if skip || f.num != it.num || f.typ != protowire.BytesType {
			continue
		}
		kv, ok := readKV(f.b, 0, false)
		if !ok {
			it.raw = nil
			return wKV{}, false
		}
		return kv, true
	}
	it.raw = nil
	return wKV{}, false
}

// valIter iterates the values of an ArrayValue encoding.
type valIter struct{ raw []byte }

func valRaw(s string) valIter { return valIter{raw: bs(s)} }

// all yields the values in order, for range loops.
func (it valIter) all() iter.Seq[wVal] {
	return func(yield func(wVal) bool) {
		for {
			v, ok := it.next()
			if !ok || !yield(v) {
				return
			}
		}
	}
}

func (it *valIter) next() (wVal, bool) {
	var f field
	for len(it.raw) > 0 {
		if ok, skip := next(&it.raw, &f, false); !ok {
			break
		} else if skip || f.num != 1 || f.typ != protowire.BytesType {
			continue
		}
		v, ok := readAny(f.b, 0, false)
		if !ok {
			break
		}
		return v, true
	}
	it.raw = nil
	return wVal{}, false
}

// wireReader decodes a request's resources, scopes and spans into views,
// reusing its slices from span to span.
type wireReader struct {
	strict         bool
	res, scope     []wKV
	scopeName      string
	scopeVersion   string
	sp             wSpan
	spAttrs, evKVs []wKV
	events         []wEvent
	evBounds       [][2]int
	links          []string
}

// kvField appends the KeyValue in f to l when f is field num (match);
// ok false: the reader gives up.
func (r *wireReader) kvField(l []wKV, f *field, num protowire.Number) (out []wKV, match, ok bool) {
	m, ok := f.is(num, protowire.BytesType, r.strict)
	if !ok || !m {
		return l, m, ok
	}
	kv, ok := readKV(f.b, 0, r.strict)
	if !ok {
		return l, true, false
	}
	return append(l, kv), true, true
}

// resourceSpans checks a ResourceSpans and reads its resource (wherever it
// is in the message) into r.res; entries then yields its scope_spans.
func (r *wireReader) resourceSpans(b []byte) bool {
	r.res = r.res[:0]
	return r.container(b, fsResourceSpans, r.resource)
}

// container checks a ResourceSpans or a ScopeSpans, which have the same
// shape: one head message (field 1: the resource or the scope, read by
// head wherever it is in the message), the children (field 2, yielded
// later by entries) and a schema_url (field 3).
func (r *wireReader) container(b []byte, fs fieldSet, head func([]byte) bool) bool {
	var f field
	seen := false
	for rest := b; len(rest) > 0; {
		ok, skip := next(&rest, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		switch f.num {
		case 1:
			m, ok := f.is(1, protowire.BytesType, r.strict)
			if !ok || m && seen && r.strict {
				return false
			}
			if m {
				seen = true
				if !head(f.b) {
					return false
				}
			}
		case 2:
			if _, ok := f.is(2, protowire.BytesType, r.strict); !ok {
				return false
			}
		case 3:
			m, ok := f.is(3, protowire.BytesType, r.strict)
			if !ok {
				return false
			}
			if _, ok := text(f.b, r.strict && m); !ok {
				return false
			}
		default:
			if !fs.unread(f.num, r.strict) {
				return false
			}
		}
	}
	return true
}

func (r *wireReader) resource(b []byte) bool {
	r.res = r.res[:0]
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		switch f.num {
		case 1:
			if r.res, _, ok = r.kvField(r.res, &f, 1); !ok {
				return false
			}
		case 2:
			if _, ok := f.is(2, protowire.VarintType, r.strict); !ok {
				return false
			}
		default:
			if !fsResource.unread(f.num, r.strict) {
				return false
			}
		}
	}
	return true
}

// scopeSpans checks a ScopeSpans and reads its scope into r.scope,
// r.scopeName and r.scopeVersion; entries then yields its spans.
func (r *wireReader) scopeSpans(b []byte) bool {
	r.scope, r.scopeName, r.scopeVersion = r.scope[:0], "", ""
	return r.container(b, fsScopeSpans, r.scopeFields)
}

func (r *wireReader) scopeFields(b []byte) bool {
	r.scope, r.scopeName, r.scopeVersion = r.scope[:0], "", ""
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		switch f.num {
		case 1, 2:
			m, ok := f.is(f.num, protowire.BytesType, r.strict)
			if !ok {
				return false
			}
			if m {
				s, ok := text(f.b, r.strict)
				if !ok {
					return false
				}
				if f.num == 1 {
					r.scopeName = s
				} else {
					r.scopeVersion = s
				}
			}
		case 3:
			if r.scope, _, ok = r.kvField(r.scope, &f, 3); !ok {
				return false
			}
		case 4:
			if _, ok := f.is(4, protowire.VarintType, r.strict); !ok {
				return false
			}
		default:
			if !fsScope.unread(f.num, r.strict) {
				return false
			}
		}
	}
	return true
}

// span reads one Span into r.sp.
func (r *wireReader) span(b []byte) bool {
	sp := &r.sp
	*sp = wSpan{}
	r.spAttrs, r.evKVs, r.events, r.evBounds, r.links = r.spAttrs[:0], r.evKVs[:0], r.events[:0], r.evBounds[:0], r.links[:0]
	statusSeen := false
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		if f.num > 16 {
			if !fsSpan.unread(f.num, r.strict) {
				return false
			}
			continue
		}
		want := protowire.BytesType
		switch f.num {
		case 6, 10, 12, 14:
			want = protowire.VarintType
		case 7, 8:
			want = protowire.Fixed64Type
		case 16:
			want = protowire.Fixed32Type
		}
		if f.typ != want {
			if r.strict {
				return false
			}
			continue
		}
		switch f.num {
		case 1:
			sp.traceID = f.b
		case 2:
			sp.spanID = f.b
		case 3:
			if _, ok := text(f.b, r.strict); !ok {
				return false
			}
		case 4:
			sp.parentID = f.b
		case 5:
			if sp.name, ok = text(f.b, r.strict); !ok {
				return false
			}
		case 6:
			sp.kind = int32(f.n)
		case 7:
			sp.start = f.n
		case 8:
			sp.end = f.n
		case 9:
			if r.spAttrs, _, ok = r.kvField(r.spAttrs, &f, 9); !ok {
				return false
			}
		case 11:
			if !r.event(f.b) {
				return false
			}
		case 13:
			if !r.link(f.b) {
				return false
			}
			r.links = append(r.links, str(f.b))
		case 15:
			if statusSeen && r.strict {
				return false
			}
			statusSeen = true
			if !r.status(f.b) {
				return false
			}
		}
	}
	sp.attrs, sp.links = r.spAttrs, r.links
	for i := range r.events {
		r.events[i].attrs = r.evKVs[r.evBounds[i][0]:r.evBounds[i][1]:r.evBounds[i][1]]
	}
	sp.events = r.events
	return true
}

func (r *wireReader) event(b []byte) bool {
	ev := wEvent{}
	lo := len(r.evKVs)
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		switch f.num {
		case 1:
			m, ok := f.is(1, protowire.Fixed64Type, r.strict)
			if !ok {
				return false
			}
			if m {
				ev.time = f.n
			}
		case 2:
			m, ok := f.is(2, protowire.BytesType, r.strict)
			if !ok {
				return false
			}
			if m {
				if ev.name, ok = text(f.b, r.strict); !ok {
					return false
				}
			}
		case 3:
			if r.evKVs, _, ok = r.kvField(r.evKVs, &f, 3); !ok {
				return false
			}
		case 4:
			if _, ok := f.is(4, protowire.VarintType, r.strict); !ok {
				return false
			}
		default:
			if !fsEvent.unread(f.num, r.strict) {
				return false
			}
		}
	}
	r.events = append(r.events, ev)
	r.evBounds = append(r.evBounds, [2]int{lo, len(r.evKVs)})
	return true
}

// link checks one Span.Link (kept as its encoding: links are rare, and
// read only to be rendered as JSON).
func (r *wireReader) link(b []byte) bool {
	if !r.strict {
		return true
	}
	var f field
	for len(b) > 0 {
		if ok, _ := next(&b, &f, true); !ok {
			return false
		}
		want := protowire.BytesType
		switch f.num {
		case 5:
			want = protowire.VarintType
		case 6:
			want = protowire.Fixed32Type
		}
		if f.num > 6 {
			if !fsLink.unread(f.num, true) {
				return false
			}
			continue
		}
		if f.typ != want {
			return false
		}
		switch f.num {
		case 3:
			if _, ok := text(f.b, true); !ok {
				return false
			}
		case 4:
			if _, ok := readKV(f.b, 0, true); !ok {
				return false
			}
		}
	}
	return true
}

func (r *wireReader) status(b []byte) bool {
	sp := &r.sp
	var f field
	for len(b) > 0 {
		ok, skip := next(&b, &f, r.strict)
		if !ok {
			return false
		}
		if skip {
			continue
		}
		switch f.num {
		case 2:
			m, ok := f.is(2, protowire.BytesType, r.strict)
			if !ok {
				return false
			}
			if m {
				if sp.statusMsg, ok = text(f.b, r.strict); !ok {
					return false
				}
			}
		case 3:
			m, ok := f.is(3, protowire.VarintType, r.strict)
			if !ok {
				return false
			}
			if m {
				sp.statusCode = int32(f.n)
			}
		default:
			if !fsStatus.unread(f.num, r.strict) {
				return false
			}
		}
	}
	return true
}

// linkFields reads what the mapping renders of a link's encoding.
func linkFields(s string) (traceID, spanID []byte, attrs kvIter) {
	b := bs(s)
	attrs = kvIter{raw: b, num: 4}
	var f field
	for len(b) > 0 {
		if ok, skip := next(&b, &f, false); !ok {
			break
		} else if skip || f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case 1:
			traceID = f.b
		case 2:
			spanID = f.b
		}
	}
	return traceID, spanID, attrs
}

// entries yields the length-delimited entries of field num of a message
// checked already (a request's resource_spans, a resource's scope_spans, a
// scope's spans).
type entries struct {
	b   []byte
	num protowire.Number
}

func (e *entries) next() ([]byte, bool) {
	var f field
	for len(e.b) > 0 {
		if ok, skip := next(&e.b, &f, false); !ok {
			break
		} else if !skip && f.num == e.num && f.typ == protowire.BytesType {
			return f.b, true
		}
	}
	e.b = nil
	return nil, false
}

// pbVal is the view of an AnyValue message (the collector's message-based
// helpers, SpanApp and LogApp, read attribute values through it).
func pbVal(v *commonpb.AnyValue) wVal {
	if v == nil {
		return wVal{}
	}
	if s, ok := v.Value.(*commonpb.AnyValue_StringValue); ok {
		return wVal{typ: vString, s: s.StringValue}
	}
	b, err := proto.Marshal(v)
	if err != nil {
		return wVal{typ: vEmpty}
	}
	w, _ := readAny(b, 0, false)
	return w
}
