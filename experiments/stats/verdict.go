package stats

import (
	"fmt"
	"math"
	"sort"
)

// Metric kinds.
const (
	Continuous = "continuous" // a score on a scale: bootstrap CI and Wilcoxon
	Binary     = "binary"     // pass/fail (1/0): McNemar on the items' majority outcome
)

// MinItemsForInterval is the number of paired items below which a
// metric's reason warns that the percentile bootstrap's interval is too
// narrow (its coverage falls short of the level with few items; Efron &
// Tibshirani ch. 13).
const MinItemsForInterval = 10

// Verdicts of one metric.
const (
	NonInferior  = "non_inferior" // the interval lies above -margin: no drop beyond the margin
	Inconclusive = "inconclusive" // the interval straddles -margin: not shown either way
	Regression   = "regression"   // the interval lies below -margin (and, for pass/fail, McNemar agrees)
	Error        = "error"        // no valid paired scores: never a pass
)

// MetricInput is one metric's scores, paired by item: Base[item] and
// Cand[item] hold that item's valid scores over the repeats (NaN scores must
// be left out by the caller; an item with no valid score on one side is not
// paired).
type MetricInput struct {
	Name          string
	Kind          string
	LowerIsBetter bool    // latency, cost, toxicity: the sign of the difference flips
	Margin        float64 // non-inferiority margin in the metric's units, >= 0
	Base, Cand    map[string][]float64
	Errors        int // scores the evaluator could not give (counted, not paired)
}

// Options of Compare.
type Options struct {
	Alpha      float64 // family-wise false-regression rate of the gate (default 0.05)
	Resamples  int     // bootstrap resamples (default 10,000)
	Seed       uint64  // bootstrap seed
	NoiseRatio float64 // a |difference| below NoiseRatio × noise SE is "within noise" (default 2)
}

func (o Options) withDefaults() Options {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.Resamples == 0 {
		o.Resamples = 10_000
	}
	if o.NoiseRatio == 0 {
		o.NoiseRatio = 2
	}
	return o
}

// ItemDiff is one paired item's difference (candidate - base, oriented so
// that positive is better).
type ItemDiff struct {
	Item string  `json:"item"`
	Base float64 `json:"base"`
	Cand float64 `json:"candidate"`
	Diff float64 `json:"diff"`
}

// MetricResult is the comparison of one metric.
type MetricResult struct {
	Name          string          `json:"metric"`
	Kind          string          `json:"kind"`
	LowerIsBetter bool            `json:"lower_is_better,omitempty"`
	Margin        float64         `json:"margin"`
	N             int             `json:"n"` // paired items
	Unpaired      int             `json:"unpaired"`
	Errors        int             `json:"errors"`
	BaseMean      float64         `json:"base_mean"`
	CandMean      float64         `json:"candidate_mean"`
	Bootstrap     *Bootstrap      `json:"bootstrap,omitempty"`
	Wilcoxon      *WilcoxonResult `json:"wilcoxon,omitempty"`
	McNemar       *McNemarResult  `json:"mcnemar,omitempty"`
	BaseNoise     Noise           `json:"base_noise"`
	CandNoise     Noise           `json:"candidate_noise"`
	NoiseSE       float64         `json:"noise_se"` // NaN (omitted in JSON as null) when no repeats
	WithinNoise   bool            `json:"within_noise"`
	Verdict       string          `json:"verdict"`
	Reason        string          `json:"reason"`
	Diffs         []ItemDiff      `json:"diffs,omitempty"`
}

