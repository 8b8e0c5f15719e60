package detectors

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Issue 16 made MMD and LSDD faster; these tests hold the fast paths to
// the implementation they replaced (oldimpl_test.go) on fixed inputs, and
// to themselves across GOMAXPROCS values and kernel implementations.

// relClose reports |a−b| ≤ tol·max(|a|, |b|).
func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// oracleCases are fixed inputs of several shapes: null and shifted,
// n ≠ m both ways, d not a multiple of 4, N not a multiple of 64 or 12.
func oracleCases() []struct {
	name    string
	n, m, d int
	shift   float64
} {
	return []struct {
		name    string
		n, m, d int
		shift   float64
	}{
		{"null_small", 30, 30, 2, 0},
		{"shift_small", 30, 41, 3, 0.8},
		{"shift_rect", 77, 50, 7, 0.5},
		{"null_mid", 200, 190, 33, 0},
		{"shift_mid", 150, 220, 64, 0.3},
		{"shift_wide", 300, 300, 384, 0.2},
	}
}

func TestMMDMatchesOldImplementation(t *testing.T) {
	for _, c := range oracleCases() {
		for _, sigma := range [][]float64{nil, {0.7, 2.5}} {
			t.Run(fmt.Sprintf("%s_sigma%v", c.name, sigma), func(t *testing.T) {
				rng := NewRand(uint64(c.n*1000 + c.d))
				x := gaussSample(rng, c.n, c.d, nil)
				y := gaussSample(rng, c.m, c.d, []float64{c.shift, c.shift})
				o := MMDOptions{Seed: 5, NPermutations: 200, Sigma: sigma}
				got, err := MMD(x, y, o)
				if err != nil {
					t.Fatal(err)
				}
				want, err := oldMMD(x, y, o)
				if err != nil {
					t.Fatal(err)
				}
				// The statistic is a difference of block means of size
				// about 1; against that scale the fast path agrees to
				// 1e-12, and to 1e-6 relative of the statistic itself.
				if !relClose(got.Statistic, want.Statistic, 1e-6) {
					t.Errorf("statistic %.17g, old %.17g (rel %.3g)", got.Statistic, want.Statistic,
						math.Abs(got.Statistic-want.Statistic)/math.Abs(want.Statistic))
				}
				if got.PValue != want.PValue || got.Drift != want.Drift {
					t.Errorf("p %v drift %v, old p %v drift %v", got.PValue, got.Drift, want.PValue, want.Drift)
				}
				if !relClose(got.Threshold, want.Threshold, 1e-6) {
					t.Errorf("threshold %v, old %v", got.Threshold, want.Threshold)
				}
				gs, ws := got.Params["sigma"].([]float64), want.Params["sigma"].([]float64)
				for i := range ws {
					if !relClose(gs[i], ws[i], 1e-12) {
						t.Errorf("sigma %v, old %v", gs, ws)
					}
				}
			})
		}
	}
}

