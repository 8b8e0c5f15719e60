package detectors

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestUnivariateOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    UnivariateOptions
		want string // substring of the error; "" for valid
	}{
		{UnivariateOptions{}, ""},
		{UnivariateOptions{PVal: 0.01, Correction: "fdr", Exact: true, Bins: 20, Threshold: 0.2}, ""},
		{UnivariateOptions{PVal: 1}, "p_val"},
		{UnivariateOptions{PVal: -0.1}, "p_val"},
		{UnivariateOptions{PVal: math.NaN()}, "p_val"},
		{UnivariateOptions{Correction: "holm"}, "correction"},
		{UnivariateOptions{Bins: 1}, "bins"},
		{UnivariateOptions{Threshold: math.Inf(1)}, "threshold"},
	} {
		err := tc.o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.o, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one naming %s", tc.o, err, tc.want)
		}
	}
	// Every invalid field is reported, not just the first.
	err := UnivariateOptions{PVal: 2, Correction: "x", Bins: -1}.Validate()
	for _, key := range []string{"p_val", "correction", "bins"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("joined error %v does not name %s", err, key)
		}
	}
	if _, err := KS(mat.NewDense(2, 1, []float64{1, 2}), mat.NewDense(2, 1, []float64{1, 2}), UnivariateOptions{Correction: "holm"}); err == nil {
		t.Error("KS accepted an invalid correction")
	}
}

func TestUnivariateInputErrors(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6})
	bad := mat.NewDense(3, 2, []float64{1, 2, 3, math.NaN(), 5, 6})
	inf := mat.NewDense(3, 2, []float64{1, 2, 3, 4, math.Inf(-1), 6})
	for name, f := range map[string]func(x, y *mat.Dense, o UnivariateOptions) (Result, error){
		"KS": KS, "CvM": CvM, "PSIDist": PSIDist, "WassersteinDist": WassersteinDist, "JSDist": JSDist,
	} {
		if _, err := f(x, bad, UnivariateOptions{}); err == nil || !strings.Contains(err.Error(), "current sample: row 1, feature 1 is NaN") {
			t.Errorf("%s with NaN: %v", name, err)
		}
		if _, err := f(inf, x, UnivariateOptions{}); err == nil || !strings.Contains(err.Error(), "reference sample: row 2, feature 0 is -Inf") {
			t.Errorf("%s with -Inf: %v", name, err)
		}
		if _, err := f(x, mat.NewDense(3, 1, []float64{1, 2, 3}), UnivariateOptions{}); err == nil {
			t.Errorf("%s accepted mismatched features", name)
		}
	}
	if _, err := FisherBinary(x, mat.NewDense(3, 2, []float64{0, 1, 1, 0, 2, 0}), UnivariateOptions{}); err == nil || !strings.Contains(err.Error(), "current sample: row 0") {
		// x itself is not 0/1; the reference is checked first.
		if err == nil || !strings.Contains(err.Error(), "reference sample: row 0, feature 1 is 2") {
			t.Errorf("FisherBinary with non-binary values: %v", err)
		}
	}
	if _, err := Chi2([][]string{{"a", "b"}, {"a"}}, [][]string{{"a", "b"}}, UnivariateOptions{}); err == nil || !strings.Contains(err.Error(), "reference sample: row 1 has 1 features") {
		t.Errorf("Chi2 with a ragged row: %v", err)
	}
	if _, err := Fisher(5, 3, 1, 10, UnivariateOptions{}); err == nil {
		t.Error("Fisher accepted errors > total")
	}
}

