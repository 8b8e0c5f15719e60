// Package stats holds the paired statistics behind `chainwatch experiment
// compare`: a seeded paired bootstrap of the mean difference, the Wilcoxon
// signed-rank test, McNemar's exact test, judge noise from repeats, the win
// rate of pairwise judgments with a Wilson interval, and the per-metric
// verdict against a non-inferiority margin.
//
// Everything here is pure computation over float slices; the inputs are
// already paired by dataset row (one value per item, the mean over that
// item's repeats). Formulas drawn on: Efron & Tibshirani, "An Introduction to
// the Bootstrap" (1993), ch. 13 (percentile interval); Wilcoxon (1945) and
// Hollander & Wolfe, "Nonparametric Statistical Methods" (tie and
// continuity corrections of the normal approximation, the same conventions
// as scipy.stats.wilcoxon with zero_method="wilcox"); McNemar (1947), exact
// form as a binomial test on the discordant pairs (Fagerland, Lydersen &
// Laake 2013); Wilson (1927) score interval.
package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a two-sided confidence interval at Level (0.95 = 95 %).
type Interval struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Level float64 `json:"level"`
}

// Mean is the arithmetic mean; NaN for no values.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// Variance is the sample variance (n-1 denominator); 0 for fewer than two
// values.
func Variance(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := Mean(x)
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return s / float64(len(x)-1)
}

// Bootstrap is the result of PairedBootstrap.
type Bootstrap struct {
	N        int      `json:"n"`
	MeanDiff float64  `json:"mean_diff"`
	CI       Interval `json:"ci"`
	Resample int      `json:"resamples"`
	Seed     uint64   `json:"seed"`
}

