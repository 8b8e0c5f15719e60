package collector

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
)

// outcome is what sameAsMessagePath saw, for counting coverage.
type outcome int

const (
	outMalformed outcome = iota
	outInvalidSpan
	outEmpty
	outOneTrace
	outTraces
	nOutcomes
)

// sameAsMessagePath checks SplitByTraceWire(body) against proto.Unmarshal,
// genai.ValidateOTLP and kafka.SplitByTrace: the same acceptance, the same span
// errors, the same keys in the same order, and values that decode to equal
// requests.
func sameAsMessagePath(t testing.TB, body []byte) outcome {
	t.Helper()
	recs, n, err := SplitByTraceWire(body, "spans")
	req := &coltracepb.ExportTraceServiceRequest{}
	if uerr := proto.Unmarshal(body, req); uerr != nil {
		var we *wireError
		if !errors.As(err, &we) || !strings.HasPrefix(err.Error(), "decoding OTLP protobuf: ") {
			t.Fatalf("proto.Unmarshal refuses the body (%v); SplitByTraceWire says %v", uerr, err)
		}
		if recs != nil || n != 0 {
			t.Fatalf("records or a span count (%d) with an error", n)
		}
		return outMalformed
	}
	if verr := genai.ValidateOTLP(req); verr != nil {
		if err == nil {
			t.Fatalf("ValidateOTLP refuses the request (%v); SplitByTraceWire accepts it", verr)
		}
		if err.Error() != verr.Error() {
			t.Fatalf("span errors differ:\nwire:    %v\nmessage: %v", err, verr)
		}
		if got, want := flatten(err), flatten(verr); !reflect.DeepEqual(got, want) {
			t.Fatalf("span error values differ:\nwire:    %#v\nmessage: %#v", got, want)
		}
		return outInvalidSpan
	}
	if err != nil {
		t.Fatalf("the message path accepts the body; SplitByTraceWire says %v", err)
	}
	want, wantN, werr := kafka.SplitByTrace(req, "spans")
	if werr != nil {
		t.Fatal(werr)
	}
	if n != wantN || len(recs) != len(want) {
		t.Fatalf("%d records of %d spans, want %d of %d", len(recs), n, len(want), wantN)
	}
	for i := range recs {
		if !bytes.Equal(recs[i].Key, want[i].Key) || recs[i].Topic != want[i].Topic {
			t.Fatalf("record %d: key %s topic %q, want %s %q", i, recs[i].Key, recs[i].Topic, want[i].Key, want[i].Topic)
		}
		got, exp := &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(recs[i].Value, got); err != nil {
			t.Fatalf("record %d does not decode: %v", i, err)
		}
		if err := proto.Unmarshal(want[i].Value, exp); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, exp) {
			t.Fatalf("record %d (%s) differs from kafka.SplitByTrace's:\nwire:    %v\nmessage: %v", i, recs[i].Key, got, exp)
		}
	}
	switch len(recs) {
	case 0:
		return outEmpty
	case 1:
		return outOneTrace
	}
	return outTraces
}

// flatten lists the errors of a ValidateOTLP-style error: *SpanError values,
// and the text of anything else.
func flatten(err error) []any {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []any
	for _, e := range errs {
		if se, ok := e.(*genai.SpanError); ok {
			out = append(out, *se)
		} else {
			out = append(out, e.Error())
		}
	}
	return out
}

// genReq draws random OTLP requests: several resources, scopes and traces
// interleaved, empty entries, every kind of attribute value, now and then an
// invalid span, and, sprinkled through every message, unknown fields, known
// fields with the wrong wire type, repeated occurrences of known fields and
// rarely a string that is not UTF-8.
type genReq struct {
	rng    *rand.Rand
	traces [][]byte
}

func newGenReq(seed uint64) *genReq {
	return &genReq{rng: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))}
}

