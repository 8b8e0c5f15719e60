package detectors

import "math"

// FisherExact is Fisher's exact test on the 2×2 table [[a, b], [c, d]],
// two-sided, as scipy.stats.fisher_exact: the odds ratio is the sample one,
// a·d/(b·c) (+Inf when only b·c is 0, NaN when both products are 0), and
// p is the total hypergeometric probability (margins fixed) of the tables
// no more likely than the observed one — P(X = x) ≤ P(X = a)·(1 + 1e-7),
// the relative tolerance scipy uses so that tables tied in probability are
// counted despite rounding. A table with an empty row or column gives
// (NaN, 1), as in scipy; negative counts give (NaN, NaN).
func FisherExact(a, b, c, d int) (oddsRatio, p float64) {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return math.NaN(), math.NaN()
	}
	if a+b == 0 || c+d == 0 || a+c == 0 || b+d == 0 {
		return math.NaN(), 1
	}
	ad, bc := float64(a)*float64(d), float64(b)*float64(c)
	switch {
	case bc > 0:
		oddsRatio = ad / bc
	case ad > 0:
		oddsRatio = math.Inf(1)
	default:
		oddsRatio = math.NaN()
	}
	r1, r2, c1 := a+b, c+d, a+c
	n := r1 + r2
	// log P(X = x) for X ~ Hypergeometric: C(r1,x)·C(r2,c1−x)/C(n,c1).
	lc := lchoose(n, c1)
	logPMF := func(x int) float64 { return lchoose(r1, x) + lchoose(r2, c1-x) - lc }
	lo, hi := max(0, c1-r2), min(r1, c1)
	cut := logPMF(a) + math.Log1p(1e-7)
	for x := lo; x <= hi; x++ {
		if lp := logPMF(x); lp <= cut {
			p += math.Exp(lp)
		}
	}
	return oddsRatio, min(p, 1)
}

// lchoose is log C(n, k).
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
