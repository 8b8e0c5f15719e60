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
	"sort"
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

// params hands out typed parameters and remembers which were used, so an
// unknown or misspelt key is an error that names it.
type params struct {
	raw  paramList
	used map[string]bool
	errs []error
}

func (p *params) float(key string, def float64) float64 {
	p.used[key] = true
	s, ok := p.raw[key]
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("--param %s=%s: not a number", key, s))
	}
	return v
}

func (p *params) int(key string, def int) int {
	return int(p.float(key, float64(def)))
}

func (p *params) str(key, def string) string {
	p.used[key] = true
	if s, ok := p.raw[key]; ok {
		return s
	}
	return def
}

func (p *params) floats(key string) []float64 {
	p.used[key] = true
	s, ok := p.raw[key]
	if !ok {
		return nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("--param %s=%s: not a list of numbers", key, s))
			return nil
		}
		out = append(out, v)
	}
	return out
}

func (p *params) check() error {
	for k := range p.raw {
		if !p.used[k] {
			known := make([]string, 0, len(p.used))
			for u := range p.used {
				known = append(known, u)
			}
			sort.Strings(known)
			p.errs = append(p.errs, fmt.Errorf("--param %s: unknown for this detector (known: %s)", k, strings.Join(known, ", ")))
		}
	}
	return errors.Join(p.errs...)
}

// detectInput is what one run of a detector sees.
type detectInput struct {
	ref, cur         *samplefile.Table
	ctxRef, ctxCur   *samplefile.Table
	p                *params
	seed             uint64
	text             bool
	textFeatureNames []string
}

var detectorNames = []string{"mmd", "lsdd", "learned_kernel_mmd", "context_mmd", "mmd_online", "lsdd_online",
	"ks", "chi2", "cvm", "fisher", "psi", "wasserstein", "js", "energy", "centroid_cosine"}

const detectUsage = `usage: chainwatch detect <detector> --ref FILE --cur FILE [--context-ref FILE --context-cur FILE]
                        [--param key=value ...] [--seed N] [--text] [--columns a,b] [--json]

detectors: %s

Samples: CSV/TSV (numeric columns; a header is detected), JSONL (arrays, objects,
or nested arrays such as embeddings), Parquet (numeric, string and list columns).
With --text, each row is a text (plain .txt: one per line; else the "text"
column) and the features are derived from it: lengths in characters and
cl100k tokens (ks, cvm, psi, wasserstein), lexical embeddings (mmd, lsdd,
energy, centroid_cosine, learned_kernel_mmd, online), term distributions (js),
topic clusters (chi2).
`

