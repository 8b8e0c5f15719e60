package serving

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// A scanner over JSON the gateway has checked with json.Valid, for the
// few fields it reads on every call. It gives what json.Unmarshal would
// give or says it cannot be sure (ok false), and the caller then decodes
// with encoding/json: keys that are not plain lower-case ASCII (which
// encoding/json could match to a field case-insensitively), repeated
// fields, values of an unexpected type, and string escapes beyond the
// common ones all take that path.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd is the index after the string literal that starts at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd is the index after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// members calls fn with each member of the object at b[i] (key as its
// literal, quotes included; value as its text) until fn returns false.
func members(b []byte, i int, fn func(key, val []byte) bool) bool {
	i = skipSpace(b, i+1) // past '{'
	for i < len(b) && b[i] != '}' {
		ke := stringEnd(b, i)
		key := b[i:ke]
		i = skipSpace(b, ke) + 1 // past ':'
		i = skipSpace(b, i)
		ve := valueEnd(b, i)
		if !fn(key, b[i:ve]) {
			return false
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// elements calls fn with each element of the array at b[i] until fn
// returns false.
func elements(b []byte, i int, fn func(val []byte) bool) bool {
	i = skipSpace(b, i+1) // past '['
	for i < len(b) && b[i] != ']' {
		ve := valueEnd(b, i)
		if !fn(b[i:ve]) {
			return false
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// plainKey says whether a key literal is lower-case ASCII without
// escapes: such a key matches a struct field under encoding/json's rules
// only when it is the field's name exactly.
func plainKey(lit []byte) bool {
	for _, c := range lit[1 : len(lit)-1] {
		if c >= utf8.RuneSelf || c == '\\' || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// appendString appends the value of the string literal lit as
// json.Unmarshal decodes it; ok false for what it leaves to
// encoding/json (invalid UTF-8, unpaired surrogates).
func appendString(dst, lit []byte) ([]byte, bool) {
	s := lit[1 : len(lit)-1]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			switch s[i+1] {
			case '"', '\\', '/':
				dst = append(dst, s[i+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
						return dst, false
					}
					r2, ok := hex4(s[i+2:])
					if !ok {
						return dst, false
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return dst, false
					}
					i += 6
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return dst, false
			}
			dst = append(dst, s[i:i+n]...)
			i += n
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// isNull and isString test a value's text.
// array calls fn with each element of v, an array or null; false when
// the scan leaves v to encoding/json (another type) or fn returns false.
func array(v []byte, fn func(el []byte) bool) bool {
	if isNull(v) {
		return true
	}
	if v[0] != '[' {
		return false
	}
	return elements(v, 0, fn)
}

// member calls fn with the value of obj's member name when obj, an object
// or null, has one that is not null; false when the scan leaves obj to
// encoding/json (obj of another type, a key it cannot be sure of, the
// member twice) or fn returns false.
func member(obj []byte, name string, fn func(val []byte) bool) bool {
	if isNull(obj) {
		return true
	}
	if obj[0] != '{' {
		return false
	}
	var seen bool
	return members(obj, 0, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		if string(key[1:len(key)-1]) != name {
			return true
		}
		if seen {
			return false
		}
		seen = true
		return isNull(val) || fn(val)
	})
}

func isNull(v []byte) bool   { return len(v) == 4 && string(v) == "null" }
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// isInt64 says whether a number decodes into an int64 field.
func isInt64(v []byte) bool {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return false
	}
	_, err := strconv.ParseInt(string(v), 10, 64)
	return err == nil
}

// appendChunkText appends a stream chunk's text — its choices'
// delta.content, in order — to dst, as decoding data into streamChunk
// with json.Unmarshal gives it: nothing from a chunk that does not
// decode.
func appendChunkText(dst, data []byte) []byte {
	out, _ := decodeChunk(dst, data, true)
	return out
}

// chunkInfo is what decoding a chunk into streamChunk gives besides its
// text.
type chunkInfo struct {
	decoded bool // json.Unmarshal returned nil
	choices int
	usage   *answerUsage
}

// decodeChunk decodes a stream chunk as json.Unmarshal into streamChunk
// does, by the scanner when it can; with text, the chunk's text is
// appended to dst when it decodes.
func decodeChunk(dst, data []byte, text bool) ([]byte, chunkInfo) {
	if out, info, ok := scanChunk(dst, data, text); ok {
		return out, info
	}
	var sc streamChunk
	if json.Unmarshal(data, &sc) != nil {
		return dst, chunkInfo{}
	}
	info := chunkInfo{decoded: true, choices: len(sc.Choices)}
	if sc.Usage != nil {
		info.usage = &answerUsage{PromptTokens: sc.Usage.PromptTokens, CompletionTokens: sc.Usage.CompletionTokens}
	}
	if text {
		for _, chc := range sc.Choices {
			dst = append(dst, chc.Delta.Content...)
		}
	}
	return dst, info
}

// fastChunkText is appendChunkText by the scanner alone; ok false when it
// cannot be sure (dst is then returned as it came).
func fastChunkText(dst, data []byte) ([]byte, bool) {
	out, _, ok := scanChunk(dst, data, true)
	return out, ok
}

// scanChunk is decodeChunk by the scanner; ok false when it cannot be
// sure (dst is then returned as it came).
func scanChunk(dst, data []byte, text bool) ([]byte, chunkInfo, bool) {
	var info chunkInfo
	if !validJSON(data) {
		return dst, info, true // json.Unmarshal fails
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		// null decodes to nothing; another type is an error
		info.decoded = isNull(data[i:valueEnd(data, i)])
		return dst, info, true
	}
	n0 := len(dst)
	var seen [5]bool
	once := func(k int) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	ok := members(data, i, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		switch string(key[1 : len(key)-1]) {
		case "id":
			return once(0) && (isString(val) || isNull(val))
		case "model":
			return once(1) && (isString(val) || isNull(val))
		case "created":
			return once(2) && (isInt64(val) || isNull(val))
		case "usage":
			if !once(3) {
				return false
			}
			u, ok := scanUsage(val)
			info.usage = u
			return ok
		case "choices":
			return once(4) && array(val, func(ch []byte) bool {
				info.choices++
				if isNull(ch) {
					return true
				}
				if ch[0] != '{' {
					return false
				}
				var delta, finish bool
				return members(ch, 0, func(key, val []byte) bool {
					if !plainKey(key) {
						return false
					}
					switch string(key[1 : len(key)-1]) {
					case "finish_reason":
						if finish {
							return false
						}
						finish = true
						return isString(val) || isNull(val)
					case "delta":
						if delta {
							return false
						}
						delta = true
						return member(val, "content", func(val []byte) bool {
							if !isString(val) {
								return false
							}
							if !text {
								return true // a string decodes, whatever its text
							}
							var ok bool
							dst, ok = appendString(dst, val)
							return ok
						})
					}
					return true
				})
			})
		}
		return true
	})
	if !ok {
		return dst[:n0], chunkInfo{}, false
	}
	info.decoded = true
	return dst, info, true
}

// scanUsage reads a usage value as decoding into *answerUsage does; ok
// false when it leaves that to encoding/json.
func scanUsage(val []byte) (*answerUsage, bool) {
	if isNull(val) {
		return nil, true
	}
	if val[0] != '{' {
		return nil, false
	}
	u := &answerUsage{}
	var p, c bool
	ok := members(val, 0, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		var dst *int
		switch string(key[1 : len(key)-1]) {
		case "prompt_tokens":
			if p {
				return false
			}
			p, dst = true, &u.PromptTokens
		case "completion_tokens":
			if c {
				return false
			}
			c, dst = true, &u.CompletionTokens
		default:
			return true
		}
		if isNull(val) {
			return true
		}
		if !isInt64(val) {
			return false
		}
		n, _ := strconv.ParseInt(string(val), 10, 64)
		*dst = int(n)
		return true
	})
	return u, ok
}

// chunkHead is the id, model and created of a chunk.
type chunkHead struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Created int64  `json:"created"`
}

// decodeHead decodes a chunk into chunkHead as json.Unmarshal does; ok
// says it returned nil.
func decodeHead(data []byte) (chunkHead, bool) {
	if h, decoded, ok := scanHead(data); ok {
		return h, decoded
	}
	var h chunkHead
	err := json.Unmarshal(data, &h)
	return h, err == nil
}

func scanHead(data []byte) (h chunkHead, decoded, ok bool) {
	if !validJSON(data) {
		return h, false, true
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return h, isNull(data[i:valueEnd(data, i)]), true
	}
	var seen [3]bool
	ok = members(data, i, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		var k int
		switch string(key[1 : len(key)-1]) {
		case "id":
			k = 0
		case "model":
			k = 1
		case "created":
			k = 2
		default:
			return true
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		if isNull(val) {
			return true
		}
		switch k {
		case 0:
			return isString(val) && decodeString(val, &h.ID) == nil
		case 1:
			return isString(val) && decodeString(val, &h.Model) == nil
		}
		if !isInt64(val) {
			return false
		}
		h.Created, _ = strconv.ParseInt(string(val), 10, 64)
		return true
	})
	if !ok {
		return chunkHead{}, false, false
	}
	return h, true, true
}

// scanMessages reads a chat request's messages as decoding them into
// []struct{Role string; Content json.RawMessage} and taking contentText
// of each gives them; ok false when it leaves that to encoding/json.
func scanMessages(v []byte) ([]chains.Message, bool) {
	var ms []chains.Message
	ok := array(v, func(el []byte) bool {
		var m chains.Message
		if isNull(el) {
			ms = append(ms, m)
			return true
		}
		if el[0] != '{' {
			return false
		}
		var role, content bool
		ok := members(el, 0, func(key, val []byte) bool {
			if !plainKey(key) {
				return false
			}
			switch string(key[1 : len(key)-1]) {
			case "role":
				if role {
					return false
				}
				role = true
				if isNull(val) {
					return true
				}
				return isString(val) && decodeString(val, &m.Role) == nil
			case "content":
				if content {
					return false
				}
				content = true
				m.Content = contentText(val)
			}
			return true
		})
		ms = append(ms, m)
		return ok
	})
	return ms, ok
}

// answer is what the gateway reads of a non-streamed answer.
type answer struct {
	ID      string         `json:"id"`
	Model   string         `json:"model"`
	Choices []answerChoice `json:"choices"`
	Usage   *answerUsage   `json:"usage"`
}

type answerChoice struct {
	Message struct {
		Content *string `json:"content"`
	} `json:"message"`
}

type answerUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// decodeAnswer decodes a non-streamed answer as json.Unmarshal does
// (errors ignored: what decoded is kept), by the scanner when it can.
func decodeAnswer(body []byte) *answer {
	if a, ok := scanAnswer(body); ok {
		return a
	}
	a := &answer{}
	json.Unmarshal(body, a)
	return a
}

func scanAnswer(body []byte) (*answer, bool) {
	a := &answer{}
	if !validJSON(body) {
		return a, true // json.Unmarshal decodes nothing
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return a, true // null, or a type error before anything decoded
	}
	var seen [4]bool
	once := func(k int) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	ok := members(body, i, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		switch string(key[1 : len(key)-1]) {
		case "id":
			return once(0) && (isNull(val) || isString(val) && decodeString(val, &a.ID) == nil)
		case "model":
			return once(1) && (isNull(val) || isString(val) && decodeString(val, &a.Model) == nil)
		case "usage":
			if !once(2) {
				return false
			}
			u, ok := scanUsage(val)
			a.Usage = u
			return ok
		case "choices":
			return once(3) && array(val, func(el []byte) bool {
				var ch answerChoice
				ok := member(el, "message", func(msg []byte) bool {
					return member(msg, "content", func(val []byte) bool {
						var s string
						if !isString(val) || decodeString(val, &s) != nil {
							return false
						}
						ch.Message.Content = &s
						return true
					})
				})
				a.Choices = append(a.Choices, ch)
				return ok
			})
		}
		return true
	})
	if !ok {
		return nil, false
	}
	return a, true
}

// rawMember is an object member whose value is JSON text.
type rawMember struct {
	key string
	val []byte
}

// appendObject appends the object m with the members set added or
// replacing m's, as json.Marshal writes a map[string]json.RawMessage:
// keys sorted, values compacted with <, >, &, U+2028 and U+2029 escaped
// (FuzzAppendObject checks it against json.Marshal).
func appendObject(dst []byte, m map[string]json.RawMessage, set ...rawMember) []byte {
	keys := make([]string, 0, len(m)+len(set))
	for k := range m {
		if !slices.ContainsFunc(set, func(r rawMember) bool { return r.key == k }) {
			keys = append(keys, k)
		}
	}
	for _, r := range set {
		keys = append(keys, r.key)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = schemas.AppendMarshalJSONString(dst, k)
		dst = append(dst, ':')
		v, ok := m[k]
		if j := slices.IndexFunc(set, func(r rawMember) bool { return r.key == k }); j >= 0 {
			v, ok = set[j].val, true
		}
		if !ok || v == nil {
			v = []byte("null")
		}
		dst = appendCompact(dst, v)
	}
	return append(dst, '}')
}

// appendCompact appends the valid JSON v without insignificant space,
// with <, >, &, U+2028 and U+2029 escaped, as json.Marshal writes a
// json.RawMessage.
func appendCompact(dst, v []byte) []byte {
	const hex = "0123456789abcdef"
	in := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !in {
			switch c {
			case ' ', '\t', '\n', '\r':
				continue
			case '"':
				in = true
			}
			dst = append(dst, c)
			continue
		}
		switch {
		case c == '\\' && i+1 < len(v):
			dst = append(dst, c, v[i+1])
			i++
			continue
		case c == '"':
			in = false
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			continue
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8:
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[v[i+2]&0xF])
			i += 2
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// maxDepth is encoding/json's limit on nested arrays and objects.
const maxDepth = 10000

// validJSON is json.Valid without its per-byte state machine
// (FuzzValidJSON checks the two agree).
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// validValue checks the value at b[i] inside depth containers and
// returns the index after it.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	var ok bool
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth+1 > maxDepth {
			return i, false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			if i, ok = validValue(b, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == end {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '"':
		return validString(b, i)
	case c == '-' || ('0' <= c && c <= '9'):
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

func validString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\':
			if j+1 >= len(b) {
				return j, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, ok := hex4(b[j+2:]); !ok {
					return j, false
				}
				j += 5
			default:
				return j, false
			}
		case c < 0x20:
			return j, false
		}
	}
	return len(b), false
}

func validNumber(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	var ok bool
	if b[i] == '0' {
		i++
	} else if i, ok = digits(i); !ok {
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}
