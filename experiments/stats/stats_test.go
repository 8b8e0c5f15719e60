package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func TestWilcoxonHandChecked(t *testing.T) {
	cases := []struct {
		name          string
		d             []float64
		wplus, wminus float64
		p             float64
		method        string
	}{
		// ranks 1..4, W- = 4; subsets of {1,2,3,4} with sum <= 4: {},1,2,3,4,12,13 = 7 of 16
		{"four", []float64{1, 2, 3, -4}, 6, 4, 2 * 7.0 / 16, WilcoxonExact},
		// all positive: only the empty subset has sum 0: p = 2/32
		{"all_positive", []float64{1, 2, 3, 4, 5}, 15, 0, 2.0 / 32, WilcoxonExact},
		// zeros are dropped before ranking
		{"zeros_dropped", []float64{0, 0, 1, 2, 3, 4, 5}, 15, 0, 2.0 / 32, WilcoxonExact},
		// no non-zero difference: nothing to test
		{"all_zero", []float64{0, 0, 0}, 0, 0, 1, WilcoxonExact},
		// ties |1|,|1|,|1| get rank 2 each, |2| rank 4: W+ = 2+2+4 = 8, W- = 2.
		// normal: mean 5, var 4·5·9/24 - (27-3)/48 = 7.5 - 0.5 = 7,
		// z = (2 - 5 + 0.5)/sqrt(7)
		{"ties_normal", []float64{1, 1, -1, 2}, 8, 2, 2 * normCDF(-2.5/math.Sqrt(7)), WilcoxonNormal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Wilcoxon(c.d)
			near(t, "W+", r.WPlus, c.wplus, 0)
			near(t, "W-", r.WMinus, c.wminus, 0)
			near(t, "p", r.P, c.p, 1e-12)
			if r.Method != c.method {
				t.Errorf("method %s, want %s", r.Method, c.method)
			}
		})
	}
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

