package monitor

import (
	"context"
	"fmt"
	"slices"
	"sort"
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

// form is the sample form a feature of this kind gives a detector.
func (k featureKind) form() detectors.Form {
	return [...]detectors.Form{detectors.Numeric, detectors.Categorical, detectors.Binary, detectors.Vectors, detectors.Texts}[k]
}

// detectors lists the registered detectors that apply to a kind: those
// that read its form and compare two windows (not the online ones, which
// read a stream, nor the context ones, which need contexts a monitor does
// not have).
func (k featureKind) detectors() []string {
	var out []string
	for _, d := range detectors.All() {
		if d.Kind != detectors.Online && d.Kind != detectors.Context && slices.Contains(d.Forms, k.form()) {
			out = append(out, d.Name)
		}
	}
	return out
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

// checkParams reports unknown, unparsable and invalid parameters (the
// registry's rules, the same as `chainwatch detect --param`).
func checkParams(detector string, params map[string]string) error {
	d, ok := detectors.Lookup(detector)
	if !ok {
		return nil // reported on the detector key
	}
	_, err := d.ParseParams(params)
	return err
}

// sample is one window's feature values: exactly one of num (numeric and
// binary, 0/1, features), cats, texts and emb is set.
type sample struct {
	form  detectors.Form
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
		return sample{form: detectors.Numeric, num: out}, nil
	case kindCategorical:
		out := make([]string, len(recs))
		for i, r := range recs {
			out[i] = f.cat(r)
		}
		return sample{form: detectors.Categorical, cats: out}, nil
	case kindBinary: // 1 for an error status
		out := make([]float64, len(recs))
		for i, r := range recs {
			if f.cat(r) == schemas.StatusError {
				out[i] = 1
			}
		}
		return sample{form: detectors.Binary, num: out}, nil
	}
	texts := make([]string, len(recs))
	for i, r := range recs {
		texts[i] = r.Input
		if f.output {
			texts[i] = r.Output
		}
	}
	if f.kind == kindText {
		return sample{form: detectors.Texts, texts: texts}, nil
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
		return sample{form: detectors.Vectors, emb: nil}, nil
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
	return sample{form: detectors.Vectors, emb: m}, nil
}

func column(v []float64) *mat.Dense { return mat.NewDense(len(v), 1, v) }

// runDetector runs the monitor's detector, looked up in the registry, on
// the two samples.
func runDetector(name string, params map[string]string, ref, cur sample, seed uint64) (detectors.Result, error) {
	d, ok := detectors.Lookup(name)
	if !ok {
		return detectors.Result{}, fmt.Errorf("unknown detector %q", name)
	}
	p, err := d.ParseParams(params)
	if err != nil {
		return detectors.Result{}, err
	}
	return d.Detect(detectors.Input{Form: ref.form, Ref: ref.detectorSample(), Cur: cur.detectorSample(), Params: p, Seed: seed})
}

// detectorSample is the window in the shape the detectors read: one column
// of numbers or of categories, the embeddings, or the texts.
func (s sample) detectorSample() detectors.Sample {
	switch {
	case s.num != nil:
		return detectors.Sample{X: column(s.num)}
	case s.cats != nil:
		return detectors.Sample{Cells: oneColumn(s.cats)}
	case s.texts != nil:
		return detectors.Sample{Texts: s.texts}
	}
	return detectors.Sample{X: s.emb}
}

func oneColumn(v []string) [][]string {
	out := make([][]string, len(v))
	for i, s := range v {
		out[i] = []string{s}
	}
	return out
}
