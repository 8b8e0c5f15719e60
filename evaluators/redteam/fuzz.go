package redteam

import (
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
)

// Mutation names, in the order they are applied when several are drawn.
var mutations = []string{"upper", "lower", "random_case", "typos", "homoglyphs", "whitespace", "zero_width", "suffix"}

// Mutate applies k distinct mutations drawn from rng to text and returns the
// result and the mutations' names in the order applied. The mutations: case
// changes (upper, lower, random_case — at most one of them), typos (1–3
// adjacent swaps, drops or doubled letters), homoglyphs (about a third of
// the letters that have a Cyrillic or Greek look-alike), whitespace (spaces
// turned into runs, tabs, newlines or no-break spaces), zero_width
// (invisible code points between characters) and suffix (an appended noise,
// adversarial or leakage suffix).
func Mutate(text string, rng *rand.Rand, k int) (string, []string) { return mutate(text, rng, k) }

func mutate(text string, rng *rand.Rand, k int) (string, []string) {
	k = max(1, min(k, len(mutations)-2))
	var chosen []int
	for _, i := range rng.Perm(len(mutations)) {
		if len(chosen) == k {
			break
		}
		if i <= 2 && slices.ContainsFunc(chosen, func(j int) bool { return j <= 2 }) {
			continue // one case change at most
		}
		chosen = append(chosen, i)
	}
	slices.Sort(chosen)
	names := make([]string, len(chosen))
	for n, i := range chosen {
		names[n] = mutations[i]
		text = applyMutation(mutations[i], text, rng)
	}
	return text, names
}

// mutateKeeping applies one mutation to text but not to marker inside it,
// so that the marker the model is asked to repeat stays exactly as is.
func mutateKeeping(text, marker string, rng *rand.Rand) (string, []string) {
	name := mutations[rng.IntN(len(mutations))]
	if name == "suffix" || marker == "" {
		return applyMutation(name, text, rng), []string{name}
	}
	parts := strings.Split(text, marker)
	for i, p := range parts {
		parts[i] = applyMutation(name, p, rng)
	}
	return strings.Join(parts, marker), []string{name}
}

func applyMutation(name, s string, rng *rand.Rand) string {
	switch name {
	case "upper":
		return strings.ToUpper(s)
	case "lower":
		return strings.ToLower(s)
	case "random_case":
		rs := []rune(s)
		for i, r := range rs {
			if rng.IntN(2) == 0 {
				rs[i] = unicode.ToUpper(r)
			} else {
				rs[i] = unicode.ToLower(r)
			}
		}
		return string(rs)
	case "typos":
		return typos(s, rng, 1+rng.IntN(3))
	case "homoglyphs":
		rs := []rune(s)
		var eligible []int
		for i, r := range rs {
			if _, ok := homoglyphs[r]; ok {
				eligible = append(eligible, i)
			}
		}
		for n, i := range eligible {
			if rng.IntN(3) == 0 || (n == len(eligible)-1 && !changedAny(rs, s)) {
				alts := homoglyphs[rs[i]]
				rs[i] = alts[rng.IntN(len(alts))]
			}
		}
		return string(rs)
	case "whitespace":
		var b strings.Builder
		for _, r := range s {
			if r == ' ' && rng.IntN(2) == 0 {
				b.WriteString([]string{"   ", "\t", "\n", "\u00a0", " \n "}[rng.IntN(5)])
				continue
			}
			b.WriteRune(r)
		}
		return b.String() + []string{"", " ", "\n\n", "\t"}[rng.IntN(4)]
	case "zero_width":
		rs := []rune(s)
		var b strings.Builder
		inserted := false
		for i, r := range rs {
			b.WriteRune(r)
			if i < len(rs)-1 && (rng.IntN(7) == 0 || (!inserted && i == len(rs)-2)) {
				b.WriteRune(invisible[rng.IntN(len(invisible))])
				inserted = true
			}
		}
		return b.String()
	case "suffix":
		return s + fuzzSuffixes[rng.IntN(len(fuzzSuffixes))]
	}
	return s
}

// changedAny reports whether rs differs from s (so the homoglyph mutation
// changes at least one letter when any is eligible).
func changedAny(rs []rune, s string) bool { return string(rs) != s }

// typos makes n edits at letters: swap with the next letter, drop, or
// double.
func typos(s string, rng *rand.Rand, n int) string {
	rs := []rune(s)
	for range n {
		var letters []int
		for i, r := range rs {
			if unicode.IsLetter(r) {
				letters = append(letters, i)
			}
		}
		if len(letters) < 2 {
			break
		}
		i := letters[rng.IntN(len(letters))]
		switch rng.IntN(3) {
		case 0:
			if i+1 < len(rs) && unicode.IsLetter(rs[i+1]) && rs[i] != rs[i+1] {
				rs[i], rs[i+1] = rs[i+1], rs[i]
				continue
			}
			fallthrough
		case 1:
			rs = slices.Delete(rs, i, i+1)
		default:
			rs = slices.Insert(rs, i, rs[i])
		}
	}
	return string(rs)
}
