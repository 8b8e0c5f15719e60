package detectors

import (
	"math"
	"slices"
	"sort"
)

// CvMExactMax is the largest sample size for which CvMTest computes the
// exact p-value (both samples at most this size), as scipy's method='auto'.
const CvMExactMax = 20

// CvMTest is the two-sample Cramér–von Mises test as
// scipy.stats.cramervonmises_2samp with method='auto'. The statistic is
// Anderson's (1962, "On the Distribution of the Two-Sample Cramér–von Mises
// Criterion", Ann. Math. Stat. 33, eq. 9):
//
//	U = n·Σ_i (r_i − i)² + m·Σ_j (s_j − j)²,  T = U/(n·m·N) − (4nm − 1)/(6N),
//
// with r and s the sorted ranks of a and b in the pooled sample (midranks
// for ties) and N = n + m. The p-value is P(T ≥ t_obs):
//   - exact when both samples have at most CvMExactMax values: the null
//     distribution of U over all C(N, n) orderings, enumerated by a dynamic
//     programme over lattice paths (U is a sum of per-step terms: the
//     i-th value of a at pooled position i+j adds n·j², the j-th of b adds
//     m·i²);
//   - otherwise asymptotic: T standardised by its exact mean
//     (1 + 1/N)/6 and variance (N+1)(4kN − 3(n² + m²) − 2k)/(180·N²·k),
//     k = nm (Anderson 1962, eqs. 10–11), and referred to the limiting
//     Cramér–von Mises distribution (Anderson & Darling 1952; the series of
//     Csörgő & Faraway 1996, eq. 1.11, with Bessel K_{1/4}).
//
// With ties the p-value, exact or not, treats the data as continuous (it is
// then conservative, as scipy notes). Empty samples give NaN.
func CvMTest(a, b []float64) (stat, p float64) {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return math.NaN(), math.NaN()
	}
	N := n + m
	ra, rb := midranks(a, b)
	var ua, ub float64
	for i, r := range ra {
		d := r - float64(i+1)
		ua += d * d
	}
	for j, r := range rb {
		d := r - float64(j+1)
		ub += d * d
	}
	nf, mf, Nf := float64(n), float64(m), float64(N)
	u := nf*ua + mf*ub
	k := nf * mf
	stat = u/(k*Nf) - (4*k-1)/(6*Nf)
	if n <= CvMExactMax && m <= CvMExactMax {
		return stat, cvmExactSF(n, m, u)
	}
	et := (1 + 1/Nf) / 6
	vt := (Nf + 1) * (4*k*Nf - 3*(nf*nf+mf*mf) - 2*k) / (180 * Nf * Nf * k)
	tn := 1.0/6 + (stat-et)/math.Sqrt(45*vt)
	if tn < 0.003 {
		// The limiting CDF is below 1e-20 here.
		return stat, 1
	}
	return stat, max(0, 1-cvmLimitCDF(tn))
}

// midranks returns the pooled ranks (1-based, ties averaged) of a and b,
// each sorted ascending.
func midranks(a, b []float64) (ra, rb []float64) {
	type obs struct {
		v    float64
		from int
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, 0})
	}
	for _, v := range b {
		all = append(all, obs{v, 1})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		r := float64(i+1+j) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].from == 0 {
				ra = append(ra, r)
			} else {
				rb = append(rb, r)
			}
		}
		i = j
	}
	return ra, rb // ascending, since all is sorted
}

// cvmExactSF is P(U ≥ uObs) over the C(n+m, n) equally likely orderings.
// Each cell (i, j) holds the distribution of the partial sum of U over the
// paths reaching it, as fractions of those paths (so nothing overflows).
func cvmExactSF(n, m int, uObs float64) float64 {
	type dist map[int64]float64
	row := make([]dist, m+1)
	row[0] = dist{0: 1}
	for j := 1; j <= m; j++ {
		row[j] = shiftDist(row[j-1], int64(m)*0, 1) // i = 0: adds m·0²
	}
	for i := 1; i <= n; i++ {
		// From (i−1, j): the i-th a at position i+j adds n·j².
		row[0] = shiftDist(row[0], 0, 1)
		for j := 1; j <= m; j++ {
			s := float64(i + j)
			up := shiftDist(row[j], int64(n)*int64(j)*int64(j), float64(i)/s)
			left := shiftDist(row[j-1], int64(m)*int64(i)*int64(i), float64(j)/s)
			for u, w := range left {
				up[u] += w
			}
			row[j] = up
		}
	}
	var p float64
	tol := 1e-9 * math.Max(1, uObs)
	for u, w := range row[m] {
		if float64(u) >= uObs-tol {
			p += w
		}
	}
	return min(p, 1)
}

func shiftDist(d map[int64]float64, by int64, scale float64) map[int64]float64 {
	out := make(map[int64]float64, len(d))
	for u, w := range d {
		out[u+by] = w * scale
	}
	return out
}

// cvmLimitCDF is the CDF of the limiting Cramér–von Mises distribution
// (Csörgő & Faraway 1996, eq. 1.11):
//
//	F(x) = 1/(π√x) Σ_{k≥0} Γ(k+½)/(Γ(½)·k!) · √(4k+1) · e^{−z_k} K_{1/4}(z_k),
//	z_k = (4k+1)²/(16x).
func cvmLimitCDF(x float64) float64 {
	var sum float64
	coef := 1.0 // Γ(k+½)/(Γ(½)·k!), = Π_{i<k} (i+½)/(i+1)
	for k := 0; k < 200; k++ {
		q := float64(4*k + 1)
		z := q * q / (16 * x)
		term := coef * math.Sqrt(q) * math.Exp(-2*z) * scaledBesselK14(z)
		sum += term
		if term < 1e-17*sum {
			break
		}
		coef *= (float64(k) + 0.5) / float64(k+1)
	}
	return min(1, sum/(math.Pi*math.Sqrt(x)))
}

// scaledBesselK14 is e^{z}·K_{1/4}(z) for z > 0, from the integral
// K_ν(z) = ∫_0^∞ e^{−z·cosh t} cosh(νt) dt (DLMF 10.32.9), i.e.
// e^{z}·K_ν(z) = ∫_0^∞ e^{−z(cosh t − 1)} cosh(νt) dt, by the trapezoid
// rule, which converges geometrically for this analytic, doubly
// exponentially decaying integrand.
func scaledBesselK14(z float64) float64 {
	const h = 1.0 / 64
	var s float64
	for i := 0; ; i++ {
		t := float64(i) * h
		f := math.Exp(-z*(math.Cosh(t)-1)) * math.Cosh(t/4)
		if i == 0 {
			f /= 2
		}
		s += f
		if f < 1e-18*s {
			break
		}
	}
	return s * h
}

// sortedCopy returns an ascending copy of v.
func sortedCopy(v []float64) []float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	return c
}
