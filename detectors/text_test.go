package detectors

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/detectors/tokenize"
)

var _ Tokenizer = (*tokenize.Tokenizer)(nil)

func TestWordTerms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, World!", []string{"hello", "world"}},
		{"don't  DON’T stop", []string{"don't", "don't", "stop"}},
		{"'quoted' words'", []string{"quoted", "words"}},
		{"GPT-4o costs $3.50", []string{"gpt", "4o", "costs", "3", "50"}},
		{"Ｆｕｌｌｗｉｄｔｈ ﬁne", []string{"fullwidth", "fine"}},
		{"cafe\u0301 café", []string{"café", "café"}},
		{"Straße ΣΟΦΙΑ", []string{"straße", "σοφια"}},
		{"日本語とEnglish", []string{"日", "本", "語", "と", "english"}},
		{"🚀 --- ...", nil},
		{"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := WordTerms(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("WordTerms(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Hand-checked: the current window has 5 term occurrences, "the" ×2,
// "cat", "purple", "zebra"; "purple" and "zebra" never occur in the
// reference, so the rate is 2/5.
func TestNewTermRate(t *testing.T) {
	ref := []string{"The cat sat.", "the dog ran"}
	cur := []string{"The purple cat", "the ZEBRA"}
	if got := NewTermRate(ref, cur); math.Abs(got-0.4) > 1e-15 {
		t.Errorf("NewTermRate = %v, want 0.4", got)
	}
	if got := NewTermRate(ref, ref); got != 0 {
		t.Errorf("NewTermRate(ref, ref) = %v, want 0", got)
	}
	if got := NewTermRate(ref, []string{"", "!!"}); got != 0 {
		t.Errorf("no current terms: %v, want 0", got)
	}
	if got := NewTermRate(nil, cur); got != 1 {
		t.Errorf("empty reference: %v, want 1", got)
	}
}

func TestExtractText(t *testing.T) {
	tok, err := tokenize.New(tokenize.CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello world", "tiktoken is great!", "", "你好"}
	f := ExtractText(texts, tok)
	if want := []float64{11, 18, 0, 2}; !slices.Equal(f.CharLen, want) {
		t.Errorf("CharLen = %v, want %v", f.CharLen, want)
	}
	if want := []float64{2, 6, 0, tokCount(tok, "你好")}; !slices.Equal(f.Tokens, want) {
		t.Errorf("Tokens = %v, want %v", f.Tokens, want)
	}
	if f.Terms["hello"] != 1 || f.Terms["great"] != 1 || f.Terms["你"] != 1 || f.Terms.Total() != 7 {
		t.Errorf("Terms = %v (total %d), want 7 terms", f.Terms, f.Terms.Total())
	}
	if !slices.Equal(CharLengths(texts), f.CharLen) || !slices.Equal(TokenCounts(texts, tok), f.Tokens) {
		t.Error("CharLengths/TokenCounts disagree with ExtractText")
	}
	// Without a tokenizer, token counts are word-term counts.
	if got, want := ExtractText(texts, nil).Tokens, []float64{2, 3, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("Tokens without tokenizer = %v, want %v", got, want)
	}
}

func tokCount(tok Tokenizer, s string) float64 { return float64(tok.Count(s)) }

// Hand-checked: ref terms {a, b} (½, ½), current {a} (1, 0): m = (¾, ¼),
// JS divergence = ½[KL(p‖m) + KL(q‖m)] = ½[(1 − ½·log₂3) + (2 − log₂3)]
// = 3/2 − ¾·log₂3, and TermJS is its square root.
func TestTermJS(t *testing.T) {
	tests := []struct {
		name     string
		ref, cur []string
		want     float64
	}{
		{"same frequencies", []string{"a b", "b a"}, []string{"A, B"}, 0},
		{"disjoint", []string{"a"}, []string{"b"}, 1},
		{"half overlap", []string{"a b"}, []string{"a"}, math.Sqrt(1.5 - 0.75*math.Log2(3))},
		{"both empty", nil, []string{"..."}, 0},
		{"one empty", []string{"a"}, []string{""}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TermJS(tc.ref, tc.cur); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("TermJS = %.15g, want %.15g", got, tc.want)
			}
		})
	}
	// Symmetric, and the bag form agrees.
	ref, cur := []string{"the cat sat on the mat"}, []string{"the dog sat on the log", "a cat"}
	if a, b := TermJS(ref, cur), TermJS(cur, ref); math.Abs(a-b) > 1e-15 {
		t.Errorf("TermJS not symmetric: %v vs %v", a, b)
	}
	if a, b := TermJS(ref, cur), TermJSBags(NewTermBag(ref), NewTermBag(cur)); a != b {
		t.Errorf("TermJS %v, TermJSBags %v", a, b)
	}
}

// randomTexts draws n texts of 5–15 words from a Zipf-like vocabulary of
// size v, word ids offset by off.
func randomTexts(rng interface {
	IntN(int) int
	Float64() float64
}, n, v, off int) []string {
	out := make([]string, n)
	for i := range out {
		k := 5 + rng.IntN(11)
		words := make([]string, k)
		for j := range words {
			id := int(float64(v) * rng.Float64() * rng.Float64()) // skewed towards small ids
			words[j] = fmt.Sprintf("w%d", id+off)
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

func TestTermJSTest(t *testing.T) {
	ref := []string{"a b c", "a a"}
	cur := []string{"c d", "d d e"}
	r, err := TermJSTest(ref, cur, PermutationOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Statistic-TermJS(ref, cur)) > 1e-12 {
		t.Fatalf("statistic %v, TermJS %v", r.Statistic, TermJS(ref, cur))
	}
	if r.Params["new_term_rate"] != NewTermRate(ref, cur) {
		t.Fatalf("new_term_rate %v", r.Params["new_term_rate"])
	}
	const trials = 200
	rng := NewRand(2)
	rej := 0
	for s := range trials {
		a, b := randomTexts(rng, 60, 300, 0), randomTexts(rng, 60, 300, 0)
		r, err := TermJSTest(a, b, PermutationOptions{Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			rej++
		}
	}
	lo, hi := rateInterval99(5.0/101, trials)
	rate := float64(rej) / trials
	t.Logf("term JS permutation test: null rate %.3f (99%% interval [%.3f, %.3f])", rate, lo, hi)
	if rate < lo || rate > hi {
		t.Fatalf("null rate %.3f outside [%.3f, %.3f]", rate, lo, hi)
	}
	// A quarter of the texts from a new vocabulary (e.g. a new language).
	pow := 0
	for s := range 50 {
		a := randomTexts(rng, 60, 300, 0)
		b := append(randomTexts(rng, 45, 300, 0), randomTexts(rng, 15, 300, 1000)...)
		r, _ := TermJSTest(a, b, PermutationOptions{Seed: uint64(s)})
		if r.Drift {
			pow++
		}
	}
	t.Logf("power %.2f with 15 of 60 texts from a new vocabulary", float64(pow)/50)
	if pow < 45 {
		t.Fatalf("power %d/50 < 0.9", pow)
	}
}
