// Package agreement measures whether an automated judge can be trusted: it
// compares the judge's scores with what the end users said about the same
// traces (thumbs or 1–5 ratings) and reports Cohen's kappa over a documented
// binarisation and, for ratings, Spearman's rank correlation over the raw
// values.
//
// Everything here is pure computation over pairs of numbers; the
// `chainwatch agreement` command reads the pairs from ClickHouse.
package agreement

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mathext"
)

// z975 is the standard normal's 0.975 quantile, for two-sided 95 % intervals.
const z975 = 1.959963984540054

// ErrUndefined is returned (wrapped) when a statistic has no value for the
// data: kappa when both raters put every pair in one and the same category
// (chance agreement is 1), Spearman's rho when either side is constant.
var ErrUndefined = errors.New("statistic undefined for these data")

// Kappa is Cohen's kappa for two raters over the same items, with the
// large-sample standard error of Fleiss, Cohen & Everitt (1969) — the one
// SAS PROC FREQ reports as ASE — and the Wald 95 % interval κ ± 1.96·SE,
// clipped to [−1, 1].
type Kappa struct {
	N        int     `json:"n"`
	Kappa    float64 `json:"kappa"`
	SE       float64 `json:"se"`
	Lower    float64 `json:"ci95_lower"`
	Upper    float64 `json:"ci95_upper"`
	Observed float64 `json:"observed_agreement"` // p_o, the share of items both raters put in the same category
	Expected float64 `json:"chance_agreement"`   // p_e, the agreement expected from the margins alone
}

// CohenKappa computes Cohen's (1960) kappa from a square contingency table
// of counts: table[i][j] is the number of items rater 1 put in category i
// and rater 2 in category j.
//
//	κ = (p_o − p_e) / (1 − p_e),  p_o = Σ p_ii,  p_e = Σ p_i· p_·i
//
// Its variance (Fleiss, Cohen & Everitt 1969; SAS PROC FREQ's ASE) is
//
//	var = (A + B − C) / ((1 − p_e)² n)
//	A = Σ_i p_ii [1 − (p_i· + p_·i)(1 − κ)]²
//	B = (1 − κ)² Σ_{i≠j} p_ij (p_·i + p_j·)²
//	C = [κ − p_e (1 − κ)]²
//
// It returns an error wrapping ErrUndefined when p_e = 1, and an error for a
// table that is empty, not square or has negative counts.
func CohenKappa(table [][]float64) (Kappa, error) {
	k := len(table)
	if k == 0 {
		return Kappa{}, errors.New("kappa: empty table")
	}
	var n float64
	for i, row := range table {
		if len(row) != k {
			return Kappa{}, fmt.Errorf("kappa: table is not square: row %d has %d columns, want %d", i, len(row), k)
		}
		for j, c := range row {
			if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
				return Kappa{}, fmt.Errorf("kappa: count [%d][%d] = %v is not a finite non-negative number", i, j, c)
			}
			n += c
		}
	}
	if n == 0 {
		return Kappa{}, errors.New("kappa: no items")
	}
	rows, cols := make([]float64, k), make([]float64, k)
	for i := range k {
		for j := range k {
			rows[i] += table[i][j] / n
			cols[j] += table[i][j] / n
		}
	}
	var po, pe float64
	for i := range k {
		po += table[i][i] / n
		pe += rows[i] * cols[i]
	}
	out := Kappa{N: int(math.Round(n)), Observed: po, Expected: pe}
	if 1-pe <= 1e-15 {
		out.Kappa, out.SE, out.Lower, out.Upper = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return out, fmt.Errorf("kappa: both raters used a single category (chance agreement 1): %w", ErrUndefined)
	}
	kappa := (po - pe) / (1 - pe)
	var a, b float64
	for i := range k {
		for j := range k {
			p := table[i][j] / n
			if i == j {
				d := 1 - (rows[i]+cols[i])*(1-kappa)
				a += p * d * d
			} else {
				s := cols[i] + rows[j]
				b += p * s * s
			}
		}
	}
	b *= (1 - kappa) * (1 - kappa)
	c := kappa - pe*(1-kappa)
	c *= c
	v := (a + b - c) / ((1 - pe) * (1 - pe) * n)
	se := math.Sqrt(max(v, 0))
	out.Kappa, out.SE = kappa, se
	out.Lower, out.Upper = max(-1, kappa-z975*se), min(1, kappa+z975*se)
	return out, nil
}

