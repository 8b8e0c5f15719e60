package experiments

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/chainwatch/chainwatch/experiments/stats"
	"github.com/chainwatch/chainwatch/schemas"
)

// fakeRun is an experiment of 40 rows × 3 repeats scored by a noisy fake
// judge: row i has a true quality q_i in [2, 4.5] on the judge's 1–5 scale
// (shared by both versions); each repeat's verdict is round(q_i - drop +
// N(0, 0.8²)) clipped to 1–5, and exact_match passes with probability
// (q_i - drop - 1)/4. chain_ok is always 1.
func fakeRun(id string, qual []float64, drop float64, r *rand.Rand) (schemas.Experiment, []schemas.ExperimentItem) {
	e := schemas.Experiment{ID: id, Dataset: "support", DatasetVersion: 1, Repeats: 3, Status: StatusDone}
	var items []schemas.ExperimentItem
	for i, q := range qual {
		for rep := range 3 {
			v := math.Max(1, math.Min(5, math.Round(q-drop+0.8*r.NormFloat64())))
			pass := 0.0
			if r.Float64() < (q-drop-1)/4 {
				pass = 1
			}
			items = append(items, schemas.ExperimentItem{ExperimentID: id, Row: uint32(i), Repeat: uint16(rep),
				Metrics: []string{MetricChainOK, "correctness", "exact_match"}, Values: []float64{1, v, pass}, ScoreErrors: []string{"", "", ""}})
		}
	}
	return e, items
}

func gateFailures(t *testing.T, drop float64, seedBase uint64) int {
	t.Helper()
	fails := 0
	for s := range uint64(200) {
		r := rand.New(rand.NewPCG(seedBase+s, 99))
		qual := make([]float64, 40)
		for i := range qual {
			qual[i] = 2 + 2.5*r.Float64()
		}
		be, bi := fakeRun("base", qual, 0, r)
		ce, ci := fakeRun("cand", qual, drop, r)
		rep, err := Compare(context.Background(), be, ce, bi, ci, CompareOptions{Stats: stats.Options{Seed: s, Resamples: 2000}})
		if err != nil {
			t.Fatal(err)
		}
		if fail, _ := rep.Fails("regression"); fail {
			fails++
		}
	}
	return fails
}

// TestCompareGateNull: two identical versions, a noisy judge: `--fail-on
// regression` fails in at most alpha (0.05) of 200 seeded runs, up to the
// binomial tolerance (P(X > 21) < 0.1 % for X ~ Binomial(200, 0.05)).
func TestCompareGateNull(t *testing.T) {
	fails := gateFailures(t, 0, 1000)
	t.Logf("identical versions: the gate failed %d of 200 runs", fails)
	if fails > 21 {
		t.Fatalf("the gate failed %d of 200 runs of identical versions", fails)
	}
}

// TestCompareGatePower: a planted drop of 0.5 points of true quality on the
// 1–5 judge scale (judge noise SD 0.8; exact_match pass rate down 12.5
// points), 40 rows × 3 repeats: the gate fails in at least 90 % of 200 runs.
func TestCompareGatePower(t *testing.T) {
	fails := gateFailures(t, 0.5, 5000)
	t.Logf("planted drop 0.5: the gate failed %d of 200 runs", fails)
	if fails < 180 {
		t.Fatalf("the gate caught the planted regression in %d of 200 runs, want >= 180", fails)
	}
}
