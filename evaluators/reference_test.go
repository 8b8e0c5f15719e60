package evaluators

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestExactMatchAndF1(t *testing.T) {
	// Hand-computed with SQuAD's definitions (evaluate-v2.0.py:
	// normalize_answer, compute_exact, compute_f1).
	tests := []struct {
		pred, ref string
		em, f1    float64
	}{
		{"Denver Broncos", "Denver Broncos", 1, 1},
		{"the Denver Broncos.", "Denver Broncos", 1, 1},                      // article and punctuation dropped
		{"Hello,   World!", "hello world", 1, 1},                             // case and whitespace
		{"Broncos won the game", "The Broncos", 0, 0.5},                      // P=1/3, R=1
		{"cat cat cat", "cat", 0, 0.5},                                       // counts clip: P=1/3, R=1
		{"a theory of everything", "theory", 0, 2 * (1.0 / 3) / (1.0/3 + 1)}, // tokens [theory of everything]
		{"Carolina Panthers", "Denver Broncos", 0, 0},
		{"", "", 1, 1},                // both empty
		{"the", "Paris", 0, 0},        // prediction normalises to nothing
		{"«Paris»", "Paris", 0, 0},    // « » are not in string.punctuation: SQuAD keeps them
		{"theatre", "the atre", 0, 0}, // "the" inside a word is kept: [theatre] vs [atre]
	}
	for _, tt := range tests {
		t.Run(tt.pred+"|"+tt.ref, func(t *testing.T) {
			if got := ExactMatchScore(tt.pred, tt.ref); got != tt.em {
				t.Errorf("EM = %v, want %v (normalised %q vs %q)", got, tt.em, SquadNormalize(tt.pred), SquadNormalize(tt.ref))
			}
			if got := TokenF1Score(tt.pred, tt.ref); !near(got, tt.f1, 1e-12) {
				t.Errorf("F1 = %v, want %v", got, tt.f1)
			}
		})
	}
}

// The example sentences of NLTK's nltk/translate/bleu_score.py docstrings
// (sentence_bleu, corpus_bleu, modified_precision, SmoothingFunction), which
// come from Papineni et al. (2002).
var (
	bleuHyp1 = strings.Fields("It is a guide to action which ensures that the military always obeys the commands of the party")
	bleuHyp2 = strings.Fields("It is to insure the troops forever hearing the activity guidebook that party direct")
	bleuRef1 = strings.Fields("It is a guide to action that ensures that the military will forever heed Party commands")
	bleuRef2 = strings.Fields("It is the guiding principle which guarantees the military forces always being under the command of the Party")
	bleuRef3 = strings.Fields("It is the practical guide for the army always to heed the directions of the party")
)