// PairedBootstrap resamples the per-item differences d[i] = candidate[i] -
// base[i] with replacement B times and returns the mean difference with the
// percentile interval at level. The generator is PCG seeded with seed, so a
// given input, B and seed always give the same interval. Resampling the
// differences (not the two samples apart) keeps the pairing: item i's two
// scores move together.
func PairedBootstrap(d []float64, b int, level float64, seed uint64) (Bootstrap, error) {
	if len(d) == 0 {
		return Bootstrap{}, errors.New("paired bootstrap: no paired items")
	}
	if b < 1 {
		return Bootstrap{}, fmt.Errorf("paired bootstrap: %d resamples, want at least 1", b)
	}
	if !(level > 0 && level < 1) {
		return Bootstrap{}, fmt.Errorf("paired bootstrap: level %v outside (0,1)", level)
	}
	for i, v := range d {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Bootstrap{}, fmt.Errorf("paired bootstrap: difference %d is %v", i, v)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := len(d)
	means := make([]float64, b)
	for k := range means {
		s := 0.0
		for range n {
			s += d[r.IntN(n)]
		}
		means[k] = s / float64(n)
	}
	sort.Float64s(means)
	alpha := 1 - level
	return Bootstrap{
		N:        n,
		MeanDiff: Mean(d),
		CI:       Interval{Lo: Quantile(means, alpha/2), Hi: Quantile(means, 1-alpha/2), Level: level},
		Resample: b,
		Seed:     seed,
	}, nil
}

// Quantile of sorted x at p by linear interpolation between order statistics
// (Hyndman & Fan type 7, numpy's default).
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 1 {
		return sorted[n-1]
	}
	h := p * float64(n-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= n {
		return sorted[n-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Wilcoxon method names.
const (
	WilcoxonExact  = "exact"
	WilcoxonNormal = "normal"
)

// WilcoxonExactMaxN is the largest number of non-zero differences for which
// Wilcoxon computes the exact null distribution (when there are no ties).
const WilcoxonExactMaxN = 50

// WilcoxonResult is the two-sided Wilcoxon signed-rank test of the paired
// differences.
type WilcoxonResult struct {
	N         int     `json:"n"`         // non-zero differences (zeros are dropped: zero_method "wilcox")
	Zeros     int     `json:"zeros"`     // dropped zero differences
	WPlus     float64 `json:"w_plus"`    // sum of the ranks of positive differences
	WMinus    float64 `json:"w_minus"`   // sum of the ranks of negative differences
	Statistic float64 `json:"statistic"` // min(WPlus, WMinus)
	Z         float64 `json:"z,omitempty"`
	P         float64 `json:"p"`
	Method    string  `json:"method"` // "exact" or "normal"
}

// Wilcoxon runs the two-sided signed-rank test on the differences d. Zero
// differences are dropped (Wilcoxon's original rule, scipy's "wilcox").
// Ranks of tied |d| are averaged. The p-value is exact (the null
// distribution of W+ by counting subsets of ranks) when at most
// WilcoxonExactMaxN differences remain and none of their |d| tie; otherwise
// it is the normal approximation with the tie correction of the variance
// (subtracting Σ(t³-t)/48) and a continuity correction of 0.5 toward the
// mean. With no non-zero differences the test has nothing to say: P = 1.
func Wilcoxon(d []float64) WilcoxonResult {
	var res WilcoxonResult
	abs := make([]float64, 0, len(d))
	sign := make([]bool, 0, len(d))
	for _, v := range d {
		if v == 0 {
			res.Zeros++
			continue
		}
		abs = append(abs, math.Abs(v))
		sign = append(sign, v > 0)
	}
	n := len(abs)
	res.N = n
	if n == 0 {
		res.P, res.Method = 1, WilcoxonExact
		return res
	}
	ranks, ties := rankAvg(abs)
	for i, r := range ranks {
		if sign[i] {
			res.WPlus += r
		} else {
			res.WMinus += r
		}
	}
	res.Statistic = math.Min(res.WPlus, res.WMinus)
	if n <= WilcoxonExactMaxN && len(ties) == 0 {
		res.Method = WilcoxonExact
		res.P = math.Min(1, 2*wilcoxonCDF(n, int(math.Round(res.Statistic))))
		return res
	}
	res.Method = WilcoxonNormal
	fn := float64(n)
	mean := fn * (fn + 1) / 4
	v := fn * (fn + 1) * (2*fn + 1) / 24
	for _, t := range ties {
		ft := float64(t)
		v -= (ft*ft*ft - ft) / 48
	}
	if v <= 0 {
		res.P = 1
		return res
	}
	num := res.Statistic - mean
	// continuity correction toward the mean
	if num > 0 {
		num -= 0.5
	} else if num < 0 {
		num += 0.5
	}
	res.Z = num / math.Sqrt(v)
	res.P = math.Min(1, 2*distuv.UnitNormal.CDF(-math.Abs(res.Z)))
	return res
}

// rankAvg ranks x from 1 with ties given their average rank; ties lists the
// size of every group of ties (groups of one left out).
func rankAvg(x []float64) (ranks []float64, ties []int) {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	ranks = make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		if j > i {
			ties = append(ties, j-i+1)
		}
		i = j + 1
	}
	return ranks, ties
}

// wilcoxonCDF is P(W+ <= w) under the null for n untied non-zero
// differences: the number of subsets of {1..n} with sum <= w over 2^n.
func wilcoxonCDF(n, w int) float64 {
	max := n * (n + 1) / 2
	if w < 0 {
		return 0
	}
	if w >= max {
		return 1
	}
	// counts[s] = number of subsets of {1..k} summing to s, as float64
	// (2^50 is exact in a float64's mantissa, and the counts are below it).
	counts := make([]float64, max+1)
	counts[0] = 1
	top := 0
	for k := 1; k <= n; k++ {
		top += k
		for s := top; s >= k; s-- {
			counts[s] += counts[s-k]
		}
	}
	c := 0.0
	for s := 0; s <= w; s++ {
		c += counts[s]
	}
	return c / math.Ldexp(1, n)
}

// McNemarResult is McNemar's exact test on paired pass/fail outcomes.
type McNemarResult struct {
	BasePassOnly int     `json:"base_pass_only"` // b: base passed, candidate failed
	CandPassOnly int     `json:"cand_pass_only"` // c: base failed, candidate passed
	BothPass     int     `json:"both_pass"`
	BothFail     int     `json:"both_fail"`
	P            float64 `json:"p"` // two-sided exact
}

// McNemar is the exact two-sided test of H0 "the candidate passes as often
// as the base": under H0 the b+c discordant pairs split Binomial(b+c, 1/2),
// and p = min(1, 2·P(X <= min(b, c))). Concordant pairs carry no
// information about the difference and enter only as counts.
func McNemar(base, cand []bool) (McNemarResult, error) {
	var r McNemarResult
	if len(base) != len(cand) {
		return r, fmt.Errorf("mcnemar: %d base outcomes and %d candidate outcomes", len(base), len(cand))
	}
	for i := range base {
		switch {
		case base[i] && cand[i]:
			r.BothPass++
		case base[i]:
			r.BasePassOnly++
		case cand[i]:
			r.CandPassOnly++
		default:
			r.BothFail++
		}
	}
	r.P = McNemarExactP(r.BasePassOnly, r.CandPassOnly)
	return r, nil
}

// McNemarExactP is the two-sided exact p-value for b and c discordant pairs.
func McNemarExactP(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	// Σ_{i<=k} C(n,i) / 2^n, in logs to stay finite for large n.
	p := 0.0
	for i := 0; i <= k; i++ {
		p += math.Exp(logChoose(n, i) - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*p)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// Noise is the judge's (or any stochastic metric's) noise estimated from
// repeats: the pooled within-item variance of the scores.
type Noise struct {
	Items    int     `json:"items"`    // items with at least two repeats
	Variance float64 `json:"variance"` // pooled within-item sample variance of one score
	SD       float64 `json:"sd"`
}

// JudgeNoise pools the within-item sample variances of the repeats of each
// item (weighted by their degrees of freedom, r_i - 1). Items with one
// repeat add nothing; with none having two, Items is 0 and the noise is
// unknown (not zero).
func JudgeNoise(repeats [][]float64) Noise {
	var ss, df float64
	var items int
	for _, r := range repeats {
		if len(r) < 2 {
			continue
		}
		items++
		ss += Variance(r) * float64(len(r)-1)
		df += float64(len(r) - 1)
	}
	if df == 0 {
		return Noise{}
	}
	v := ss / df
	return Noise{Items: items, Variance: v, SD: math.Sqrt(v)}
}

// NoiseSE is the standard error that the repeat noise alone puts on the
// difference of two means over n items, each the mean of rb (base) and rc
// (candidate) repeats: sqrt(vb/(rb·n) + vc/(rc·n)).
func NoiseSE(base, cand Noise, rb, rc float64, n int) float64 {
	if n == 0 || rb <= 0 || rc <= 0 {
		return math.NaN()
	}
	return math.Sqrt(base.Variance/(rb*float64(n)) + cand.Variance/(rc*float64(n)))
}

// WinRateResult is the candidate's win rate in pairwise judgments.
type WinRateResult struct {
	Wins   int     `json:"wins"`
	Losses int     `json:"losses"`
	Ties   int     `json:"ties"`
	Rate   float64 `json:"rate"` // (wins + ties/2) / n: the headline number, ties counting half
	// Decisive is wins / (wins + losses), the win rate among judgments that
	// picked a side, and CI its Wilson score interval: the null value is
	// one half.
	Decisive float64  `json:"decisive_rate"`
	CI       Interval `json:"ci"`
}

// WinRate summarises n = wins+losses+ties pairwise judgments. A judgment is
// one item's verdict after both presentation orders (a win in one order and
// a loss in the other is a tie: the judge preferred the position, not the
// answer). The interval is the Wilson score interval of the decisive win
// rate (ties left out, as in a sign test): counting ties as half a win
// in a binomial interval would treat a tie as a coin flip and widen the
// interval for no reason. With no decisive judgment the interval is [0, 1].
func WinRate(wins, losses, ties int, level float64) (WinRateResult, error) {
	r := WinRateResult{Wins: wins, Losses: losses, Ties: ties}
	n := wins + losses + ties
	if n == 0 {
		return r, errors.New("win rate: no pairwise judgments")
	}
	if !(level > 0 && level < 1) {
		return r, fmt.Errorf("win rate: level %v outside (0,1)", level)
	}
	r.Rate = (float64(wins) + float64(ties)/2) / float64(n)
	d := wins + losses
	if d == 0 {
		r.Decisive, r.CI = 0.5, Interval{Lo: 0, Hi: 1, Level: level}
		return r, nil
	}
	fn := float64(d)
	p := float64(wins) / fn
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	den := 1 + z*z/fn
	centre := (p + z*z/(2*fn)) / den
	half := z / den * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn))
	r.Decisive = p
	r.CI = Interval{Lo: math.Max(0, centre-half), Hi: math.Min(1, centre+half), Level: level}
	return r, nil
}
