package detectors

import (
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
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

// TestKthUpperSqDistExact: the float32 first pass with float64 refinement
// returns exactly the float64 path's k-th distance, on data where many
// distances tie or nearly tie, and with large offsets (big norms, small
// distances: the hard case for the float32 pass).
func TestKthUpperSqDistExact(t *testing.T) {
	rng := NewRand(8)
	for _, tc := range []struct {
		n, d   int
		offset float64
		coarse bool
	}{{130, 5, 0, false}, {200, 37, 0, true}, {300, 384, 0, false}, {260, 16, 1000, false}, {150, 8, 3, true}} {
		x := mat.NewDense(tc.n, tc.d, nil)
		for i := range tc.n {
			for j := range tc.d {
				v := rng.NormFloat64()
				if tc.coarse {
					v = float64(rng.IntN(3))
				}
				x.Set(i, j, v+tc.offset)
			}
		}
		all := upperSqDist(x)
		sorted := slices.Clone(all)
		slices.Sort(sorted)
		for _, k := range []int{0, len(all) / 3, (len(all) - 1) / 2, len(all) - 1} {
			if got := kthUpperSqDist(x, k); got != sorted[k] {
				t.Errorf("n=%d d=%d offset %v: k=%d got %v, want %v", tc.n, tc.d, tc.offset, k, got, sorted[k])
			}
		}
	}
}