func (g *genReq) body() []byte {
	g.traces = g.traces[:0]
	for range max(1, g.rng.IntN(6)-1) { // one trace in about half the requests
		g.traces = append(g.traces, g.id(16))
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	for range g.rng.IntN(4) + g.rng.IntN(2) {
		req.ResourceSpans = append(req.ResourceSpans, g.resourceSpans())
	}
	g.sprinkle(req.ProtoReflect(), 0)
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *genReq) id(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	b[0] |= 1
	return b
}

func (g *genReq) resourceSpans() *tracepb.ResourceSpans {
	rs := &tracepb.ResourceSpans{}
	if g.rng.IntN(4) > 0 {
		rs.Resource = &resourcepb.Resource{}
		g.fill(rs.Resource.ProtoReflect(), 2)
	}
	if g.rng.IntN(3) == 0 {
		rs.SchemaUrl = g.str()
	}
	for range g.rng.IntN(3) + g.rng.IntN(2) {
		rs.ScopeSpans = append(rs.ScopeSpans, g.scopeSpans())
	}
	return rs
}

func (g *genReq) scopeSpans() *tracepb.ScopeSpans {
	ss := &tracepb.ScopeSpans{}
	if g.rng.IntN(4) > 0 {
		ss.Scope = &commonpb.InstrumentationScope{}
		g.fill(ss.Scope.ProtoReflect(), 2)
	}
	if g.rng.IntN(3) == 0 {
		ss.SchemaUrl = g.str()
	}
	for range g.rng.IntN(6) {
		ss.Spans = append(ss.Spans, g.span())
	}
	return ss
}

func (g *genReq) span() *tracepb.Span {
	sp := &tracepb.Span{}
	g.fill(sp.ProtoReflect(), 0)
	sp.TraceId = g.traces[g.rng.IntN(len(g.traces))]
	sp.SpanId = g.id(8)
	sp.ParentSpanId = nil
	if g.rng.IntN(2) == 0 {
		sp.ParentSpanId = g.id(8)
	}
	sp.StartTimeUnixNano = 1_700_000_000_000_000_000 + g.rng.Uint64N(1e15)
	sp.EndTimeUnixNano = sp.StartTimeUnixNano + g.rng.Uint64N(1e10)
	switch g.rng.IntN(20) { // the edges of the valid range
	case 0:
		sp.EndTimeUnixNano = sp.StartTimeUnixNano
	case 1:
		sp.StartTimeUnixNano, sp.EndTimeUnixNano = math.MaxInt64, math.MaxInt64
	case 2:
		sp.StartTimeUnixNano = 1
	}
	if g.rng.IntN(30) == 0 {
		g.spoil(sp)
	}
	return sp
}

// spoil breaks one of the span's checked fields.
func (g *genReq) spoil(sp *tracepb.Span) {
	switch g.rng.IntN(10) {
	case 0:
		sp.TraceId = sp.TraceId[:g.rng.IntN(16)]
	case 1:
		sp.TraceId = make([]byte, 16)
	case 2:
		sp.SpanId = sp.SpanId[:g.rng.IntN(8)]
	case 3:
		sp.SpanId = make([]byte, 8)
	case 4:
		sp.ParentSpanId = g.id(1 + g.rng.IntN(7))
	case 5:
		sp.StartTimeUnixNano = 0
	case 6:
		sp.EndTimeUnixNano = sp.StartTimeUnixNano - 1
	case 7:
		sp.StartTimeUnixNano = math.MaxInt64 + 1 + g.rng.Uint64N(10)
		sp.EndTimeUnixNano = sp.StartTimeUnixNano
	case 8:
		sp.EndTimeUnixNano = math.MaxInt64 + 1
	case 9:
		sp.SpanId = g.id(9)
	}
}

func (g *genReq) str() string {
	const alphabet = "abc xyz.-_/:{}\"é日\U0001F600"
	r := []rune(alphabet)
	n := g.rng.IntN(12)
	if g.rng.IntN(10) == 0 {
		n = 200 + g.rng.IntN(300)
	}
	var b strings.Builder
	for range n {
		b.WriteRune(r[g.rng.IntN(len(r))])
	}
	return b.String()
}

// fill sets random values in about half of m's fields, message fields to a
// depth of 4 below depth.
func (g *genReq) fill(m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if g.rng.IntN(2) == 0 || (fd.Message() != nil && depth >= 4) {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for range g.rng.IntN(4) {
				if fd.Message() != nil {
					e := l.NewElement()
					g.fill(e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(g.scalar(fd))
				}
			}
			continue
		}
		if fd.Message() != nil {
			v := m.NewField(fd)
			g.fill(v.Message(), depth+1)
			m.Set(fd, v)
			continue
		}
		m.Set(fd, g.scalar(fd))
	}
}

func (g *genReq) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(g.str())
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(g.id(g.rng.IntN(20) + 1))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(g.rng.IntN(2) == 0)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(g.rng.IntN(8) - 1))
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(g.rng.Int32() - math.MaxInt32/2)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(g.rng.Uint32())
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(g.rng.Int64() - math.MaxInt64/2)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(g.rng.Uint64())
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(g.rng.NormFloat64())
	}
	panic("genReq: no values of kind " + fd.Kind().String())
}

