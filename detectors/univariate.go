package detectors

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// UnivariateOptions configures the per-feature tests (KS, CvM, Chi2,
// Fisher, FisherBinary) and the distances (PSIDist, WassersteinDist,
// JSDist). Zero values take the defaults.
type UnivariateOptions struct {
	PVal       float64 `yaml:"p_val"`      // significance level (default 0.05)
	Correction string  `yaml:"correction"` // "bonferroni" (default) or "fdr", across features
	Exact      bool    `yaml:"exact"`      // KS only: exact two-sample p-value instead of scipy's 'asymp'
	Bins       int     `yaml:"bins"`       // PSIDist and JSDist: bins per feature (default 10)
	// Threshold is for the distances, which have no p-value: drift iff some
	// feature's distance is ≥ Threshold. Zero (the default) gives no
	// verdict: Drift stays false and the caller judges the distances.
	Threshold float64 `yaml:"threshold"`
}

// Validate reports every invalid field, naming its parameter.
func (o UnivariateOptions) Validate() error {
	var errs []error
	if !(o.PVal >= 0 && o.PVal < 1) {
		errs = append(errs, fmt.Errorf("p_val must be in (0, 1), got %v", o.PVal))
	}
	switch o.Correction {
	case "", CorrectionBonferroni, CorrectionFDR:
	default:
		errs = append(errs, fmt.Errorf("correction must be %q or %q, got %q", CorrectionBonferroni, CorrectionFDR, o.Correction))
	}
	if o.Bins < 0 || o.Bins == 1 {
		errs = append(errs, fmt.Errorf("bins must be >= 2, got %d", o.Bins))
	}
	if !(o.Threshold >= 0) || math.IsInf(o.Threshold, 0) {
		errs = append(errs, fmt.Errorf("threshold must be a finite number >= 0, got %v", o.Threshold))
	}
	return errors.Join(errs...)
}

func (o UnivariateOptions) withDefaults() UnivariateOptions {
	o.PVal = orDefault(o.PVal, DefaultPVal)
	o.Correction = orDefault(o.Correction, CorrectionBonferroni)
	o.Bins = orDefault(o.Bins, DefaultBins)
	return o
}

// numericColumns validates x and y (same number of features, at least
// minRows rows, finite values) and returns their columns.
func numericColumns(x, y *mat.Dense, minRows int) (xc, yc [][]float64, err error) {
	if err := checkSamples(x, y, minRows); err != nil {
		return nil, nil, err
	}
	cols := func(m *mat.Dense, name string) ([][]float64, error) {
		r, c := m.Dims()
		out := make([][]float64, c)
		for j := range out {
			out[j] = make([]float64, r)
		}
		for i := 0; i < r; i++ {
			for j, v := range m.RawRowView(i) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%s sample: row %d, feature %d is %v", name, i, j, v)
				}
				out[j][i] = v
			}
		}
		return out, nil
	}
	if xc, err = cols(x, "reference"); err != nil {
		return nil, nil, err
	}
	if yc, err = cols(y, "current"); err != nil {
		return nil, nil, err
	}
	return xc, yc, nil
}

// perFeature runs test on every column pair and applies the correction.
func perFeature(name string, x, y *mat.Dense, o UnivariateOptions, test func(a, b []float64) (stat, p float64)) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	xc, yc, err := numericColumns(x, y, 1)
	if err != nil {
		return Result{}, err
	}
	r := Result{Detector: name, HasPValue: true, NRef: len(xc[0]), NCur: len(yc[0])}
	for j := range xc {
		s, p := test(xc[j], yc[j])
		r.Statistics = append(r.Statistics, s)
		r.PValues = append(r.PValues, p)
	}
	r.Drift, r.Threshold = Correct(r.PValues, o.PVal, o.Correction)
	r.Params = map[string]any{"p_val": o.PVal, "correction": o.Correction, "n_features": len(xc)}
	return r, nil
}

// KS runs KSTest on every feature (column) of the reference x and the
// current y and corrects across features. Statistics are the D's, PValues
// the per-feature p-values (scipy's 'asymp', or exact with o.Exact);
// Threshold is the corrected p-value threshold.
func KS(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	r, err := perFeature("ks", x, y, o, func(a, b []float64) (float64, float64) { return KSTest(a, b, o.Exact) })
	if err == nil {
		r.Params["exact"] = o.Exact
	}
	return r, err
}

// CvM runs CvMTest on every feature and corrects across features.
// Statistics are Anderson's T; PValues are exact when both samples have at
// most CvMExactMax rows, asymptotic otherwise.
func CvM(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	return perFeature("cvm", x, y, o, CvMTest)
}

