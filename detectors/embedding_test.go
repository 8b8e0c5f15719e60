package detectors

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func embCol(v ...float64) *mat.Dense { return mat.NewDense(len(v), 1, v) }

// Hand-checked energy distances (scipy: energy_distance([0], [1]) = √2,
// energy_distance([0], [2]) = 2).
func TestEnergyDistanceHandChecked(t *testing.T) {
	tests := []struct {
		name string
		x, y *mat.Dense
		want float64
	}{
		// sqrt(2·1 − 0 − 0)
		{"{0},{1}", embCol(0), embCol(1), math.Sqrt2},
		{"{0},{2}", embCol(0), embCol(2), 2},
		// A = 1, B = (0+2+2+0)/4 = 1, C = 0: sqrt(2 − 1) = 1
		{"{0,2},{1}", embCol(0, 2), embCol(1), 1},
		{"{0,1},{1,0}", embCol(0, 1), embCol(1, 0), 0},
		// 2-D: ‖(3,4)‖ = 5, sqrt(2·5)
		{"(0,0),(3,4)", mat.NewDense(1, 2, []float64{0, 0}), mat.NewDense(1, 2, []float64{3, 4}), math.Sqrt(10)},
		// A = (5 + 5)/2 = 5, B = (0+6+6+0)/4 = 3 ... x = {(0,0),(6,0)}, y = {(3,4)}:
		// sqrt(2·5 − 3 − 0) = √7
		{"2-D three points", mat.NewDense(2, 2, []float64{0, 0, 6, 0}), mat.NewDense(1, 2, []float64{3, 4}), math.Sqrt(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EnergyDistance(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("EnergyDistance = %.15g, want %.15g", got, tc.want)
			}
		})
	}
	if !math.IsNaN(EnergyDistance(embCol(1), mat.NewDense(1, 2, nil))) || !math.IsNaN(EnergyDistance(nil, embCol(1))) {
		t.Error("mismatched or nil input does not give NaN")
	}
}

