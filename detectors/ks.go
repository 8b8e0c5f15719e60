package detectors

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// KSTest is the two-sided two-sample Kolmogorov–Smirnov test:
// d = sup_t |F_a(t) − F_b(t)| over the empirical CDFs (ties handled as in
// scipy.stats.ks_2samp: both CDFs are evaluated right-continuously at every
// pooled value).
//
// With exact false the p-value is scipy.stats.ks_2samp(mode='asymp') in
// scipy ≥ 1.10, i.e. the finite-n one-sample Kolmogorov tail
// P(D_en ≥ d) with en = round(n·m/(n+m)) (half to even, as numpy):
// see KolmogorovSF. With exact true it is the exact permutation p-value
// P(D ≥ d) under H0 for continuous data, by counting monotone lattice paths
// from (0,0) to (n,m) that touch the band |i/n − j/m| ≥ d (Hodges 1958;
// the counting runs in O(n·m) on the fractions of paths, so it neither
// overflows nor cancels for small p). Empty samples give NaN.
func KSTest(a, b []float64, exact bool) (d, p float64) {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return math.NaN(), math.NaN()
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	// Walk the pooled values; after consuming every copy of a value, the
	// ECDF difference in integer units is i·m − j·n.
	var dInt int64
	i, j := 0, 0
	for i < n || j < m {
		var v float64
		switch {
		case i == n:
			v = y[j]
		case j == m:
			v = x[i]
		default:
			v = min(x[i], y[j])
		}
		for i < n && x[i] == v {
			i++
		}
		for j < m && y[j] == v {
			j++
		}
		diff := int64(i)*int64(m) - int64(j)*int64(n)
		if diff < 0 {
			diff = -diff
		}
		dInt = max(dInt, diff)
	}
	d = float64(dInt) / (float64(n) * float64(m))
	if exact {
		return d, ksExactTwoSample(n, m, dInt)
	}
	en := math.RoundToEven(float64(n) * float64(m) / float64(n+m))
	return d, KolmogorovSF(d, int(en))
}

// ksExactTwoSample is P(max_k |i_k·m − j_k·n| ≥ dInt) over the C(n+m, n)
// equally likely orderings, as the fraction of lattice paths that touch the
// boundary. q[i][j] is the share of paths to (i,j) that have touched it;
// since C(i+j,i) = C(i+j−1,i−1) + C(i+j−1,i), q[i][j] =
// i/(i+j)·q[i−1][j] + j/(i+j)·q[i][j−1], and 1 on the boundary.
func ksExactTwoSample(n, m int, dInt int64) float64 {
	if dInt <= 0 {
		return 1
	}
	hit := func(i, j int) bool {
		diff := int64(i)*int64(m) - int64(j)*int64(n)
		return diff >= dInt || -diff >= dInt
	}
	q := make([]float64, m+1) // row i of q, over j
	for j := 1; j <= m; j++ {
		if hit(0, j) || q[j-1] == 1 {
			q[j] = 1
		}
	}
	for i := 1; i <= n; i++ {
		if hit(i, 0) || q[0] == 1 {
			q[0] = 1
		}
		for j := 1; j <= m; j++ {
			if hit(i, j) {
				q[j] = 1
				continue
			}
			s := float64(i + j)
			q[j] = float64(i)/s*q[j] + float64(j)/s*q[j-1]
		}
	}
	return min(q[m], 1)
}

// KolmogorovSF is P(D_n ≥ x) for the one-sample two-sided Kolmogorov
// statistic with n observations (scipy.stats.kstwo.sf). The regimes follow
// Simard & L'Ecuyer (2011, "Computing the Two-Sided Kolmogorov-Smirnov
// Distribution", J. Stat. Softw. 39(11)):
//   - x ≤ 1/(2n): 1; x ≥ 1: 0;
//   - 1/(2n) < x ≤ 1/n: 1 − n!/nⁿ·(2nx − 1)ⁿ (Ruben & Gambino 1982);
//   - x ≥ 1 − 1/n: 2(1 − x)ⁿ (Ruben & Gambino);
//   - in the upper tail (x ≥ 0.5, or n·x² > 4 for n ≤ 140, or
//     n·x² ≥ 2.2 for n > 140): twice the one-sided Smirnov tail, by the
//     exact Birnbaum–Tingey (1951) sum — exact for x ≥ 0.5, otherwise
//     short of the true value by P(D⁺ ≥ x and D⁻ ≥ x), about
//     2·exp(−8n·x²) — below 2e-6 relative at n·x² = 2.2 and falling fast
//     (scipy makes the same approximation in the same region);
//   - otherwise 1 − the exact CDF by the Durbin matrix of Marsaglia, Tsang
//     & Wang (2003, "Evaluating Kolmogorov's Distribution", J. Stat. Softw.
//     8(18)), the CDF being ≤ 0.98 there so nothing cancels. Where that
//     matrix would exceed 2·kolmogorovMaxK−1 rows (n above ~18000 with
//     x near the median), the sf is the limiting Kolmogorov tail at
//     √n·x + 1/(6√n) (the first-order finite-n correction; error O(1/n),
//     1e-5 relative at n = 100000 against scipy's Pelz–Good series).
//
// scipy uses the Pomeranz recursion (n ≤ 140) and the Pelz–Good asymptotic
// series (n > 140, n·x^1.5 > 1.4) in parts of the last regime; the Durbin
// matrix is exact there too, so the two agree to rounding except where
// scipy's Pelz–Good is itself approximate (about 1e-6 relative).
func KolmogorovSF(x float64, n int) float64 {
	if math.IsNaN(x) || n <= 0 {
		return math.NaN()
	}
	nf := float64(n)
	switch {
	case x >= 1:
		return 0
	case x <= 0.5/nf:
		return 1
	case n == 1:
		return 2 - 2*x
	case nf*x <= 1:
		// n!/nⁿ·(2nx−1)ⁿ = Π_{i=1..n} (i/n)(2nx−1).
		lg, _ := math.Lgamma(nf + 1)
		cdf := math.Exp(lg - nf*math.Log(nf) + nf*math.Log(2*nf*x-1))
		return 1 - cdf
	case x >= 1-1/nf:
		return 2 * math.Pow(1-x, nf)
	}
	nxx := nf * x * x
	if x >= 0.5 || (n <= 140 && nxx > 4) || (n > 140 && nxx >= 2.2) {
		return min(1, 2*smirnovSF(n, x))
	}
	k := int(nf*x) + 1
	if k > kolmogorovMaxK {
		return kolmogorovLimitSF(math.Sqrt(nf)*x + 1/(6*math.Sqrt(nf)))
	}
	return max(0, 1-durbinCDF(n, x))
}

