package detectors

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer counts the model tokens of a text. *tokenize.Tokenizer (BPE
// cl100k_base / o200k_base) implements it.
type Tokenizer interface {
	Count(text string) int
}

// WordTerms splits text into lower-cased Unicode word tokens, the "terms" of
// the new-term rate and the term distribution. The text is NFKC-normalised
// (so "ﬁ" and "fi", full-width and ASCII letters, composed and decomposed
// accents compare equal) and lower-cased; a term is a maximal run of letters,
// combining marks and digits, where an apostrophe (' or ’) between two such
// runes stays inside the term ("don't" and "don’t" are the one term
// "don't"). Han and Hiragana characters, written without spaces, are one
// term each — a coarse stand-in for a word segmenter, in the spirit of
// UAX #29, which breaks between ideographs. Everything else (spaces, punctuation, symbols, emoji)
// separates terms and is not a term.
func WordTerms(text string) []string {
	text = strings.ToLower(norm.NFKC.String(text))
	var terms []string
	start := -1 // byte offset of the current term, -1 when outside one
	for i, r := range text {
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana):
			if start >= 0 {
				terms = appendTerm(terms, text[start:i])
				start = -1
			}
			terms = append(terms, string(r))
		case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r):
			if start < 0 {
				start = i
			}
		case (r == '\'' || r == '’') && start >= 0 && wordRuneAt(text, i+utf8.RuneLen(r)):
			// apostrophe inside a word
		default:
			if start >= 0 {
				terms = appendTerm(terms, text[start:i])
				start = -1
			}
		}
	}
	if start >= 0 {
		terms = appendTerm(terms, text[start:])
	}
	return terms
}

// appendTerm appends w with the typographic apostrophe folded to ASCII.
func appendTerm(terms []string, w string) []string {
	if strings.ContainsRune(w, '’') {
		w = strings.ReplaceAll(w, "’", "'")
	}
	return append(terms, w)
}

// wordRuneAt reports whether the rune starting at byte i of s is a letter,
// mark or digit outside Han and Hiragana.
func wordRuneAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return (unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)) &&
		!unicode.In(r, unicode.Han, unicode.Hiragana)
}

// TermBag counts terms (WordTerms) over a window of texts.
type TermBag map[string]int

// NewTermBag counts the terms of all texts.
func NewTermBag(texts []string) TermBag {
	b := TermBag{}
	for _, t := range texts {
		for _, w := range WordTerms(t) {
			b[w]++
		}
	}
	return b
}

// Total is the number of term occurrences in the bag.
func (b TermBag) Total() int {
	var n int
	for _, c := range b {
		n += c
	}
	return n
}

// NewTermRate is the share of the current window's term occurrences
// (WordTerms, counted with multiplicity) whose term never occurs in the
// reference window. It answers "is the vocabulary changing?" — new product
// names, a new language, injected strings. 0 when the current window has no
// terms.
func NewTermRate(ref, cur []string) float64 {
	return NewTermRateBags(NewTermBag(ref), NewTermBag(cur))
}

// NewTermRateBags is NewTermRate over precomputed term bags.
func NewTermRateBags(ref, cur TermBag) float64 {
	var total, unseen int
	for w, c := range cur {
		total += c
		if ref[w] == 0 {
			unseen += c
		}
	}
	if total == 0 {
		return 0
	}
	return float64(unseen) / float64(total)
}

// TermJS is the Jensen–Shannon distance, base 2, between the term
// distributions (WordTerms frequencies) of the reference and current windows:
// JensenShannon over the union of their vocabularies, i.e.
// scipy.spatial.distance.jensenshannon(p, q, base=2). It lies in [0, 1]: 0
// for identical term frequencies, 1 for disjoint vocabularies; its square is
// the Jensen–Shannon divergence. Unlike NewTermRate it also moves when known
// terms change frequency. 0 when neither window has terms, 1 when exactly
// one has.
func TermJS(ref, cur []string) float64 {
	return TermJSBags(NewTermBag(ref), NewTermBag(cur))
}

// TermJSBags is TermJS over precomputed term bags.
func TermJSBags(ref, cur TermBag) float64 {
	switch nr, nc := ref.Total(), cur.Total(); {
	case nr == 0 && nc == 0:
		return 0
	case nr == 0 || nc == 0:
		return 1
	}
	vocab := make([]string, 0, len(ref)+len(cur))
	for w, c := range ref {
		if c > 0 {
			vocab = append(vocab, w)
		}
	}
	for w, c := range cur {
		if c > 0 && ref[w] <= 0 {
			vocab = append(vocab, w)
		}
	}
	// A fixed order, so the floating-point sums do not depend on map order.
	slices.Sort(vocab)
	p, q := make([]float64, len(vocab)), make([]float64, len(vocab))
	for i, w := range vocab {
		p[i], q[i] = float64(max(ref[w], 0)), float64(max(cur[w], 0))
	}
	return JensenShannon(p, q)
}

