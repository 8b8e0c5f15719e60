package detectors

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Four points on the axes: variance 2/3 along x and 1/6 along y (ddof 1),
// so the ratios are 0.8 and 0.2 and the components are the axes.
func TestPCAHandChecked(t *testing.T) {
	ref := mat.NewDense(4, 2, []float64{-1, 0, 1, 0, 0, -0.5, 0, 0.5})
	p, err := FitPCA(ref, 2)
	if err != nil {
		t.Fatal(err)
	}
	ev, ratio := p.ExplainedVariance(), p.ExplainedVarianceRatio()
	for i, want := range []float64{2.0 / 3, 1.0 / 6} {
		if math.Abs(ev[i]-want) > 1e-12 {
			t.Errorf("variance[%d] = %v, want %v", i, ev[i], want)
		}
	}
	for i, want := range []float64{0.8, 0.2} {
		if math.Abs(ratio[i]-want) > 1e-12 {
			t.Errorf("ratio[%d] = %v, want %v", i, ratio[i], want)
		}
	}
	got := p.Reduce(mat.NewDense(1, 2, []float64{2, 3}))
	if math.Abs(got.At(0, 0)-2) > 1e-12 || math.Abs(got.At(0, 1)-3) > 1e-12 {
		t.Errorf("Reduce((2,3)) = %v, want (2,3) (axes with positive sign)", mat.Formatted(got))
	}
}

// A rank-2 signal with variances 9 and 4 along two random orthonormal
// directions in 10 dimensions, plus noise of variance 0.01 per coordinate:
// two components keep > 99 % of the variance and span the planted plane.
func TestPCARecoversPlantedStructure(t *testing.T) {
	const n, d = 500, 10
	rng := NewRand(7)
	// Two orthonormal directions by Gram–Schmidt.
	a1, a2 := make([]float64, d), make([]float64, d)
	for j := range a1 {
		a1[j], a2[j] = rng.NormFloat64(), rng.NormFloat64()
	}
	normalise := func(v []float64) {
		var s float64
		for _, x := range v {
			s += x * x
		}
		for j := range v {
			v[j] /= math.Sqrt(s)
		}
	}
	normalise(a1)
	var dot float64
	for j := range a1 {
		dot += a1[j] * a2[j]
	}
	for j := range a2 {
		a2[j] -= dot * a1[j]
	}
	normalise(a2)
	ref := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		z1, z2 := 3*rng.NormFloat64(), 2*rng.NormFloat64()
		row := ref.RawRowView(i)
		for j := range row {
			row[j] = 5 + z1*a1[j] + z2*a2[j] + 0.1*rng.NormFloat64()
		}
	}
	p, err := FitPCA(ref, 2)
	if err != nil {
		t.Fatal(err)
	}
	ratio := p.ExplainedVarianceRatio()
	if ratio[0]+ratio[1] < 0.99 {
		t.Errorf("two components keep %.4f of the variance, want > 0.99", ratio[0]+ratio[1])
	}
	ev := p.ExplainedVariance()
	if math.Abs(ev[0]-9) > 1.5 || math.Abs(ev[1]-4) > 0.8 {
		t.Errorf("component variances %v, want about 9 and 4", ev)
	}
	c := p.Components()
	// Each planted direction lies in the span of the two components.
	for name, a := range map[string][]float64{"a1": a1, "a2": a2} {
		var inSpan float64
		for k := 0; k < 2; k++ {
			var proj float64
			for j := 0; j < d; j++ {
				proj += a[j] * c.At(j, k)
			}
			inSpan += proj * proj
		}
		if inSpan < 0.99 {
			t.Errorf("%s: squared norm of its projection on the components = %.4f, want > 0.99", name, inSpan)
		}
	}
	// First component ≈ ±a1.
	var cos float64
	for j := 0; j < d; j++ {
		cos += a1[j] * c.At(j, 0)
	}
	if math.Abs(cos) < 0.98 {
		t.Errorf("|cos(component 1, a1)| = %.4f, want > 0.98", math.Abs(cos))
	}
	// Centred by the reference: the reference's scores have zero mean.
	scores := p.Reduce(ref)
	for k := 0; k < 2; k++ {
		var m float64
		for i := 0; i < n; i++ {
			m += scores.At(i, k)
		}
		if math.Abs(m/n) > 1e-9 {
			t.Errorf("mean score on component %d = %v, want 0", k, m/n)
		}
	}
}