func TestSentenceBLEUPublishedValues(t *testing.T) {
	refs := [][]string{bleuRef1, bleuRef2, bleuRef3}
	tests := []struct {
		name string
		refs [][]string
		hyp  []string
		o    BLEUOptions
		want float64
		tol  float64
	}{
		// NLTK sentence_bleu docstring: 0.5045...
		{"nltk hyp1 three refs", refs, bleuHyp1, BLEUOptions{}, 0.5045, 1e-4},
		// NLTK SmoothingFunction docstring: 0.4118... for every method
		// (every order has a match, so smoothing changes nothing).
		{"nltk hyp1 ref1", [][]string{bleuRef1}, bleuHyp1, BLEUOptions{}, 0.4118, 1e-4},
		{"nltk hyp1 ref1 method1", [][]string{bleuRef1}, bleuHyp1, BLEUOptions{Smoothing: SmoothMethod1}, 0.4118, 1e-4},
		// hyp2 has no 3-gram match: 0 without smoothing; NLTK's method1
		// docstring gives 0.0370... By hand: p = 8/14, 1/13, 0.1/12, 0.1/11,
		// BP = exp(1 − 16/14), BLEU = 0.03704.
		{"nltk hyp2 no smoothing", refs, bleuHyp2, BLEUOptions{}, 0, 0},
		{"nltk hyp2 method1", refs, bleuHyp2, BLEUOptions{Smoothing: SmoothMethod1}, 0.0370, 1e-4},
		// Papineni et al. 2002, §2.1: "the the the the the the the" against
		// "The cat is on the mat" / "There is a cat on the mat": modified
		// unigram precision 2/7; the closest reference has 7 tokens, BP = 1.
		{"papineni clipping", [][]string{strings.Fields("the cat is on the mat"), strings.Fields("there is a cat on the mat")},
			strings.Fields("the the the the the the the"), BLEUOptions{MaxN: 1}, 2.0 / 7, 1e-12},
		// Identical sentences score 1; an empty hypothesis 0.
		{"identical", [][]string{bleuRef1}, bleuRef1, BLEUOptions{}, 1, 1e-12},
		{"empty hypothesis", [][]string{bleuRef1}, nil, BLEUOptions{Smoothing: SmoothMethod1}, 0, 0},
		// Too short for 4-grams: 0 unless smoothed.
		{"short no smoothing", [][]string{strings.Fields("a cat")}, strings.Fields("a cat"), BLEUOptions{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SentenceBLEU(tt.refs, tt.hyp, tt.o); !near(got, tt.want, tt.tol) {
				t.Errorf("BLEU = %.6f, want %.6f", got, tt.want)
			}
		})
	}
}

func TestCorpusBLEUPublishedValue(t *testing.T) {
	// NLTK corpus_bleu docstring: 0.5920...; and it is not the average of the
	// sentence scores (0.5045... and 1.0... → 0.7522...), which the same
	// docstring shows for contrast.
	hyp2 := strings.Fields("he read the book because he was interested in world history")
	ref2 := strings.Fields("he was interested in world history because he read the book")
	refs := [][][]string{{bleuRef1, bleuRef2, bleuRef3}, {ref2}}
	hyps := [][]string{bleuHyp1, hyp2}
	got, err := CorpusBLEU(refs, hyps, BLEUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !near(got, 0.5920, 1e-4) {
		t.Errorf("corpus BLEU = %.6f, want 0.5920...", got)
	}
	avg := (SentenceBLEU(refs[0], hyps[0], BLEUOptions{}) + SentenceBLEU(refs[1], hyps[1], BLEUOptions{})) / 2
	if near(got, avg, 1e-3) {
		t.Errorf("corpus BLEU equals the sentence average %.4f", avg)
	}
	if _, err := CorpusBLEU(refs, hyps[:1], BLEUOptions{}); err == nil {
		t.Error("mismatched lengths should fail")
	}
}

func TestRougeL(t *testing.T) {
	tests := []struct {
		name, pred, ref string
		p, r, f         float64
	}{
		// Lin (2004) §3.1: with reference S1 "police killed the gunman", S2
		// "police kill the gunman" (LCS 3) scores 0.75 and S3 "the gunman
		// kill police" (LCS 2) scores 0.5.
		{"lin S2", "police kill the gunman", "police killed the gunman", 0.75, 0.75, 0.75},
		{"lin S3", "the gunman kill police", "police killed the gunman", 0.5, 0.5, 0.5},
		// rouge-score's README sentences, by hand: LCS "the quick brown
		// jumps the" = 5; P = 5/8, R = 5/9, F = 50/85.
		{"rouge-score readme", "The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog", 5.0 / 8, 5.0 / 9, 50.0 / 85},
		{"identical", "A b c", "a, b, c!", 1, 1, 1},
		{"disjoint", "x y", "a b", 0, 0, 0},
		{"empty", "", "a b", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r, f := RougeL(tt.pred, tt.ref)
			if !near(p, tt.p, 1e-12) || !near(r, tt.r, 1e-12) || !near(f, tt.f, 1e-12) {
				t.Errorf("P R F = %.4f %.4f %.4f, want %.4f %.4f %.4f", p, r, f, tt.p, tt.r, tt.f)
			}
		})
	}
}

