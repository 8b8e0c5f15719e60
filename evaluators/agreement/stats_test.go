package agreement

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.15g, want %.15g (±%g)", name, got, want, tol)
	}
}

func TestCohenKappaExact(t *testing.T) {
	for _, tc := range []struct {
		name                string
		table               [][]float64
		kappa, po, pe, var_ float64
	}{
		// 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7,
		// p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4 (Wikipedia's worked example).
		// By hand: A = 0.4·(1 − 1.1·0.6)² + 0.3·(1 − 0.9·0.6)² = 0.10972,
		// B = 0.6²·(0.1·1.1² + 0.2·0.9²) = 0.10188, C = (0.4 − 0.5·0.6)² = 0.01,
		// var = (A + B − C) / (0.5²·50) = 0.016128.
		{"2x2 worked example", [][]float64{{20, 5}, {10, 15}}, 0.4, 0.7, 0.5, 0.016128},
		// Same p_o = 0.60, different margins: p_e = 0.54 → κ = 0.06/0.46 = 3/23;
		// p_e = 0.46 → κ = 0.14/0.54 = 7/27 (kappa's dependence on the margins).
		{"margins balanced", [][]float64{{45, 15}, {25, 15}}, 3.0 / 23, 0.6, 0.54, math.NaN()},
		{"margins skewed", [][]float64{{25, 35}, {5, 35}}, 7.0 / 27, 0.6, 0.46, math.NaN()},
		// Cohen (1960), the 3×3 example (proportions .44 .07 .09 / .05 .20 .05 /
		// .01 .03 .06, here ×200): p_o = .70, p_c = .41, κ = .29/.59 (".492").
		{"Cohen 1960", [][]float64{{88, 14, 18}, {10, 40, 10}, {2, 6, 12}}, 29.0 / 59, 0.7, 0.41, math.NaN()},
		// Perfect agreement: κ = 1 and the variance vanishes (A = 1, B = 0, C = 1).
		{"perfect", [][]float64{{7, 0}, {0, 3}}, 1, 1, 0.58, 0},
		// Complete disagreement with even margins: p_o = 0, p_e = 0.5, κ = −1.
		{"opposite", [][]float64{{0, 5}, {5, 0}}, -1, 0, 0.5, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := CohenKappa(tc.table)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "kappa", k.Kappa, tc.kappa, 1e-12)
			near(t, "p_o", k.Observed, tc.po, 1e-12)
			near(t, "p_e", k.Expected, tc.pe, 1e-12)
			if !math.IsNaN(tc.var_) {
				near(t, "var", k.SE*k.SE, tc.var_, 1e-12)
			}
			near(t, "lower", k.Lower, max(-1, k.Kappa-1.959963984540054*k.SE), 1e-12)
			near(t, "upper", k.Upper, min(1, k.Kappa+1.959963984540054*k.SE), 1e-12)
		})
	}
}

// TestCohenKappaSAS checks the standard error against SAS/STAT's PROC FREQ
// "Agreement Study" (two dermatologists rating 88 patients' skin condition):
// simple kappa 0.3449, ASE 0.0724, 95 % limits 0.2030 and 0.4868, as printed
// to four decimals.
func TestCohenKappaSAS(t *testing.T) {
	k, err := CohenKappa([][]float64{
		{10, 4, 1, 0},
		{5, 10, 12, 2},
		{2, 4, 12, 5},
		{0, 2, 6, 13},
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.N != 88 {
		t.Errorf("n = %d, want 88", k.N)
	}
	// κ exactly: p_o = 45/88, p_e = (15·17 + 29·20 + 23·31 + 21·20)/88².
	po, pe := 45.0/88, (15.0*17+29*20+23*31+21*20)/(88*88)
	near(t, "kappa (exact)", k.Kappa, (po-pe)/(1-pe), 1e-12)
	near(t, "kappa (SAS)", k.Kappa, 0.3449, 5e-5)
	near(t, "ASE (SAS)", k.SE, 0.0724, 5e-5)
	near(t, "lower (SAS)", k.Lower, 0.2030, 5e-5)
	near(t, "upper (SAS)", k.Upper, 0.4868, 5e-5)
}

func TestCohenKappaErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		table     [][]float64
		undefined bool
	}{
		{"empty", nil, false},
		{"not square", [][]float64{{1, 2}, {3}}, false},
		{"negative", [][]float64{{1, -2}, {3, 4}}, false},
		{"no items", [][]float64{{0, 0}, {0, 0}}, false},
		{"one category", [][]float64{{9, 0}, {0, 0}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := CohenKappa(tc.table)
			if err == nil {
				t.Fatalf("want an error, got %+v", k)
			}
			if errors.Is(err, ErrUndefined) != tc.undefined {
				t.Errorf("errors.Is(ErrUndefined) = %v, want %v (%v)", !tc.undefined, tc.undefined, err)
			}
		})
	}
}

