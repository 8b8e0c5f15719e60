package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/chainwatch/chainwatch/detectors"
	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/samplefile"
)

// paramList collects repeated --param key=value flags.
type paramList map[string]string

func (p paramList) String() string { return fmt.Sprint(map[string]string(p)) }
func (p paramList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--param %q: want key=value", s)
	}
	p[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

// textParams are the parameters of the features `--text` derives, by the
// form it derives them for; they are the CLI's, not the detector's.
var textParams = map[detectors.Form][]string{
	detectors.Numeric: {"encoding"},      // lengths in characters and BPE tokens
	detectors.Vectors: {"embedding_dim"}, // the built-in lexical embedding
}

const detectUsage = `usage: chainwatch detect <detector> --ref FILE --cur FILE [--context-ref FILE --context-cur FILE]
                        [--param key=value ...] [--seed N] [--text] [--columns a,b] [--json]

Samples: CSV/TSV (numeric columns; a header is detected), JSONL (arrays, objects,
or nested arrays such as embeddings), Parquet (numeric, string and list columns).
With --text, each row is a text (plain .txt: one per line; else the "text"
column) and each detector gets the form it reads: the texts themselves where it
reads texts (js: term distributions, chi2: topic clusters); else lexical
embeddings (vectors; --param embedding_dim=256); else lengths in characters and
BPE tokens (numeric; --param encoding=cl100k_base).

detectors (kind; reads; parameters=defaults):
`

// detectHelp lists the registry: every detector with its kind, the forms
// it reads, its parameters and defaults, and its question.
func detectHelp() string {
	var b strings.Builder
	b.WriteString(detectUsage)
	for _, d := range detectors.All() {
		fmt.Fprintf(&b, "  %-19s %s; %s; %s\n  %19s %s\n", d.Name, d.Kind, formNames(d.Forms), paramSummary(d), "", d.Doc)
	}
	return b.String()
}

func formNames(fs []detectors.Form) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " or ")
}

func paramSummary(d detectors.Detector) string {
	s := make([]string, len(d.Params))
	for i, p := range d.Params {
		s[i] = p.Name + "=" + p.DefaultString()
	}
	return strings.Join(s, " ")
}

