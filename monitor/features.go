package monitor

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/chainwatch/chainwatch/detectors"
	"github.com/chainwatch/chainwatch/schemas"
)

// Record is what a monitor reads of one span (or one dataset row, where
// only the texts exist).
type Record struct {
	Time                 time.Time // the span's end
	Input, Output        string
	UsageIn, UsageOut    float64
	LatencyMS            float64
	Model, Status        string
	Component, Operation string
	Value                float64 // feedback_score and eval_score: the score
}

// Embedder turns texts into vectors: embedding.Embedder (an OpenAI-compatible
// endpoint or the offline lexical embedder, cached in ClickHouse) satisfies
// it. ID names the model, so results say which embeddings they compared.
type Embedder interface {
	ID() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Tokenizer counts model tokens (detectors/tokenize, cl100k_base).
type Tokenizer interface{ Count(string) int }

type featureKind int

const (
	kindNumeric featureKind = iota
	kindCategorical
	kindBinary
	kindEmbedding
	kindText
)

func (k featureKind) String() string {
	return [...]string{"numeric", "categorical", "binary", "embedding", "text"}[k]
}

// detectors lists what applies to a kind; the first is the default.
func (k featureKind) detectors() []string {
	switch k {
	case kindNumeric:
		return []string{"ks", "cvm", "psi", "wasserstein"}
	case kindCategorical:
		return []string{"chi2"}
	case kindBinary:
		return []string{"fisher"}
	case kindEmbedding:
		return []string{"mmd", "lsdd", "energy", "centroid_cosine", "learned_kernel_mmd", "topics"}
	default:
		return []string{"js"}
	}
}

// source is the table a feature is read from.
type source int

const (
	fromSpans source = iota
	fromFeedback
	fromScores
)

type feature struct {
	kind        featureKind
	source      source
	fromDataset bool // computable from dataset rows (texts only)
	output      bool // reads the output text (else the input)
	num         func(r Record, tok Tokenizer) float64
	cat         func(r Record) string
}

// features is the catalogue of monitorable features. Text features read
// the span's input or output text; from a dataset, the input is the
// dataset's input and the output its recorded output, or, when it has
// none, its expected output (the ground truth).
var features = map[string]feature{
	"input_chars":         {kind: kindNumeric, fromDataset: true, num: func(r Record, _ Tokenizer) float64 { return float64(len([]rune(r.Input))) }},
	"output_chars":        {kind: kindNumeric, fromDataset: true, output: true, num: func(r Record, _ Tokenizer) float64 { return float64(len([]rune(r.Output))) }},
	"input_tokens":        {kind: kindNumeric, fromDataset: true, num: func(r Record, t Tokenizer) float64 { return float64(t.Count(r.Input)) }},
	"output_tokens":       {kind: kindNumeric, fromDataset: true, output: true, num: func(r Record, t Tokenizer) float64 { return float64(t.Count(r.Output)) }},
	"usage_input_tokens":  {kind: kindNumeric, num: func(r Record, _ Tokenizer) float64 { return r.UsageIn }},
	"usage_output_tokens": {kind: kindNumeric, num: func(r Record, _ Tokenizer) float64 { return r.UsageOut }},
	"latency_ms":          {kind: kindNumeric, num: func(r Record, _ Tokenizer) float64 { return r.LatencyMS }},
	"input_embedding":     {kind: kindEmbedding, fromDataset: true},
	"output_embedding":    {kind: kindEmbedding, fromDataset: true, output: true},
	"input_terms":         {kind: kindText, fromDataset: true},
	"output_terms":        {kind: kindText, fromDataset: true, output: true},
	"model":               {kind: kindCategorical, cat: func(r Record) string { return r.Model }},
	"status":              {kind: kindCategorical, cat: func(r Record) string { return r.Status }},
	"component":           {kind: kindCategorical, cat: func(r Record) string { return r.Component }},
	"operation":           {kind: kindCategorical, cat: func(r Record) string { return r.Operation }},
	"error":               {kind: kindBinary, cat: func(r Record) string { return r.Status }},
	// End users' feedback scores (thumbs 0/1, ratings 1–5) given in the
	// window, on traces of the selected spans.
	"feedback_score": {kind: kindNumeric, source: fromFeedback, num: func(r Record, _ Tokenizer) float64 { return r.Value }},
	// Continuous-evaluation scores (eval_scores) of score.evaluator /
	// score.metric produced in the window; failed evaluations excluded.
	"eval_score": {kind: kindNumeric, source: fromScores, num: func(r Record, _ Tokenizer) float64 { return r.Value }},
}

// FeatureNames lists the features, sorted.
func FeatureNames() []string {
	out := make([]string, 0, len(features))
	for k := range features {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// detectorParams are the parameters each detector takes in a monitor
// (DETECTORS.md names; the same as `chainwatch detect --param`).
var detectorParams = map[string][]string{
	"ks":                 {"p_val", "mode"},
	"cvm":                {"p_val"},
	"psi":                {"bins", "threshold"},
	"wasserstein":        {"threshold"},
	"chi2":               {"p_val"},
	"fisher":             {"p_val"},
	"mmd":                {"p_val", "n_permutations", "sigma"},
	"lsdd":               {"p_val", "n_permutations", "sigma", "n_kernel_centers", "lambda_rd_max"},
	"energy":             {"p_val", "n_permutations"},
	"centroid_cosine":    {"p_val", "n_permutations"},
	"learned_kernel_mmd": {"p_val", "n_permutations", "train_size", "epochs", "batch_size", "learning_rate", "hidden", "features"},
	"topics":             {"p_val", "n_topics"},
	"js":                 {"p_val", "n_permutations"},
}

// checkParams reports unknown or non-numeric parameters.
func checkParams(detector string, params map[string]string) error {
	known := detectorParams[detector]
	var bad []string
	for k, v := range params {
		if !slices.Contains(known, k) {
			bad = append(bad, fmt.Sprintf("%s: unknown for %s (known: %s)", k, detector, strings.Join(known, ", ")))
			continue
		}
		if k == "mode" {
			if v != "asymp" && v != "exact" {
				bad = append(bad, fmt.Sprintf("mode: %q is not asymp or exact", v))
			}
			continue
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %q is not a number", k, v))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

type paramReader map[string]string

func (p paramReader) float(k string, def float64) float64 {
	if v, ok := p[k]; ok {
		f, _ := strconv.ParseFloat(v, 64) // checked by Validate
		return f
	}
	return def
}

func (p paramReader) int(k string, def int) int { return int(p.float(k, float64(def))) }

// sample is one window's feature values: exactly one field is set.
type sample struct {
	num   []float64
	cats  []string
	texts []string
	emb   *mat.Dense
}

func (s sample) len() int {
	switch {
	case s.num != nil:
		return len(s.num)
	case s.cats != nil:
		return len(s.cats)
	case s.texts != nil:
		return len(s.texts)
	case s.emb != nil:
		r, _ := s.emb.Dims()
		return r
	}
	return 0
}

// extract computes a feature over records. Embeddings come from emb.
func extract(ctx context.Context, name string, recs []Record, tok Tokenizer, emb Embedder) (sample, error) {
	f := features[name]
	switch f.kind {
	case kindNumeric:
		out := make([]float64, len(recs))
		for i, r := range recs {
			out[i] = f.num(r, tok)
		}
		return sample{num: out}, nil
	case kindCategorical, kindBinary:
		out := make([]string, len(recs))
		for i, r := range recs {
			out[i] = f.cat(r)
		}
		return sample{cats: out}, nil
	}
	texts := make([]string, len(recs))
	for i, r := range recs {
		texts[i] = r.Input
		if f.output {
			texts[i] = r.Output
		}
	}
	if f.kind == kindText {
		return sample{texts: texts}, nil
	}
	if emb == nil {
		return sample{}, fmt.Errorf("feature %s needs an embedder", name)
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		return sample{}, fmt.Errorf("embedding %d texts with %s: %w", len(texts), emb.ID(), err)
	}
	if len(vecs) != len(texts) {
		return sample{}, fmt.Errorf("embedder %s returned %d vectors for %d texts", emb.ID(), len(vecs), len(texts))
	}
	if len(vecs) == 0 {
		return sample{emb: nil}, nil
	}
	d := len(vecs[0])
	m := mat.NewDense(len(vecs), d, nil)
	for i, v := range vecs {
		if len(v) != d {
			return sample{}, fmt.Errorf("embedder %s: vector %d has %d dimensions, vector 0 has %d", emb.ID(), i, len(v), d)
		}
		row := m.RawRowView(i)
		for j, x := range v {
			row[j] = float64(x)
		}
	}
	return sample{emb: m}, nil
}

func column(v []float64) *mat.Dense { return mat.NewDense(len(v), 1, v) }

// runDetector runs the monitor's detector on the two samples.
func runDetector(name string, params map[string]string, ref, cur sample, seed uint64) (detectors.Result, error) {
	p := paramReader(params)
	pval := p.float("p_val", detectors.DefaultPVal)
	perm := detectors.PermutationOptions{PVal: pval, NPermutations: p.int("n_permutations", 0), Seed: seed}
	uni := detectors.UnivariateOptions{PVal: pval, Exact: params["mode"] == "exact", Bins: p.int("bins", 0), Threshold: p.float("threshold", 0)}
	switch name {
	case "ks":
		return detectors.KS(column(ref.num), column(cur.num), uni)
	case "cvm":
		return detectors.CvM(column(ref.num), column(cur.num), uni)
	case "psi":
		return detectors.PSIDist(column(ref.num), column(cur.num), uni)
	case "wasserstein":
		return detectors.WassersteinDist(column(ref.num), column(cur.num), uni)
	case "chi2":
		return detectors.Chi2(oneColumn(ref.cats), oneColumn(cur.cats), uni)
	case "fisher":
		re, ce := countErrors(ref.cats), countErrors(cur.cats)
		return detectors.Fisher(re, len(ref.cats), ce, len(cur.cats), uni)
	case "mmd":
		var sigma []float64
		if s := p.float("sigma", 0); s > 0 {
			sigma = []float64{s}
		}
		return detectors.MMD(ref.emb, cur.emb, detectors.MMDOptions{PVal: pval, NPermutations: perm.NPermutations, Sigma: sigma, Seed: seed})
	case "lsdd":
		return detectors.LSDD(ref.emb, cur.emb, detectors.LSDDOptions{PVal: pval, NPermutations: perm.NPermutations, Sigma: p.float("sigma", 0),
			NKernelCenters: p.int("n_kernel_centers", 0), LambdaRDMax: p.float("lambda_rd_max", 0), Seed: seed})
	case "energy":
		return detectors.Energy(ref.emb, cur.emb, perm)
	case "centroid_cosine":
		return detectors.CentroidCosine(ref.emb, cur.emb, perm)
	case "learned_kernel_mmd":
		r, _, err := detectors.LearnedKernelMMD(ref.emb, cur.emb, detectors.LearnedKernelOptions{PVal: pval, NPermutations: perm.NPermutations,
			TrainSize: p.float("train_size", 0), Epochs: p.int("epochs", 0), BatchSize: p.int("batch_size", 0),
			LearningRate: p.float("learning_rate", 0), Hidden: p.int("hidden", 0), Features: p.int("features", 0), Seed: seed})
		return r, err
	case "topics":
		return detectors.TopicDrift(ref.emb, cur.emb, p.int("n_topics", 8), detectors.TopicOptions{PVal: pval, Seed: seed})
	case "js":
		return detectors.TermJSTest(ref.texts, cur.texts, perm)
	}
	return detectors.Result{}, fmt.Errorf("unknown detector %q", name)
}

func oneColumn(v []string) [][]string {
	out := make([][]string, len(v))
	for i, s := range v {
		out[i] = []string{s}
	}
	return out
}

func countErrors(status []string) int {
	n := 0
	for _, s := range status {
		if s == schemas.StatusError {
			n++
		}
	}
	return n
}
