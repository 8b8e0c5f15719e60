package simulate

import (
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// chainwatch lineage attribute keys, as the collector's mapping reads them.
const (
	attrApp             = schemas.AttrApp
	attrEnvironment     = schemas.AttrEnvironment
	attrChainName       = schemas.AttrChainName
	attrChainVersion    = schemas.AttrChainVersion
	attrComponentName   = schemas.AttrComponentName
	attrComponentKind   = schemas.AttrComponentKind
	attrTemplateID      = schemas.AttrPromptTemplateID
	attrTemplateVersion = schemas.AttrPromptTemplateVersion
	attrSessionID       = schemas.AttrSessionID
	attrUserID          = schemas.AttrUserID
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

// textMessagesJSON renders semconv gen_ai.input.messages / output.messages:
// [{"role":…,"parts":[{"type":"text","content":…}]}] with an optional
// finish_reason.
func textMessagesJSON(role, content, finishReason string) string {
	b := make([]byte, 0, len(content)+96)
	b = append(b, `[{"role":`...)
	b = schemas.AppendJSONString(b, role)
	b = append(b, `,"parts":[{"type":"text","content":`...)
	b = schemas.AppendJSONString(b, content)
	b = append(b, `}]`...)
	if finishReason != "" {
		b = append(b, `,"finish_reason":`...)
		b = schemas.AppendJSONString(b, finishReason)
	}
	b = append(b, `}]`...)
	return string(b)
}

// textPartsJSON renders semconv gen_ai.system_instructions.
func textPartsJSON(content string) string {
	b := make([]byte, 0, len(content)+40)
	b = append(b, `[{"type":"text","content":`...)
	b = schemas.AppendJSONString(b, content)
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
		b = schemas.AppendJSONString(b, d.id)
		if withScores {
			b = append(b, `,"score":`...)
			b = strconv.AppendFloat(b, d.score, 'f', 3, 64)
		}
		b = append(b, `,"content":`...)
		b = schemas.AppendJSONString(b, d.content)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}