func TestTokenisers(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) []string
		in   string
		want string
	}{
		{"bleu splits punctuation", bleuTokens, "Hello, World! It's 3.5", "hello , world ! it ' s 3 . 5"},
		{"rouge drops punctuation", rougeTokens, "Hello, World! It's", "hello world it s"},
		{"squad", squadTokens, "The cat, an apple and a theatre.", "cat apple and theatre"},
		{"squad unicode", squadTokens, "Über die Straße", "über die straße"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.fn(tt.in), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

type mapEmbedder struct {
	vecs map[string][]float32
	err  error
}

func (m mapEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	if m.err != nil {
		return nil, m.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = m.vecs[t]
	}
	return out, nil
}

func TestReferenceEvaluators(t *testing.T) {
	emb := mapEmbedder{vecs: map[string][]float32{"Paris": {1, 0}, "It is Paris": {1, 1}, "Lyon": {-1, 0}}}
	in := Input{Input: "capital of France?", Output: "It is Paris", Reference: "Paris"}
	tests := []struct {
		ev     Evaluator
		in     Input
		metric string
		want   float64
		reason Reason
	}{
		{NewExactMatch(), in, "exact_match", 0, ""},
		{NewExactMatch(), Input{Output: "the Paris", Reference: "Paris"}, "exact_match", 1, ""},
		{NewTokenF1(), in, "token_f1", 2 * (1.0 / 3) / (1.0/3 + 1), ""},
		{NewRougeL(), in, "rouge_l", 0.5, ""},
		{NewBLEU(BLEUOptions{MaxN: 1}), in, "bleu", 1.0 / 3, ""}, // p1 = 1/3 ("paris"), c = 3 > r = 1: BP = 1
		{NewEmbeddingSimilarity(emb, "test"), in, "embedding_cosine", 1 / math.Sqrt2, ""},
		{NewEmbeddingSimilarity(emb, "test"), Input{Output: "Lyon", Reference: "Paris"}, "embedding_cosine", -1, ""},
		{NewEmbeddingSimilarity(mapEmbedder{err: errors.New("boom")}, "test"), in, "embedding_cosine", 0, ReasonEmbedding},
		{NewTokenF1(), Input{Output: "x"}, "token_f1", 0, ReasonMissingInput},
		{NewEmbeddingSimilarity(emb, "test"), Input{Output: "x"}, "embedding_cosine", 0, ReasonMissingInput},
	}
	for _, tt := range tests {
		t.Run(tt.ev.Name()+"/"+tt.in.Output, func(t *testing.T) {
			rs, err := tt.ev.Evaluate(context.Background(), tt.in)
			if err != nil || len(rs) != 1 {
				t.Fatalf("got %v, %v", rs, err)
			}
			r := rs[0]
			if r.Metric != tt.metric || r.Reason != tt.reason || r.Failed() != (tt.reason != "") {
				t.Errorf("result %+v, want metric %s reason %q", r, tt.metric, tt.reason)
			}
			if !near(r.Value, tt.want, 1e-6) {
				t.Errorf("value %v, want %v", r.Value, tt.want)
			}
		})
	}
	if NewBLEU(BLEUOptions{}).Version() == NewBLEU(BLEUOptions{Smoothing: SmoothMethod1}).Version() {
		t.Error("smoothing must change BLEU's version")
	}
}

func TestCosineSimilarity(t *testing.T) {
	if _, err := CosineSimilarity([]float32{1}, []float32{1, 2}); err == nil {
		t.Error("dimension mismatch should fail")
	}
	if c, _ := CosineSimilarity([]float32{0, 0}, []float32{1, 2}); c != 0 {
		t.Errorf("zero vector: %v", c)
	}
	if c, _ := CosineSimilarity([]float32{3, 4}, []float32{6, 8}); !near(c, 1, 1e-12) {
		t.Errorf("parallel: %v", c)
	}
}
