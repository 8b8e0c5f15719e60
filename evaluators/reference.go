package evaluators

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ExactMatchScore is SQuAD's exact match: 1 when the normalised prediction
// equals the normalised reference, else 0.
func ExactMatchScore(prediction, reference string) float64 {
	if SquadNormalize(prediction) == SquadNormalize(reference) {
		return 1
	}
	return 0
}

// TokenF1Score is SQuAD's token F1 over normalised tokens: the harmonic mean
// of the precision and recall of the multiset of shared tokens. As in SQuAD
// v2's evaluation script, when either side has no tokens F1 is 1 if both are
// empty and 0 otherwise.
func TokenF1Score(prediction, reference string) float64 {
	p, r := squadTokens(prediction), squadTokens(reference)
	if len(p) == 0 || len(r) == 0 {
		if len(p) == len(r) {
			return 1
		}
		return 0
	}
	counts := make(map[string]int, len(r))
	for _, t := range r {
		counts[t]++
	}
	same := 0
	for _, t := range p {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	precision := float64(same) / float64(len(p))
	recall := float64(same) / float64(len(r))
	return 2 * precision * recall / (precision + recall)
}

// Smoothing selects how BLEU treats an n-gram order without any match.
type Smoothing int

// Smoothing methods (Chen & Cherry 2014, as numbered in NLTK).
const (
	// SmoothNone: any order with no match makes BLEU 0 (Papineni et al. 2002).
	SmoothNone Smoothing = iota
	// SmoothMethod1 replaces a zero match count by Epsilon (default 0.1):
	// p_n = ε / (number of n-grams in the hypothesis).
	SmoothMethod1
)

// DefaultBLEUEpsilon is method 1's ε, NLTK's default.
const DefaultBLEUEpsilon = 0.1

// BLEUOptions configures BLEU. The zero value is BLEU-4 with uniform weights
// and no smoothing.
type BLEUOptions struct {
	MaxN      int // highest n-gram order; 0 means 4, at most MaxBLEUOrder
	Smoothing Smoothing
	Epsilon   float64 // method 1's ε; 0 means DefaultBLEUEpsilon
}

// bleuStats are the sufficient statistics of BLEU over one or more segments.
type bleuStats struct {
	matches, totals []int // per order, clipped matches and hypothesis n-grams
	hypLen, refLen  int
}

// MaxBLEUOrder is the highest n-gram order BLEU supports; a larger
// BLEUOptions.MaxN is treated as MaxBLEUOrder.
const MaxBLEUOrder = 8

// ngram is an n-gram of interned token ids, padded with -1.
type ngram [MaxBLEUOrder]int32

// countNgrams adds the n-grams of ids to m (cleared first).
func countNgrams(m map[ngram]int, ids []int32, n int) {
	clear(m)
	for i := 0; i+n <= len(ids); i++ {
		g := ngram{-1, -1, -1, -1, -1, -1, -1, -1}
		copy(g[:n], ids[i:i+n])
		m[g]++
	}
}

// closestRefLen is the reference length closest to hypLen, the shorter on a
// tie (NLTK's closest_ref_length, Papineni's "best match length").
func closestRefLen(refs [][]string, hypLen int) int {
	best, bestDiff := 0, math.MaxInt
	for _, r := range refs {
		d := len(r) - hypLen
		if d < 0 {
			d = -d
		}
		if d < bestDiff || (d == bestDiff && len(r) < best) {
			best, bestDiff = len(r), d
		}
	}
	return best
}

func (s *bleuStats) add(refs [][]string, hyp []string, maxN int) {
	dict := make(map[string]int32, len(hyp)*2)
	intern := func(toks []string) []int32 {
		ids := make([]int32, len(toks))
		for i, t := range toks {
			id, ok := dict[t]
			if !ok {
				id = int32(len(dict))
				dict[t] = id
			}
			ids[i] = id
		}
		return ids
	}
	h := intern(hyp)
	rs := make([][]int32, len(refs))
	for i, r := range refs {
		rs[i] = intern(r)
	}
	hc := make(map[ngram]int, len(hyp))
	rc := make(map[ngram]int, len(hyp))
	maxRef := make(map[ngram]int, len(hyp))
	for n := 1; n <= maxN; n++ {
		countNgrams(hc, h, n)
		clear(maxRef)
		for _, r := range rs {
			countNgrams(rc, r, n)
			for g, c := range rc {
				if _, inHyp := hc[g]; inHyp {
					maxRef[g] = max(maxRef[g], c)
				}
			}
		}
		for g, c := range hc {
			s.matches[n-1] += min(c, maxRef[g])
		}
		s.totals[n-1] += max(0, len(hyp)-n+1)
	}
	s.hypLen += len(hyp)
	s.refLen += closestRefLen(refs, len(hyp))
}

func (s *bleuStats) score(o BLEUOptions) float64 {
	maxN := len(s.matches)
	if s.hypLen == 0 || s.matches[0] == 0 {
		return 0 // no unigram matches: 0 whatever the smoothing (as NLTK)
	}
	eps := o.Epsilon
	if eps == 0 {
		eps = DefaultBLEUEpsilon
	}
	logSum := 0.0
	for n := range maxN {
		num, den := float64(s.matches[n]), float64(max(1, s.totals[n]))
		if num == 0 {
			if o.Smoothing != SmoothMethod1 {
				return 0
			}
			num = eps
		}
		logSum += math.Log(num / den)
	}
	bp := 1.0
	if s.hypLen <= s.refLen {
		bp = math.Exp(1 - float64(s.refLen)/float64(s.hypLen))
	}
	return bp * math.Exp(logSum/float64(maxN))
}

func (o BLEUOptions) maxN() int {
	if o.MaxN <= 0 {
		return 4
	}
	return min(o.MaxN, MaxBLEUOrder)
}

// SentenceBLEU is BLEU (Papineni et al. 2002) of one tokenised hypothesis
// against one or more tokenised references: the geometric mean of the
// clipped n-gram precisions up to MaxN times the brevity penalty
// exp(1 − r/c) when the hypothesis (c) is not longer than the closest
// reference (r). In [0, 1].
func SentenceBLEU(refs [][]string, hyp []string, o BLEUOptions) float64 {
	n := o.maxN()
	s := bleuStats{matches: make([]int, n), totals: make([]int, n)}
	s.add(refs, hyp, n)
	return s.score(o)
}

// CorpusBLEU is corpus-level BLEU: match and n-gram counts, hypothesis
// lengths and closest reference lengths are summed over segments before the
// precisions and the brevity penalty are computed (not an average of
// sentence scores). refs[i] holds the references of hyps[i].
func CorpusBLEU(refs [][][]string, hyps [][]string, o BLEUOptions) (float64, error) {
	if len(refs) != len(hyps) {
		return 0, fmt.Errorf("computing corpus BLEU: %d reference sets for %d hypotheses", len(refs), len(hyps))
	}
	n := o.maxN()
	s := bleuStats{matches: make([]int, n), totals: make([]int, n)}
	for i := range hyps {
		s.add(refs[i], hyps[i], n)
	}
	return s.score(o), nil
}

// LCSLength is the length of the longest common subsequence of a and b.
func LCSLength(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeL is sentence-level ROUGE-L (Lin 2004) as Google's rouge-score
// computes it: P = LCS/len(prediction), R = LCS/len(reference) and
// F = 2PR/(P+R) (β = 1), over rougeTokens. All three are 0 when either side
// has no tokens.
func RougeL(prediction, reference string) (precision, recall, f float64) {
	p, r := rougeTokens(prediction), rougeTokens(reference)
	if len(p) == 0 || len(r) == 0 {
		return 0, 0, 0
	}
	lcs := LCSLength(p, r)
	if lcs == 0 {
		return 0, 0, 0
	}
	precision = float64(lcs) / float64(len(p))
	recall = float64(lcs) / float64(len(r))
	return precision, recall, 2 * precision * recall / (precision + recall)
}

// CosineSimilarity of two vectors, in [-1, 1]; 0 when either is all zeros.
func CosineSimilarity(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("computing cosine: vectors of %d and %d dimensions", len(a), len(b))
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	return dot / math.Sqrt(na*nb), nil
}

// referenceMetric adapts a pure (output, reference) → value function to
// Evaluator.
type referenceMetric struct {
	name, version, metric string
	fn                    func(output, reference string) float64
	why                   func(value float64) string
}

var _ Evaluator = (*referenceMetric)(nil)

func (m *referenceMetric) Name() string    { return m.name }
func (m *referenceMetric) Version() string { return m.version }

func (m *referenceMetric) Evaluate(_ context.Context, in Input) ([]Result, error) {
	if strings.TrimSpace(in.Reference) == "" {
		r := failed(m.metric, errors.New("no reference answer to compare with"))
		r.Reason = ReasonMissingInput
		return []Result{r}, nil
	}
	v := m.fn(in.Output, in.Reference)
	return []Result{{Metric: m.metric, Value: v, Reasoning: m.why(v)}}, nil
}

// NewExactMatch returns the SQuAD exact-match evaluator: metric
// "exact_match", 0 or 1.
func NewExactMatch() Evaluator {
	return &referenceMetric{name: "exact_match", version: "squad-1", metric: "exact_match", fn: ExactMatchScore,
		why: func(v float64) string {
			if v == 1 {
				return "normalised output equals the reference"
			}
			return "normalised output differs from the reference"
		}}
}

// NewTokenF1 returns the SQuAD token-F1 evaluator: metric "token_f1" in [0, 1].
func NewTokenF1() Evaluator {
	return &referenceMetric{name: "token_f1", version: "squad-1", metric: "token_f1", fn: TokenF1Score,
		why: func(v float64) string { return fmt.Sprintf("token F1 against the reference: %.3f", v) }}
}

// NewBLEU returns the sentence-BLEU evaluator: metric "bleu" in [0, 1], over
// lowercased word and punctuation tokens. Without smoothing most short
// answers score 0 (some 4-gram order has no match); SmoothMethod1 is the
// usual choice for single sentences.
func NewBLEU(o BLEUOptions) Evaluator {
	version := fmt.Sprintf("1-n%d", o.maxN())
	if o.Smoothing == SmoothMethod1 {
		eps := o.Epsilon
		if eps == 0 {
			eps = DefaultBLEUEpsilon
		}
		version += fmt.Sprintf("-smooth1-eps%g", eps)
	}
	return &referenceMetric{name: "bleu", version: version, metric: "bleu",
		fn: func(out, ref string) float64 {
			return SentenceBLEU([][]string{bleuTokens(ref)}, bleuTokens(out), o)
		},
		why: func(v float64) string { return fmt.Sprintf("sentence BLEU against the reference: %.4f", v) }}
}

// NewRougeL returns the ROUGE-L evaluator: metric "rouge_l" (the F-measure)
// in [0, 1].
func NewRougeL() Evaluator {
	return &referenceMetric{name: "rouge_l", version: "1", metric: "rouge_l",
		fn:  func(out, ref string) float64 { _, _, f := RougeL(out, ref); return f },
		why: func(v float64) string { return fmt.Sprintf("ROUGE-L F-measure against the reference: %.4f", v) }}
}

// EmbeddingSimilarity scores the cosine similarity of the output's and the
// reference's embeddings: metric "embedding_cosine" in [-1, 1].
type EmbeddingSimilarity struct {
	embedder Embedder
	model    string
}

var _ Evaluator = (*EmbeddingSimilarity)(nil)

// NewEmbeddingSimilarity returns the evaluator over e; model names the
// embedding model and is part of Version, since scores from different models
// are not comparable.
func NewEmbeddingSimilarity(e Embedder, model string) *EmbeddingSimilarity {
	return &EmbeddingSimilarity{embedder: e, model: model}
}

// Name is "embedding_cosine".
func (e *EmbeddingSimilarity) Name() string { return "embedding_cosine" }

// Version is "1+<model>".
func (e *EmbeddingSimilarity) Version() string { return "1+" + e.model }

// Evaluate embeds the output and the reference in one call.
func (e *EmbeddingSimilarity) Evaluate(ctx context.Context, in Input) ([]Result, error) {
	const metric = "embedding_cosine"
	if strings.TrimSpace(in.Reference) == "" {
		r := failed(metric, errors.New("no reference answer to compare with"))
		r.Reason = ReasonMissingInput
		return []Result{r}, nil
	}
	vecs, err := e.embedder.Embed(ctx, []string{in.Output, in.Reference})
	if err == nil && len(vecs) != 2 {
		err = fmt.Errorf("embedder returned %d vectors for 2 texts", len(vecs))
	}
	var cos float64
	if err == nil {
		cos, err = CosineSimilarity(vecs[0], vecs[1])
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluating embedding similarity: %w", ctx.Err())
		}
		r := failed(metric, fmt.Errorf("embedding output and reference: %w", err))
		r.Reason = ReasonEmbedding
		return []Result{r}, nil
	}
	return []Result{{Metric: metric, Value: cos, Reasoning: fmt.Sprintf("cosine of %s embeddings: %.4f", e.model, cos)}}, nil
}