// sprinkle walks m and its messages, appending odd fields to some of them.
func (g *genReq) sprinkle(m protoreflect.Message, depth int) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() != nil && fd.IsList():
			for i := range v.List().Len() {
				g.sprinkle(v.List().Get(i).Message(), depth+1)
			}
		case fd.Message() != nil:
			g.sprinkle(v.Message(), depth+1)
		}
		return true
	})
	if g.rng.IntN(12) == 0 {
		m.SetUnknown(append(m.GetUnknown(), g.odd(m.Descriptor())...))
	}
}

var wireTypes = []protowire.Type{protowire.VarintType, protowire.Fixed32Type, protowire.Fixed64Type, protowire.BytesType, protowire.StartGroupType}

// odd returns raw fields to append to a message of type md. proto.Marshal
// writes them after the known fields; proto.Unmarshal reads them as what they
// are: unknown fields, known fields of the wrong wire type (kept as unknown),
// or more occurrences of known fields (merged, appended, or replacing).
func (g *genReq) odd(md protoreflect.MessageDescriptor) []byte {
	fds := md.Fields()
	switch k := g.rng.IntN(40); {
	case k < 12: // an unknown field
		return g.rawField(nil, protowire.Number(fds.Len()+1+g.rng.IntN(3000)), wireTypes[g.rng.IntN(len(wireTypes))])
	case k < 22: // a known field with the wrong wire type
		fd := fds.Get(g.rng.IntN(fds.Len()))
		for {
			typ := wireTypes[g.rng.IntN(len(wireTypes))]
			if typ != wireTypeOf(fd) {
				return g.rawField(nil, fd.Number(), typ)
			}
		}
	case k < 23: // a string that is not UTF-8
		for i := range fds.Len() {
			if fd := fds.Get(i); fd.Kind() == protoreflect.StringKind {
				b := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
				return protowire.AppendBytes(b, []byte("ok\xffno"))
			}
		}
		return nil
	}
	// More occurrences of known fields: the encoding of another message of
	// the same type, which decodes as a merge.
	var extra proto.Message
	switch md.FullName() {
	case "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest":
		extra = &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{g.resourceSpans()}}
	case "opentelemetry.proto.trace.v1.ResourceSpans":
		rs := g.resourceSpans()
		if g.rng.IntN(2) == 0 {
			rs.ScopeSpans = nil
		}
		extra = rs
	case "opentelemetry.proto.trace.v1.ScopeSpans":
		ss := g.scopeSpans()
		if g.rng.IntN(2) == 0 {
			ss.Spans = nil
		}
		extra = ss
	case "opentelemetry.proto.trace.v1.Span":
		sp := &tracepb.Span{}
		switch g.rng.IntN(4) {
		case 0:
			sp.TraceId = g.traces[g.rng.IntN(len(g.traces))] // moves the span to another trace
		case 1:
			sp.EndTimeUnixNano = 1_800_000_000_000_000_000
		case 2:
			sp.ParentSpanId = g.id(8)
		default:
			g.fill(sp.ProtoReflect(), 2)
			sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano = nil, nil, nil, 0, 0
		}
		extra = sp
	default:
		extra = newOf(md)
		g.fill(extra.ProtoReflect(), 3)
	}
	b, err := proto.Marshal(extra)
	if err != nil {
		panic(err)
	}
	return b
}

// newOf returns a new message of type md, one the tests' requests can hold.
func newOf(md protoreflect.MessageDescriptor) proto.Message {
	var found proto.Message
	var walk func(m protoreflect.Message, seen map[protoreflect.FullName]bool)
	walk = func(m protoreflect.Message, seen map[protoreflect.FullName]bool) {
		if found != nil || seen[m.Descriptor().FullName()] {
			return
		}
		seen[m.Descriptor().FullName()] = true
		if m.Descriptor().FullName() == md.FullName() {
			found = m.New().Interface()
			return
		}
		fds := m.Descriptor().Fields()
		for i := range fds.Len() {
			if fd := fds.Get(i); fd.Message() != nil {
				if fd.IsList() {
					walk(m.Mutable(fd).List().NewElement().Message(), seen)
				} else {
					walk(m.NewField(fd).Message(), seen)
				}
			}
		}
	}
	walk((&coltracepb.ExportTraceServiceRequest{}).ProtoReflect(), map[protoreflect.FullName]bool{})
	return found
}

