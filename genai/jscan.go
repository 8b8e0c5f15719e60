// jscan, the small validating JSON reader the text accumulator walks
// message arrays with.

package genai

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jscan is a small validating JSON reader over a string: enough to walk
// message arrays without reflection, returning string values as substrings
// of the input wherever they hold no escapes.
type jscan struct {
	s     string
	i     int
	depth int
}

const maxJSONDepth = 200

func (p *jscan) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (p *jscan) peek() byte {
	p.ws()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *jscan) peekPos() int {
	p.ws()
	return p.i
}

// arrNext moves to the next array element (after '[' was consumed); done
// reports the closing ']'.
func (p *jscan) arrNext(first bool) (done, ok bool) {
	c := p.peek()
	if c == ']' {
		p.i++
		return true, true
	}
	if !first {
		if c != ',' {
			return false, false
		}
		p.i++
		c = p.peek()
	}
	return false, c != 0
}

// objNext reads the next key and its colon (after '{' was consumed); done
// reports the closing '}'.
func (p *jscan) objNext(first bool) (key string, done, ok bool) {
	c := p.peek()
	if c == '}' {
		p.i++
		return "", true, true
	}
	if !first {
		if c != ',' {
			return "", false, false
		}
		p.i++
	}
	if key, ok = p.str(); !ok {
		return "", false, false
	}
	if p.peek() != ':' {
		return "", false, false
	}
	p.i++
	return key, false, true
}

// strOrSkip reads a string value, or skips a value of another type and
// returns "".
func (p *jscan) strOrSkip() (string, bool) {
	if p.peek() == '"' {
		return p.str()
	}
	return "", p.skip()
}

// str reads a string at p: a substring of the input when it holds no
// escapes, else one allocation of the unescaped text.
func (p *jscan) str() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	start := p.i + 1
	if !p.skipStr() {
		return "", false
	}
	end := p.i - 1 // the closing quote
	i := start
	k := strings.IndexByte(p.s[i:end], '\\')
	if k < 0 {
		return p.s[start:end], true
	}
	var b strings.Builder
	b.Grow(end - start)
	for {
		b.WriteString(p.s[i : i+k])
		i += k
		// The closing quote is not escaped, so the escape ends before it.
		switch c := p.s[i+1]; c {
		case '"', '\\', '/':
			b.WriteByte(c)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(p.s[:end], i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(p.s[:end], i+2); ok && p.s[i] == '\\' && p.s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b.WriteRune(d)
						i += 6
						goto next
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
			goto next
		default:
			return "", false
		}
		i += 2
	next:
		if k = strings.IndexByte(p.s[i:end], '\\'); k < 0 {
			b.WriteString(p.s[i:end])
			return b.String(), true
		}
	}
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipStr passes over a string, checking its escapes.
func (p *jscan) skipStr() bool {
	start := p.i + 1
	p.i = start
	for {
		k := strings.IndexByte(p.s[p.i:], '"')
		if k < 0 {
			return false
		}
		end := p.i + k
		bs := 0
		for q := end - 1; q >= p.i && p.s[q] == '\\'; q-- {
			bs++
		}
		p.i = end + 1
		if bs%2 == 0 {
			return validEscapes(p.s[start:end])
		}
	}
}

// validEscapes reports whether every backslash in s (a string's content)
// starts a JSON escape.
func validEscapes(s string) bool {
	for {
		k := strings.IndexByte(s, '\\')
		if k < 0 {
			return true
		}
		if k+1 >= len(s) {
			return false
		}
		switch s[k+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			s = s[k+2:]
		case 'u':
			if _, ok := hex4(s, k+2); !ok {
				return false
			}
			s = s[k+6:]
		default:
			return false
		}
	}
}

// skip validates and passes over one value.
func (p *jscan) skip() bool {
	switch c := p.peek(); c {
	case '"':
		return p.skipStr()
	case '{', '[':
		if p.depth++; p.depth > maxJSONDepth {
			return false
		}
		p.i++
		for first := true; ; first = false {
			var done, ok bool
			if c == '{' {
				_, done, ok = p.objNext(first)
			} else {
				done, ok = p.arrNext(first)
			}
			if !ok {
				return false
			}
			if done {
				break
			}
			if !p.skip() {
				return false
			}
		}
		p.depth--
		return true
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	case 0:
		return false
	}
	return p.number()
}

// number reads a number as JSON's grammar has it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jscan) number() bool {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsEnd(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digitsEnd(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitsEnd(s, i)
		if j == i {
			return false
		}
		i = j
	}
	p.i = i
	return true
}

func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (p *jscan) lit(l string) bool {
	if strings.HasPrefix(p.s[p.i:], l) {
		p.i += len(l)
		return true
	}
	return false
}
