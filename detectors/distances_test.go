package detectors

import (
	"math"
	"testing"
)

func TestWasserstein1ScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	for i, want := range g.Wasserstein {
		pair := g.Pairs[i]
		if got := Wasserstein1(pair.A, pair.B); uniRelErr(got, want.Value) > 1e-9 {
			t.Errorf("%s: %.15g, scipy %.15g", want.Name, got, want.Value)
		}
	}
	// Hand-checkable: shifting a sample by c moves it by exactly c.
	if got := Wasserstein1([]float64{0, 1, 3}, []float64{2, 3, 5}); !uniClose(got, 2, 1e-15) {
		t.Errorf("shift by 2: got %g", got)
	}
}

func TestJensenShannon(t *testing.T) {
	for _, tc := range []struct {
		p, q []float64
		want float64
	}{
		{[]float64{1, 0}, []float64{0, 1}, 1},
		{[]float64{.2, .8}, []float64{2, 8}, 0}, // histograms are normalised
		// scipy.spatial.distance.jensenshannon(p, q, base=2)
		{[]float64{.5, .5}, []float64{1, 0}, 0.5579230452841438},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, 0.3918681606471551},
		{[]float64{0.1, 0.2, 0.7}, []float64{0.3, 0.3, 0.4}, 0.27366687589869926},
	} {
		if got := JensenShannon(tc.p, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("JS(%v, %v) = %.15g, want %.15g", tc.p, tc.q, got, tc.want)
		}
	}
	for _, bad := range [][2][]float64{{{1}, {1, 2}}, {{-1, 2}, {1, 2}}, {{0, 0}, {1, 2}}, {{math.NaN(), 1}, {1, 2}}} {
		if got := JensenShannon(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("JS(%v, %v) = %g, want NaN", bad[0], bad[1], got)
		}
	}
}

func TestPSI(t *testing.T) {
	ref := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := PSI(ref, ref, 4); got != 0 {
		t.Errorf("PSI(ref, ref) = %g, want 0", got)
	}
	// Two bins split at the reference median 5.5; every current value
	// falls below it: shares (.5, .5) against (1, ε).
	cur := []float64{1, 2, 2, 3, 5}
	want := (1-0.5)*math.Log(1/0.5) + (PSIEpsilon-0.5)*math.Log(PSIEpsilon/0.5)
	if got := PSI(ref, cur, 2); !uniClose(got, want, 1e-12) {
		t.Errorf("PSI = %.15g, want %.15g", got, want)
	}
	// Ties in the reference merge edges: a constant reference has one
	// edge, so two bins whatever bins asks for.
	if got := PSI([]float64{3, 3, 3, 3}, []float64{3, 4}, 10); !uniClose(got, (0.5-1)*math.Log(0.5)+(0.5-PSIEpsilon)*math.Log(0.5/PSIEpsilon), 1e-12) {
		t.Errorf("constant reference: PSI = %g", got)
	}
}

func TestCorrect(t *testing.T) {
	// DETECTORS.md: BH at q = 0.05 → drift, threshold 0.01 (p_(2) = .008 < .01).
	p := []float64{.001, .008, .039, .041, .042, .06, .074, .205, .212, .216}
	if drift, thr := Correct(p, 0.05, CorrectionFDR); !drift || !uniClose(thr, 0.01, 1e-12) {
		t.Errorf("fdr: got (%v, %g), want (true, 0.01)", drift, thr)
	}
	if drift, thr := Correct(p, 0.05, CorrectionBonferroni); !drift || !uniClose(thr, 0.005, 1e-12) {
		t.Errorf("bonferroni: got (%v, %g), want (true, 0.005)", drift, thr)
	}
	// No p_(i) below its BH line: no drift, threshold p_val/d.
	if drift, thr := Correct([]float64{.03, .5}, 0.05, CorrectionFDR); drift || !uniClose(thr, 0.025, 1e-12) {
		t.Errorf("fdr, none: got (%v, %g), want (false, 0.025)", drift, thr)
	}
	// Bonferroni rejects only below p_val/d; BH's step-up can go further.
	if drift, _ := Correct([]float64{.03, .04}, 0.05, ""); drift {
		t.Error("bonferroni: .03 ≥ .025 should not drift")
	}
	if drift, thr := Correct([]float64{.03, .04}, 0.05, CorrectionFDR); !drift || thr != 0.05 {
		t.Errorf("fdr: got (%v, %g), want (true, 0.05)", drift, thr)
	}
	if drift, thr := Correct(p, 0.05, "holm"); drift || !math.IsNaN(thr) {
		t.Errorf("unknown method: got (%v, %g)", drift, thr)
	}
}