// TestPermutationDetectorsGOMAXPROCS: every permutation-based detector
// gives bit-identical results under a seed with 1, 2 and 4 threads.
func TestPermutationDetectorsGOMAXPROCS(t *testing.T) {
	rng := NewRand(77)
	x := gaussSample(rng, 120, 5, nil)
	y := gaussSample(rng, 110, 5, []float64{0.3})
	cx := gaussSample(rng, 120, 1, nil)
	cy := gaussSample(rng, 110, 1, []float64{0.5})
	runs := map[string]func() (Result, error){
		"mmd":  func() (Result, error) { return MMD(x, y, MMDOptions{Seed: 3}) },
		"lsdd": func() (Result, error) { return LSDD(x, y, LSDDOptions{Seed: 3}) },
		"context_mmd": func() (Result, error) {
			return ContextMMD(x, y, cx, cy, ContextMMDOptions{Seed: 3, NPermutations: 200})
		},
		"learned_kernel_mmd": func() (Result, error) {
			r, _, err := LearnedKernelMMD(x, y, LearnedKernelOptions{Seed: 3, Epochs: 1})
			return r, err
		},
		"energy":          func() (Result, error) { return Energy(x, y, PermutationOptions{Seed: 3}) },
		"centroid_cosine": func() (Result, error) { return CentroidCosine(x, y, PermutationOptions{Seed: 3}) },
		"js_text": func() (Result, error) {
			ref := []string{"the cat sat", "a dog ran", "the cat ran", "a bird sang", "the dog sat", "one cat sang"}
			cur := []string{"the cat sat", "red fish swam", "blue fish ran", "a fish sang", "the cat swam"}
			return TermJSTest(ref, cur, PermutationOptions{Seed: 3})
		},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name, run := range runs {
		var ref Result
		for _, procs := range []int{1, 2, 4} {
			runtime.GOMAXPROCS(procs)
			r, err := run()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if procs == 1 {
				ref = r
				continue
			}
			if r.Statistic != ref.Statistic || r.PValue != ref.PValue || r.Threshold != ref.Threshold || r.Drift != ref.Drift {
				t.Errorf("%s: GOMAXPROCS %d gives %v/%v/%v, 1 gives %v/%v/%v", name, procs,
					r.Statistic, r.PValue, r.Threshold, ref.Statistic, ref.PValue, ref.Threshold)
			}
		}
	}
}

// TestSIMDMatchesPortable: the assembly kernels (where the CPU runs them)
// and their portable twins give identical bits.
func TestSIMDMatchesPortable(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA kernel on this CPU or build; the portable path is the only one")
	}
	rng := NewRand(9)
	for _, k := range []int{4, 8, 36, 384, 1000} {
		ld := k + 4
		a := make([]float64, 4*ld)
		b := make([]float64, 3*ld)
		for i := range a {
			a[i] = rng.NormFloat64() * 10
		}
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		var got, want [12]float64
		dot4x3(a, b, ld, k, &got)
		dot4x3Go(a, b, ld, k, &want)
		if got != want {
			t.Errorf("k=%d: dot4x3 %v, portable %v", k, got, want)
		}
	}
	for _, nw := range []int{0, 1, 3, 32} {
		row := make([]float64, 64*nw)
		bits := make([]uint64, nw)
		for i := range row {
			row[i] = rng.Float64() * math.Pow(10, float64(rng.IntN(8)-4))
		}
		for i := range bits {
			bits[i] = rng.Uint64()
		}
		if got, want := maskedSum(row, bits), maskedSumGo(row, bits); got != want {
			t.Errorf("nw=%d: maskedSum %v, portable %v", nw, got, want)
		}
	}
}

