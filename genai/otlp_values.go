// OTLP AnyValue readers and their JSON writers: attribute values
// flattened to strings, counts, links and kvlists as JSON.

package genai

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	"github.com/chainwatch/chainwatch/schemas"
)

// appendLinksJSON renders links (their encodings) as a JSON array of
// {"trace_id","span_id","attributes"}.
func appendLinksJSON(b []byte, links []string) []byte {
	b = append(b, '[')
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		tid, sid, attrs := linkFields(l)
		b = append(b, `{"trace_id":"`...)
		b = hex.AppendEncode(b, tid)
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, sid)
		b = append(b, `","attributes":`...)
		b = appendKVListJSON(b, attrs)
		b = append(b, '}')
	}
	return append(b, ']')
}

// anyString flattens an attribute value: strings as they are, numbers and
// booleans formatted, bytes in base64, arrays and kvlists as JSON.
func anyString(v wVal) string {
	switch v.typ {
	case vString:
		return v.s
	case vInt:
		return strconv.FormatInt(int64(v.n), 10)
	case vDouble:
		return strconv.FormatFloat(math.Float64frombits(v.n), 'g', -1, 64)
	case vBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	case vBytes:
		return base64.StdEncoding.EncodeToString(bs(v.s))
	case vArray, vKvlist:
		return string(appendAnyJSON(nil, v))
	}
	return ""
}

// anyCount reads a token count given as an int, a double or a numeric
// string; negative and non-finite values are not counts.
func anyCount(v wVal) (int64, bool) {
	switch v.typ {
	case vInt:
		return int64(v.n), int64(v.n) >= 0
	case vDouble:
		return floatCount(math.Float64frombits(v.n))
	case vString:
		s := strings.TrimSpace(v.s)
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
// bytes as base64 strings, non-finite doubles as strings, no value as null.
func appendAnyJSON(b []byte, v wVal) []byte {
	switch v.typ {
	case vString:
		return schemas.AppendJSONString(b, v.s)
	case vInt:
		return strconv.AppendInt(b, int64(v.n), 10)
	case vDouble:
		d := math.Float64frombits(v.n)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return schemas.AppendJSONString(b, strconv.FormatFloat(d, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, d, 'g', -1, 64)
	case vBool:
		return strconv.AppendBool(b, v.n != 0)
	case vBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, bs(v.s))
		return append(b, '"')
	case vArray:
		b = append(b, '[')
		sep := false
		for e := range valRaw(v.s).all() {
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendAnyJSON(b, e)
		}
		return append(b, ']')
	case vKvlist:
		return appendKVListJSON(b, kvRaw(v.s))
	}
	return append(b, "null"...)
}

func appendKVListJSON(b []byte, kvs kvIter) []byte {
	b = append(b, '{')
	sep := false
	for kv := range kvs.all() {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = schemas.AppendJSONString(b, kv.key)
		b = append(b, ':')
		b = appendAnyJSON(b, kv.v)
	}
	return append(b, '}')
}