// Chi2 runs the chi-square test on every categorical feature: x and y are
// rows × features of category labels; for each feature the 2×k table of
// category counts over the categories seen in either sample goes to
// Chi2Contingency (dof k − 1, Yates when k = 2). A feature with one
// category in both samples has p = 1. Statistics are the chi-square
// values; Params["dof"] lists the degrees of freedom per feature.
func Chi2(x, y [][]string, o UnivariateOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	if len(x) == 0 || len(y) == 0 {
		return Result{}, fmt.Errorf("need at least 1 row in each sample, got %d and %d", len(x), len(y))
	}
	d := len(x[0])
	if d == 0 {
		return Result{}, errors.New("reference row 0 has no features")
	}
	for _, s := range []struct {
		name string
		rows [][]string
	}{{"reference", x}, {"current", y}} {
		for i, row := range s.rows {
			if len(row) != d {
				return Result{}, fmt.Errorf("%s sample: row %d has %d features, want %d (as reference row 0)", s.name, i, len(row), d)
			}
		}
	}
	r := Result{Detector: "chi2", HasPValue: true, NRef: len(x), NCur: len(y)}
	dofs := make([]int, d)
	for j := 0; j < d; j++ {
		idx := map[string]int{}
		var counts [2][]float64
		for s, sample := range [2][][]string{x, y} {
			for _, row := range sample {
				k, ok := idx[row[j]]
				if !ok {
					k = len(idx)
					idx[row[j]] = k
					counts[0] = append(counts[0], 0)
					counts[1] = append(counts[1], 0)
				}
				counts[s][k]++
			}
		}
		stat, p, dof := Chi2Contingency([][]float64{counts[0], counts[1]})
		r.Statistics = append(r.Statistics, stat)
		r.PValues = append(r.PValues, p)
		dofs[j] = dof
	}
	r.Drift, r.Threshold = Correct(r.PValues, o.PVal, o.Correction)
	r.Params = map[string]any{"p_val": o.PVal, "correction": o.Correction, "n_features": d, "dof": dofs}
	return r, nil
}

// Fisher compares one binary rate (e.g. the error rate) between the
// reference (xErrors of xTotal) and the current window (yErrors of yTotal)
// by FisherExact on [[xErrors, xTotal−xErrors], [yErrors, yTotal−yErrors]],
// two-sided. Statistic is the odds ratio (reference odds over current
// odds), PValue its p-value; drift iff PValue < p_val (one feature, so no
// correction).
func Fisher(xErrors, xTotal, yErrors, yTotal int, o UnivariateOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	if xTotal < 1 || yTotal < 1 || xErrors < 0 || yErrors < 0 || xErrors > xTotal || yErrors > yTotal {
		return Result{}, fmt.Errorf("need 0 <= errors <= total and total >= 1 in each sample, got %d of %d and %d of %d", xErrors, xTotal, yErrors, yTotal)
	}
	or, p := FisherExact(xErrors, xTotal-xErrors, yErrors, yTotal-yErrors)
	r := Result{Detector: "fisher", Statistic: or, PValue: p, HasPValue: true,
		Statistics: []float64{or}, PValues: []float64{p}, NRef: xTotal, NCur: yTotal}
	r.Drift, r.Threshold = Correct(r.PValues, o.PVal, o.Correction)
	r.Params = map[string]any{"p_val": o.PVal, "correction": o.Correction, "n_features": 1}
	return r, nil
}

// FisherBinary runs FisherExact on every 0/1 feature of x and y (counting
// the 1s) and corrects across features. Any value other than 0 or 1 is an
// error naming its row and feature.
func FisherBinary(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	if err := checkSamples(x, y, 1); err != nil {
		return Result{}, err
	}
	for _, s := range []struct {
		name string
		m    *mat.Dense
	}{{"reference", x}, {"current", y}} {
		name, m := s.name, s.m
		r, c := m.Dims()
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				if v := m.At(i, j); v != 0 && v != 1 {
					return Result{}, fmt.Errorf("%s sample: row %d, feature %d is %v, want 0 or 1", name, i, j, v)
				}
			}
		}
	}
	r, err := perFeature("fisher", x, y, o, func(a, b []float64) (float64, float64) {
		ka, kb := 0, 0
		for _, v := range a {
			ka += int(v)
		}
		for _, v := range b {
			kb += int(v)
		}
		return FisherExact(ka, len(a)-ka, kb, len(b)-kb)
	})
	return r, err
}

// distance runs dist on every feature; Drift is set only with a threshold.
func distance(name string, x, y *mat.Dense, o UnivariateOptions, dist func(a, b []float64, bins int) float64) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	xc, yc, err := numericColumns(x, y, 1)
	if err != nil {
		return Result{}, err
	}
	r := Result{Detector: name, NRef: len(xc[0]), NCur: len(yc[0])}
	for j := range xc {
		r.Statistics = append(r.Statistics, dist(xc[j], yc[j], o.Bins))
	}
	r.Statistic = slices.Max(r.Statistics)
	r.Params = map[string]any{"n_features": len(xc)}
	if o.Threshold > 0 {
		r.Threshold = o.Threshold
		r.Drift = r.Statistic >= o.Threshold
		r.Params["threshold"] = o.Threshold
	}
	return r, nil
}