// BinaryTable counts pairs of binary verdicts into the 2×2 table CohenKappa
// takes; category 0 is positive, 1 negative. judge and human must have the
// same length.
func BinaryTable(judge, human []bool) ([][]float64, error) {
	if len(judge) != len(human) {
		return nil, fmt.Errorf("binary table: %d judge verdicts but %d human ones", len(judge), len(human))
	}
	t := [][]float64{{0, 0}, {0, 0}}
	idx := func(b bool) int {
		if b {
			return 0
		}
		return 1
	}
	for i := range judge {
		t[idx(judge[i])][idx(human[i])]++
	}
	return t, nil
}

// Spearman is Spearman's rank correlation with its two-sided p-value for the
// null hypothesis of no association.
type Spearman struct {
	N   int     `json:"n"`
	Rho float64 `json:"rho"`
	// P is the two-sided p-value from the t approximation, as
	// scipy.stats.spearmanr computes it: t = ρ √((n−2)/(1−ρ²)) on n−2
	// degrees of freedom. NaN for n < 3; 0 when |ρ| = 1.
	P float64 `json:"p"`
}

// SpearmanRho computes Spearman's ρ, the Pearson correlation of the ranks of
// x and of y, ties given their average rank (so it is correct with ties,
// unlike the Σd² shortcut). It returns an error wrapping ErrUndefined when
// either side is constant, and an error for unequal lengths, fewer than two
// pairs or non-finite values.
func SpearmanRho(x, y []float64) (Spearman, error) {
	n := len(x)
	if n != len(y) {
		return Spearman{}, fmt.Errorf("spearman: %d x values but %d y values", n, len(y))
	}
	if n < 2 {
		return Spearman{}, fmt.Errorf("spearman: need at least 2 pairs, got %d", n)
	}
	for i := range n {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return Spearman{}, fmt.Errorf("spearman: pair %d is not finite (%v, %v)", i, x[i], y[i])
		}
	}
	rx, ry := Ranks(x), Ranks(y)
	mean := (float64(n) + 1) / 2 // average ranks always sum to n(n+1)/2
	var sxy, sxx, syy float64
	for i := range n {
		dx, dy := rx[i]-mean, ry[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	out := Spearman{N: n, Rho: math.NaN(), P: math.NaN()}
	if sxx == 0 || syy == 0 {
		return out, fmt.Errorf("spearman: one side is constant: %w", ErrUndefined)
	}
	rho := sxy / math.Sqrt(sxx*syy)
	rho = math.Max(-1, math.Min(1, rho))
	out.Rho = rho
	out.P = spearmanP(rho, n)
	return out, nil
}

// spearmanP is the two-sided p-value of rho over n pairs by the t
// approximation: P(|T| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2), ν = n − 2.
func spearmanP(rho float64, n int) float64 {
	if n < 3 {
		return math.NaN()
	}
	if math.Abs(rho) == 1 {
		return 0
	}
	df := float64(n - 2)
	t2 := rho * rho * df / ((1 + rho) * (1 - rho))
	return mathext.RegIncBeta(df/2, 0.5, df/(df+t2))
}

// Ranks returns the 1-based ranks of x, tied values sharing the average of
// the ranks they span (scipy.stats.rankdata's "average").
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// LandisKoch names the band of Landis & Koch (1977) a kappa falls in:
// poor (< 0), slight (0–0.20), fair (0.21–0.40), moderate (0.41–0.60),
// substantial (0.61–0.80), almost perfect (0.81–1). Boundaries belong to the
// lower band (0.40 is fair). NaN is "undefined".
func LandisKoch(kappa float64) string {
	switch {
	case math.IsNaN(kappa):
		return "undefined"
	case kappa < 0:
		return "poor"
	case kappa <= 0.20:
		return "slight"
	case kappa <= 0.40:
		return "fair"
	case kappa <= 0.60:
		return "moderate"
	case kappa <= 0.80:
		return "substantial"
	default:
		return "almost perfect"
	}
}

// CorrelationStrength names the band of Schober, Boer & Schwarte (2018) an
// absolute correlation falls in: negligible (< 0.10), weak (0.10–0.39),
// moderate (0.40–0.69), strong (0.70–0.89), very strong (≥ 0.90). NaN is
// "undefined".
func CorrelationStrength(rho float64) string {
	a := math.Abs(rho)
	switch {
	case math.IsNaN(rho):
		return "undefined"
	case a < 0.10:
		return "negligible"
	case a < 0.40:
		return "weak"
	case a < 0.70:
		return "moderate"
	case a < 0.90:
		return "strong"
	default:
		return "very strong"
	}
}