// detectorHelp is one detector's parameters, for `chainwatch detect NAME -h`.
func detectorHelp(d detectors.Detector) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chainwatch detect %s: %s\nkind %s; reads %s samples\n\nparameters (--param key=value):\n", d.Name, d.Doc, d.Kind, formNames(d.Forms))
	for _, p := range d.Params {
		def := p.DefaultString()
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "  %-18s %-12s %s", p.Name, def, p.Doc)
		if p.Values != nil {
			fmt.Fprintf(&b, " (%s)", strings.Join(p.Values, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nflags:\n")
	return b.String()
}

func runDetect(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New(detectHelp())
	}
	name := args[0]
	det, ok := detectors.Lookup(name)
	if !ok {
		return fmt.Errorf("unknown detector %q; one of: %s", name, strings.Join(detectors.Names(), ", "))
	}
	fs := flag.NewFlagSet("detect "+name, flag.ContinueOnError)
	refPath := fs.String("ref", "", "reference sample file")
	curPath := fs.String("cur", "", "current sample file")
	ctxRefPath := fs.String("context-ref", "", "contexts of the reference sample (context detectors)")
	ctxCurPath := fs.String("context-cur", "", "contexts of the current sample (context detectors)")
	seed := fs.Uint64("seed", 0, "random seed (same seed, same result)")
	text := fs.Bool("text", false, "samples are texts; derive the features")
	columns := fs.String("columns", "", "comma-separated columns to use (default all)")
	header := fs.String("header", "auto", "CSV header: auto, yes or no")
	asJSON := fs.Bool("json", false, "print one JSON object")
	raw := paramList{}
	fs.Var(raw, "param", "detector parameter key=value (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), detectorHelp(det))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *refPath == "" || *curPath == "" {
		return errors.New("--ref and --cur are required")
	}
	form, err := detectForm(det, *text)
	if err != nil {
		return err
	}
	// The CLI's own text parameters, then the detector's.
	cli := map[string]string{}
	for _, k := range textParams[form] {
		if v, ok := raw[k]; ok && *text && !slices.Contains(det.ParamNames(), k) {
			cli[k] = v
			delete(raw, k)
		}
	}
	params, err := det.ParseParams(raw)
	if err != nil {
		var pe detectors.ParamErrors
		if errors.As(err, &pe) {
			msgs := make([]error, len(pe))
			for i, e := range pe {
				msgs[i] = fmt.Errorf("--param %w", e)
			}
			return errors.Join(msgs...)
		}
		return err
	}
	hasCtx := *ctxRefPath != "" || *ctxCurPath != ""
	switch {
	case det.Kind == detectors.Context && (*ctxRefPath == "" || *ctxCurPath == ""):
		return fmt.Errorf("%s needs --context-ref and --context-cur (one numeric context row per sample row)", name)
	case det.Kind != detectors.Context && hasCtx:
		return fmt.Errorf("--context-ref and --context-cur are for context detectors; %s is %s", name, det.Kind)
	}
	opts := samplefile.Options{Text: *text, Header: *header}
	if *columns != "" {
		opts.Columns = splitList(*columns)
	}
	ref, err := samplefile.Read(*refPath, opts)
	if err != nil {
		return err
	}
	cur, err := samplefile.Read(*curPath, opts)
	if err != nil {
		return err
	}
	in := detectors.Input{Form: form, Params: params, Seed: *seed}
	var featureNames []string
	if in.Ref, in.Cur, featureNames, err = detectSamples(form, ref, cur, *text, *seed, cli); err != nil {
		return err
	}
	if hasCtx {
		for _, c := range []struct {
			path, which string
			dst         **mat.Dense
		}{{*ctxRefPath, "reference context", &in.Ref.Context}, {*ctxCurPath, "current context", &in.Cur.Context}} {
			t, err := samplefile.Read(c.path, samplefile.Options{Header: *header})
			if err != nil {
				return err
			}
			if *c.dst, err = dense(t, c.which); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	res, err := det.Detect(in)
	if err != nil {
		return err
	}
	if featureNames != nil {
		if res.Params == nil {
			res.Params = map[string]any{}
		}
		res.Params["features"] = featureNames
	}
	secs := time.Since(start).Seconds()
	return printDetect(os.Stdout, res, secs, *asJSON)
}

// detectForm picks the sample form to hand the detector: with --text the
// texts where it reads them, else the vectors or numbers derived from
// them; without, the first non-text form it reads.
func detectForm(d detectors.Detector, text bool) (detectors.Form, error) {
	if text {
		for _, f := range []detectors.Form{detectors.Texts, detectors.Vectors, detectors.Numeric} {
			if slices.Contains(d.Forms, f) {
				return f, nil
			}
		}
		return 0, fmt.Errorf("%s reads %s samples; it has no --text form", d.Name, formNames(d.Forms))
	}
	for _, f := range d.Forms {
		if f != detectors.Texts {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s reads texts: add --text", d.Name)
}

// detectSamples turns both files into the form the detector reads: the
// numbers or categories as read, or, with --text, the texts or features
// derived from them (featureNames names derived per-feature columns).
func detectSamples(form detectors.Form, ref, cur *samplefile.Table, text bool, seed uint64, cli map[string]string) (r, c detectors.Sample, featureNames []string, err error) {
	switch {
	case form == detectors.Texts:
		return detectors.Sample{Texts: ref.Texts}, detectors.Sample{Texts: cur.Texts}, nil, nil
	case form == detectors.Categorical:
		return detectors.Sample{Cells: ref.Cells}, detectors.Sample{Cells: cur.Cells}, nil, nil
	case !text:
		if r.X, err = dense(ref, "reference"); err != nil {
			return r, c, nil, err
		}
		c.X, err = dense(cur, "current")
		return r, c, nil, err
	case form == detectors.Vectors:
		dim := detectors.DefaultLexicalDim
		if s, ok := cli["embedding_dim"]; ok {
			if dim, err = strconv.Atoi(s); err != nil || dim < 1 {
				return r, c, nil, fmt.Errorf("--param embedding_dim: must be an integer ≥ 1, got %q", s)
			}
		}
		e := detectors.LexicalEmbedder{Dim: dim, Seed: seed}
		return detectors.Sample{X: e.Embed(ref.Texts)}, detectors.Sample{X: e.Embed(cur.Texts)}, nil, nil
	default: // numeric: lengths
		enc := "cl100k_base"
		if s, ok := cli["encoding"]; ok {
			enc = s
		}
		tok, err := tokenize.New(enc)
		if err != nil {
			return r, c, nil, err
		}
		lengths := func(texts []string) *mat.Dense {
			m := mat.NewDense(len(texts), 2, nil)
			for i, t := range texts {
				m.Set(i, 0, float64(len([]rune(t))))
				m.Set(i, 1, float64(tok.Count(t)))
			}
			return m
		}
		return detectors.Sample{X: lengths(ref.Texts)}, detectors.Sample{X: lengths(cur.Texts)}, []string{"chars", "tokens"}, nil
	}
}

func printDetect(w io.Writer, r detectors.Result, secs float64, asJSON bool) error {
	out := map[string]any{
		"detector": r.Detector, "threshold": num(r.Threshold), "drift": r.Drift,
		"n_ref": r.NRef, "n_cur": r.NCur, "params": jsonParams(r.Params), "seconds": secs,
	}
	if r.Statistics != nil {
		out["statistic"] = nums(r.Statistics)
		out["p_value"] = nil
		if r.PValues != nil {
			out["p_value"] = nums(r.PValues)
		}
	} else {
		out["statistic"] = num(r.Statistic)
		out["p_value"] = nil
		if r.HasPValue {
			out["p_value"] = num(r.PValue)
		}
	}
	enc := json.NewEncoder(w)
	if !asJSON {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(out)
}

// num keeps NaN and ±Inf (JSON has none) printable as null.
func num(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func nums(vs []float64) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = num(v)
	}
	return out
}

func dense(t *samplefile.Table, which string) (*mat.Dense, error) {
	if t.NumericErr != nil {
		return nil, t.NumericErr
	}
	if len(t.Numeric) == 0 {
		return nil, fmt.Errorf("%s sample is empty", which)
	}
	d := len(t.Numeric[0])
	data := make([]float64, 0, len(t.Numeric)*d)
	for _, row := range t.Numeric {
		data = append(data, row...)
	}
	return mat.NewDense(len(t.Numeric), d, data), nil
}

// jsonParams makes a result's params encodable: NaN and ±Inf (JSON has
// none), alone or in a list, become null.
func jsonParams(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case float64:
			out[k] = num(v)
		case []float64:
			out[k] = nums(v)
		default:
			out[k] = v
		}
	}
	return out
}