// PSIDist is the PSI of every feature (reference-quantile bins, o.Bins of
// them, default 10; see PSI). Statistic is the largest. Common rules of
// thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
func PSIDist(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	r, err := distance("psi", x, y, o, PSI)
	if err == nil {
		r.Params["bins"] = o.withDefaults().Bins
		r.Params["epsilon"] = PSIEpsilon
	}
	return r, err
}

// WassersteinDist is the Wasserstein-1 distance of every feature, in the
// feature's units. Statistic is the largest.
func WassersteinDist(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	return distance("wasserstein", x, y, o, func(a, b []float64, _ int) float64 { return Wasserstein1(a, b) })
}

// JSDist is the Jensen–Shannon distance (base 2, in [0, 1]) of every
// feature, between histograms of o.Bins (default 10) equal-width bins over
// the pooled range (PooledHistogram). Statistic is the largest.
func JSDist(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	r, err := distance("jensen_shannon", x, y, o, func(a, b []float64, bins int) float64 {
		ca, cb := PooledHistogram(a, b, bins)
		return JensenShannon(ca, cb)
	})
	if err == nil {
		r.Params["bins"] = o.withDefaults().Bins
	}
	return r, err
}

func init() {
	numeric := func(name, doc string, params []Param, test func(x, y *mat.Dense, o UnivariateOptions) (Result, error)) Detector {
		return Detector{Name: name, Kind: Univariate, Forms: []Form{Numeric}, Doc: doc, Params: params,
			Run: func(in Input) (Result, error) { return test(in.Ref.X, in.Cur.X, univariateOptions(in.Params)) }}
	}
	Register(numeric("ks", "did a numeric feature's distribution change anywhere? Kolmogorov–Smirnov per feature, corrected across features",
		[]Param{pValParam(), correctionParam(), enumParam("mode", "asymp", "p-value: scipy's asymp, or the exact permutation probability", "asymp", "exact")}, KS))
	Register(numeric("cvm", "the same question, weighting the whole range: Cramér–von Mises per feature, corrected across features",
		[]Param{pValParam(), correctionParam()}, CvM))
	Register(numeric("psi", "how far did a numeric feature move? Population stability index over reference-quantile bins (no p-value)",
		[]Param{binsParam(), thresholdParam()}, PSIDist))
	Register(numeric("wasserstein", "how far did a numeric feature move, in its units? Wasserstein-1 per feature (no p-value)",
		[]Param{thresholdParam()}, WassersteinDist))
	Register(Detector{
		Name: "fisher", Kind: Univariate, Forms: []Form{Binary},
		Doc:    "did a rate (errors, refusals) change? Fisher's exact test per 0/1 feature, corrected across features",
		Params: []Param{pValParam(), correctionParam()},
		Run:    func(in Input) (Result, error) { return FisherBinary(in.Ref.X, in.Cur.X, univariateOptions(in.Params)) },
	})
	Register(Detector{
		Name: "chi2", Kind: Univariate, Forms: []Form{Categorical, Texts},
		Doc: "did the category mix change? Chi-square per categorical feature; on texts, over topic clusters of their lexical embeddings",
		Params: []Param{pValParam(), correctionParam(),
			intParam("n_topics", DefaultNTopics, "texts: topic clusters (k)", atLeast(1)),
			intParam("embedding_dim", DefaultLexicalDim, "texts: dimension of the lexical embedding", atLeast(1))},
		Run: func(in Input) (Result, error) {
			p := in.Params
			if in.Form == Texts {
				e := LexicalEmbedder{Dim: p.Int("embedding_dim"), Seed: in.Seed}
				return TopicDrift(e.Embed(in.Ref.Texts), e.Embed(in.Cur.Texts), p.Int("n_topics"), TopicOptions{PVal: p.Float("p_val"), Seed: in.Seed})
			}
			return Chi2(in.Ref.Cells, in.Cur.Cells, univariateOptions(p))
		},
	})
}

// univariateOptions reads the parameters a univariate detector declared;
// the ones it did not declare keep their zero values.
func univariateOptions(p Params) UnivariateOptions {
	var o UnivariateOptions
	o.PVal, _ = p["p_val"].(float64)
	o.Correction, _ = p["correction"].(string)
	o.Exact = p["mode"] == "exact"
	o.Bins, _ = p["bins"].(int)
	o.Threshold, _ = p["threshold"].(float64)
	return o
}
