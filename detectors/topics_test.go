package detectors

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Two obvious clusters in 1-D. The reference has 3 rows in each, the
// current window all 6 near 0: table [[3,3],[6,0]], expected [[4.5,1.5],
// [4.5,1.5]], Yates-corrected |O−E| = 1, chi² = 2·(1/4.5 + 1/1.5) = 16/9,
// p = P(χ²₁ ≥ 16/9) = 0.18242.
func TestTopicDriftHandChecked(t *testing.T) {
	ref := mat.NewDense(6, 1, []float64{0, 0.1, 0.2, 10, 10.1, 10.2})
	cur := mat.NewDense(6, 1, []float64{0, 0.05, 0.1, 0.15, 0.2, 0.25})
	r, err := TopicDrift(ref, cur, 2, TopicOptions{Seed: 1, FitFraction: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Statistic-16.0/9) > 1e-12 {
		t.Errorf("chi² = %v, want 16/9", r.Statistic)
	}
	if math.Abs(r.PValue-0.18242) > 1e-4 {
		t.Errorf("p = %v, want 0.18242", r.PValue)
	}
	if r.Drift {
		t.Error("drift at p = 0.18")
	}
	rc := slices.Sorted(slices.Values(r.Params["ref_counts"].([]int)))
	cc := slices.Sorted(slices.Values(r.Params["cur_counts"].([]int)))
	if !slices.Equal(rc, []int{3, 3}) || !slices.Equal(cc, []int{0, 6}) {
		t.Errorf("counts ref %v cur %v, want [3 3] and [6 0]", r.Params["ref_counts"], r.Params["cur_counts"])
	}
	if r.Params["k"] != 2 || r.Params["dof"] != 1 {
		t.Errorf("params %v", r.Params)
	}
	if want := 3.841458820694124; math.Abs(r.Threshold-want) > 1e-9 {
		t.Errorf("threshold %v, want χ²₁ critical value %v", r.Threshold, want)
	}
	// The same window against itself: no drift, chi² 0, p 1.
	r, err = TopicDrift(ref, ref, 2, TopicOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Statistic != 0 || r.PValue != 1 || r.Drift {
		t.Errorf("self-comparison: %+v", r)
	}
}

func TestKMeansFindsSeparatedClusters(t *testing.T) {
	rng := NewRand(3)
	x := topicMixture(rng, 400, []float64{0.25, 0.25, 0.25, 0.25})
	km, err := FitKMeans(x, 4, TopicOptions{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	c := km.Centroids()
	// Every planted centre has a centroid within 0.5.
	for j := 0; j < 4; j++ {
		centre := make([]float64, topicDim)
		centre[j] = topicSep
		best := math.Inf(1)
		for l := 0; l < 4; l++ {
			best = math.Min(best, math.Sqrt(kmeansSqDist(centre, c.RawRowView(l))))
		}
		if best > 0.5 {
			t.Errorf("planted centre %d: nearest centroid %.3f away", j, best)
		}
	}
	var total int
	for _, s := range km.Sizes {
		total += s
	}
	if total != 400 || km.NIter < 1 {
		t.Errorf("sizes %v, iterations %d", km.Sizes, km.NIter)
	}
	// Deterministic under the seed.
	km2, _ := FitKMeans(x, 4, TopicOptions{Seed: 9})
	if !mat.Equal(km.Centroids(), km2.Centroids()) {
		t.Error("same seed, different centroids")
	}
}

// Under the null (both windows from the same 4-topic mixture) the alarm
// count over 300 seeded trials is not above the 99 % binomial interval of
// p_val. (The test is somewhat conservative because the reference counts
// come from the sample the clusters were fitted on: over 3000 trials,
// n = m = 100, the rate was 0.044 for k = 4 on this mixture, 0.029 for k = 4
// on a single Gaussian, 0.028 for k = 8, 0.042 for k = 2 with Yates.) when one topic's share grows from 25 % to 55 % the test alarms in
// at least 90 % of 100 trials (n = m = 200, k = 4).
func TestTopicDriftRates(t *testing.T) {
	even := []float64{0.25, 0.25, 0.25, 0.25}
	skew := []float64{0.55, 0.15, 0.15, 0.15}
	const trials, n = 300, 100
	alarms := 0
	for s := 0; s < trials; s++ {
		rng := NewRand(uint64(1000 + s))
		r, err := TopicDrift(topicMixture(rng, n, even), topicMixture(rng, n, even), 4, TopicOptions{Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			alarms++
		}
	}
	lo, hi := binom99(trials, DefaultPVal)
	t.Logf("null: %d/%d alarms (99%% interval [%d, %d])", alarms, trials, lo, hi)
	if alarms > hi {
		t.Errorf("null alarm count %d above the 99%% interval [%d, %d]", alarms, lo, hi)
	}
	hits := 0
	for s := 0; s < 100; s++ {
		rng := NewRand(uint64(5000 + s))
		r, err := TopicDrift(topicMixture(rng, 200, even), topicMixture(rng, 200, skew), 4, TopicOptions{Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			hits++
		}
	}
	t.Logf("power: %d/100", hits)
	if hits < 90 {
		t.Errorf("power %d/100, want >= 90", hits)
	}
}

func TestTopicOptionsValidate(t *testing.T) {
	err := TopicOptions{PVal: 2, MaxIter: -1, Tol: -1, NInit: -1}.Validate()
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, key := range []string{"p_val", "max_iter", "tol", "n_init"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	x := mat.NewDense(3, 1, []float64{1, 2, 3})
	if _, err := TopicDrift(x, x, 4, TopicOptions{}); err == nil {
		t.Error("k > n accepted")
	}
	if _, err := TopicDrift(x, mat.NewDense(3, 2, nil), 2, TopicOptions{}); err == nil {
		t.Error("mismatched dimensions accepted")
	}
}

const (
	topicDim = 5
	topicSep = 4.0
)

// topicMixture draws n rows from a mixture of unit Gaussians centred at
// topicSep·e_j with the given weights.
func topicMixture(rng *rand.Rand, n int, w []float64) *mat.Dense {
	x := mat.NewDense(n, topicDim, nil)
	for i := 0; i < n; i++ {
		u, comp := rng.Float64(), len(w)-1
		for j, wj := range w {
			if u < wj {
				comp = j
				break
			}
			u -= wj
		}
		row := x.RawRowView(i)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		row[comp] += topicSep
	}
	return x
}

// binom99 is the central 99 % interval [lo, hi] of Binomial(n, p): the
// 0.5 % and 99.5 % quantiles.
func binom99(n int, p float64) (lo, hi int) {
	b := distuv.Binomial{N: float64(n), P: p}
	lo, hi = 0, n
	for k := 0; k <= n; k++ {
		if b.CDF(float64(k)) >= 0.005 {
			lo = k
			break
		}
	}
	for k := 0; k <= n; k++ {
		if b.CDF(float64(k)) >= 0.995 {
			hi = k
			break
		}
	}
	return lo, hi
}

func BenchmarkTopicDrift(b *testing.B) {
	rng := NewRand(1)
	const n, d, k = 1000, 384, 10
	x, y := mat.NewDense(n, d, nil), mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		c := rng.IntN(d)
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
			y.Set(i, j, rng.NormFloat64())
		}
		x.Set(i, c, x.At(i, c)+4)
		y.Set(i, c, y.At(i, c)+4)
	}
	b.Run("n1000_d384_k10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := TopicDrift(x, y, k, TopicOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Templated texts (support questions with order numbers) embedded
// lexically, more clusters asked for than there are templates: fitting and
// counting on the same reference rows lets spare clusters hug
// reference-only variants, which the current window then misses.
func templatedTopicNullRate(t *testing.T, fitFraction float64, trials int) int {
	t.Helper()
	templates := []string{"How do I reset my password?", "Where is my order number %d?", "Can I get a refund for order %d?",
		"My invoice %d looks wrong", "How do I change my shipping address?", "The app crashes when I log in"}
	rng := rand.New(rand.NewPCG(21, 22))
	e := LexicalEmbedder{Dim: 256, Seed: 3}
	draw := func() *mat.Dense {
		texts := make([]string, 300)
		for i := range texts {
			tpl := templates[rng.IntN(len(templates))]
			if strings.Contains(tpl, "%d") {
				tpl = strings.Replace(tpl, "%d", strconv.Itoa(100+rng.IntN(900)), 1)
			}
			texts[i] = tpl
		}
		return e.Embed(texts)
	}
	alarms := 0
	for s := 0; s < trials; s++ {
		r, err := TopicDrift(draw(), draw(), 8, TopicOptions{Seed: uint64(s), FitFraction: fitFraction})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drift {
			alarms++
		}
	}
	return alarms
}

func TestTopicDriftOverclusteredNull(t *testing.T) {
	const trials = 200
	alarms := templatedTopicNullRate(t, 0, trials)
	t.Logf("fit/count split: %d/%d false alarms", alarms, trials)
	if alarms > 18 { // Binomial(200, 0.05) 99 % upper bound
		t.Fatalf("%d false alarms in %d null trials (alpha 0.05)", alarms, trials)
	}
	if testing.Verbose() {
		t.Logf("fit and count on the whole reference: %d/%d false alarms", templatedTopicNullRate(t, 1, trials), trials)
	}
}