// kolmogorovMaxK bounds the Durbin matrix (2k−1 rows) to keep one p-value
// well under a second.
const kolmogorovMaxK = 200

// smirnovSF is the one-sided P(D⁺_n ≥ x) by Birnbaum & Tingey (1951):
// x · Σ_{j=0}^{⌊n(1−x)⌋} C(n,j) (1 − x − j/n)^{n−j} (x + j/n)^{j−1},
// summed in log space (every term is positive).
func smirnovSF(n int, x float64) float64 {
	nf := float64(n)
	lgn, _ := math.Lgamma(nf + 1)
	jmax := int(math.Floor(nf * (1 - x)))
	var sum float64
	for j := 0; j <= jmax; j++ {
		jf := float64(j)
		a := 1 - x - jf/nf
		if a <= 0 {
			continue // 0^(n−j) with n−j ≥ 1
		}
		lj, _ := math.Lgamma(jf + 1)
		lnj, _ := math.Lgamma(nf - jf + 1)
		t := lgn - lj - lnj + (nf-jf)*math.Log(a) + (jf-1)*math.Log(x+jf/nf)
		sum += math.Exp(t)
	}
	return x * sum
}

// durbinCDF is P(D_n < d) = n!/nⁿ · (Hⁿ)_{kk} with Durbin's (2k−1)-square
// matrix H (Marsaglia, Tsang & Wang 2003, eq. for H with h = k − n·d),
// powered by repeated squaring with the scale kept in a separate exponent.
func durbinCDF(n int, d float64) float64 {
	nf := float64(n)
	k := int(nf*d) + 1
	m := 2*k - 1
	h := float64(k) - nf*d
	fact := make([]float64, m+1) // 1/i!
	fact[0] = 1
	for i := 1; i <= m; i++ {
		fact[i] = fact[i-1] / float64(i)
	}
	H := mat.NewDense(m, m, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if i-j+1 >= 0 {
				H.Set(i, j, fact[i-j+1])
			}
		}
	}
	for i := 0; i < m; i++ {
		// First column and last row (1-based: H_i1 −= h^i/i!, H_mj −= h^(m−j+1)/(m−j+1)!).
		H.Set(i, 0, H.At(i, 0)-math.Pow(h, float64(i+1))*fact[i+1])
		H.Set(m-1, i, H.At(m-1, i)-math.Pow(h, float64(m-i))*fact[m-i])
	}
	if 2*h-1 > 0 {
		H.Set(m-1, 0, H.At(m-1, 0)+math.Pow(2*h-1, float64(m))*fact[m])
	}
	// Hⁿ by squaring; logScale accumulates the factors divided out.
	result := mat.NewDense(m, m, nil)
	for i := 0; i < m; i++ {
		result.Set(i, i, 1)
	}
	var logScale float64
	base := mat.DenseCopyOf(H)
	tmp := mat.NewDense(m, m, nil)
	normalise := func(a *mat.Dense) float64 {
		s := mat.Norm(a, math.Inf(1))
		if s == 0 {
			return 0
		}
		a.Scale(1/s, a)
		return math.Log(s)
	}
	baseLog := 0.0 // base = exp(baseLog)·H^(2^t)
	for e := n; e > 0; e >>= 1 {
		if e&1 == 1 {
			tmp.Mul(result, base)
			result.Copy(tmp)
			logScale += baseLog + normalise(result)
		}
		if e > 1 {
			tmp.Mul(base, base)
			base.Copy(tmp)
			baseLog = 2*baseLog + normalise(base)
		}
	}
	lg, _ := math.Lgamma(nf + 1)
	v := result.At(k-1, k-1)
	if v <= 0 {
		return 0
	}
	return math.Exp(lg - nf*math.Log(nf) + logScale + math.Log(v))
}

// kolmogorovLimitSF is the limiting tail P(K ≥ z) = 2 Σ_{k≥1} (−1)^{k−1}
// exp(−2k²z²), or 1 − √(2π)/z Σ_{k≥1} exp(−(2k−1)²π²/(8z²)) for small z.
func kolmogorovLimitSF(z float64) float64 {
	if z <= 0 {
		return 1
	}
	if z < 1 {
		var s float64
		for k := 1; k <= 20; k++ {
			t := float64(2*k - 1)
			s += math.Exp(-t * t * math.Pi * math.Pi / (8 * z * z))
		}
		return 1 - math.Sqrt(2*math.Pi)/z*s
	}
	var s float64
	sign := 1.0
	for k := 1; k <= 100; k++ {
		t := math.Exp(-2 * float64(k*k) * z * z)
		s += sign * t
		if t < 1e-300 {
			break
		}
		sign = -sign
	}
	return min(1, max(0, 2*s))
}