// CompareMetric pairs the items of one metric and gives its verdict. level
// is the two-sided confidence level of the interval; the regression rule is
// one-sided at (1-level)/2.
//
// The rule: d_i = mean(candidate repeats) - mean(base repeats) for each
// paired item (sign flipped when lower is better). The verdict is
// "regression" when the upper end of the bootstrap interval of mean(d) is
// below -margin — the data show a drop larger than the margin — and, for
// pass/fail metrics, McNemar's exact test on the items' majority outcomes
// rejects at 1-level with more base-only passes than candidate-only passes
// (the bootstrap alone is too liberal with a handful of discordant pairs).
// "non_inferior" when the lower end is above -margin, "inconclusive"
// otherwise. A metric with no paired items is an "error".
func CompareMetric(in MetricInput, level float64, o Options) MetricResult {
	o = o.withDefaults()
	r := MetricResult{Name: in.Name, Kind: in.Kind, LowerIsBetter: in.LowerIsBetter, Margin: in.Margin, Errors: in.Errors,
		BaseMean: math.NaN(), CandMean: math.NaN(), NoiseSE: math.NaN()}
	if in.Kind != Continuous && in.Kind != Binary {
		r.Verdict, r.Reason = Error, fmt.Sprintf("unknown metric kind %q", in.Kind)
		return r
	}
	items := make([]string, 0, len(in.Base))
	for it, b := range in.Base {
		if c, ok := in.Cand[it]; ok && len(b) > 0 && len(c) > 0 {
			items = append(items, it)
		} else {
			r.Unpaired++
		}
	}
	for it, c := range in.Cand {
		if b, ok := in.Base[it]; !ok || len(b) == 0 || len(c) == 0 {
			r.Unpaired++
		}
	}
	sort.Strings(items)
	r.N = len(items)
	if r.N == 0 {
		r.Verdict = Error
		r.Reason = fmt.Sprintf("no valid paired scores (%d errors, %d unpaired items)", in.Errors, r.Unpaired)
		return r
	}
	sign := 1.0
	if in.LowerIsBetter {
		sign = -1
	}
	d := make([]float64, r.N)
	bm, cm := make([]float64, r.N), make([]float64, r.N)
	bRep, cRep := make([][]float64, r.N), make([][]float64, r.N)
	var bReps, cReps float64
	for i, it := range items {
		bRep[i], cRep[i] = in.Base[it], in.Cand[it]
		bReps += float64(len(bRep[i]))
		cReps += float64(len(cRep[i]))
		bm[i], cm[i] = Mean(bRep[i]), Mean(cRep[i])
		d[i] = sign * (cm[i] - bm[i])
		r.Diffs = append(r.Diffs, ItemDiff{Item: it, Base: bm[i], Cand: cm[i], Diff: d[i]})
	}
	r.BaseMean, r.CandMean = Mean(bm), Mean(cm)
	bs, err := PairedBootstrap(d, o.Resamples, level, o.Seed)
	if err != nil {
		r.Verdict, r.Reason = Error, err.Error()
		return r
	}
	r.Bootstrap = &bs
	r.BaseNoise, r.CandNoise = JudgeNoise(bRep), JudgeNoise(cRep)
	if r.BaseNoise.Items > 0 || r.CandNoise.Items > 0 {
		r.NoiseSE = NoiseSE(r.BaseNoise, r.CandNoise, bReps/float64(r.N), cReps/float64(r.N), r.N)
		r.WithinNoise = math.Abs(bs.MeanDiff) < o.NoiseRatio*r.NoiseSE
	}
	mcSignificant := true
	switch in.Kind {
	case Continuous:
		w := Wilcoxon(d)
		r.Wilcoxon = &w
	case Binary:
		bp, cp := make([]bool, r.N), make([]bool, r.N)
		for i := range items {
			bp[i], cp[i] = bm[i] >= 0.5, cm[i] >= 0.5
			if in.LowerIsBetter {
				bp[i], cp[i] = !bp[i], !cp[i]
			}
		}
		mc, _ := McNemar(bp, cp)
		r.McNemar = &mc
		mcSignificant = mc.P < 1-level && mc.BasePassOnly > mc.CandPassOnly
	}
	m := in.Margin
	switch {
	case bs.CI.Hi < -m && mcSignificant:
		r.Verdict = Regression
		r.Reason = fmt.Sprintf("difference %+.4g, %g%% interval [%.4g, %.4g] entirely below -margin %g", bs.MeanDiff, 100*level, bs.CI.Lo, bs.CI.Hi, m)
	case bs.CI.Lo >= -m:
		r.Verdict = NonInferior
		r.Reason = fmt.Sprintf("difference %+.4g, %g%% interval [%.4g, %.4g] not below -margin %g", bs.MeanDiff, 100*level, bs.CI.Lo, bs.CI.Hi, m)
	default:
		r.Verdict = Inconclusive
		r.Reason = fmt.Sprintf("difference %+.4g, %g%% interval [%.4g, %.4g] includes -margin %g", bs.MeanDiff, 100*level, bs.CI.Lo, bs.CI.Hi, m)
		if bs.CI.Hi < -m {
			r.Reason += fmt.Sprintf("; McNemar p=%.3g does not confirm", r.McNemar.P)
		}
	}
	if r.N < MinItemsForInterval {
		r.Reason += fmt.Sprintf("; only %d paired items: the bootstrap interval runs narrow below %d", r.N, MinItemsForInterval)
	}
	if r.WithinNoise {
		r.Reason += fmt.Sprintf("; |difference| is below %g× the repeat noise SE %.3g", o.NoiseRatio, r.NoiseSE)
	}
	return r
}

// Compare gives every metric's verdict with a Bonferroni split of alpha: k
// metrics each test regression one-sided at alpha/k, so the chance that a
// gate over two identical versions fails on any metric stays at most alpha.
func Compare(ms []MetricInput, o Options) []MetricResult {
	return CompareWith(ms, len(ms), o)
}

// Level is the two-sided confidence level that gives each of k one-sided
// regression tests alpha/k: 1 - 2·alpha/k.
func Level(alpha float64, k int) float64 { return 1 - 2*alpha/float64(max(1, k)) }

// CompareWith is Compare where the gate runs k tests in all (k >= len(ms):
// the metrics and, e.g., a pairwise win-rate test), alpha split over k.
func CompareWith(ms []MetricInput, k int, o Options) []MetricResult {
	o = o.withDefaults()
	level := Level(o.Alpha, max(k, len(ms)))
	out := make([]MetricResult, 0, len(ms))
	for i, m := range ms {
		oo := o
		oo.Seed = o.Seed + uint64(i) // independent resamples per metric, still deterministic
		out = append(out, CompareMetric(m, level, oo))
	}
	return out
}
