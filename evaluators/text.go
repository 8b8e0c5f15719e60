package evaluators

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isASCIIPunct reports whether r is in Python's string.punctuation, the set
// SQuAD's normalisation strips.
func isASCIIPunct(r rune) bool {
	return r < 128 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r)
}

// isWordRune is Python's Unicode \w: letters, digits, marks and underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// squadTokens is SQuAD's normalize_answer(s).split(): lowercase, remove
// string.punctuation, remove the words a/an/the (as \b(a|an|the)\b does), and
// split on whitespace.
func squadTokens(s string) []string {
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !isASCIIPunct(r) {
			b.WriteRune(r)
		}
	}
	s = b.String()
	// Remove article words: maximal \w runs equal to a, an or the.
	b.Reset()
	i := 0
	for i < len(s) {
		r, size := rune(s[i]), 1
		if r >= 0x80 {
			r, size = decodeRune(s[i:])
		}
		if !isWordRune(r) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		j := i
		for j < len(s) {
			r, sz := rune(s[j]), 1
			if r >= 0x80 {
				r, sz = decodeRune(s[j:])
			}
			if !isWordRune(r) {
				break
			}
			j += sz
		}
		if w := s[i:j]; w == "a" || w == "an" || w == "the" {
			b.WriteByte(' ')
		} else {
			b.WriteString(w)
		}
		i = j
	}
	return strings.Fields(b.String())
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// SquadNormalize is SQuAD's normalize_answer: lowercase, strip punctuation
// and the articles a/an/the, collapse whitespace.
func SquadNormalize(s string) string { return strings.Join(squadTokens(s), " ") }

// bleuTokens lowercases s and splits it into words (runs of letters, digits
// and marks) and single punctuation or symbol characters, roughly as
// sacrebleu's 13a tokeniser separates punctuation.
func bleuTokens(s string) []string {
	s = strings.ToLower(s)
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if start < 0 {
				start = i
			}
		default:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			if !unicode.IsSpace(r) {
				out = append(out, string(r))
			}
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// rougeTokens is rouge-score's default tokeniser generalised to Unicode:
// lowercase, every run of characters that are not letters or digits is a
// separator. On ASCII text it equals rouge-score's (which drops non-ASCII
// letters altogether); no stemming.
func rougeTokens(s string) []string {
	s = strings.ToLower(s)
	return strings.FieldsFunc(s, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r)) })
}
