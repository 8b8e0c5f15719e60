package detectors

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestContextStatFixture: the DETECTORS.md fixture for the context-aware
// statistic with given bandwidths, λ and held-out contexts.
func TestContextStatFixture(t *testing.T) {
	xAll := col(.1, .3, 1.3, 1.5, 1.9, .4, 1.2, 2.1)
	cAll := col(0, .5, 1, 1.5, 2, .5, 1, 2)
	cHeld := col(.7, 1.6)
	K := GaussianKernelMatrix(xAll, xAll, []float64{1})
	L := GaussianKernelMatrix(cAll, cAll, []float64{0.5})
	side := []bool{false, false, false, false, false, true, true, true}
	got, err := cmmdStat(K, L, GaussianKernelMatrix(cHeld, cAll, []float64{0.5}), side, [2]float64{0.25, 0.125})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-0.0381965114) > 1e-9 {
		t.Fatalf("statistic %.10f, want 0.0381965114", got)
	}
}

func TestPooledMedianSigma(t *testing.T) {
	// N = 3, {0, 1, 3}: sorted full matrix 0,0,0,1,1,4,4,9,9; index ⌊9/2⌋ = 4
	// → 1, σ = sqrt(0.5).
	s, err := pooledMedianSigma(col(0, 1, 3))
	if err != nil || math.Abs(s-math.Sqrt(0.5)) > 1e-12 {
		t.Fatalf("σ = %v (%v), want √0.5", s, err)
	}
}

// TestContextLambdaPicksSmallForSmoothSignal: x a smooth noiseless
// function of c is best fitted with little regularisation; x independent
// of c with a lot.
func TestContextLambdaPicksSmallForSmoothSignal(t *testing.T) {
	rng := NewRand(1)
	n := 60
	c := mat.NewDense(n, 1, nil)
	xs := mat.NewDense(n, 1, nil)
	xn := mat.NewDense(n, 1, nil)
	for i := range n {
		v := rng.Float64() * 4
		c.Set(i, 0, v)
		xs.Set(i, 0, math.Sin(v))
		xn.Set(i, 0, rng.NormFloat64())
	}
	L := GaussianKernelMatrix(c, c, []float64{0.5})
	ls := pickContextLambda(GaussianKernelMatrix(xs, xs, []float64{1}), L, 5, NewRand(2))
	ln := pickContextLambda(GaussianKernelMatrix(xn, xn, []float64{1}), L, 5, NewRand(2))
	t.Logf("λ smooth %g, noise %g", ls, ln)
	if !(ls < ln) {
		t.Fatalf("λ for a noiseless smooth function (%g) not below λ for pure noise (%g)", ls, ln)
	}
}

// TestContextPropensities: contexts N(0,1) in the reference and N(1,1) in
// the current window; the estimated P(current | c) must increase with c
// and be near the true ratio at c = 0.5 (where it is 1/2).
func TestContextPropensities(t *testing.T) {
	rng := NewRand(3)
	n := 300
	c := mat.NewDense(2*n, 1, nil)
	side := make([]bool, 2*n)
	for i := range 2 * n {
		v := rng.NormFloat64()
		if i >= n {
			v++
			side[i] = true
		}
		c.Set(i, 0, v)
	}
	L := GaussianKernelMatrix(c, c, []float64{0.5})
	p := contextPropensities(L, side, 5, rng)
	// Bin by c and compare with the true sigmoid(c − 0.5).
	var worst float64
	for _, b := range []float64{-0.5, 0, 0.5, 1, 1.5} {
		var s float64
		k := 0
		for i := range 2 * n {
			if math.Abs(c.At(i, 0)-b) < 0.25 {
				s += p[i]
				k++
			}
		}
		est, want := s/float64(k), sigmoid(b-0.5)
		worst = math.Max(worst, math.Abs(est-want))
		t.Logf("c ≈ %.1f: propensity %.3f, true %.3f (%d rows)", b, est, want, k)
	}
	if worst > 0.12 {
		t.Fatalf("propensities off the true ratio by up to %.3f", worst)
	}
}

// ctxSample draws n contexts c ~ N(cShift, 1) and x = c + xShift
// + 0.3·noise, two columns for x (the second pure noise).
func ctxSample(rng interface {
	NormFloat64() float64
}, n int, cShift, xShift float64) (x, c *mat.Dense) {
	x = mat.NewDense(n, 2, nil)
	c = mat.NewDense(n, 1, nil)
	for i := range n {
		cv := rng.NormFloat64() + cShift
		c.Set(i, 0, cv)
		x.Set(i, 0, cv+xShift+0.3*rng.NormFloat64())
		x.Set(i, 1, 0.3*rng.NormFloat64())
	}
	return x, c
}