func wireTypeOf(fd protoreflect.FieldDescriptor) protowire.Type {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.StringKind, protoreflect.BytesKind:
		return protowire.BytesType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

// rawField appends a field of wire type typ with a random value.
func (g *genReq) rawField(b []byte, num protowire.Number, typ protowire.Type) []byte {
	b = protowire.AppendTag(b, num, typ)
	switch typ {
	case protowire.VarintType:
		return protowire.AppendVarint(b, g.rng.Uint64()>>g.rng.IntN(64))
	case protowire.Fixed32Type:
		return protowire.AppendFixed32(b, g.rng.Uint32())
	case protowire.Fixed64Type:
		return protowire.AppendFixed64(b, g.rng.Uint64())
	case protowire.BytesType:
		return protowire.AppendBytes(b, g.id(g.rng.IntN(10)+1))
	}
	// A group holding a field or two, one of them maybe a group too.
	for range g.rng.IntN(3) {
		typ := wireTypes[g.rng.IntN(len(wireTypes)-1)]
		if g.rng.IntN(4) == 0 {
			typ = protowire.StartGroupType
		}
		b = g.rawField(b, protowire.Number(1+g.rng.IntN(20)), typ)
	}
	return protowire.AppendTag(b, num, protowire.EndGroupType)
}

// corrupt returns a copy of b truncated, with a byte changed, inserted or
// removed, or with a run of bytes repeated.
func corrupt(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 {
		return []byte{byte(rng.Uint32())}
	}
	c := bytes.Clone(b)
	i := rng.IntN(len(c))
	switch rng.IntN(5) {
	case 0:
		return c[:i]
	case 1:
		c[i] ^= byte(1 + rng.IntN(255))
	case 2:
		c = append(c[:i], append([]byte{byte(rng.Uint32())}, c[i:]...)...)
	case 3:
		c = append(c[:i], c[i+1:]...)
	case 4:
		j := min(len(c), i+1+rng.IntN(8))
		c = append(c[:j], append(bytes.Clone(c[i:j]), c[j:]...)...)
	}
	return c
}

func TestSplitByTraceWireMatchesMessagePath(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	var seen [nOutcomes]int
	for seed := range uint64(n) {
		g := newGenReq(seed)
		body := g.body()
		seen[sameAsMessagePath(t, body)]++
		for range 3 {
			seen[sameAsMessagePath(t, corrupt(g.rng, body))]++
		}
	}
	t.Logf("malformed %d, invalid span %d, no spans %d, one trace %d, several traces %d",
		seen[outMalformed], seen[outInvalidSpan], seen[outEmpty], seen[outOneTrace], seen[outTraces])
	for o, c := range seen {
		if c < n/50 {
			t.Errorf("outcome %d seen only %d times: the generator no longer covers it", o, c)
		}
	}
}

func TestSplitByTraceWireSpanErrors(t *testing.T) {
	req := ingesttest.Request(3, 2, 3)
	sps := req.ResourceSpans[0].ScopeSpans[0].Spans
	sps[1].TraceId = []byte{1, 2, 3}
	body, _ := proto.Marshal(req)
	_, _, err := SplitByTraceWire(body, "spans")
	const want = "resource_spans[0].scope_spans[0].spans[1]: trace_id: must be 16 bytes, got 3"
	var se *genai.SpanError
	if err == nil || err.Error() != want || !errors.As(err, &se) || se.SpanID != hex.EncodeToString(sps[1].SpanId) {
		t.Fatalf("got %v, want %q naming span %x", err, want, sps[1].SpanId)
	}

	for _, sp := range sps {
		sp.EndTimeUnixNano = sp.StartTimeUnixNano - 1
	}
	more := ingesttest.Request(4, 4, 3)
	for _, sp := range more.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.StartTimeUnixNano = 0
	}
	req.ResourceSpans = append(req.ResourceSpans, more.ResourceSpans...)
	body, _ = proto.Marshal(req)
	if sameAsMessagePath(t, body) != outInvalidSpan {
		t.Fatal("18 bad spans accepted")
	}
	_, _, err = SplitByTraceWire(body, "spans")
	if !strings.HasSuffix(err.Error(), "\nand 8 more spans with errors") || strings.Count(err.Error(), "\n") != 10 {
		t.Fatalf("18 bad spans: %v", err)
	}
}

