package detectors

import (
	"math"
	"slices"
)

// Permutation-test conventions shared by every permutation detector
// (DETECTORS.md, "Shared conventions"), following Alibi Detect's
// definitions so that p-values mean what its users expect.

// PermutationPValue is (1/B)·#{b : permuted[b] ≥ observed}, with no +1
// correction (so under the null the rejection rate at level α is
// ⌈αB⌉/(B+1), 0.0495 for B = 100). It returns NaN for an empty slice.
func PermutationPValue(observed float64, permuted []float64) float64 {
	if len(permuted) == 0 {
		return math.NaN()
	}
	c := 0
	for _, t := range permuted {
		if t >= observed {
			c++
		}
	}
	return float64(c) / float64(len(permuted))
}

// PermutationThreshold sorts a copy of the permuted statistics in
// descending order and returns the one at index ⌊pval·B⌋ (clamped to the
// last), the value reported as the detector's threshold on the statistic.
// It returns NaN for an empty slice.
func PermutationThreshold(permuted []float64, pval float64) float64 {
	b := len(permuted)
	if b == 0 {
		return math.NaN()
	}
	s := slices.Clone(permuted)
	slices.Sort(s)
	i := int(math.Floor(pval * float64(b)))
	if i < 0 {
		i = 0
	}
	if i > b-1 {
		i = b - 1
	}
	return s[b-1-i]
}

// permutationResult fills the permutation fields of a Result.
func permutationResult(r *Result, observed float64, permuted []float64, pval float64) {
	r.Statistic = observed
	r.PValue = PermutationPValue(observed, permuted)
	r.HasPValue = true
	r.Threshold = PermutationThreshold(permuted, pval)
	r.Drift = r.PValue < pval
}
