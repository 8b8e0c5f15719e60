package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// encoding/json (and protojson fed from it) turns invalid UTF-8 in a string,
// and a \uXXXX escape of a lone UTF-16 surrogate, into U+FFFD without a
// word. Stored text must be what the client sent, so the collector's JSON
// decoders refuse such a body instead, as the protobuf path does: a 400
// naming the field.

// JSONTextError names a string of a JSON document that is not valid UTF-8
// text.
type JSONTextError struct {
	Path   []JSONPathElem // from the document's top level to the string; empty for a top-level string
	InKey  bool           // the bad text is an object key at Path
	Offset int            // byte offset of the bad byte or escape in the document, from 0
	Reason string         // "invalid UTF-8" or "lone UTF-16 surrogate \ud800"
}

// JSONPathElem is one step of a JSON path: an object key, or an array index
// when Key is "" and Index >= 0.
type JSONPathElem struct {
	Key   string
	Index int
}

func (e *JSONTextError) Error() string {
	var b strings.Builder
	if p := FormatJSONPath(e.Path); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.InKey {
		b.WriteString("a key holds ")
	}
	b.WriteString(e.Reason)
	b.WriteString(" at byte ")
	b.WriteString(strconv.Itoa(e.Offset))
	return b.String()
}

// FormatJSONPath writes a path as spans[2].attributes.user.name: keys after
// a dot, indexes in brackets, and keys that are not made of letters,
// digits, '_', '-' and '.' quoted in brackets (attributes["a b"]).
func FormatJSONPath(path []JSONPathElem) string {
	var b strings.Builder
	for _, el := range path {
		switch {
		case el.Key == "" && el.Index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el.Index))
			b.WriteByte(']')
		case plainKey(el.Key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(el.Key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(el.Key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// CheckJSONText returns a *JSONTextError for the first string (key or
// value) of the JSON value at the start of doc that holds invalid UTF-8 or
// an escaped lone surrogate, and nil when there is none. It checks text
// only: a document that is not well-formed JSON gets nil as soon as the
// scan sees it, for the JSON decoder to report; bytes after the first value
// are not looked at.
//
// The common case, a valid UTF-8 document without surrogate escapes, costs
// one utf8.Valid pass and a search for `\u`.
func CheckJSONText(doc []byte) *JSONTextError {
	if utf8.Valid(doc) && !maySurrogateEscape(doc) {
		return nil
	}
	s := textScanner{b: doc}
	s.value(0)
	return s.err
}

// maySurrogateEscape reports whether doc holds `\uD800`..`\uDFFF` (either
// case) anywhere; a false positive (an escaped backslash before "ud800")
// costs only the full scan.
func maySurrogateEscape(doc []byte) bool {
	for {
		i := bytes.Index(doc, []byte(`\u`))
		if i < 0 {
			return false
		}
		doc = doc[i+2:]
		if len(doc) >= 2 && (doc[0] == 'd' || doc[0] == 'D') && strings.IndexByte("89abcdefABCDEF", doc[1]) >= 0 {
			return true
		}
	}
}

// maxTextDepth bounds nesting as encoding/json does; deeper documents are
// left to the decoder, which refuses them.
const maxTextDepth = 10000

// textScanner walks one JSON value, keeping the path to where it is. It
// stops at the first bad text (err set) or the first syntax error (err nil).
type textScanner struct {
	b    []byte
	i    int
	path []JSONPathElem
	err  *JSONTextError
}

func (s *textScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; false means stop (bad text or bad syntax).
func (s *textScanner) value(depth int) bool {
	if depth > maxTextDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str(false)
		return ok
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return true
		}
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return false
			}
			key, ok := s.str(true)
			if !ok {
				return false
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return false
			}
			s.i++
			s.path = append(s.path, JSONPathElem{Key: key, Index: -1})
			if !s.value(depth + 1) {
				return false
			}
			s.path = s.path[:len(s.path)-1]
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for n := 0; ; n++ {
			s.path = append(s.path, JSONPathElem{Index: n})
			if !s.value(depth + 1) {
				return false
			}
			s.path = s.path[:len(s.path)-1]
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	default:
		// A number or a literal: its bytes are ASCII when well-formed, and
		// anything else is the decoder's syntax error to report.
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("+-.0123456789eEtrufalsn", s.b[s.i]) >= 0 {
			s.i++
		}
		return s.i > start
	}
}

// str scans the string at s.i (its opening quote). It returns the decoded
// string when key is set (for the path), and false on bad text (s.err set)
// or bad syntax.
func (s *textScanner) str(key bool) (string, bool) {
	start := s.i
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !key {
				return "", true
			}
			var k string
			if json.Unmarshal(s.b[start:s.i], &k) != nil {
				return "", false
			}
			return k, true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return "", false
			}
			if s.b[s.i+1] != 'u' {
				if strings.IndexByte(`"\/bfnrt`, s.b[s.i+1]) < 0 {
					return "", false
				}
				s.i += 2
				continue
			}
			r, ok := s.hex4(s.i + 2)
			if !ok {
				return "", false
			}
			if !utf16.IsSurrogate(r) {
				s.i += 6
				continue
			}
			if r < 0xdc00 { // a high surrogate: a low one must follow
				if s.i+7 < len(s.b) && s.b[s.i+6] == '\\' && s.b[s.i+7] == 'u' {
					if r2, ok := s.hex4(s.i + 8); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						s.i += 12
						continue
					}
				}
			}
			s.fail(key, s.i, "lone UTF-16 surrogate "+string(s.b[s.i:s.i+6]))
			return "", false
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				s.fail(key, s.i, "invalid UTF-8")
				return "", false
			}
			s.i += n
		}
	}
	return "", false
}

func (s *textScanner) hex4(i int) (rune, bool) {
	if i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[i:i+4]), 16, 16)
	return rune(v), err == nil
}

func (s *textScanner) fail(key bool, at int, reason string) {
	s.err = &JSONTextError{Path: append([]JSONPathElem(nil), s.path...), InKey: key, Offset: at, Reason: reason}
}

// DescribeJSON names a JSON value's type and, for a scalar, shows it
// (string "5", number 7; long values cut): what an error says was sent.
func DescribeJSON(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	var kind string
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		kind = "string"
	case 't', 'f':
		kind = "boolean"
	case 'n':
		return "null"
	default:
		kind = "number"
	}
	const maxShown = 40
	if len(v) > maxShown {
		return kind + " " + string(v[:maxShown]) + "…"
	}
	return kind + " " + string(v)
}

// MaxJSONDepth bounds the nesting of the JSON bodies chainwatch accepts.
// The deepest legitimate shape, an OTLP attribute holding maps in maps,
// adds four levels per map ({"kvlistValue":{"values":[{"value":…): 256
// leaves room for sixty levels of that. A deeper body is refused before it
// is decoded, naming where the limit was crossed, rather than decoded into
// a structure nobody asked for (encoding/json's own limit is 10,000).
const MaxJSONDepth = 256

// CheckJSONDepth returns an error naming the byte offset where doc nests
// deeper than max levels of objects and arrays, or nil. Strings are
// skipped (brackets inside them do not count).
func CheckJSONDepth(doc []byte, max int) error {
	depth := 0
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			for i++; i < len(doc) && doc[i] != '"'; i++ {
				if doc[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > max {
				return fmt.Errorf("JSON nested deeper than %d levels at byte %d", max, i)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// JSONSyntaxError describes a syntax error of encoding/json with the byte
// offset where it happened; other errors are returned as they are.
func JSONSyntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v at byte %d", se, se.Offset)
	}
	return err
}