func TestWrappersOnFixtures(t *testing.T) {
	a := []float64{.1, .4, .35, .8, .5, .9, .05, .6}
	b := []float64{.7, .95, .85, .3, 1.2, 1.1}
	r, err := KS(mat.NewDense(8, 1, a), mat.NewDense(6, 1, b), UnivariateOptions{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	if !uniClose(r.PValues[0], 0.1391941, 1e-6) || r.Drift || r.Threshold != 0.05 || r.NRef != 8 || r.NCur != 6 {
		t.Errorf("KS exact: %+v", r)
	}
	// Chi2 builds the DETECTORS.md 2×3 table [[10,20,30],[15,15,10]].
	var x, y [][]string
	for cat, n := range map[string][2]int{"a": {10, 15}, "b": {20, 15}, "c": {30, 10}} {
		for i := 0; i < n[0]; i++ {
			x = append(x, []string{cat})
		}
		for i := 0; i < n[1]; i++ {
			y = append(y, []string{cat})
		}
	}
	r, err = Chi2(x, y, UnivariateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !uniClose(r.Statistics[0], 8.035714285714285, 1e-12) || !uniClose(r.PValues[0], 0.017991476826658487, 1e-9) || !r.Drift {
		t.Errorf("Chi2: %+v", r)
	}
	r, err = Fisher(8, 10, 1, 6, UnivariateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Statistic != 20 || !uniClose(r.PValue, 0.034965034965034975, 1e-9) || !r.Drift {
		t.Errorf("Fisher: %+v", r)
	}
	// Distances give no verdict without a threshold.
	xs, ys := mat.NewDense(4, 1, []float64{0, 1, 2, 3}), mat.NewDense(4, 1, []float64{2, 3, 4, 5})
	r, _ = WassersteinDist(xs, ys, UnivariateOptions{})
	if r.Statistic != 2 || r.Drift || r.HasPValue {
		t.Errorf("Wasserstein without threshold: %+v", r)
	}
	r, _ = WassersteinDist(xs, ys, UnivariateOptions{Threshold: 1.5})
	if !r.Drift {
		t.Errorf("Wasserstein with threshold 1.5: %+v", r)
	}
}

// uniBinom99 is the central 99 % interval of Binomial(n, p).
func uniBinom99(n int, p float64) (lo, hi int) {
	b := distuv.Binomial{N: float64(n), P: p}
	lo, hi = -1, -1
	for k := 0; k <= n; k++ {
		c := b.CDF(float64(k))
		if lo < 0 && c >= 0.005 {
			lo = k
		}
		if hi < 0 && c >= 0.995 {
			hi = k
			break
		}
	}
	return lo, hi
}

func normalMatrix(rng *rand.Rand, n, d int, shift float64) *mat.Dense {
	m := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	for i := 0; i < n; i++ {
		m.Set(i, 0, m.At(i, 0)+shift) // shift the first feature only
	}
	return m
}

func categorical(rng *rand.Rand, n int, probs []float64) [][]string {
	out := make([][]string, n)
	for i := range out {
		u, k := rng.Float64(), 0
		for k < len(probs)-1 && u >= probs[k] {
			u -= probs[k]
			k++
		}
		out[i] = []string{"c" + strconv.Itoa(k)}
	}
	return out
}

// alarmRate runs trials seeded draws of test and counts Drift.
func alarmRate(t *testing.T, trials int, seed uint64, test func(rng *rand.Rand) (Result, error)) int {
	t.Helper()
	alarms := 0
	for s := 0; s < trials; s++ {
		r, err := test(NewRand(seed + uint64(s)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			alarms++
		}
	}
	return alarms
}

// TestUnivariateNullRates checks the false-alarm rate under the null: the
// number of alarms in the trials must lie in the central 99 % binomial
// interval of p_val. Fisher's exact test and the chi-square test with
// Yates' correction (k = 2) are conservative by construction (discrete
// p-values conditional on both margins; a continuity correction that
// shrinks the statistic), so for them only the upper bound is required and
// the rate is logged.
func TestUnivariateNullRates(t *testing.T) {
	const trials = 400
	lo, hi := uniBinom99(trials, DefaultPVal)
	for _, tc := range []struct {
		name         string
		conservative bool
		test         func(rng *rand.Rand) (Result, error)
	}{
		{"KS d=1 n=100", false, func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 100, 1, 0), normalMatrix(rng, 120, 1, 0), UnivariateOptions{})
		}},
		// Coprime sizes: with n = m = 40 the largest attainable exact
		// level below 0.05 is 0.0286 (D moves in steps of 1/40); with
		// 40 and 37 it is 0.0498.
		{"KS exact d=1 n=40 m=37", false, func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 40, 1, 0), normalMatrix(rng, 37, 1, 0), UnivariateOptions{Exact: true})
		}},
		{"KS bonferroni d=5 n=200", false, func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 200, 5, 0), normalMatrix(rng, 200, 5, 0), UnivariateOptions{})
		}},
		{"KS fdr d=5 n=200", false, func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 200, 5, 0), normalMatrix(rng, 200, 5, 0), UnivariateOptions{Correction: CorrectionFDR})
		}},
		{"CvM asymptotic n=100", false, func(rng *rand.Rand) (Result, error) {
			return CvM(normalMatrix(rng, 100, 1, 0), normalMatrix(rng, 80, 1, 0), UnivariateOptions{})
		}},
		{"CvM exact n=12", false, func(rng *rand.Rand) (Result, error) {
			return CvM(normalMatrix(rng, 12, 1, 0), normalMatrix(rng, 10, 1, 0), UnivariateOptions{})
		}},
		{"Chi2 k=4 n=200", false, func(rng *rand.Rand) (Result, error) {
			p := []float64{.4, .3, .2, .1}
			return Chi2(categorical(rng, 200, p), categorical(rng, 200, p), UnivariateOptions{})
		}},
		{"Chi2 k=2 (Yates) n=200", true, func(rng *rand.Rand) (Result, error) {
			p := []float64{.3, .7}
			return Chi2(categorical(rng, 200, p), categorical(rng, 200, p), UnivariateOptions{})
		}},
		{"Fisher rate 0.2 n=300", true, func(rng *rand.Rand) (Result, error) {
			return Fisher(binomialDraw(rng, 300, .2), 300, binomialDraw(rng, 300, .2), 300, UnivariateOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alarms := alarmRate(t, trials, 1000, tc.test)
			t.Logf("null: %d/%d alarms = %.3f (99%% interval [%d, %d])", alarms, trials, float64(alarms)/trials, lo, hi)
			if alarms > hi || (!tc.conservative && alarms < lo) {
				t.Errorf("null alarm count %d outside the 99%% interval [%d, %d]", alarms, lo, hi)
			}
		})
	}
}