// BenchmarkOldMMD and BenchmarkOldLSDD time the replaced implementation on
// the inputs of BenchmarkMMD and BenchmarkLSDD, so that one run on a busy
// machine gives the ratio old/new:
// GOMAXPROCS=1 taskset -c 0 go test -run XXX -bench 'MMD/n1000_d384|LSDD' -benchtime 5x ./detectors/
func BenchmarkOldMMD(b *testing.B) {
	for _, d := range []int{32, 384} {
		for _, n := range []int{250, 500, 1000, 2000} {
			b.Run(fmt.Sprintf("n%d_d%d_B100", n, d), func(b *testing.B) {
				rng := NewRand(1)
				x := gaussSample(rng, n, d, nil)
				y := gaussSample(rng, n, d, nil)
				defer cpuTimer(b)()
				for b.Loop() {
					if _, err := oldMMD(x, y, MMDOptions{NPermutations: 100}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOldLSDD(b *testing.B) {
	rng := NewRand(1)
	x := gaussSample(rng, 1000, 384, nil)
	y := gaussSample(rng, 1000, 384, nil)
	defer cpuTimer(b)()
	for b.Loop() {
		if _, err := oldLSDD(x, y, LSDDOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExpScaled: the kernels' exponential agrees with math.Exp to 4e-16
// relative on [−708, 0], is 0 below, and its two implementations agree
// bit for bit.
func TestExpScaled(t *testing.T) {
	rng := NewRand(2)
	src := make([]float64, 10003)
	for i := range src {
		switch i % 3 {
		case 0:
			src[i] = rng.Float64() * 708
		case 1:
			src[i] = rng.Float64() * 1e-6
		default:
			src[i] = rng.Float64() * 5
		}
	}
	src[0], src[1], src[2], src[3] = 0, MinSqDist, 708.5, math.Inf(1)
	got, want := make([]float64, len(src)), make([]float64, len(src))
	expScaled(got, src, -1)
	expScaledGo(want, src, -1)
	for i, v := range src {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("exp(−%v): kernel %v, portable %v", v, got[i], want[i])
		}
		if v > 708 {
			if got[i] != 0 {
				t.Errorf("exp(−%v) = %v, want 0", v, got[i])
			}
			continue
		}
		if e := math.Exp(-v); !relClose(got[i], e, 4e-16) {
			t.Errorf("exp(−%v) = %v, math.Exp %v", v, got[i], e)
		}
	}
}

// TestCmmdStatMatchesOldImplementation: the blocked Cholesky statistic
// against the Potrf/Potrs one it replaced, on random labellings of sizes
// that exercise every edge of the 4×3 blocking.
func TestCmmdStatMatchesOldImplementation(t *testing.T) {
	rng := NewRand(12)
	for _, N := range []int{4, 5, 7, 13, 26, 61, 130} {
		for _, h := range []int{1, 3, 4, 9} {
			x := gaussSample(rng, N, 3, nil)
			c := gaussSample(rng, N, 2, nil)
			ch := gaussSample(rng, h, 2, nil)
			K := GaussianKernelMatrix(x, x, []float64{1.1})
			L := GaussianKernelMatrix(c, c, []float64{0.7})
			lHeld := GaussianKernelMatrix(ch, c, []float64{0.7})
			side := redrawLabels(slices.Repeat([]float64{0.4}, N), rng)
			lam := [2]float64{math.Pow(2, -float64(rng.IntN(19))), math.Pow(2, -float64(rng.IntN(19)))}
			got, err := cmmdStat(K, L, lHeld, side, lam)
			if err != nil {
				t.Fatal(err)
			}
			want, err := oldCmmdStat(K, L, lHeld, side, lam)
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(got, want, 1e-9) {
				t.Errorf("N=%d h=%d λ=%v: %.15g, old %.15g", N, h, lam, got, want)
			}
		}
	}
}

// TestCholeskyBlocks: R·Rᵀ reproduces A, and the two solves invert it.
func TestCholeskyBlocks(t *testing.T) {
	rng := NewRand(13)
	for _, n := range []int{1, 2, 3, 4, 5, 11, 12, 13, 40} {
		g := gaussSample(rng, n, n+2, nil)
		var a mat.Dense
		a.Mul(g, g.T())
		ld := roundUp(n, 4)
		r := make([]float64, roundUp(n, 12)*ld)
		inv := make([]float64, n)
		rt := make([]float64, len(r))
		if !cholLower(n, a.RawMatrix().Data, n, r, ld, inv, rt) {
			t.Fatalf("n=%d: not positive definite", n)
		}
		want := make([]float64, len(r))
		reverseTranspose(n, r, inv, want, ld, make([]float64, n))
		if !slices.Equal(rt, want) {
			t.Errorf("n=%d: the reversed transpose written while factoring differs", n)
		}
		for i := range n {
			for j := range i + 1 {
				var s float64
				for k := range j + 1 {
					s += r[i*ld+k] * r[j*ld+k]
				}
				if !relClose(s, a.At(i, j), 1e-10) && math.Abs(s-a.At(i, j)) > 1e-10 {
					t.Fatalf("n=%d: (R·Rᵀ)[%d,%d] = %v, A = %v", n, i, j, s, a.At(i, j))
				}
			}
		}
	}
	if cholLower(2, []float64{1, 2, 2, 1}, 2, make([]float64, 12*4), 4, make([]float64, 2), nil) {
		t.Error("indefinite matrix [[1 2] [2 1]] factored")
	}
}

func BenchmarkOldContextMMD(b *testing.B) {
	for _, n := range []int{100, 200} {
		b.Run(fmt.Sprintf("n_%d", n), func(b *testing.B) {
			rng := NewRand(9)
			x, cx := ctxSample(rng, n, 0, 0)
			y, cy := ctxSample(rng, n, 0.3, 0)
			defer cpuTimer(b)()
			for b.Loop() {
				if _, err := oldContextMMD(x, y, cx, cy, ContextMMDOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLSDDAndContextMatchOldImplementation: whole-detector results against
// the replaced implementations on fixed inputs.
func TestLSDDAndContextMatchOldImplementation(t *testing.T) {
	for _, c := range oracleCases() {
		rng := NewRand(uint64(c.n*1000 + c.d))
		x := gaussSample(rng, c.n, c.d, nil)
		y := gaussSample(rng, c.m, c.d, []float64{c.shift, c.shift})
		o := LSDDOptions{Seed: 5, NPermutations: 200}
		got, err := LSDD(x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		want, err := oldLSDD(x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got.Statistic, want.Statistic, 1e-6) || got.PValue != want.PValue || got.Drift != want.Drift {
			t.Errorf("lsdd %s: %v p %v, old %v p %v", c.name, got.Statistic, got.PValue, want.Statistic, want.PValue)
		}
	}
	for _, n := range []int{40, 90} {
		for _, shift := range []float64{0, 0.5} {
			rng := NewRand(uint64(n))
			x, cx := ctxSample(rng, n, 0, 0)
			y, cy := ctxSample(rng, n+7, 0.4, shift)
			o := ContextMMDOptions{Seed: 4, NPermutations: 300}
			got, err := ContextMMD(x, y, cx, cy, o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := oldContextMMD(x, y, cx, cy, o)
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(got.Statistic, want.Statistic, 1e-6) || got.PValue != want.PValue || got.Drift != want.Drift {
				t.Errorf("context_mmd n=%d shift=%v: %v p %v, old %v p %v", n, shift, got.Statistic, got.PValue, want.Statistic, want.PValue)
			}
		}
	}
}

// cpuTimer reports, next to the wall-clock ns/op, the process's CPU time
// per operation (user + system, from getrusage) as cpu-ms/op: on a
// machine shared with other work, a single-threaded benchmark's CPU time
// moves much less than its wall-clock time. Call it right before the loop
// and defer the returned function.
func cpuTimer(b *testing.B) func() {
	start := cpuSeconds()
	return func() {
		b.ReportMetric((cpuSeconds()-start)*1e3/float64(b.N), "cpu-ms/op")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// reverseTranspose (the reference for cholLower's rt) writes P·Rᵀ·P (P the order reversal), lower triangular
// again, into out (stride ld, zeroed): out(i, k) = R(n−1−k, n−1−i); and
// the reversed inv into invOut.
func reverseTranspose(n int, r, inv []float64, out []float64, ld int, invOut []float64) {
	// In 8×8 tiles, so that both the reads and the writes stay in cache.
	const t = 8
	for k0 := 0; k0 < n; k0 += t {
		for i0 := 0; i0 < n; i0 += t {
			for k := k0; k < min(k0+t, n); k++ {
				src := r[(n-1-k)*ld : (n-1-k)*ld+n]
				for i := max(i0, k); i < min(i0+t, n); i++ {
					out[i*ld+k] = src[n-1-i]
				}
			}
		}
	}
	for i := range n {
		invOut[i] = inv[n-1-i]
	}
}

// TestContextLambdaAndPropensitiesMatchOld: the λ search (now O(n_i²) per
// candidate) picks the same λ as the replaced one, and the propensity
// model (its Hessian now on the dot kernel) gives the same propensities
// within 1e-6: Newton's method stops when a step improves the objective
// by less than 1e-10 relative, so a Hessian rounded differently may stop
// one step earlier or later (seen: 5e-9 apart).
func TestContextLambdaAndPropensitiesMatchOld(t *testing.T) {
	rng := NewRand(21)
	for trial := range 6 {
		n := 40 + 30*trial
		x := gaussSample(rng, n, 2, nil)
		c := gaussSample(rng, n, 1+trial%2, nil)
		K := GaussianKernelMatrix(x, x, []float64{1 + 0.2*float64(trial)})
		L := GaussianKernelMatrix(c, c, []float64{0.5 + 0.1*float64(trial)})
		got := pickContextLambda(K, L, 5, NewRand(uint64(trial)))
		want := oldPickContextLambda(K, L, 5, NewRand(uint64(trial)))
		if got != want {
			t.Errorf("n=%d: λ %v, old %v", n, got, want)
		}
		side := redrawLabels(slices.Repeat([]float64{0.5}, n), rng)
		p := contextPropensities(L, side, 5, NewRand(uint64(trial)))
		q := oldContextPropensities(L, side, 5, NewRand(uint64(trial)))
		for i := range p {
			if math.Abs(p[i]-q[i]) > 1e-6 {
				t.Fatalf("n=%d: propensity %d = %v, old %v", n, i, p[i], q[i])
			}
		}
	}
}

// TestCmmdWorkReuse: one workspace, reused unzeroed across labellings of
// varying window sizes (as a permutation worker does), agrees with the
// replaced statistic every time.
func TestCmmdWorkReuse(t *testing.T) {
	rng := NewRand(31)
	N, h := 57, 6
	x := gaussSample(rng, N, 2, nil)
	c := gaussSample(rng, N, 1, nil)
	ch := gaussSample(rng, h, 1, nil)
	K := GaussianKernelMatrix(x, x, []float64{1})
	L := GaussianKernelMatrix(c, c, []float64{0.6})
	lHeld := GaussianKernelMatrix(ch, c, []float64{0.6})
	ws := newCmmdWork(N, lHeld)
	for trial := range 40 {
		side := redrawLabels(slices.Repeat([]float64{0.05 + 0.9*rng.Float64()}, N), rng)
		lam := [2]float64{0.01, 0.02}
		got, err := ws.stat(K, L, side, lam)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := oldCmmdStat(K, L, lHeld, side, lam)
		if !relClose(got, want, 1e-9) {
			t.Fatalf("trial %d: %.15g, old %.15g", trial, got, want)
		}
	}
}