type golden struct {
	Wilcoxon []struct {
		Name      string    `json:"name"`
		D         []float64 `json:"d"`
		Method    string    `json:"method"`
		Statistic float64   `json:"statistic"`
		P         float64   `json:"p"`
	} `json:"wilcoxon"`
	McNemar []struct {
		B, C int
		P    float64
	} `json:"mcnemar"`
	Wilson []struct {
		K, N   int
		Lo, Hi float64
	} `json:"wilson"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/scipy_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Wilcoxon) < 10 || len(g.McNemar) < 10 || len(g.Wilson) < 5 {
		t.Fatalf("golden file too short: %d/%d/%d cases", len(g.Wilcoxon), len(g.McNemar), len(g.Wilson))
	}
	return g
}

// TestWilcoxonScipyGolden compares with scipy.stats.wilcoxon (testdata/gen_scipy.py).
func TestWilcoxonScipyGolden(t *testing.T) {
	for _, c := range loadGolden(t).Wilcoxon {
		t.Run(c.Name, func(t *testing.T) {
			r := Wilcoxon(c.D)
			if r.Method != c.Method {
				t.Fatalf("method %s, scipy case made with %s", r.Method, c.Method)
			}
			near(t, "statistic", r.Statistic, c.Statistic, 1e-9)
			near(t, "p", r.P, c.P, 1e-9*math.Max(1, c.P))
		})
	}
}

func TestMcNemarExactDefinition(t *testing.T) {
	// b=6, c=1: 2·(C(7,0)+C(7,1))/2^7 = 2·8/128
	near(t, "p(6,1)", McNemarExactP(6, 1), 16.0/128, 1e-15)
	near(t, "p(5,0)", McNemarExactP(5, 0), 2.0/32, 1e-15)
	near(t, "p(3,3)", McNemarExactP(3, 3), 1, 0)
	near(t, "p(0,0)", McNemarExactP(0, 0), 1, 0)
	// symmetric in b and c
	near(t, "p(2,9)", McNemarExactP(2, 9), McNemarExactP(9, 2), 1e-15)
	// against a direct sum of the binomial pmf, with big-number binomials
	for _, bc := range [][2]int{{10, 2}, {25, 12}, {40, 60}, {1, 0}} {
		n, k := bc[0]+bc[1], min(bc[0], bc[1])
		s := 0.0
		for i := 0; i <= k; i++ {
			s += binom(n, i) / math.Pow(2, float64(n))
		}
		near(t, "definition", McNemarExactP(bc[0], bc[1]), math.Min(1, 2*s), 1e-12)
	}
	for _, c := range loadGolden(t).McNemar {
		near(t, "scipy binomtest", McNemarExactP(c.B, c.C), c.P, 1e-10)
	}
	r, err := McNemar([]bool{true, true, true, false, false, true}, []bool{true, false, false, true, false, false})
	if err != nil {
		t.Fatal(err)
	}
	if r.BothPass != 1 || r.BasePassOnly != 3 || r.CandPassOnly != 1 || r.BothFail != 1 {
		t.Fatalf("counts %+v", r)
	}
	if _, err := McNemar([]bool{true}, nil); err == nil {
		t.Fatal("unequal lengths accepted")
	}
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

func TestWilsonScipyGolden(t *testing.T) {
	for _, c := range loadGolden(t).Wilson {
		r, err := WinRate(c.K, c.N-c.K, 0, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "lo", r.CI.Lo, c.Lo, 1e-9)
		near(t, "hi", r.CI.Hi, c.Hi, 1e-9)
	}
	r, _ := WinRate(3, 1, 2, 0.95) // ties count half in the rate: (3+1)/6
	near(t, "rate with ties", r.Rate, 4.0/6, 1e-15)
	near(t, "decisive rate", r.Decisive, 3.0/4, 1e-15)
	r0, _ := WinRate(3, 1, 0, 0.95) // ties leave the interval alone
	if r.CI != r0.CI {
		t.Errorf("ties moved the interval: %+v vs %+v", r.CI, r0.CI)
	}
	if r, _ := WinRate(0, 0, 5, 0.95); r.CI.Lo != 0 || r.CI.Hi != 1 || r.Rate != 0.5 {
		t.Errorf("all ties: %+v", r)
	}
	if _, err := WinRate(0, 0, 0, 0.95); err == nil {
		t.Fatal("win rate of nothing accepted")
	}
}

func TestPairedBootstrapExact(t *testing.T) {
	b, err := PairedBootstrap([]float64{0.25, 0.25, 0.25}, 1000, 0.95, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.CI.Lo != 0.25 || b.CI.Hi != 0.25 || b.MeanDiff != 0.25 {
		t.Fatalf("constant differences: %+v", b)
	}
	// d = {0, 1}: resample means 0, 1/2, 1 with probability 1/4, 1/2, 1/4;
	// the 2.5 % and 97.5 % quantiles are 0 and 1.
	b, _ = PairedBootstrap([]float64{0, 1}, 20000, 0.95, 7)
	if b.CI.Lo != 0 || b.CI.Hi != 1 || b.MeanDiff != 0.5 {
		t.Fatalf("{0,1}: %+v", b)
	}
	// seeded: same seed, same interval; another seed, another
	d := []float64{0.1, -0.3, 0.25, 0.4, -0.05, 0.2, 0.15, -0.1, 0.0123, 0.777, -0.4321, 0.0909}
	b1, _ := PairedBootstrap(d, 2000, 0.9, 42)
	b2, _ := PairedBootstrap(d, 2000, 0.9, 42)
	b3, _ := PairedBootstrap(d, 2000, 0.9, 43)
	if b1 != b2 {
		t.Fatalf("same seed, different results: %+v %+v", b1, b2)
	}
	if b1.CI == b3.CI {
		t.Fatalf("different seeds gave the identical interval %+v", b1.CI)
	}
	near(t, "mean", b1.MeanDiff, Mean(d), 0)
	for _, bad := range [][]float64{nil, {math.NaN()}, {math.Inf(1)}} {
		if _, err := PairedBootstrap(bad, 10, 0.95, 1); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestPairedBootstrapCoverage: the 95 % interval covers the true mean
// difference in about 95 % of samples (n = 40 normal differences, 400 seeds).
func TestPairedBootstrapCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	covered := 0
	const runs = 400
	for s := range runs {
		d := make([]float64, 40)
		for i := range d {
			d[i] = 0.3 + r.NormFloat64()
		}
		b, _ := PairedBootstrap(d, 2000, 0.95, uint64(s))
		if b.CI.Lo <= 0.3 && 0.3 <= b.CI.Hi {
			covered++
		}
	}
	// percentile intervals run slightly short at n = 40; 95 % ± 3 SE of 400 trials is 92–98 %
	if covered < 360 || covered > 393 {
		t.Fatalf("95%% interval covered the truth in %d of %d runs", covered, runs)
	}
}

func TestJudgeNoise(t *testing.T) {
	// var([1,3]) = 2 with 1 df, [2,2,2] 0 with 2 df, [5] nothing: 2/3
	n := JudgeNoise([][]float64{{1, 3}, {2, 2, 2}, {5}})
	if n.Items != 2 {
		t.Fatalf("items %d", n.Items)
	}
	near(t, "variance", n.Variance, 2.0/3, 1e-15)
	if z := JudgeNoise([][]float64{{1}, {2}}); z.Items != 0 || z.Variance != 0 {
		t.Fatalf("no repeats gave %+v", z)
	}
	// NoiseSE: var 0.5 each side, 2 repeats, 10 items: sqrt(0.5/20·2)
	near(t, "noise se", NoiseSE(Noise{Variance: 0.5}, Noise{Variance: 0.5}, 2, 2, 10), math.Sqrt(0.05), 1e-15)
}

func TestQuantileType7(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	near(t, "q0.5", Quantile(x, 0.5), 2.5, 0)
	near(t, "q0.25", Quantile(x, 0.25), 1.75, 1e-15)
	near(t, "q0", Quantile(x, 0), 1, 0)
	near(t, "q1", Quantile(x, 1), 4, 0)
}

func BenchmarkPairedBootstrap(b *testing.B) {
	for _, n := range []int{100, 1000} {
		d := make([]float64, n)
		r := rand.New(rand.NewPCG(1, 1))
		for i := range d {
			d[i] = r.NormFloat64()
		}
		b.Run(fmt.Sprintf("items_%d_resamples_10000", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PairedBootstrap(d, 10000, 0.95, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWilcoxon(b *testing.B) {
	for _, n := range []int{50, 1000} {
		d := make([]float64, n)
		r := rand.New(rand.NewPCG(1, 1))
		for i := range d {
			d[i] = r.NormFloat64()
		}
		b.Run(fmt.Sprintf("items_%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Wilcoxon(d)
			}
		})
	}
}
