package detectors

import (
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"
)

// scipyGolden mirrors testdata/scipy_golden.json, written by
// testdata/gen_scipy_golden.py with Debian's scipy 1.10.1.
type scipyGolden struct {
	ScipyVersion string `json:"scipy_version"`
	Pairs        []struct {
		Name string    `json:"name"`
		A    []float64 `json:"a"`
		B    []float64 `json:"b"`
	} `json:"pairs"`
	KS2Samp []struct {
		Name   string   `json:"name"`
		D      float64  `json:"d"`
		PAsymp float64  `json:"p_asymp"`
		PExact *float64 `json:"p_exact"`
	} `json:"ks_2samp"`
	KStwoSF []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	CvM []struct {
		Name        string   `json:"name"`
		Stat        float64  `json:"stat"`
		PAuto       float64  `json:"p_auto"`
		PAsymptotic float64  `json:"p_asymptotic"`
		PExact      *float64 `json:"p_exact"`
	} `json:"cramervonmises_2samp"`
	Wasserstein []struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	} `json:"wasserstein_distance"`
	Energy []struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	} `json:"energy_distance"`
	Chi2 []struct {
		Table [][]float64 `json:"table"`
		Stat  float64     `json:"stat"`
		P     float64     `json:"p"`
		DoF   int         `json:"dof"`
	} `json:"chi2_contingency"`
	Fisher []struct {
		Table     [4]int  `json:"table"`
		OddsRatio any     `json:"odds_ratio"` // a number, or "inf"/"nan"
		P         float64 `json:"p"`
	} `json:"fisher_exact"`
}

var (
	goldenOnce sync.Once
	golden     scipyGolden
	goldenErr  error
)

// loadScipyGolden reads testdata/scipy_golden.json once per test binary.
// A colleague's energy-distance test may use its Pairs and Energy entries.
func loadScipyGolden(t testing.TB) *scipyGolden {
	t.Helper()
	goldenOnce.Do(func() {
		b, err := os.ReadFile("testdata/scipy_golden.json")
		if err != nil {
			goldenErr = err
			return
		}
		goldenErr = json.Unmarshal(b, &golden)
	})
	if goldenErr != nil {
		t.Fatalf("loading scipy golden values: %v", goldenErr)
	}
	return &golden
}

// uniRelErr is |got − want| / max(|want|, tiny).
func uniRelErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

func TestKSScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	for i, want := range g.KS2Samp {
		pair := g.Pairs[i]
		if pair.Name != want.Name {
			t.Fatalf("golden file out of order: %s vs %s", pair.Name, want.Name)
		}
		d, p := KSTest(pair.A, pair.B, false)
		if e := uniRelErr(d, want.D); e > 1e-12 {
			t.Errorf("%s: D = %.15g, scipy %.15g", want.Name, d, want.D)
		}
		// scipy's kstwo is exact in these cases except where it uses the
		// Pelz–Good series (n > 140, n·D^1.5 > 1.4, n·D² < 2.2).
		if e := uniRelErr(p, want.PAsymp); e > 1e-6 {
			t.Errorf("%s: asymp p = %.15g, scipy %.15g (rel %.2g)", want.Name, p, want.PAsymp, e)
		}
		if want.PExact != nil {
			_, pe := KSTest(pair.A, pair.B, true)
			if e := uniRelErr(pe, *want.PExact); e > 1e-9 {
				t.Errorf("%s: exact p = %.15g, scipy %.15g (rel %.2g)", want.Name, pe, *want.PExact, e)
			}
		}
	}
}

func TestKolmogorovSFScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	worst := 0.0
	for _, c := range g.KStwoSF {
		got := KolmogorovSF(c.X, c.N)
		nf := float64(c.N)
		tol := 1e-9
		if c.N > 140 && nf*c.X*c.X < 2.2 && nf*math.Pow(c.X, 1.5) > 1.4 {
			tol = 3e-5 // scipy uses the Pelz–Good approximation here
		}
		if c.SF < 1e-300 {
			if got > 1e-300 {
				t.Errorf("n=%d x=%g: sf = %g, scipy %g", c.N, c.X, got, c.SF)
			}
			continue
		}
		e := uniRelErr(got, c.SF)
		worst = max(worst, e)
		if e > tol {
			t.Errorf("n=%d x=%.10g (√n·x=%.3g): sf = %.15g, scipy %.15g (rel %.2g)", c.N, c.X, math.Sqrt(nf)*c.X, got, c.SF, e)
		}
	}
	t.Logf("worst relative difference from scipy's kstwo.sf: %.2g", worst)
}

func TestFisherScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	for _, c := range g.Fisher {
		a, b, cc, d := c.Table[0], c.Table[1], c.Table[2], c.Table[3]
		or, p := FisherExact(a, b, cc, d)
		var wantOR float64
		switch v := c.OddsRatio.(type) {
		case float64:
			wantOR = v
		case string:
			if v == "inf" {
				wantOR = math.Inf(1)
			} else {
				wantOR = math.NaN()
			}
		}
		if !(or == wantOR || math.IsNaN(or) && math.IsNaN(wantOR) || uniRelErr(or, wantOR) < 1e-12) {
			t.Errorf("%v: odds ratio %g, scipy %g", c.Table, or, wantOR)
		}
		if e := uniRelErr(p, c.P); e > 1e-9 {
			t.Errorf("%v: p = %.15g, scipy %.15g (rel %.2g)", c.Table, p, c.P, e)
		}
	}
}

func TestCvMScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	for i, want := range g.CvM {
		pair := g.Pairs[i]
		stat, p := CvMTest(pair.A, pair.B)
		if e := uniRelErr(stat, want.Stat); e > 1e-9 {
			t.Errorf("%s: T = %.15g, scipy %.15g", want.Name, stat, want.Stat)
		}
		// Exact p-values are enumerations on both sides: 1e-9 relative.
		// The asymptotic ones are 1 − a series for the limiting CDF; scipy
		// stops its series early, which leaves it an absolute error up to
		// ~1e-9 in the far tail (p = 8.8e-10 where the limiting tail is
		// ~1e-16, at tn = 7.6): 1e-7 relative or 1e-9 absolute.
		tol, abs := 1e-9, 0.0
		if want.PExact == nil {
			tol, abs = 1e-7, 1e-9
		}
		if e := uniRelErr(p, want.PAuto); e > tol && math.Abs(p-want.PAuto) > abs {
			t.Errorf("%s: p = %.15g, scipy %.15g (rel %.2g)", want.Name, p, want.PAuto, e)
		}
	}
}
