package simulate

import (
	"strconv"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// chainwatch lineage attribute keys. They are written out here because
// schemas/attrs.go, which will name them, does not exist yet; switch to its
// constants once it lands.
const (
	attrApp             = "chainwatch.app"
	attrEnvironment     = "chainwatch.environment"
	attrChainName       = "chainwatch.chain.name"
	attrChainVersion    = "chainwatch.chain.version"
	attrComponentName   = "chainwatch.component.name"
	attrComponentKind   = "chainwatch.component.kind"
	attrTemplateID      = "chainwatch.prompt.template.id"
	attrTemplateVersion = "chainwatch.prompt.template.version"
	attrSessionID       = "chainwatch.session.id"
	attrUserID          = "chainwatch.user.id"
)

// attrs builds attribute lists with few allocations: the KeyValue, AnyValue
// and oneof wrapper of a string attribute live together in a slab that is
// allocated in chunks and never moved, so the pointers handed out stay valid
// (a slab lives as long as any span pointing into it).
type attrs struct {
	str  []strAttr
	ints []intAttr
	list []*commonpb.KeyValue
}

type strAttr struct {
	kv commonpb.KeyValue
	av commonpb.AnyValue
	sv commonpb.AnyValue_StringValue
}

type intAttr struct {
	kv commonpb.KeyValue
	av commonpb.AnyValue
	iv commonpb.AnyValue_IntValue
}

// attrChunk is the number of string attributes per slab: a few dozen
// traces' worth.
const attrChunk = 2048

// begin starts a new list with room for n attributes.
func (a *attrs) begin(n int) { a.list = make([]*commonpb.KeyValue, 0, n) }

// end returns the list built since begin.
func (a *attrs) end() []*commonpb.KeyValue {
	l := a.list
	a.list = nil
	return l
}

func (a *attrs) str1(k, v string) {
	if len(a.str) == cap(a.str) {
		a.str = make([]strAttr, 0, attrChunk)
	}
	a.str = a.str[:len(a.str)+1]
	p := &a.str[len(a.str)-1]
	p.sv.StringValue = v
	p.av.Value = &p.sv
	p.kv.Key = k
	p.kv.Value = &p.av
	a.list = append(a.list, &p.kv)
}

func (a *attrs) int1(k string, v int64) {
	if len(a.ints) == cap(a.ints) {
		a.ints = make([]intAttr, 0, attrChunk/4)
	}
	a.ints = a.ints[:len(a.ints)+1]
	p := &a.ints[len(a.ints)-1]
	p.iv.IntValue = v
	p.av.Value = &p.iv
	p.kv.Key = k
	p.kv.Value = &p.av
	a.list = append(a.list, &p.kv)
}

func (a *attrs) float1(k string, v float64) {
	a.list = append(a.list, &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}})
}

func (a *attrs) strArray(k string, vs ...string) {
	vals := make([]*commonpb.AnyValue, len(vs))
	for i, v := range vs {
		vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	}
	a.list = append(a.list, &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}})
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// textMessagesJSON renders semconv gen_ai.input.messages / output.messages:
// [{"role":…,"parts":[{"type":"text","content":…}]}] with an optional
// finish_reason.
func textMessagesJSON(role, content, finishReason string) string {
	b := make([]byte, 0, len(content)+96)
	b = append(b, `[{"role":`...)
	b = appendJSONString(b, role)
	b = append(b, `,"parts":[{"type":"text","content":`...)
	b = appendJSONString(b, content)
	b = append(b, `}]`...)
	if finishReason != "" {
		b = append(b, `,"finish_reason":`...)
		b = appendJSONString(b, finishReason)
	}
	b = append(b, `}]`...)
	return string(b)
}

// textPartsJSON renders semconv gen_ai.system_instructions.
func textPartsJSON(content string) string {
	b := make([]byte, 0, len(content)+40)
	b = append(b, `[{"type":"text","content":`...)
	b = appendJSONString(b, content)
	b = append(b, `}]`...)
	return string(b)
}

func docsJSON(docs []retrieved, withScores bool) string {
	b := []byte{'['}
	for i, d := range docs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, d.id)
		if withScores {
			b = append(b, `,"score":`...)
			b = strconv.AppendFloat(b, d.score, 'f', 3, 64)
		}
		b = append(b, `,"content":`...)
		b = appendJSONString(b, d.content)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}