func runDetect(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf(detectUsage, strings.Join(detectorNames, ", "))
	}
	name := args[0]
	if !slices.Contains(detectorNames, name) {
		return fmt.Errorf("unknown detector %q; one of: %s", name, strings.Join(detectorNames, ", "))
	}
	fs := flag.NewFlagSet("detect "+name, flag.ContinueOnError)
	refPath := fs.String("ref", "", "reference sample file")
	curPath := fs.String("cur", "", "current sample file")
	ctxRefPath := fs.String("context-ref", "", "contexts of the reference sample (context_mmd)")
	ctxCurPath := fs.String("context-cur", "", "contexts of the current sample (context_mmd)")
	seed := fs.Uint64("seed", 0, "random seed (same seed, same result)")
	text := fs.Bool("text", false, "samples are texts; derive the features")
	columns := fs.String("columns", "", "comma-separated columns to use (default all)")
	header := fs.String("header", "auto", "CSV header: auto, yes or no")
	asJSON := fs.Bool("json", false, "print one JSON object")
	raw := paramList{}
	fs.Var(raw, "param", "detector parameter key=value (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *refPath == "" || *curPath == "" {
		return errors.New("--ref and --cur are required")
	}
	opts := samplefile.Options{Text: *text, Header: *header}
	if *columns != "" {
		opts.Columns = splitList(*columns)
	}
	in := detectInput{p: &params{raw: raw, used: map[string]bool{}}, seed: *seed, text: *text}
	var err error
	if in.ref, err = samplefile.Read(*refPath, opts); err != nil {
		return err
	}
	if in.cur, err = samplefile.Read(*curPath, opts); err != nil {
		return err
	}
	if *ctxRefPath != "" || *ctxCurPath != "" {
		if *ctxRefPath == "" || *ctxCurPath == "" {
			return errors.New("--context-ref and --context-cur go together")
		}
		if in.ctxRef, err = samplefile.Read(*ctxRefPath, samplefile.Options{Header: *header}); err != nil {
			return err
		}
		if in.ctxCur, err = samplefile.Read(*ctxCurPath, samplefile.Options{Header: *header}); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := runDetector(name, &in)
	if err != nil {
		return err
	}
	res.Detector = name // the CLI's name, whatever the function calls itself
	if err := in.p.check(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	return printDetect(os.Stdout, res, secs, *asJSON)
}

func printDetect(w io.Writer, r detectors.Result, secs float64, asJSON bool) error {
	out := map[string]any{
		"detector": r.Detector, "threshold": num(r.Threshold), "drift": r.Drift,
		"n_ref": r.NRef, "n_cur": r.NCur, "params": r.Params, "seconds": secs,
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

// features turns both samples into matrices: the numbers as read, or, with
// --text, features derived from the texts.
func (in *detectInput) numeric(kind string) (x, y *mat.Dense, err error) {
	if !in.text {
		if x, err = dense(in.ref, "reference"); err != nil {
			return nil, nil, err
		}
		y, err = dense(in.cur, "current")
		return x, y, err
	}
	switch kind {
	case "lengths":
		tok, err := tokenize.New(in.p.str("encoding", "cl100k_base"))
		if err != nil {
			return nil, nil, err
		}
		in.textFeatureNames = []string{"chars", "tokens"}
		lengths := func(texts []string) *mat.Dense {
			m := mat.NewDense(len(texts), 2, nil)
			for i, t := range texts {
				m.Set(i, 0, float64(len([]rune(t))))
				m.Set(i, 1, float64(tok.Count(t)))
			}
			return m
		}
		return lengths(in.ref.Texts), lengths(in.cur.Texts), nil
	default: // embeddings
		e := detectors.LexicalEmbedder{Dim: in.p.int("embedding_dim", 256), Seed: in.seed}
		return e.Embed(in.ref.Texts), e.Embed(in.cur.Texts), nil
	}
}

func runDetector(name string, in *detectInput) (detectors.Result, error) {
	p := in.p
	pval := p.float("p_val", detectors.DefaultPVal)
	switch name {
	case "mmd":
		x, y, err := in.numeric("embeddings")
		if err != nil {
			return detectors.Result{}, err
		}
		return detectors.MMD(x, y, detectors.MMDOptions{PVal: pval, NPermutations: p.int("n_permutations", 100), Sigma: p.floats("sigma"), Seed: in.seed})
	case "lsdd":
		x, y, err := in.numeric("embeddings")
		if err != nil {
			return detectors.Result{}, err
		}
		return detectors.LSDD(x, y, detectors.LSDDOptions{PVal: pval, NPermutations: p.int("n_permutations", 100), Sigma: p.float("sigma", 0),
			NKernelCenters: p.int("n_kernel_centers", 0), LambdaRDMax: p.float("lambda_rd_max", 0.2), Seed: in.seed})
	case "learned_kernel_mmd", "context_mmd":
		return runLearnedOrContext(name, in, pval)
	case "mmd_online", "lsdd_online":
		x, y, err := in.numeric("embeddings")
		if err != nil {
			return detectors.Result{}, err
		}
		return runOnline(name, x, y, in)
	case "ks", "cvm":
		x, y, err := in.numeric("lengths")
		if err != nil {
			return detectors.Result{}, err
		}
		o := detectors.UnivariateOptions{PVal: pval, Correction: p.str("correction", "bonferroni"), Exact: p.str("mode", "asymp") == "exact"}
		if name == "ks" {
			return named(detectors.KS(x, y, o))(in)
		}
		return named(detectors.CvM(x, y, o))(in)
	case "psi", "wasserstein":
		x, y, err := in.numeric("lengths")
		if err != nil {
			return detectors.Result{}, err
		}
		o := detectors.UnivariateOptions{PVal: pval, Bins: p.int("bins", 10)}
		if name == "psi" {
			return named(detectors.PSIDist(x, y, o))(in)
		}
		return named(detectors.WassersteinDist(x, y, o))(in)
	case "js":
		if in.text {
			r, err := detectors.TermJSTest(in.ref.Texts, in.cur.Texts, detectors.PermutationOptions{PVal: pval, NPermutations: p.int("n_permutations", 100), Seed: in.seed})
			if err == nil {
				r.Params["features"] = "term distribution"
			}
			return r, err
		}
		x, y, err := in.numeric("lengths")
		if err != nil {
			return detectors.Result{}, err
		}
		return detectors.JSDist(x, y, detectors.UnivariateOptions{PVal: pval, Bins: p.int("bins", 10)})
	case "chi2":
		if in.text {
			e := detectors.LexicalEmbedder{Dim: p.int("embedding_dim", 256), Seed: in.seed}
			return detectors.TopicDrift(e.Embed(in.ref.Texts), e.Embed(in.cur.Texts), p.int("n_topics", 8), detectors.TopicOptions{PVal: pval, Seed: in.seed})
		}
		return detectors.Chi2(in.ref.Cells, in.cur.Cells, detectors.UnivariateOptions{PVal: pval, Correction: p.str("correction", "bonferroni")})
	case "fisher":
		if in.text {
			return detectors.Result{}, errors.New("fisher compares rates of a 0/1 column; it has no --text form")
		}
		x, y, err := in.numeric("")
		if err != nil {
			return detectors.Result{}, err
		}
		return detectors.FisherBinary(x, y, detectors.UnivariateOptions{PVal: pval, Correction: p.str("correction", "bonferroni")})
	case "energy", "centroid_cosine":
		x, y, err := in.numeric("embeddings")
		if err != nil {
			return detectors.Result{}, err
		}
		o := detectors.PermutationOptions{PVal: pval, NPermutations: p.int("n_permutations", 100), Seed: in.seed}
		if name == "energy" {
			return detectors.Energy(x, y, o)
		}
		return detectors.CentroidCosine(x, y, o)
	}
	return detectors.Result{}, fmt.Errorf("unknown detector %q", name)
}

// named adds the text feature names to a per-feature result.
func named(r detectors.Result, err error) func(*detectInput) (detectors.Result, error) {
	return func(in *detectInput) (detectors.Result, error) {
		if err == nil && in.textFeatureNames != nil {
			if r.Params == nil {
				r.Params = map[string]any{}
			}
			r.Params["features"] = in.textFeatureNames
		}
		return r, err
	}
}

// runOnline feeds the current sample to an online detector one row at a
// time, as a stream, and reports the first detection.
func runOnline(name string, ref, stream *mat.Dense, in *detectInput) (detectors.Result, error) {
	p := in.p
	o := detectors.OnlineOptions{ERT: p.float("ert", 100), WindowSize: p.int("window_size", 10),
		NBootstraps: p.int("n_bootstraps", 1000), Seed: in.seed}
	type updater interface {
		Update(x []float64) detectors.OnlineResult
	}
	var det updater
	var err error
	if name == "mmd_online" {
		det, err = detectors.NewOnlineMMD(ref, o)
	} else {
		det, err = detectors.NewOnlineLSDD(ref, o)
	}
	if err != nil {
		return detectors.Result{}, err
	}
	n, _ := stream.Dims()
	nr, _ := ref.Dims()
	stats, thrs := make([]float64, 0, n), make([]float64, 0, n)
	detectedAt := -1
	var last detectors.OnlineResult
	for i := 0; i < n; i++ {
		last = det.Update(stream.RawRowView(i))
		stats, thrs = append(stats, last.Statistic), append(thrs, last.Threshold)
		if last.Drift && detectedAt < 0 {
			detectedAt = i
		}
	}
	return detectors.Result{
		Detector: name, Statistic: last.Statistic, Threshold: last.Threshold, Drift: detectedAt >= 0,
		NRef: nr, NCur: n,
		Params: map[string]any{"ert": o.ERT, "window_size": o.WindowSize, "n_bootstraps": o.NBootstraps, "seed": in.seed,
			"detection_time": detectedAt, "statistics": nums(stats), "thresholds": nums(thrs)},
	}, nil
}
