package detectors

import (
	"math"
	"slices"
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