// CharLengths is each text's length in Unicode code points (not bytes).
func CharLengths(texts []string) []float64 {
	out := make([]float64, len(texts))
	for i, t := range texts {
		out[i] = float64(utf8.RuneCountInString(t))
	}
	return out
}

// TokenCounts is each text's token count under tok; with a nil tok, its
// number of word terms (WordTerms).
func TokenCounts(texts []string, tok Tokenizer) []float64 {
	out := make([]float64, len(texts))
	for i, t := range texts {
		if tok != nil {
			out[i] = float64(tok.Count(t))
		} else {
			out[i] = float64(len(WordTerms(t)))
		}
	}
	return out
}

// TextFeatures are the per-text and per-window features of a window of
// texts. CharLen and Tokens are univariate samples for the per-feature tests
// (KS, CvM, Wasserstein); Terms feeds NewTermRateBags and TermJSBags.
type TextFeatures struct {
	CharLen []float64 // code points per text
	Tokens  []float64 // tokens per text (BPE when a Tokenizer is given, else word terms)
	Terms   TermBag   // term counts over the window
}

// ExtractText computes TextFeatures for texts; tok may be nil (see
// TokenCounts). It is pure: no I/O.
func ExtractText(texts []string, tok Tokenizer) TextFeatures {
	f := TextFeatures{
		CharLen: make([]float64, len(texts)),
		Tokens:  make([]float64, len(texts)),
		Terms:   TermBag{},
	}
	for i, t := range texts {
		f.CharLen[i] = float64(utf8.RuneCountInString(t))
		terms := WordTerms(t)
		for _, w := range terms {
			f.Terms[w]++
		}
		if tok != nil {
			f.Tokens[i] = float64(tok.Count(t))
		} else {
			f.Tokens[i] = float64(len(terms))
		}
	}
	return f
}

// TermJSTest is a permutation test of "did the term distribution change?":
// the statistic is TermJS of the two windows, and its null distribution
// comes from B random reassignments of the texts (whole texts, keeping the
// window sizes) — so the p-value accounts for the finite-sample bias of a
// JS distance between two small windows, which a fixed threshold on
// TermJS does not. Params carry the new-term rate. Each permutation costs
// O(term occurrences + vocabulary).
func TermJSTest(ref, cur []string, o PermutationOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, fmt.Errorf("validating js options: %w", err)
	}
	if len(ref) == 0 || len(cur) == 0 {
		return Result{}, errors.New("need at least one text in each window")
	}
	o = o.withDefaults()
	// Terms as ids; each text as its (id, count) pairs.
	ids := map[string]int32{}
	type tc struct{ id, n int32 }
	texts := make([][]tc, 0, len(ref)+len(cur))
	for _, t := range slices.Concat(ref, cur) {
		counts := map[int32]int32{}
		for _, w := range WordTerms(t) {
			id, ok := ids[w]
			if !ok {
				id = int32(len(ids))
				ids[w] = id
			}
			counts[id]++
		}
		row := make([]tc, 0, len(counts))
		for id, n := range counts {
			row = append(row, tc{id, n})
		}
		slices.SortFunc(row, func(a, b tc) int { return int(a.id - b.id) })
		texts = append(texts, row)
	}
	p, q := make([]float64, len(ids)), make([]float64, len(ids))
	n := len(ref)
	stat := func(idx []int) float64 {
		clear(p)
		clear(q)
		for k, i := range idx {
			dst := p
			if k >= n {
				dst = q
			}
			for _, t := range texts[i] {
				dst[t.id] += float64(t.n)
			}
		}
		var sp, sq float64
		for i := range p {
			sp += p[i]
			sq += q[i]
		}
		switch {
		case sp == 0 && sq == 0:
			return 0
		case sp == 0 || sq == 0:
			return 1
		}
		return JensenShannon(p, q)
	}
	r := relabelTest("js", len(ref), len(cur), o, stat)
	r.Params["new_term_rate"] = NewTermRate(ref, cur)
	return r, nil
}

func init() {
	Register(Detector{
		Name: "js", Kind: Text, Forms: []Form{Numeric, Texts},
		Doc:    "did the vocabulary change? Term-distribution Jensen–Shannon with a permutation p-value and the new-term rate; on numbers, JS distance of histograms",
		Params: []Param{pValParam(), nPermutationsParam(DefaultNPermutations), binsParam(), thresholdParam()},
		Run: func(in Input) (Result, error) {
			p := in.Params
			if in.Form == Texts {
				r, err := TermJSTest(in.Ref.Texts, in.Cur.Texts, PermutationOptions{PVal: p.Float("p_val"), NPermutations: p.Int("n_permutations"), Seed: in.Seed})
				if err == nil {
					r.Params["features"] = "term distribution"
				}
				return r, err
			}
			return JSDist(in.Ref.X, in.Cur.X, univariateOptions(p))
		},
	})
}
