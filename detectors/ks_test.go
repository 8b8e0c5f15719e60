package detectors

import "testing"

func TestKSFixture(t *testing.T) {
	a := []float64{.1, .4, .35, .8, .5, .9, .05, .6}
	b := []float64{.7, .95, .85, .3, 1.2, 1.1}
	d, p := KSTest(a, b, false)
	_, pe := KSTest(a, b, true)
	t.Logf("d=%.10g p=%.10g exact=%.10g", d, p, pe)
	if !uniClose(d, 0.5833333333333334, 1e-12) || !uniClose(p, 0.1689815, 1e-6) || !uniClose(pe, 0.1391941, 1e-6) {
		t.Errorf("got D=%.10g p=%.10g exact=%.10g, want 0.5833333, 0.1689815, 0.1391941", d, p, pe)
	}
}

func TestKSExactHandChecked(t *testing.T) {
	for _, tc := range []struct {
		a, b  []float64
		d, pe float64
	}{
		// Fully separated samples: D = 1 and only the two extreme orderings
		// of C(n+m, n) reach it.
		{[]float64{1, 2}, []float64{3, 4}, 1, 2.0 / 6},
		{[]float64{1, 2, 3}, []float64{4, 5, 6}, 1, 2.0 / 20},
		// Identical samples: D = 0, p = 1.
		{[]float64{1, 2, 3}, []float64{1, 2, 3}, 0, 1},
	} {
		d, pe := KSTest(tc.a, tc.b, true)
		if d != tc.d || !uniClose(pe, tc.pe, 1e-14) {
			t.Errorf("KSTest(%v, %v, exact) = (%g, %.15g), want (%g, %.15g)", tc.a, tc.b, d, pe, tc.d, tc.pe)
		}
	}
	// One observation: D_1 = max(U, 1−U), so P(D_1 ≥ x) = 2(1 − x) on [½, 1].
	if got := KolmogorovSF(0.8, 1); !uniClose(got, 0.4, 1e-15) {
		t.Errorf("KolmogorovSF(0.8, 1) = %g, want 0.4", got)
	}
}