func TestFitPCAErrors(t *testing.T) {
	ref := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 7})
	for _, k := range []int{0, 3, -1} {
		if _, err := FitPCA(ref, k); err == nil {
			t.Errorf("FitPCA(k=%d) succeeded", k)
		}
	}
	if _, err := FitPCA(mat.NewDense(1, 2, []float64{1, 2}), 1); err == nil {
		t.Error("FitPCA on one row succeeded")
	}
	if _, err := FitPCA(nil, 1); err == nil {
		t.Error("FitPCA(nil) succeeded")
	}
}

// Johnson–Lindenstrauss: 60 points in 1000 dimensions projected to 300 keep
// every pairwise distance within ±25 % and the mean squared-distance ratio
// within 3 % of 1 (for k = 300 the ratio of squared distances has standard
// deviation √(2/k) ≈ 0.08).
func TestRandomProjectionPreservesDistances(t *testing.T) {
	const n, d, k = 60, 1000, 300
	rng := NewRand(11)
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	rp := NewRandomProjection(d, k, 42)
	y := rp.Reduce(x)
	if r, c := y.Dims(); r != n || c != k {
		t.Fatalf("Reduce gives %d×%d, want %d×%d", r, c, n, k)
	}
	var sum float64
	var pairs int
	worst := 0.0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx := reduceTestSqDist(x.RawRowView(i), x.RawRowView(j))
			dy := reduceTestSqDist(y.RawRowView(i), y.RawRowView(j))
			r := dy / dx
			sum += r
			pairs++
			worst = math.Max(worst, math.Abs(math.Sqrt(r)-1))
		}
	}
	if worst > 0.25 {
		t.Errorf("worst distance distortion %.3f, want ≤ 0.25", worst)
	}
	if mean := sum / float64(pairs); math.Abs(mean-1) > 0.03 {
		t.Errorf("mean squared-distance ratio %.4f, want 1 ± 0.03", mean)
	}
	// Deterministic under the seed; a different seed differs.
	if !mat.Equal(NewRandomProjection(d, k, 42).Reduce(x), y) {
		t.Error("same seed, different projection")
	}
	if mat.Equal(NewRandomProjection(d, k, 43).Reduce(x), y) {
		t.Error("different seeds, same projection")
	}
}

func reduceTestSqDist(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

func BenchmarkReducers(b *testing.B) {
	rng := NewRand(1)
	const n, d, k = 1000, 384, 32
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	b.Run("fit_pca_n1000_d384_k32", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FitPCA(x, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	rp := NewRandomProjection(d, k, 1)
	b.Run("random_projection_n1000_d384_k32", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rp.Reduce(x)
		}
	})
}

// The reducers compose with the kernel tests: a shift of the reference's
// dominant factor (by half its standard deviation) survives PCA to 4
// dimensions and a random projection to 16, and MMD on the reduced windows
// detects it. (A PCA fitted on the reference keeps the directions the
// reference varies in; a shift orthogonal to all of them is mostly
// projected away: in a variant of this test with +0.25 in every coordinate
// instead, PCA gave p = 0.07 while the random projection detected it.)
func TestReducedMMD(t *testing.T) {
	const n, d = 100, 64
	rng := NewRand(21)
	draw := func(shift float64) *mat.Dense {
		x := mat.NewDense(n, d, nil)
		for i := 0; i < n; i++ {
			z := 3*rng.NormFloat64() + shift // the dominant factor
			for j := 0; j < d; j++ {
				x.Set(i, j, z*float64(j%2*2-1)/8+0.3*rng.NormFloat64())
			}
		}
		return x
	}
	ref, same, shifted := draw(0), draw(0), draw(1.5)
	pca, err := FitPCA(ref, 4)
	if err != nil {
		t.Fatal(err)
	}
	for name, red := range map[string]Reducer{"pca": pca, "random_projection": NewRandomProjection(d, 16, 3)} {
		r, err := MMD(red.Reduce(ref), red.Reduce(shifted), MMDOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Drift {
			t.Errorf("%s: factor shift not detected (p = %v)", name, r.PValue)
		}
		r, err = MMD(red.Reduce(ref), red.Reduce(same), MMDOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: p under the null %v", name, r.PValue)
	}
}