// 1-D values against scipy.stats.energy_distance (testdata/scipy_golden.json,
// scipy 1.10.1), for the pairs with n + m ≤ 1000 (larger ones would need
// hundreds of MB for the distance matrices).
func TestEnergyDistanceScipyGolden(t *testing.T) {
	g := loadScipyGolden(t)
	checked := 0
	for i, want := range g.Energy {
		pair := g.Pairs[i]
		if pair.Name != want.Name {
			t.Fatalf("golden file out of order: %s vs %s", pair.Name, want.Name)
		}
		if len(pair.A)+len(pair.B) > 1000 {
			continue
		}
		got := EnergyDistance(embCol(pair.A...), embCol(pair.B...))
		if e := uniRelErr(got, want.Value); e > 1e-9 {
			t.Errorf("%s: energy distance %.15g, scipy %.15g (rel %.2g)", want.Name, got, want.Value, e)
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("only %d golden pairs checked", checked)
	}
}

// x = {0, 0}, y = {10, 10}: of the 6 equally likely splits of the pooled
// {0, 0, 10, 10}, 2 reproduce the observed distance √20 and 4 give 0, so the
// permutation p-value tends to 1/3 and the threshold (the top 5 %) is √20.
func TestEnergyPermutationHandChecked(t *testing.T) {
	r, err := Energy(embCol(0, 0), embCol(10, 10), PermutationOptions{NPermutations: 3000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Statistic-math.Sqrt(20)) > 1e-12 {
		t.Errorf("statistic %v, want √20", r.Statistic)
	}
	if math.Abs(r.PValue-1.0/3) > 0.03 {
		t.Errorf("p = %v, want about 1/3", r.PValue)
	}
	if math.Abs(r.Threshold-math.Sqrt(20)) > 1e-12 {
		t.Errorf("threshold %v, want √20", r.Threshold)
	}
	if r.Drift || !r.HasPValue || r.NRef != 2 || r.NCur != 2 || r.Detector != "energy" {
		t.Errorf("result %+v", r)
	}
	if r.Params["n_permutations"] != 3000 || r.Params["p_val"] != DefaultPVal {
		t.Errorf("params %v", r.Params)
	}
}

// Same idea for the centroid: x = {(1,0),(1,0)}, y = {(0,1),(0,1)} are
// orthogonal (distance 1); mixed splits have equal means (distance 0).
func TestCentroidCosineHandChecked(t *testing.T) {
	x := mat.NewDense(2, 2, []float64{1, 0, 1, 0})
	y := mat.NewDense(2, 2, []float64{0, 1, 0, 1})
	r, err := CentroidCosine(x, y, PermutationOptions{NPermutations: 3000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Statistic-1) > 1e-12 || math.Abs(r.PValue-1.0/3) > 0.03 || r.Detector != "centroid_cosine" {
		t.Errorf("statistic %v p %v, want 1 and about 1/3", r.Statistic, r.PValue)
	}
	// 1 − cos 45°.
	r, err = CentroidCosine(mat.NewDense(1, 2, []float64{1, 0}), mat.NewDense(1, 2, []float64{1, 1}), PermutationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 - 1/math.Sqrt2; math.Abs(r.Statistic-want) > 1e-12 {
		t.Errorf("statistic %v, want %v", r.Statistic, want)
	}
	// Unequal sizes (the smaller group is the current one): means (2,0) and (0,3).
	r, err = CentroidCosine(mat.NewDense(3, 2, []float64{1, 0, 2, 0, 3, 0}), mat.NewDense(1, 2, []float64{0, 3}), PermutationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Statistic-1) > 1e-12 {
		t.Errorf("statistic %v, want 1", r.Statistic)
	}
}

func TestEmbeddingTestsDeterministic(t *testing.T) {
	rng := NewRand(5)
	x, y := embGaussRows(rng, 30, 4, 0), embGaussRows(rng, 25, 4, 0.3)
	for name, f := range map[string]func(x, y *mat.Dense, o PermutationOptions) (Result, error){
		"energy": Energy, "centroid": CentroidCosine,
	} {
		a, _ := f(x, y, PermutationOptions{Seed: 3})
		b, _ := f(x, y, PermutationOptions{Seed: 3})
		if a.PValue != b.PValue || a.Threshold != b.Threshold || a.Statistic != b.Statistic {
			t.Errorf("%s: same seed, different results: %+v vs %+v", name, a, b)
		}
		if a.Drift != (a.PValue < DefaultPVal) {
			t.Errorf("%s: Drift %v with p %v", name, a.Drift, a.PValue)
		}
	}
	// Energy's statistic is EnergyDistance, whichever sample is smaller.
	r, _ := Energy(x, y, PermutationOptions{})
	if math.Abs(r.Statistic-EnergyDistance(x, y)) > 1e-12 {
		t.Errorf("Energy statistic %v, EnergyDistance %v", r.Statistic, EnergyDistance(x, y))
	}
	r, _ = Energy(y, x, PermutationOptions{})
	if math.Abs(r.Statistic-EnergyDistance(x, y)) > 1e-12 {
		t.Errorf("Energy(y, x) statistic %v, EnergyDistance %v", r.Statistic, EnergyDistance(x, y))
	}
}

func TestPermutationOptionsValidate(t *testing.T) {
	err := PermutationOptions{PVal: 1.5, NPermutations: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "p_val") || !strings.Contains(err.Error(), "n_permutations") {
		t.Errorf("Validate = %v, want errors naming p_val and n_permutations", err)
	}
	if err := (PermutationOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if _, err := Energy(embCol(1), mat.NewDense(1, 2, nil), PermutationOptions{}); err == nil {
		t.Error("Energy accepted mismatched dimensions")
	}
	if _, err := CentroidCosine(embCol(1), embCol(2), PermutationOptions{PVal: -1}); err == nil {
		t.Error("CentroidCosine accepted p_val -1")
	}
}

// False alarms under the null within the 99 % binomial interval of the
// permutation test's exact level ⌈αB⌉/(B+1) = 5/101, over 1000 seeded trials
// (n = m = 20, d = 8, B = 100); power ≥ 0.9 over 100 trials on a stated
// shift (n = m = 50).
func TestEmbeddingRates(t *testing.T) {
	const trials, n, d = 1000, 20, 8
	level := 5.0 / 101
	lo, hi := binom99(trials, level)
	// Embeddings with a common non-zero mean, as sentence embeddings have.
	mu := make([]float64, d)
	for j := range mu {
		mu[j] = 1
	}
	// A shift orthogonal to mu: the mean's direction turns.
	turn := make([]float64, d)
	for j := range turn {
		turn[j] = 0.4 * float64(1-2*(j%2))
	}
	shift := make([]float64, d)
	for j := range shift {
		shift[j] = 0.4
	}
	cases := []struct {
		name  string
		test  func(x, y *mat.Dense, o PermutationOptions) (Result, error)
		delta []float64
		about string
	}{
		{"energy", Energy, shift, "+0.4 in every coordinate (‖δ‖ = 1.13)"},
		{"centroid_cosine", CentroidCosine, turn, "±0.4 orthogonal to the mean direction (‖δ‖ = 1.13)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alarms := 0
			for s := 0; s < trials; s++ {
				rng := NewRand(uint64(7000 + s))
				x, y := embGaussAround(rng, n, mu, nil), embGaussAround(rng, n, mu, nil)
				r, err := tc.test(x, y, PermutationOptions{Seed: uint64(s)})
				if err != nil {
					t.Fatal(err)
				}
				if r.Drift {
					alarms++
				}
			}
			t.Logf("null: %d/%d alarms (99%% interval [%d, %d])", alarms, trials, lo, hi)
			if alarms < lo || alarms > hi {
				t.Errorf("null alarm count %d outside [%d, %d]", alarms, lo, hi)
			}
			hits := 0
			for s := 0; s < 100; s++ {
				rng := NewRand(uint64(9000 + s))
				x, y := embGaussAround(rng, 50, mu, nil), embGaussAround(rng, 50, mu, tc.delta)
				r, err := tc.test(x, y, PermutationOptions{Seed: uint64(s)})
				if err != nil {
					t.Fatal(err)
				}
				if r.Drift {
					hits++
				}
			}
			t.Logf("power on %s, n = m = 50, d = %d: %d/100", tc.about, d, hits)
			if hits < 90 {
				t.Errorf("power %d/100, want >= 90", hits)
			}
		})
	}
}

// embGaussRows draws n rows of N(shift·1, I_d).
func embGaussRows(rng *rand.Rand, n, d int, shift float64) *mat.Dense {
	x := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64()+shift)
		}
	}
	return x
}

// embGaussAround draws n rows of N(mu + delta, I) (delta may be nil).
func embGaussAround(rng *rand.Rand, n int, mu, delta []float64) *mat.Dense {
	x := mat.NewDense(n, len(mu), nil)
	for i := 0; i < n; i++ {
		row := x.RawRowView(i)
		for j := range row {
			row[j] = mu[j] + rng.NormFloat64()
			if delta != nil {
				row[j] += delta[j]
			}
		}
	}
	return x
}

func BenchmarkEnergy(b *testing.B) {
	for _, size := range []struct {
		name string
		n, d int
	}{{"n500_d384", 500, 384}, {"n1000_d384", 1000, 384}} {
		rng := NewRand(1)
		x, y := embGaussRows(rng, size.n, size.d, 0), embGaussRows(rng, size.n, size.d, 0)
		b.Run("energy_"+size.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Energy(x, y, PermutationOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("centroid_"+size.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CentroidCosine(x, y, PermutationOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
