// OTLP AnyValue readers and their JSON writers: attribute values
// flattened to strings, counts, links and kvlists as JSON.

package genai

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func appendLinksJSON(b []byte, links []*tracepb.Span_Link) []byte {
	b = append(b, '[')
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"trace_id":"`...)
		b = hex.AppendEncode(b, l.GetTraceId())
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, l.GetSpanId())
		b = append(b, `","attributes":`...)
		b = appendKVListJSON(b, l.GetAttributes())
		b = append(b, '}')
	}
	return append(b, ']')
}

// anyString flattens an attribute value: strings as they are, numbers and
// booleans formatted, bytes in base64, arrays and kvlists as JSON.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		return string(appendAnyJSON(nil, v))
	}
	return ""
}

// anyCount reads a token count given as an int, a double or a numeric
// string; negative and non-finite values are not counts.
func anyCount(v *commonpb.AnyValue) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return x.IntValue, x.IntValue >= 0
	case *commonpb.AnyValue_DoubleValue:
		return floatCount(x.DoubleValue)
	case *commonpb.AnyValue_StringValue:
		s := strings.TrimSpace(x.StringValue)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, n >= 0
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatCount(f)
		}
	}
	return 0, false
}

func floatCount(f float64) (int64, bool) {
	if !(f >= 0 && f < 1<<62) { // also false for NaN
		return 0, false
	}
	return int64(math.Round(f)), true
}

// appendAnyJSON writes v as JSON: kvlists as objects, arrays as arrays,
// bytes as base64 strings, non-finite doubles as strings.
func appendAnyJSON(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return schemas.AppendJSONString(b, x.StringValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return schemas.AppendJSONString(b, strconv.FormatFloat(x.DoubleValue, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x.BytesValue)
		return append(b, '"')
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAnyJSON(b, e)
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		return appendKVListJSON(b, x.KvlistValue.GetValues())
	}
	return append(b, "null"...)
}

func appendKVListJSON(b []byte, kvs []*commonpb.KeyValue) []byte {
	b = append(b, '{')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = schemas.AppendJSONString(b, kv.GetKey())
		b = append(b, ':')
		b = appendAnyJSON(b, kv.GetValue())
	}
	return append(b, '}')
}
