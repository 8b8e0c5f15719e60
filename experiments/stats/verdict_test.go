package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// noisyJudge simulates two chain versions judged by a noisy judge: item i
// has a true quality q_i in [0.3, 0.9]; each repeat's judge score is
// q_i - drop + N(0, 0.15²), clipped to [0, 1] and rounded to 0.05 (judges
// answer on a scale, so scores tie); the pass/fail metric is a
// Bernoulli(q_i - drop) draw per repeat.
func noisyJudge(r *rand.Rand, items, repeats int, drop float64) []MetricInput {
	score := MetricInput{Name: "judge_score", Kind: Continuous, Base: map[string][]float64{}, Cand: map[string][]float64{}}
	pass := MetricInput{Name: "judge_pass", Kind: Binary, Base: map[string][]float64{}, Cand: map[string][]float64{}}
	for i := range items {
		q := 0.3 + 0.6*r.Float64()
		id := fmt.Sprint(i)
		for range repeats {
			score.Base[id] = append(score.Base[id], judged(r, q))
			score.Cand[id] = append(score.Cand[id], judged(r, q-drop))
			pass.Base[id] = append(pass.Base[id], bern(r, q))
			pass.Cand[id] = append(pass.Cand[id], bern(r, q-drop))
		}
	}
	return []MetricInput{score, pass}
}

func judged(r *rand.Rand, q float64) float64 {
	s := math.Max(0, math.Min(1, q+0.15*r.NormFloat64()))
	return math.Round(s*20) / 20
}

func bern(r *rand.Rand, p float64) float64 {
	if r.Float64() < p {
		return 1
	}
	return 0
}

func failsGate(rs []MetricResult) bool {
	for _, m := range rs {
		if m.Verdict == Regression || m.Verdict == Error {
			return true
		}
	}
	return false
}

