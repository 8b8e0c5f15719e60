package detectors

import (
	"math"
	"slices"
)

// Multiple-testing corrections accepted by Correct and UnivariateOptions.
const (
	CorrectionBonferroni = "bonferroni"
	CorrectionFDR        = "fdr"
)

// Correct turns d per-feature p-values into one verdict at level pval
// (DETECTORS.md, "Correction across d features"):
//   - "bonferroni" (also ""): drift iff min p < pval/d; threshold pval/d.
//   - "fdr" (Benjamini & Hochberg 1995): with p_(1) ≤ … ≤ p_(d), drift iff
//     p_(i) < pval·i/d for some i; threshold the largest pval·i/d so
//     satisfied, else pval/d.
//
// Any other method, or no p-values, gives (false, NaN); the options'
// Validate rejects unknown methods first.
func Correct(pvals []float64, pval float64, method string) (drift bool, threshold float64) {
	d := len(pvals)
	if d == 0 {
		return false, math.NaN()
	}
	fd := float64(d)
	switch method {
	case "", CorrectionBonferroni:
		threshold = pval / fd
		return slices.Min(pvals) < threshold, threshold
	case CorrectionFDR:
		s := slices.Clone(pvals)
		slices.Sort(s)
		threshold = pval / fd
		for i, p := range s {
			if q := pval * float64(i+1) / fd; p < q {
				drift, threshold = true, q
			}
		}
		return drift, threshold
	}
	return false, math.NaN()
}
