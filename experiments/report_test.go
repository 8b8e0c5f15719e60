package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/experiments/stats"
	"github.com/chainwatch/chainwatch/schemas"
)

// A metric the candidate never scored: an error verdict, null means in
// JSON, an <error> in JUnit, and the gate fails; hostile outputs cannot
// break out of the HTML report's markup or script.
func TestReportNoScoresAndEscaping(t *testing.T) {
	evil := `</script><script>alert(1)</script><img src=x onerror=alert(2)>`
	base := schemas.Experiment{ID: "b", Dataset: "d", DatasetVersion: 1, Status: StatusDone, Chain: "c"}
	cand := base
	cand.ID = "c"
	var bi, ci []schemas.ExperimentItem
	for i := range 5 {
		bi = append(bi, schemas.ExperimentItem{Row: uint32(i), Input: evil, Output: "ok", Metrics: []string{"exact_match", "faithfulness"},
			Values: []float64{1, 0.9}, ScoreErrors: []string{"", ""}})
		ci = append(ci, schemas.ExperimentItem{Row: uint32(i), Input: evil, Output: evil, Metrics: []string{"exact_match", "faithfulness"},
			Values: []float64{0, 0}, ScoreErrors: []string{"", "judge timeout"}})
	}
	rep, err := Compare(context.Background(), base, cand, bi, ci, CompareOptions{Stats: stats.Options{Seed: 1, Resamples: 500}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != GateError {
		t.Fatalf("verdict %s, want error (faithfulness has no candidate scores)", rep.Verdict)
	}
	if fail, _ := rep.Fails("regression"); !fail {
		t.Fatal("a metric without scores passes the gate")
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Metrics []struct {
			Metric   string   `json:"metric"`
			Verdict  string   `json:"verdict"`
			CandMean *float64 `json:"candidate_mean"`
			NoiseSE  *float64 `json:"noise_se"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	for _, m := range parsed.Metrics {
		if m.Metric == "faithfulness" && (m.Verdict != stats.Error || m.CandMean != nil) {
			t.Errorf("faithfulness in JSON: %+v", m)
		}
		if m.NoiseSE != nil {
			t.Errorf("%s: noise without repeats is %v, want null", m.Metric, *m.NoiseSE)
		}
	}
	var ju bytes.Buffer
	if err := rep.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ju.String(), `<error message="faithfulness produced no valid scores"`) {
		t.Errorf("JUnit:\n%s", ju.String())
	}
	var h bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "<script>alert") || strings.Contains(h.String(), "<img src=x") {
		t.Fatal("an output reached the HTML unescaped")
	}
	if strings.Count(h.String(), "<script>") != 1 {
		t.Fatalf("%d script elements, want the report's one", strings.Count(h.String(), "<script>"))
	}
}
