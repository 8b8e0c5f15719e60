package agreement

import (
	"encoding/json"
	"math"
	"testing"
)

// pairsFromTable makes pairs whose binarised 2×2 table is
// {{pp, pn}, {np, nn}} (judge rows, users columns, positive first), with
// judge scores hi/lo and human values up/down.
func pairsFromTable(pp, pn, np, nn int, hi, lo, up, down float64) []Pair {
	var ps []Pair
	add := func(n int, j, h float64) {
		for range n {
			ps = append(ps, Pair{Judge: j, Human: h})
		}
	}
	add(pp, hi, up)
	add(pn, hi, down)
	add(np, lo, up)
	add(nn, lo, down)
	return ps
}

func TestAnalyzeThumbs(t *testing.T) {
	// Judge 1–5 (≥ 4 positive), thumbs 0/1: the 2×2 worked example, κ = 0.4.
	r := Analyze("judge_pointwise", "quality", pairsFromTable(20, 5, 10, 15, 5, 2, 1, 0), Options{})
	if r.Scale != ScaleThumbs || r.JudgeThreshold != 4 || r.HumanThreshold != 0.5 {
		t.Errorf("scale %q, thresholds %v/%v; want thumbs, 4, 0.5", r.Scale, r.JudgeThreshold, r.HumanThreshold)
	}
	if r.Counts != (Counts{20, 5, 10, 15}) {
		t.Errorf("counts %+v", r.Counts)
	}
	if r.Kappa == nil {
		t.Fatal("kappa nil")
	}
	near(t, "kappa", r.Kappa.Kappa, 0.4, 1e-12)
	if r.Spearman != nil {
		t.Errorf("thumbs: want no Spearman, got %+v", r.Spearman)
	}
	if want := "judge agrees with users: fair (κ = 0.40, n = 50)"; r.Verdict != want {
		t.Errorf("verdict %q, want %q", r.Verdict, want)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("marshalling: %v", err)
	}
}

func TestAnalyzeRatings(t *testing.T) {
	// Ratings 1–5 binarised at ≥ 4; the judge's 4 is positive, 3 is not.
	ps := []Pair{
		{Judge: 5, Human: 5}, {Judge: 4, Human: 4}, {Judge: 4, Human: 5}, {Judge: 3, Human: 2},
		{Judge: 2, Human: 1}, {Judge: 1, Human: 2}, {Judge: 3, Human: 4}, {Judge: 5, Human: 3},
	}
	r := Analyze("judge_pointwise", "helpfulness", ps, Options{})
	if r.Scale != ScaleRating || r.HumanThreshold != 4 {
		t.Errorf("scale %q threshold %v, want rating 4", r.Scale, r.HumanThreshold)
	}
	// Judge positive: 5,4,4,5 (pairs 1,2,3,8); users positive: pairs 1,2,3,7.
	if r.Counts != (Counts{BothPositive: 3, JudgeOnly: 1, UserOnly: 1, BothNegative: 3}) {
		t.Errorf("counts %+v", r.Counts)
	}
	// p_o = 6/8, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, κ = 0.5.
	near(t, "kappa", r.Kappa.Kappa, 0.5, 1e-12)
	if r.Spearman == nil {
		t.Fatal("ratings: want Spearman")
	}
	// By hand: judge ranks 7.5 5.5 5.5 3.5 2 1 3.5 7.5, user ranks
	// 7.5 5.5 7.5 2.5 1 2.5 5.5 4; Σdxdy = 28.25, Σdx² = Σdy² = 40.5.
	near(t, "rho", r.Spearman.Rho, 28.25/40.5, 1e-12)
	if r.Verdict != "judge agrees with users: moderate (κ = 0.50, n = 8); ranks: moderate (ρ = 0.70, p = 0.0544); few pairs (< 30), read with care" {
		t.Errorf("verdict %q (rho %v p %v)", r.Verdict, r.Spearman.Rho, r.Spearman.P)
	}
}

func TestAnalyzeUnitMetricAndEdges(t *testing.T) {
	// A 0/1 metric (a guard) is binarised at 0.5, not 4.
	r := Analyze("guard_refusal", "refusal", pairsFromTable(3, 1, 1, 3, 1, 0, 1, 0), Options{JudgeThreshold: 4, MinPairs: 5})
	if r.JudgeThreshold != UnitThreshold || r.Counts != (Counts{3, 1, 1, 3}) {
		t.Errorf("threshold %v counts %+v", r.JudgeThreshold, r.Counts)
	}
	// Disagreement: κ < 0.
	r = Analyze("e", "m", pairsFromTable(0, 5, 5, 0, 5, 1, 1, 0), Options{MinPairs: 5})
	if want := "judge disagrees with users: poor (κ = −1.00, n = 10)"; r.Verdict != want {
		t.Errorf("verdict %q, want %q", r.Verdict, want)
	}
	// Every trace positive on both sides: kappa undefined, not a number.
	r = Analyze("e", "m", pairsFromTable(6, 0, 0, 0, 5, 1, 1, 0), Options{MinPairs: 5})
	if r.Kappa != nil || r.Verdict != "agreement undefined: judge and users called every trace positive (n = 6)" {
		t.Errorf("kappa %+v verdict %q", r.Kappa, r.Verdict)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("marshalling an undefined report: %v", err)
	}
	r = Analyze("e", "m", nil, Options{})
	if r.N != 0 || r.Kappa != nil || r.Verdict != "no traces with both a judge score and user feedback" {
		t.Errorf("empty: %+v", r)
	}
	// The scale named explicitly wins over detection: all-1 values as ratings.
	r = Analyze("e", "m", []Pair{{Judge: 5, Human: 1}, {Judge: 1, Human: 1}, {Judge: 4, Human: 1}}, Options{Scale: ScaleRating})
	if r.Scale != ScaleRating || r.Counts.UserOnly+r.Counts.BothPositive != 0 {
		t.Errorf("explicit rating scale: %+v", r)
	}
}

func TestParseScaleAndFormat(t *testing.T) {
	for in, want := range map[string]Scale{"auto": ScaleAuto, "": ScaleAuto, "Thumbs": ScaleThumbs, "ratings": ScaleRating} {
		if got, err := ParseScale(in); err != nil || got != want {
			t.Errorf("ParseScale(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseScale("stars"); err == nil {
		t.Error("ParseScale(stars): want an error")
	}
	for v, want := range map[float64]string{-0.001: "0.00", -0.5: "−0.50", 0.714: "0.71"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	for p, want := range map[float64]string{0.0426: "0.0426", 0.00001: "< 0.0001", math.NaN(): "n/a"} {
		if got := pval(p); got != want {
			t.Errorf("pval(%v) = %q, want %q", p, got, want)
		}
	}
}
