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