func binomialDraw(rng *rand.Rand, n int, p float64) int {
	k := 0
	for i := 0; i < n; i++ {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

// TestUnivariatePower checks power ≥ 0.9 on stated shifts over 200 trials.
func TestUnivariatePower(t *testing.T) {
	const trials = 200
	for _, tc := range []struct {
		name string
		test func(rng *rand.Rand) (Result, error)
	}{
		{"KS n=200 mean +0.5σ", func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 200, 1, 0), normalMatrix(rng, 200, 1, 0.5), UnivariateOptions{})
		}},
		{"KS bonferroni d=5 n=200 one feature +0.5σ", func(rng *rand.Rand) (Result, error) {
			return KS(normalMatrix(rng, 200, 5, 0), normalMatrix(rng, 200, 5, 0.5), UnivariateOptions{})
		}},
		{"CvM n=200 mean +0.5σ", func(rng *rand.Rand) (Result, error) {
			return CvM(normalMatrix(rng, 200, 1, 0), normalMatrix(rng, 200, 1, 0.5), UnivariateOptions{})
		}},
		{"Chi2 n=300 (.4,.3,.2,.1)→(.25,.25,.25,.25)", func(rng *rand.Rand) (Result, error) {
			return Chi2(categorical(rng, 300, []float64{.4, .3, .2, .1}), categorical(rng, 300, []float64{.25, .25, .25, .25}), UnivariateOptions{})
		}},
		{"Fisher n=500 rate .10→.18", func(rng *rand.Rand) (Result, error) {
			return Fisher(binomialDraw(rng, 500, .10), 500, binomialDraw(rng, 500, .18), 500, UnivariateOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := alarmRate(t, trials, 7000, tc.test)
			t.Logf("power: %d/%d = %.3f", hits, trials, float64(hits)/trials)
			if float64(hits) < 0.9*trials {
				t.Errorf("power %d/%d below 0.9", hits, trials)
			}
		})
	}
}
