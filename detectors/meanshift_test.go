package detectors

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestMeanZTestByHand: a = {1, 2, 3} (mean 2, s² 1), b = {4, 5, 6, 7}
// (mean 5.5, s² 5/3): z = 3.5 / sqrt(1/3 + 5/12) = 3.5 / sqrt(0.75),
// p = erfc(z/√2); constant samples give z 0 (equal) or ±Inf (different).
func TestMeanZTestByHand(t *testing.T) {
	z, p := MeanZTest([]float64{1, 2, 3}, []float64{4, 5, 6, 7})
	wantZ := 3.5 / math.Sqrt(0.75)
	if math.Abs(z-wantZ) > 1e-12 || math.Abs(p-math.Erfc(wantZ/math.Sqrt2)) > 1e-15 {
		t.Errorf("z, p = %v, %v; want %v, %v", z, p, wantZ, math.Erfc(wantZ/math.Sqrt2))
	}
	if z, p := MeanZTest([]float64{2, 2}, []float64{2, 2, 2}); z != 0 || p != 1 {
		t.Errorf("equal constants: %v, %v", z, p)
	}
	if z, p := MeanZTest([]float64{2, 2}, []float64{1, 1}); !math.IsInf(z, -1) || p != 0 {
		t.Errorf("different constants: %v, %v", z, p)
	}
}

// TestMeanShiftProperties: under no change the test fires at about p_val
// (400 seeds, n = m = 100, one feature); a shift of 0.5σ is found almost
// always; a change of spread alone is not its business.
func TestMeanShiftProperties(t *testing.T) {
	draw := func(seed uint64, shift, scale float64) (x, y *mat.Dense) {
		rng := NewRand(seed)
		x, y = mat.NewDense(100, 1, nil), mat.NewDense(100, 1, nil)
		for i := range 100 {
			x.Set(i, 0, rng.NormFloat64())
			y.Set(i, 0, rng.NormFloat64()*scale+shift)
		}
		return x, y
	}
	rate := func(shift, scale float64) float64 {
		fired := 0
		for seed := range uint64(400) {
			x, y := draw(seed, shift, scale)
			r, err := MeanShift(x, y, UnivariateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Drift {
				fired++
			}
		}
		return float64(fired) / 400
	}
	if fp := rate(0, 1); fp < 0.02 || fp > 0.09 {
		t.Errorf("false-positive rate %v at p_val 0.05", fp)
	}
	if pw := rate(0.5, 1); pw < 0.9 {
		t.Errorf("power %v against a 0.5σ shift", pw)
	}
	if sp := rate(0, 2); sp > 0.1 {
		t.Errorf("fires %v of the time on a spread change alone", sp)
	}
	if _, err := MeanShift(mat.NewDense(1, 1, []float64{1}), mat.NewDense(2, 1, []float64{1, 2}), UnivariateOptions{}); err == nil {
		t.Error("one row: no error")
	}
}
