package detectors

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestMedianHeuristicFixture(t *testing.T) {
	// DETECTORS.md: x = {0, 1, 3} against itself → σ = √2.
	x := mat.NewDense(3, 1, []float64{0, 1, 3})
	if got := MedianHeuristic(x); math.Abs(got-math.Sqrt2) > 1e-12 {
		t.Fatalf("MedianHeuristic = %v, want √2", got)
	}
	// The MMD fixture's reference sample has median σ = 1.
	if got := MedianHeuristic(mmdFixtureX()); math.Abs(got-1) > 1e-12 {
		t.Fatalf("MedianHeuristic(MMD fixture) = %v, want 1", got)
	}
}

// TestMedianHeuristicAgainstSort checks the selection shortcut against the
// definition: sort the flattened matrix and index n + (n²−n)//2 − 1.
func TestMedianHeuristicAgainstSort(t *testing.T) {
	rng := NewRand(3)
	for _, n := range []int{2, 3, 4, 5, 10, 31, 64} {
		x := mat.NewDense(n, 3, nil)
		for i := range n {
			for j := range 3 {
				// coarse values force ties
				x.Set(i, j, float64(rng.IntN(3)))
			}
		}
		d := PairwiseSqDist(x, x)
		flat := slices.Clone(d.RawMatrix().Data)
		slices.Sort(flat)
		want := math.Sqrt(0.5 * flat[n+(n*n-n)/2-1])
		if got := MedianHeuristic(x); got != want {
			t.Errorf("n=%d: MedianHeuristic = %v, want %v", n, got, want)
		}
	}
}

func TestPairwiseSqDistAndKernel(t *testing.T) {
	x := mat.NewDense(2, 2, []float64{0, 0, 1, 2})
	y := mat.NewDense(3, 2, []float64{0, 0, 3, 0, 1, 1})
	d := PairwiseSqDist(x, y)
	want := []float64{MinSqDist, 9, 2, 5, 8, 1}
	for i, w := range want {
		if g := d.RawMatrix().Data[i]; math.Abs(g-w) > 1e-12 {
			t.Fatalf("d[%d] = %v, want %v", i, g, w)
		}
	}
	k := GaussianKernel(d, []float64{1, 2})
	for i, w := range want {
		e := 0.5 * (math.Exp(-w/2) + math.Exp(-w/8))
		if g := k.RawMatrix().Data[i]; math.Abs(g-e) > 1e-15 {
			t.Fatalf("k[%d] = %v, want %v", i, g, e)
		}
	}
	if d.At(0, 0) != MinSqDist {
		t.Fatalf("GaussianKernel modified its input")
	}
}

func TestPermutationConventions(t *testing.T) {
	perm := []float64{0.5, 0.1, 0.3, 0.9, 0.3, 0.2, 0.7, 0.4, 0.6, 0.8}
	if p := PermutationPValue(0.3, perm); p != 0.8 {
		t.Errorf("p = %v, want 0.8 (ties count, no +1)", p)
	}
	// descending: .9 .8 .7 .6 .5 .4 .3 .3 .2 .1; index ⌊0.05·10⌋ = 0, ⌊0.25·10⌋ = 2
	if th := PermutationThreshold(perm, 0.05); th != 0.9 {
		t.Errorf("threshold(0.05) = %v, want 0.9", th)
	}
	if th := PermutationThreshold(perm, 0.25); th != 0.7 {
		t.Errorf("threshold(0.25) = %v, want 0.7", th)
	}
}

// The MMD fixture of DETECTORS.md.
func mmdFixtureX() *mat.Dense {
	return mat.NewDense(6, 2, []float64{0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 0, 2})
}

func mmdFixtureY() *mat.Dense {
	return mat.NewDense(4, 2, []float64{.5, .5, 1.5, 1.5, 2, 2, 3, 1})
}