func contextRejections(t *testing.T, trials, n int, cShift, xShift float64, seed uint64) float64 {
	t.Helper()
	rng := NewRand(seed)
	return rejections(t, trials, func(s int) (Result, error) {
		x, cx := ctxSample(rng, n, 0, 0)
		y, cy := ctxSample(rng, n, cShift, xShift)
		return ContextMMD(x, y, cx, cy, ContextMMDOptions{NPermutations: 100, Seed: uint64(s)})
	})
}

// TestContextNullRates: no change at all, and a change in p(c) only
// (contexts shifted by 1 sd, p(x | c) the same) — which plain MMD flags
// almost always — must both be rejected at a rate within the 99 % binomial
// interval of α over 200 trials. (Over 400 trials each: 0.040 and 0.050.)
func TestContextNullRates(t *testing.T) {
	if testing.Short() {
		t.Skip("200 context-aware tests per case")
	}
	lo, hi := rateInterval99(5.0/101, 200)
	for _, tc := range []struct {
		name   string
		cShift float64
	}{{"unchanged", 0}, {"contexts_shift_only", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			rate := contextRejections(t, 200, 60, tc.cShift, 0, 21)
			t.Logf("context MMD rejection rate %.3f (99%% interval [%.3f, %.3f])", rate, lo, hi)
			if rate < lo || rate > hi {
				t.Fatalf("rate %.3f outside [%.3f, %.3f]", rate, lo, hi)
			}
		})
	}
	// The same p(c) shift fools plain MMD on x: it is a real distribution
	// change, just not one of p(x | c).
	rng := NewRand(22)
	rej := 0
	for s := range 50 {
		x, _ := ctxSample(rng, 60, 0, 0)
		y, _ := ctxSample(rng, 60, 1, 0)
		r, err := MMD(x, y, MMDOptions{Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			rej++
		}
	}
	t.Logf("plain MMD on the same contexts-only shift: rejection rate %.2f", float64(rej)/50)
	if rej < 40 {
		t.Fatalf("plain MMD flagged the contexts-only shift in %d of 50 runs; the case does not show what it should", rej)
	}
}

// TestContextPower: p(x | c) shifted by +0.5 in x's first coordinate, same
// contexts: power ≥ 0.9 over 50 trials.
func TestContextPower(t *testing.T) {
	pow := contextRejections(t, 50, 60, 0, 0.5, 23)
	t.Logf("context MMD power %.2f (x | c shifted by 0.5, n = m = 60)", pow)
	if pow < 0.9 {
		t.Fatalf("power %.2f < 0.9", pow)
	}
}

func TestContextDeterministicAndValidation(t *testing.T) {
	rng := NewRand(31)
	x, cx := ctxSample(rng, 40, 0, 0)
	y, cy := ctxSample(rng, 40, 0, 0.3)
	a, err := ContextMMD(x, y, cx, cy, ContextMMDOptions{NPermutations: 50, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ContextMMD(x, y, cx, cy, ContextMMDOptions{NPermutations: 50, Seed: 4})
	if a.Statistic != b.Statistic || a.PValue != b.PValue {
		t.Fatalf("same seed, different results")
	}
	if a.Params["n_held"] != 10 {
		t.Fatalf("n_held %v, want 10", a.Params["n_held"])
	}
	if _, err := ContextMMD(x, y, nil, cy, ContextMMDOptions{}); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("missing contexts: %v", err)
	}
	if _, err := ContextMMD(x, y, cx, cy.Slice(0, 30, 0, 1).(*mat.Dense), ContextMMDOptions{}); err == nil || !strings.Contains(err.Error(), "contexts") {
		t.Errorf("row mismatch: %v", err)
	}
	_, err = ContextMMD(x, y, cx, cy, ContextMMDOptions{PropCHeld: 1, NFolds: 1, SigmaC: -1})
	for _, want := range []string{"prop_c_held", "n_folds", "sigma_c"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func BenchmarkContextMMD(b *testing.B) {
	for _, n := range []int{100, 200} {
		b.Run(fmt.Sprintf("n_%d", n), func(b *testing.B) {
			rng := NewRand(9)
			x, cx := ctxSample(rng, n, 0, 0)
			y, cy := ctxSample(rng, n, 0.3, 0)
			b.ReportAllocs()
			defer cpuTimer(b)()
			for b.Loop() {
				if _, err := ContextMMD(x, y, cx, cy, ContextMMDOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
