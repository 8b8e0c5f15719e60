package detectors

import (
	"math"
	"slices"
	"sort"
)

// PSIEpsilon replaces a bin's share when it is zero in either sample, so
// that PSI stays finite: 1e-4, the value Evidently and most PSI write-ups
// use (a bin empty on one side then adds about (share)·ln(share/1e-4)).
const PSIEpsilon = 1e-4

// DefaultBins is the number of bins PSI and the histogram Jensen–Shannon
// distance use when none is given.
const DefaultBins = 10

// PSI is the population stability index Σ_b (c_b − r_b)·ln(c_b/r_b) of cur
// against ref, r_b and c_b the shares of each sample in bin b. The bins
// are quantile bins of the reference: interior edges at its type-7 (linear
// interpolation, numpy's default) quantiles i/bins, i = 1..bins−1, with the
// outer bins open to ±∞ so every current value falls in some bin; repeated
// edges (ties in the reference) are merged, so there may be fewer bins. A
// value equal to an edge goes to the bin below it (bins are (e_{b−1}, e_b]).
// Zero shares are replaced by PSIEpsilon. Empty samples or bins < 1 give NaN.
func PSI(ref, cur []float64, bins int) float64 {
	if len(ref) == 0 || len(cur) == 0 || bins < 1 {
		return math.NaN()
	}
	sr := sortedCopy(ref)
	var edges []float64
	for i := 1; i < bins; i++ {
		e := quantile7(sr, float64(i)/float64(bins))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	count := func(v []float64) []float64 {
		c := make([]float64, len(edges)+1)
		for _, x := range v {
			c[sort.SearchFloat64s(edges, x)]++ // first edge ≥ x
		}
		for i := range c {
			c[i] /= float64(len(v))
		}
		return c
	}
	r, c := count(ref), count(cur)
	var psi float64
	for b := range r {
		rb, cb := r[b], c[b]
		if rb == 0 {
			rb = PSIEpsilon
		}
		if cb == 0 {
			cb = PSIEpsilon
		}
		psi += (cb - rb) * math.Log(cb/rb)
	}
	return psi
}

// quantile7 is the type-7 (Hyndman & Fan 1996) quantile of sorted s.
func quantile7(s []float64, q float64) float64 {
	h := float64(len(s)-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}

// Wasserstein1 is the first Wasserstein (earth mover's) distance between
// the empirical distributions of a and b, ∫ |F_a(t) − F_b(t)| dt, as
// scipy.stats.wasserstein_distance without weights. Empty samples give NaN.
func Wasserstein1(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN()
	}
	x, y := sortedCopy(a), sortedCopy(b)
	all := append(slices.Clone(x), y...)
	slices.Sort(all)
	var w float64
	i, j := 0, 0
	for k := 0; k+1 < len(all); k++ {
		for i < len(x) && x[i] <= all[k] {
			i++
		}
		for j < len(y) && y[j] <= all[k] {
			j++
		}
		w += math.Abs(float64(i)/float64(len(x))-float64(j)/float64(len(y))) * (all[k+1] - all[k])
	}
	return w
}

// JensenShannon is the Jensen–Shannon distance in base 2 between two
// discrete distributions given as non-negative weights (probabilities or
// histogram counts; each is normalised to sum 1):
// sqrt(½·KL(p‖m) + ½·KL(q‖m)), m = (p+q)/2, as
// scipy.spatial.distance.jensenshannon(p, q, base=2). It is a metric in
// [0, 1]; its square is the Jensen–Shannon divergence (Lin 1991), also in
// [0, 1] in base 2. Mismatched lengths, negative or non-finite weights, or a
// zero total give NaN.
func JensenShannon(p, q []float64) float64 {
	if len(p) != len(q) || len(p) == 0 {
		return math.NaN()
	}
	var sp, sq float64
	for i := range p {
		if !(p[i] >= 0) || !(q[i] >= 0) || math.IsInf(p[i], 0) || math.IsInf(q[i], 0) {
			return math.NaN()
		}
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.NaN()
	}
	var js float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		mi := (pi + qi) / 2
		if pi > 0 {
			js += pi * math.Log2(pi/mi)
		}
		if qi > 0 {
			js += qi * math.Log2(qi/mi)
		}
	}
	return math.Sqrt(max(0, js/2))
}

// PooledHistogram counts a and b in bins equal-width bins over the range of the
// pooled sample (the last bin closed), the binning the Jensen–Shannon
// detector uses on numeric features. A constant pooled sample gives one bin.
func PooledHistogram(a, b []float64, bins int) (ca, cb []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range a {
		lo, hi = min(lo, v), max(hi, v)
	}
	for _, v := range b {
		lo, hi = min(lo, v), max(hi, v)
	}
	if !(hi > lo) || bins < 1 {
		bins = 1
	}
	ca, cb = make([]float64, bins), make([]float64, bins)
	idx := func(v float64) int {
		if bins == 1 {
			return 0
		}
		return min(int((v-lo)/(hi-lo)*float64(bins)), bins-1)
	}
	for _, v := range a {
		ca[idx(v)]++
	}
	for _, v := range b {
		cb[idx(v)]++
	}
	return ca, cb
}
