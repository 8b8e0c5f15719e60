package detectors

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func col(v ...float64) *mat.Dense { return mat.NewDense(len(v), 1, v) }

// TestLearnedObjectiveFixture: the DETECTORS.md fixture, J for a plain
// Gaussian (σ = 1) on x = {0,1,2,3}, y = {.5,1.5,3.5,4}.
func TestLearnedObjectiveFixture(t *testing.T) {
	z := stackRows(col(0, 1, 2, 3), col(.5, 1.5, 3.5, 4))
	k := GaussianKernelMatrix(z, z, []float64{1})
	j, _ := learnedObjective(k, 4, false)
	if math.Abs(j-(-0.0377346974)) > 1e-9 {
		t.Fatalf("J = %.10f, want -0.0377346974", j)
	}
	// The deep kernel with ε = 1 is that plain Gaussian on the inputs.
	dk := &DeepKernel{D: 1, Hidden: 2, Features: 2, Mean: []float64{0}, Std: []float64{1}}
	dk.theta = make([]float64, dk.numParams())
	off := dk.offLogSigmaA()
	dk.theta[off] = 0    // σ_a = 1
	dk.theta[off+1] = 0  // σ_b = 1
	dk.theta[off+2] = 40 // ε = sigmoid(40) ≈ 1
	got := dk.objectiveAndGrad(col(0, 1, 2, 3), col(.5, 1.5, 3.5, 4), nil)
	if math.Abs(got-(-0.0377346974)) > 1e-8 {
		t.Fatalf("deep kernel with ε→1: J = %.10f, want -0.0377346974", got)
	}
}

// TestLearnedGradient checks the hand-written gradient of J with respect
// to every parameter (φ's weights and biases, log σ_a, log σ_b, logit ε)
// against central finite differences.
func TestLearnedGradient(t *testing.T) {
	rng := NewRand(3)
	x := gaussSample(rng, 6, 3, nil)
	y := gaussSample(rng, 6, 3, []float64{0.8, -0.4})
	k, err := newDeepKernel(x, LearnedKernelOptions{Hidden: 4, Features: 3}.withDefaults(), rng)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float64, len(k.theta))
	k.objectiveAndGrad(x, y, grad)
	const h = 1e-6
	worst := 0.0
	for i := range k.theta {
		orig := k.theta[i]
		k.theta[i] = orig + h
		jp := k.objectiveAndGrad(x, y, nil)
		k.theta[i] = orig - h
		jm := k.objectiveAndGrad(x, y, nil)
		k.theta[i] = orig
		fd := (jp - jm) / (2 * h)
		errAbs := math.Abs(fd - grad[i])
		if errAbs > 1e-5*math.Max(1, math.Abs(fd)) {
			t.Errorf("parameter %d: analytic %.8g, finite difference %.8g", i, grad[i], fd)
		}
		worst = math.Max(worst, errAbs)
	}
	t.Logf("%d parameters, largest |analytic − finite difference| %.2g", len(k.theta), worst)
}

// TestLearnedTrainingIncreasesObjective: on a shift confined to one of
// eight coordinates, training raises J on the training batches.
func TestLearnedTrainingIncreasesObjective(t *testing.T) {
	rng := NewRand(4)
	x := gaussSample(rng, 400, 8, nil)
	y := gaussSample(rng, 400, 8, []float64{0.7})
	_, k, err := LearnedKernelMMD(x, y, LearnedKernelOptions{Epochs: 20, LearningRate: 1e-2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("J %.3f → %.3f; σ_a %.3f σ_b %.3f ε %.3f", k.InitialObjective, k.FinalObjective, k.SigmaA(), k.SigmaB(), k.Epsilon())
	if !(k.FinalObjective > k.InitialObjective) {
		t.Fatalf("training did not raise J: %.4f → %.4f", k.InitialObjective, k.FinalObjective)
	}
}

// TestLearnedNullRate: N(0, I₄) against itself, 100 rows each (25 held out
// per side), defaults otherwise, over 200 seeded trials: the rejection
// rate is within the 99 % binomial interval around ⌈αB⌉/(B+1).
func TestLearnedNullRate(t *testing.T) {
	rng := NewRand(5)
	checkNullRate(t, "learned-kernel MMD", 200, 5.0/101, func(s int) (Result, error) {
		r, _, err := LearnedKernelMMD(gaussSample(rng, 100, 4, nil), gaussSample(rng, 100, 4, nil), LearnedKernelOptions{Seed: uint64(s)})
		return r, err
	})
}

// TestLearnedPower: N(0, I₄) against N((1, 0, 0, 0), I₄), 200 rows each
// (50 held out per side): power ≥ 0.9 over 50 trials.
func TestLearnedPower(t *testing.T) {
	rng := NewRand(6)
	checkPower(t, "learned-kernel MMD (mean +1 in one of 4 coordinates, n = m = 200)", 50, func(s int) (Result, error) {
		r, _, err := LearnedKernelMMD(gaussSample(rng, 200, 4, nil), gaussSample(rng, 200, 4, []float64{1}), LearnedKernelOptions{Seed: uint64(s)})
		return r, err
	})
}

func TestLearnedDeterministicAndValidation(t *testing.T) {
	rng := NewRand(7)
	x := gaussSample(rng, 60, 3, nil)
	y := gaussSample(rng, 50, 3, []float64{0.5})
	a, _, err := LearnedKernelMMD(x, y, LearnedKernelOptions{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := LearnedKernelMMD(x, y, LearnedKernelOptions{Seed: 9})
	if a.Statistic != b.Statistic || a.PValue != b.PValue {
		t.Fatalf("same seed, different results: %+v vs %+v", a, b)
	}
	if a.Params["n_test_ref"] != 15 || a.Params["n_test_cur"] != 13 || a.NRef != 60 {
		t.Fatalf("held-out sizes %v, %v (n_ref %d); want 15, 13 (60)", a.Params["n_test_ref"], a.Params["n_test_cur"], a.NRef)
	}
	_, _, err = LearnedKernelMMD(x, y, LearnedKernelOptions{TrainSize: 1.5, BatchSize: 1, LearningRate: -1})
	for _, want := range []string{"train_size", "batch_size", "learning_rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	if _, _, err := LearnedKernelMMD(x.Slice(0, 4, 0, 3).(*mat.Dense), y, LearnedKernelOptions{}); err == nil {
		t.Error("4 reference rows at train_size 0.75 leave 1 held out; want an error")
	}
}

func BenchmarkLearnedKernelMMD(b *testing.B) {
	rng := NewRand(8)
	x := gaussSample(rng, 1000, 384, nil)
	y := gaussSample(rng, 1000, 384, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := LearnedKernelMMD(x, y, LearnedKernelOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