func TestSplitByTraceWireMalformed(t *testing.T) {
	good, _ := proto.Marshal(ingesttest.Request(5, 2, 2))
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	// One span with a raw field appended, in one scope and resource.
	spanWith := func(raw []byte) []byte {
		sp, _ := proto.Marshal(ingesttest.Request(6, 1, 1).ResourceSpans[0].ScopeSpans[0].Spans[0])
		sp = append(sp, raw...)
		ss := protowire.AppendBytes(tag(fieldSSSpans, protowire.BytesType), sp)
		rs := protowire.AppendBytes(tag(fieldRSScopeSpans, protowire.BytesType), ss)
		return protowire.AppendBytes(tag(fieldRequestResourceSpans, protowire.BytesType), rs)
	}
	for _, tc := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, false},
		{"truncated", good[:len(good)-3], false},
		{"field number 0", append(bytes.Clone(good), 0x00), false},
		{"field number too large", append(protowire.AppendVarint(bytes.Clone(good), uint64(protowire.MaxValidNumber+1)<<3|uint64(protowire.VarintType)), 0), false},
		{"largest field number", append(bytes.Clone(good), protowire.AppendVarint(tag(protowire.MaxValidNumber, protowire.VarintType), 1)...), true},
		{"end group outside a group", append(bytes.Clone(good), tag(9, protowire.EndGroupType)...), false},
		{"wire type 6", append(bytes.Clone(good), 0x0e), false},
		{"varint overflow", append(append(bytes.Clone(good), 0x08), bytes.Repeat([]byte{0xff}, 10)...), false},
		{"span name not UTF-8", spanWith(protowire.AppendString(tag(5, protowire.BytesType), "\xc3\x28")), false},
		{"attribute value not UTF-8", spanWith(protowire.AppendBytes(tag(9, protowire.BytesType),
			protowire.AppendBytes(tag(2, protowire.BytesType), protowire.AppendString(tag(1, protowire.BytesType), "\xff")))), false},
		{"bytes value need not be UTF-8", spanWith(protowire.AppendBytes(tag(9, protowire.BytesType),
			protowire.AppendBytes(tag(2, protowire.BytesType), protowire.AppendString(tag(7, protowire.BytesType), "\xff")))), true},
		{"unknown field not UTF-8", spanWith(protowire.AppendString(tag(99, protowire.BytesType), "\xff")), true},
		{"name sent as varint", spanWith(protowire.AppendVarint(tag(5, protowire.VarintType), 7)), true},
		{"start time sent as varint", spanWith(protowire.AppendVarint(tag(7, protowire.VarintType), 7)), true},
		{"unterminated group", spanWith(tag(99, protowire.StartGroupType)), false},
		{"group", spanWith(append(protowire.AppendVarint(tag(99, protowire.StartGroupType), 0), tag(99, protowire.EndGroupType)...)), false},
		{"empty group", spanWith(append(tag(99, protowire.StartGroupType), tag(99, protowire.EndGroupType)...)), true},
		{"empty body", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := sameAsMessagePath(t, tc.body)
			if (out != outMalformed) != tc.ok {
				t.Fatalf("outcome %d, want ok=%v", out, tc.ok)
			}
		})
	}
}

// deepRequest holds one span whose attribute value nests arrays n deep, the
// innermost holding an empty array when odd is set.
func deepRequest(n int, odd bool) []byte {
	v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "leaf"}}
	if odd {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}}
	}
	for range n {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{v}}}}
	}
	req := ingesttest.Request(7, 1, 1)
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: "deep", Value: v})
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func TestSplitByTraceWireDepth(t *testing.T) {
	// Request, resource spans, scope spans, span, key value and any value
	// are six levels; each array adds two: 6+2n (+1 when odd) against
	// proto.Unmarshal's limit of 10000.
	var seen [nOutcomes]int
	for n := 4995; n <= 4998; n++ {
		for _, odd := range []bool{false, true} {
			seen[sameAsMessagePath(t, deepRequest(n, odd))]++
		}
	}
	if seen[outMalformed] == 0 || seen[outOneTrace] == 0 {
		t.Fatalf("the limit was not crossed: %v", seen)
	}
}