func TestBinaryTable(t *testing.T) {
	tab, err := BinaryTable([]bool{true, true, false, false, true}, []bool{true, false, true, false, true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{2, 1}, {1, 1}}
	for i := range want {
		if !slices.Equal(tab[i], want[i]) {
			t.Fatalf("table = %v, want %v", tab, want)
		}
	}
	if _, err := BinaryTable([]bool{true}, nil); err == nil {
		t.Error("unequal lengths: want an error")
	}
}

func TestRanks(t *testing.T) {
	for _, tc := range []struct{ in, want []float64 }{
		{[]float64{10, 20, 20, 30}, []float64{1, 2.5, 2.5, 4}},
		{[]float64{3, 1, 2}, []float64{3, 1, 2}},
		{[]float64{5, 5, 5}, []float64{2, 2, 2}},
		{[]float64{0, 2, 0, 1, 0}, []float64{2, 5, 2, 4, 2}},
		{nil, []float64{}},
	} {
		if got := Ranks(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Ranks(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSpearmanExact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		x, y   []float64
		rho, p float64
	}{
		// scipy.stats.spearmanr's documented example (and its test against
		// R's cor.test): ρ = 0.8207826816681233, p = 0.08858700531354381.
		// By hand: y's ranks 1, 2, 3.5, 5, 3.5, so ρ = 8/√(10·9.5) = 8/√95.
		{"scipy doc example", []float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7}, 0.8207826816681233, 0.08858700531354381},
		// Ties on both sides: ranks 2, 2, 2, 4, 5 and 1, 3, 2, 5, 4 give
		// ρ = 7/√(8·10).
		{"ties", []float64{0, 0, 0, 1, 2}, []float64{1, 3, 2, 5, 4}, 7 / math.Sqrt(80), math.NaN()},
		// n = 4, two degrees of freedom: the t tail has the closed form
		// P(|T| ≥ t) = 1 − t/√(t² + 2), which for t = ρ√(2/(1−ρ²)) is 1 − |ρ|.
		{"n=4 closed form", []float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8, 0.2},
		// n = 3, one degree of freedom (Cauchy): p = 1 − (2/π)·atan|t|; ρ = 0.5
		// gives t = 1/√3, atan = π/6, p = 2/3.
		{"n=3 closed form", []float64{1, 2, 3}, []float64{1, 3, 2}, 0.5, 2.0 / 3},
		{"monotone", []float64{1, 2, 3, 4, 5}, []float64{1, 4, 9, 16, 25}, 1, 0},
		{"reversed", []float64{1, 2, 3, 4, 5}, []float64{9, 7, 5, 3, 1}, -1, 0},
		{"two pairs", []float64{1, 2}, []float64{3, 4}, 1, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SpearmanRho(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "rho", s.Rho, tc.rho, 1e-12)
			if tc.name == "ties" {
				return
			}
			near(t, "p", s.P, tc.p, 1e-12)
			// Symmetric in its arguments.
			s2, _ := SpearmanRho(tc.y, tc.x)
			near(t, "rho(y, x)", s2.Rho, s.Rho, 1e-15)
		})
	}
}

func TestSpearmanErrors(t *testing.T) {
	if _, err := SpearmanRho([]float64{1, 2, 3}, []float64{4, 4, 4}); !errors.Is(err, ErrUndefined) {
		t.Errorf("constant y: want ErrUndefined, got %v", err)
	}
	if _, err := SpearmanRho([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("unequal lengths: want an error")
	}
	if _, err := SpearmanRho([]float64{1}, []float64{1}); err == nil {
		t.Error("one pair: want an error")
	}
	if _, err := SpearmanRho([]float64{1, math.NaN(), 3}, []float64{1, 2, 3}); err == nil {
		t.Error("NaN: want an error")
	}
}

// TestNullRates checks the statistics' properties under independence: the
// kappa 95 % interval excludes 0, and Spearman's p falls below 0.05, about
// 5 % of the time over many seeds.
func TestNullRates(t *testing.T) {
	const runs, n = 1000, 200
	var kappaRejects, rhoRejects int
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 42))
		j, h := make([]bool, n), make([]bool, n)
		x, y := make([]float64, n), make([]float64, n)
		for i := range n {
			j[i], h[i] = rng.Float64() < 0.6, rng.Float64() < 0.7
			x[i], y[i] = float64(1+rng.IntN(5)), float64(1+rng.IntN(5)) // heavy ties
		}
		tab, _ := BinaryTable(j, h)
		k, err := CohenKappa(tab)
		if err != nil {
			t.Fatal(err)
		}
		if k.Lower > 0 || k.Upper < 0 {
			kappaRejects++
		}
		s, err := SpearmanRho(x, y)
		if err != nil {
			t.Fatal(err)
		}
		if s.P < 0.05 {
			rhoRejects++
		}
	}
	// 5 % of 1000 is 50 with a binomial SD of about 7; allow ±3 SD.
	for name, r := range map[string]int{"kappa CI excludes 0": kappaRejects, "spearman p < 0.05": rhoRejects} {
		if r < 29 || r > 71 {
			t.Errorf("%s in %d of %d null runs, want about 50", name, r, runs)
		}
	}
}

func TestBands(t *testing.T) {
	for _, tc := range []struct {
		k    float64
		want string
	}{
		{-0.01, "poor"}, {0, "slight"}, {0.2, "slight"}, {0.21, "fair"}, {0.4, "fair"},
		{0.41, "moderate"}, {0.6, "moderate"}, {0.61, "substantial"}, {0.8, "substantial"},
		{0.81, "almost perfect"}, {1, "almost perfect"}, {math.NaN(), "undefined"},
	} {
		if got := LandisKoch(tc.k); got != tc.want {
			t.Errorf("LandisKoch(%v) = %q, want %q", tc.k, got, tc.want)
		}
	}
	for _, tc := range []struct {
		r    float64
		want string
	}{
		{0.05, "negligible"}, {-0.1, "weak"}, {0.39, "weak"}, {0.4, "moderate"}, {-0.7, "strong"},
		{0.89, "strong"}, {0.9, "very strong"}, {math.NaN(), "undefined"},
	} {
		if got := CorrelationStrength(tc.r); got != tc.want {
			t.Errorf("CorrelationStrength(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
