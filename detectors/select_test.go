package detectors

import (
	"slices"
	"testing"
)

func TestSelectKthRadix(t *testing.T) {
	rng := NewRand(4)
	for _, n := range []int{5000, 20000, 100001} {
		for _, kind := range []int{0, 1, 2, 3} {
			a := make([]float64, n)
			for i := range a {
				switch kind {
				case 0:
					a[i] = rng.Float64() * 1000
				case 1:
					a[i] = 700 + rng.Float64()*1e-9 // one narrow octave
				case 2:
					a[i] = float64(rng.IntN(5)) + MinSqDist // ties
				case 3:
					a[i] = rng.NormFloat64() // negatives: the quickselect fallback
				}
			}
			s := slices.Clone(a)
			slices.Sort(s)
			for _, k := range []int{0, n / 2, (n - 1) / 2, n - 1} {
				if got := selectKth(slices.Clone(a), k); got != s[k] {
					t.Fatalf("n=%d kind=%d k=%d: %v want %v", n, kind, k, got, s[k])
				}
			}
		}
	}
}
