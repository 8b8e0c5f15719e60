package detectors

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLSDDCoreFixture checks the core numbers of DETECTORS.md (σ = 1, no
// standardisation): H, h, H_λ⁻ at λ = 1/16 and the LSDD.
func TestLSDDCoreFixture(t *testing.T) {
	centres := mat.NewDense(2, 2, []float64{0, 0, 1, 1})
	ref := mat.NewDense(4, 2, []float64{0, .5, 1, 0, .5, 1, .2, .2})
	cur := mat.NewDense(3, 2, []float64{2, 2, 2.5, 1.5, 1.5, 2.5})
	const tol = 1e-9
	H := lsddH(centres, 1)
	if math.Abs(H.At(0, 1)-0.6065306597) > tol || H.At(0, 0) != 1 {
		t.Fatalf("H = %v", mat.Formatted(H))
	}
	kz := GaussianKernelMatrix(stackRows(ref, cur), centres, []float64{1})
	h, _ := lsddPermutedH(kz, 4, 3, 1, NewRand(0))
	for j, w := range []float64{0.7306549053, 0.3242656754} {
		if math.Abs(h.At(0, j)-w) > tol {
			t.Fatalf("h[%d] = %.10f, want %.10f", j, h.At(0, j), w)
		}
	}
	// Swapping the samples gathers the other side and negates h.
	kz2 := GaussianKernelMatrix(stackRows(cur, ref), centres, []float64{1})
	h2, _ := lsddPermutedH(kz2, 3, 4, 1, NewRand(0))
	for j := range 2 {
		if math.Abs(h2.At(0, j)+h.At(0, j)) > 1e-15 {
			t.Fatalf("swapped h = %v, want %v negated", h2.RawRowView(0), h.RawRowView(0))
		}
	}
	M, err := lsddRegInverse(H, 1.0/16)
	if err != nil {
		t.Fatal(err)
	}
	hinv := lsddHinv(H, M)
	want := [][]float64{{1.5576650329, -0.9360785572}, {-0.9360785572, 1.5576650329}}
	for i := range 2 {
		for j := range 2 {
			if math.Abs(hinv.At(i, j)-want[i][j]) > tol {
				t.Fatalf("H_λ⁻ = %v", mat.Formatted(hinv))
			}
		}
	}
	if got := quadForms(h, hinv)[0]; math.Abs(got-0.5517921921) > tol {
		t.Fatalf("LSDD = %.10f, want 0.5517921921", got)
	}
	// The relative-difference rule on this h alone also picks λ = 1/16.
	lam, _, err := lsddSelectLambda(H, h, DefaultLambdaRDMax)
	if err != nil {
		t.Fatal(err)
	}
	if lam != 1.0/16 {
		t.Fatalf("λ from the observed h alone = %v, want 1/16", lam)
	}
}

// TestLSDDNullRate: N(0, I₂) vs N(0, I₂), 50 rows each, B = 100, 1000
// seeded trials; the rejection rate must lie in the 99 % binomial interval
// around 5/101.
func TestLSDDNullRate(t *testing.T) {
	rng := NewRand(21)
	checkNullRate(t, "LSDD", 1000, 5.0/101, func(s int) (Result, error) {
		return LSDD(gaussSample(rng, 50, 2, nil), gaussSample(rng, 50, 2, nil), LSDDOptions{Seed: uint64(s)})
	})
}

// TestLSDDPower: N(0, I₂) vs N((1, 0), I₂), 100 rows each (5 of the
// reference become centres), 50 trials: power ≥ 0.9.
func TestLSDDPower(t *testing.T) {
	rng := NewRand(22)
	checkPower(t, "LSDD (mean +1 in one of 2 coordinates, n = m = 100)", 50, func(s int) (Result, error) {
		return LSDD(gaussSample(rng, 100, 2, nil), gaussSample(rng, 100, 2, []float64{1}), LSDDOptions{Seed: uint64(s)})
	})
}

func TestLSDDDeterministicAndValidation(t *testing.T) {
	rng := NewRand(23)
	x := gaussSample(rng, 60, 3, nil)
	y := gaussSample(rng, 40, 3, []float64{0.4})
	a, err := LSDD(x, y, LSDDOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LSDD(x, y, LSDDOptions{Seed: 5})
	if a.PValue != b.PValue || a.Statistic != b.Statistic || a.Threshold != b.Threshold {
		t.Fatalf("same seed, different results")
	}
	if _, err := LSDD(y, x, LSDDOptions{Seed: 5}); err != nil { // n < m side
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    LSDDOptions
		want string
	}{
		{LSDDOptions{PVal: 2}, "p_val"},
		{LSDDOptions{NPermutations: -1}, "n_permutations"},
		{LSDDOptions{Sigma: -1}, "sigma"},
		{LSDDOptions{NKernelCenters: -4}, "n_kernel_centers"},
		{LSDDOptions{NKernelCenters: 59}, "n_kernel_centers"},
		{LSDDOptions{LambdaRDMax: 1.5}, "lambda_rd_max"},
	} {
		_, err := LSDD(x, y, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", tc.o, err, tc.want)
		}
	}
}

// TestLSDDPowerHalfShift reports (does not assert) the power at a smaller
// shift, mean +0.5 in one of 2 coordinates, n = m = 100, over 100 trials
// (DETECTORS.md quotes 0.78 for the reference MMD).
func TestLSDDPowerHalfShift(t *testing.T) {
	rng := NewRand(31)
	rej := 0
	for s := range 100 {
		x := gaussSample(rng, 100, 2, nil)
		y := gaussSample(rng, 100, 2, []float64{0.5})
		r, err := LSDD(x, y, LSDDOptions{Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			rej++
		}
	}
	t.Logf("LSDD power at +0.5: %.2f", float64(rej)/100)
}

// BenchmarkLSDD: n = m = 1000, d = 384, B = 100, 50 centres.
func BenchmarkLSDD(b *testing.B) {
	rng := NewRand(1)
	x := gaussSample(rng, 1000, 384, nil)
	y := gaussSample(rng, 1000, 384, nil)
	b.ReportAllocs()
	defer cpuTimer(b)()
	for b.Loop() {
		if _, err := LSDD(x, y, LSDDOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