func TestSplitByTraceWireSingleTraceKeepsBody(t *testing.T) {
	body, _ := proto.Marshal(ingesttest.Request(8, 1, 4))
	recs, n, err := SplitByTraceWire(body, "spans")
	if err != nil || n != 4 || len(recs) != 1 {
		t.Fatalf("%d records, %d spans, %v", len(recs), n, err)
	}
	if &recs[0].Value[0] != &body[0] || len(recs[0].Value) != len(body) {
		t.Fatal("a single clean trace was copied")
	}
	// An unknown field of the request is dropped, as kafka.SplitByTrace drops it.
	odd := append(bytes.Clone(body), protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1)...)
	recs, _, _ = SplitByTraceWire(odd, "spans")
	if len(recs) != 1 || !bytes.Equal(recs[0].Value, body) {
		t.Fatal("the request's unknown field was kept")
	}
}

func TestSplitByTraceWireAllocs(t *testing.T) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				t.Skip("sync.Pool drops items at random under the race detector")
			}
		}
	}
	body := benchBody()
	allocs := testing.AllocsPerRun(50, func() {
		if _, _, err := SplitByTraceWire(body, "spans"); err != nil {
			t.Fatal(err)
		}
	})
	// The records, their pointers, the keys and the values.
	if allocs > 4 {
		t.Fatalf("%v allocations for 200 spans, want at most 4", allocs)
	}
}

func TestWireSchema(t *testing.T) {
	for _, c := range []struct {
		msg  *wireMsg
		num  protowire.Number
		name string
		typ  protowire.Type
	}{
		{wireRequestMsg, fieldRequestResourceSpans, "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.resource_spans", protowire.BytesType},
		{wireResourceSpansMsg, fieldRSResource, "opentelemetry.proto.trace.v1.ResourceSpans.resource", protowire.BytesType},
		{wireResourceSpansMsg, fieldRSScopeSpans, "opentelemetry.proto.trace.v1.ResourceSpans.scope_spans", protowire.BytesType},
		{wireResourceSpansMsg, fieldRSSchemaURL, "opentelemetry.proto.trace.v1.ResourceSpans.schema_url", protowire.BytesType},
		{wireScopeSpansMsg, fieldSSScope, "opentelemetry.proto.trace.v1.ScopeSpans.scope", protowire.BytesType},
		{wireScopeSpansMsg, fieldSSSpans, "opentelemetry.proto.trace.v1.ScopeSpans.spans", protowire.BytesType},
		{wireScopeSpansMsg, fieldSSSchemaURL, "opentelemetry.proto.trace.v1.ScopeSpans.schema_url", protowire.BytesType},
		{wireSpanMsg, fieldSpanTraceID, "opentelemetry.proto.trace.v1.Span.trace_id", protowire.BytesType},
		{wireSpanMsg, fieldSpanSpanID, "opentelemetry.proto.trace.v1.Span.span_id", protowire.BytesType},
		{wireSpanMsg, fieldSpanParentSpanID, "opentelemetry.proto.trace.v1.Span.parent_span_id", protowire.BytesType},
		{wireSpanMsg, fieldSpanStart, "opentelemetry.proto.trace.v1.Span.start_time_unix_nano", protowire.Fixed64Type},
		{wireSpanMsg, fieldSpanEnd, "opentelemetry.proto.trace.v1.Span.end_time_unix_nano", protowire.Fixed64Type},
	} {
		if f := c.msg.field(c.num); f == nil || f.name != c.name || f.typ != c.typ {
			t.Errorf("%s field %d: %+v, want %s", c.msg.name, c.num, f, c.name)
		}
	}
	if wireResourceMsg.name != "opentelemetry.proto.resource.v1.Resource" || wireScopeMsg.name != "opentelemetry.proto.common.v1.InstrumentationScope" {
		t.Errorf("resource %s, scope %s", wireResourceMsg.name, wireScopeMsg.name)
	}
	// check passes over a group field as over an unknown one, without
	// looking inside; proto3 has no groups.
	seen := map[*wireMsg]bool{}
	var walk func(m *wireMsg)
	walk = func(m *wireMsg) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, f := range m.dense {
			if f != nil && f.kind == wkGroup {
				t.Errorf("%s is a group", f.name)
			}
			if f != nil && f.msg != nil {
				walk(f.msg)
			}
		}
		if len(m.sparse) > 0 {
			t.Errorf("%s has field numbers of %d or more", m.name, len(m.dense))
		}
	}
	walk(wireRequestMsg)
	if len(seen) < 14 {
		t.Errorf("the schema holds %d message types, want the 14 of OTLP traces", len(seen))
	}
}