// binomUpper is the smallest k with P(X > k) < 0.001 for X ~ Binomial(n, p).
func binomUpper(n int, p float64) int {
	tail := 1.0
	for k := 0; k <= n; k++ {
		tail -= math.Exp(logChoose(n, k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
		if tail < 0.001 {
			return k
		}
	}
	return n
}

// TestGateUnderNull: two identical versions judged by a noisy judge; the
// regression gate (alpha 0.05 over two metrics) fails in at most alpha of
// 200 seeded runs, up to binomial sampling tolerance (P(X > limit) < 0.1 %).
func TestGateUnderNull(t *testing.T) {
	const runs, alpha = 200, 0.05
	fails := 0
	for s := range runs {
		r := rand.New(rand.NewPCG(uint64(s), 1))
		rs := Compare(noisyJudge(r, 40, 3, 0), Options{Alpha: alpha, Resamples: 2000, Seed: uint64(s)})
		if failsGate(rs) {
			fails++
		}
	}
	limit := binomUpper(runs, alpha)
	t.Logf("null: gate failed %d of %d runs (alpha %.2f, tolerance %d)", fails, runs, alpha, limit)
	if fails > limit {
		t.Fatalf("gate failed %d of %d runs of identical versions, more than alpha allows (%d)", fails, runs, limit)
	}
}

// TestGatePower: a planted drop of 0.08 in true quality (on a 0–1 judge
// score with judge noise SD 0.15, 40 items × 3 repeats; the pass rate drops
// by 8 points) fails the gate in at least 90 % of 200 seeded runs.
func TestGatePower(t *testing.T) {
	const runs = 200
	fails := 0
	for s := range runs {
		r := rand.New(rand.NewPCG(uint64(s), 2))
		rs := Compare(noisyJudge(r, 40, 3, 0.08), Options{Alpha: 0.05, Resamples: 2000, Seed: uint64(s)})
		if failsGate(rs) {
			fails++
		}
	}
	t.Logf("planted drop 0.08: gate failed %d of %d runs", fails, runs)
	if fails < 180 {
		t.Fatalf("gate caught the planted regression in %d of %d runs, want >= 90 %%", fails, runs)
	}
}

func TestCompareMetricVerdicts(t *testing.T) {
	mk := func(base, cand []float64) (map[string][]float64, map[string][]float64) {
		b, c := map[string][]float64{}, map[string][]float64{}
		for i := range base {
			b[fmt.Sprint(i)] = []float64{base[i]}
			c[fmt.Sprint(i)] = []float64{cand[i]}
		}
		return b, c
	}
	o := Options{Resamples: 2000, Seed: 1}
	// every item drops by exactly 0.1: interval [-0.1,-0.1]
	b, c := mk([]float64{0.5, 0.6, 0.7, 0.8}, []float64{0.4, 0.5, 0.6, 0.7})
	r := CompareMetric(MetricInput{Name: "rouge_l", Kind: Continuous, Base: b, Cand: c}, 0.95, o)
	if r.Verdict != Regression {
		t.Errorf("uniform drop 0.1, margin 0: %s (%s)", r.Verdict, r.Reason)
	}
	r = CompareMetric(MetricInput{Name: "rouge_l", Kind: Continuous, Margin: 0.15, Base: b, Cand: c}, 0.95, o)
	if r.Verdict != NonInferior {
		t.Errorf("uniform drop 0.1, margin 0.15: %s (%s)", r.Verdict, r.Reason)
	}
	// lower is better (latency): a uniform increase is a regression
	r = CompareMetric(MetricInput{Name: "latency", Kind: Continuous, LowerIsBetter: true, Base: c, Cand: b}, 0.95, o)
	if r.Verdict != Regression {
		t.Errorf("latency up: %s (%s)", r.Verdict, r.Reason)
	}
	// no valid scores: an error, never a pass
	r = CompareMetric(MetricInput{Name: "faithfulness", Kind: Continuous, Base: map[string][]float64{}, Cand: map[string][]float64{}, Errors: 12}, 0.95, o)
	if r.Verdict != Error {
		t.Errorf("no scores: %s", r.Verdict)
	}
	// pass/fail: 3/3 → 2/3 on one item among many is not a significant regression
	b, c = map[string][]float64{}, map[string][]float64{}
	for i := range 20 {
		b[fmt.Sprint(i)] = []float64{1, 1, 1}
		c[fmt.Sprint(i)] = []float64{1, 1, 1}
	}
	c["0"] = []float64{1, 0, 0}
	r = CompareMetric(MetricInput{Name: "exact", Kind: Binary, Base: b, Cand: c}, 0.95, o)
	if r.Verdict == Regression || r.McNemar == nil || r.McNemar.BasePassOnly != 1 {
		t.Errorf("one flipped item: %s %+v", r.Verdict, r.McNemar)
	}
	// six of twenty items flip from pass to fail: McNemar p = 2/64 < 0.05
	for i := range 6 {
		c[fmt.Sprint(i)] = []float64{0, 0, 0}
	}
	r = CompareMetric(MetricInput{Name: "exact", Kind: Binary, Base: b, Cand: c}, 0.95, o)
	if r.Verdict != Regression || math.Abs(r.McNemar.P-2.0/64) > 1e-12 {
		t.Errorf("six flipped items: %s p=%v (%s)", r.Verdict, r.McNemar.P, r.Reason)
	}
	// unknown kind
	if r := CompareMetric(MetricInput{Name: "x", Kind: "ordinal"}, 0.95, o); r.Verdict != Error {
		t.Errorf("unknown kind: %s", r.Verdict)
	}
}

func TestWithinNoise(t *testing.T) {
	b, c := map[string][]float64{}, map[string][]float64{}
	for i := range 10 {
		b[fmt.Sprint(i)] = []float64{0.2, 0.8}
		c[fmt.Sprint(i)] = []float64{0.25, 0.85}
	}
	r := CompareMetric(MetricInput{Name: "judge", Kind: Continuous, Base: b, Cand: c}, 0.95, Options{Seed: 1})
	if !r.WithinNoise {
		t.Fatalf("difference 0.05 with repeat SD 0.42 not flagged as within noise: %+v", r)
	}
}