// TestWireCheckGeneric holds wireMsg.check to proto.Unmarshal on a message
// with the field shapes OTLP's trace schema lacks today but may gain:
// repeated scalars, which may come packed or not.
func TestWireCheckGeneric(t *testing.T) {
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(num),
			Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: typ.Enum()}
	}
	file, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("wirecheck_test.proto"), Package: proto.String("wirecheck"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{
			field("v", 1, descriptorpb.FieldDescriptorProto_TYPE_SINT64),
			field("f", 2, descriptorpb.FieldDescriptorProto_TYPE_FIXED32),
			field("d", 3, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE),
			field("s", 4, descriptorpb.FieldDescriptorProto_TYPE_STRING),
		}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := file.Messages().Get(0)
	wm := newWireMsg(md, map[protoreflect.FullName]*wireMsg{})
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0x00, 0x01, 0x7f, 0x80, 0xff, 'a', 0xc3, 0xa9}
	var seen [2]int
	for range 20000 {
		var b []byte
		for range 1 + rng.IntN(3) {
			num := protowire.Number(1 + rng.IntN(5))
			typ := wireTypes[rng.IntN(len(wireTypes)-1)]
			b = protowire.AppendTag(b, num, typ)
			switch typ {
			case protowire.VarintType:
				b = protowire.AppendVarint(b, rng.Uint64()>>rng.IntN(64))
			case protowire.Fixed32Type:
				b = protowire.AppendFixed32(b, rng.Uint32())
			case protowire.Fixed64Type:
				b = protowire.AppendFixed64(b, rng.Uint64())
			default:
				v := make([]byte, rng.IntN(17))
				for i := range v {
					v[i] = alphabet[rng.IntN(len(alphabet))]
				}
				b = protowire.AppendBytes(b, v)
			}
		}
		uerr := proto.Unmarshal(b, dynamicpb.NewMessage(md))
		werr := wm.check(b, 0, 1)
		if (uerr == nil) != (werr == nil) {
			t.Fatalf("body %x: proto.Unmarshal says %v, check says %v", b, uerr, werr)
		}
		seen[boolInt(uerr != nil)]++
	}
	if seen[0] < 1000 || seen[1] < 1000 {
		t.Fatalf("accepted %d, refused %d: not a useful mix", seen[0], seen[1])
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzSplitByTraceWire(f *testing.F) {
	for seed := range uint64(40) {
		g := newGenReq(seed)
		body := g.body()
		f.Add(body)
		f.Add(corrupt(g.rng, body))
	}
	good, _ := proto.Marshal(ingesttest.Request(9, 3, 2))
	f.Add(good)
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsMessagePath(t, body)
	})
}

// benchBody is a 200-span request, 50 traces of 4 spans interleaved, with
// about 1 KB of message text per span.
func benchBody() []byte {
	req := ingesttest.Request(10, 50, 4)
	ss := req.ResourceSpans[0].ScopeSpans[0]
	rng := rand.New(rand.NewPCG(10, 11))
	pad := strings.Repeat("lorem ipsum dolor sit amet, ", 18) // ~500 bytes
	for _, sp := range ss.Spans {
		for _, kv := range sp.Attributes {
			if strings.HasSuffix(kv.Key, ".messages") {
				s := kv.Value.GetStringValue()
				kv.Value.Value = &commonpb.AnyValue_StringValue{StringValue: strings.Replace(s, `"content":"`, `"content":"`+pad, 1)}
			}
		}
	}
	rng.Shuffle(len(ss.Spans), func(i, j int) { ss.Spans[i], ss.Spans[j] = ss.Spans[j], ss.Spans[i] })
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func BenchmarkSplit(b *testing.B) {
	body := benchBody()
	b.Run("message", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(body, req); err != nil {
				b.Fatal(err)
			}
			if err := genai.ValidateOTLP(req); err != nil {
				b.Fatal(err)
			}
			if _, _, err := kafka.SplitByTrace(req, "spans"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := SplitByTraceWire(body, "spans"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
