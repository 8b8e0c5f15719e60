package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/evaluators/agreement"
	"github.com/chainwatch/chainwatch/schemas"
)

// scoresDB gives the test its own migrated database (eval_scores is
// migration 3), points the command's config at it through the environment,
// and returns a connection.
func scoresDB(t *testing.T) driver.Conn {
	t.Helper()
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	if _, err := schemas.Migrate(t.Context(), clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	return conn
}

func agreementRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var o, e bytes.Buffer
	err := agreementCmd(t.Context(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestAgreementCLI(t *testing.T) {
	conn := scoresDB(t)
	ctx := t.Context()
	store, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	var scores []schemas.Score
	var fb []schemas.Feedback
	score := func(trace, ev, metric string, v float64, created time.Time) {
		scores = append(scores, schemas.Score{TraceID: trace, SpanID: "00000000000000aa", App: "bot", Evaluator: ev,
			EvaluatorVersion: "1", Metric: metric, Value: v, Created: created})
	}
	feedback := func(id, trace string, v *float64) {
		fb = append(fb, schemas.Feedback{ID: id, TraceID: trace, Score: v, Source: "user", Time: now})
	}
	f := func(v float64) *float64 { return &v }

	// judge_pointwise/quality vs thumbs: the 2×2 table {{20, 5}, {10, 15}},
	// κ = 0.4 exactly.
	n := 0
	for _, c := range []struct {
		count        int
		judge, thumb float64
	}{{20, 5, 1}, {5, 4, 0}, {10, 2, 1}, {15, 3, 0}} {
		for range c.count {
			tr := fmt.Sprintf("%032x", n)
			score(tr, "judge_pointwise", "quality", c.judge, now)
			feedback("fb-"+tr, tr, f(c.thumb))
			n++
		}
	}
	// Replays are deduplicated by FINAL: the same score and feedback again.
	scores = append(scores, scores[0])
	fb = append(fb, fb[0])
	// Not pairs: a failed evaluation, a score without feedback, feedback
	// without a score, feedback without a score value.
	scores = append(scores, schemas.Score{TraceID: "f0000000000000000000000000000001", Evaluator: "judge_pointwise", EvaluatorVersion: "1",
		Metric: "quality", Error: "malformed_output: …", Created: now})
	feedback("fb-err", "f0000000000000000000000000000001", f(1))
	score("f0000000000000000000000000000002", "judge_pointwise", "quality", 5, now)
	feedback("fb-lonely", "f0000000000000000000000000000003", f(1))
	feedback("fb-comment", "00000000000000000000000000000001", nil)

	// judge_pointwise/helpfulness vs 1–5 ratings, two days old: κ = 0.5 and
	// ρ = 28.25/40.5 (evaluators/agreement's hand-checked example).
	for i, p := range [][2]float64{{5, 5}, {4, 4}, {4, 5}, {3, 2}, {2, 1}, {1, 2}, {3, 4}, {5, 3}} {
		tr := fmt.Sprintf("r%031x", i)
		score(tr, "judge_pointwise", "helpfulness", p[0], now.Add(-48*time.Hour))
		feedback("fb-"+tr, tr, f(p[1]))
	}
	// guard_refusal/refusal (0/1) on the thumbs traces: binarised at 0.5.
	// Refusals on the first 25 (20 thumbs up, 5 down) and none on the rest:
	// the table is {{20, 5}, {10, 15}} again.
	for i := range 50 {
		v := 0.0
		if i < 25 {
			v = 1
		}
		score(fmt.Sprintf("%032x", i), "guard_refusal", "refusal", v, now)
	}
	if err := store.InsertScores(ctx, scores); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertFeedback(ctx, fb); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := agreementRun(t, "--json")
	if err != nil {
		t.Fatalf("agreement: %v\n%s", err, errOut)
	}
	var reports []agreement.Report
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(reports) != 3 {
		t.Fatalf("%d reports, want 3:\n%s", len(reports), out)
	}
	byName := map[string]agreement.Report{}
	for _, r := range reports {
		byName[r.Evaluator+"/"+r.Metric] = r
	}
	q := byName["judge_pointwise/quality"]
	if q.N != 50 || q.Scale != agreement.ScaleThumbs || q.JudgeThreshold != 4 || q.Counts != (agreement.Counts{BothPositive: 20, JudgeOnly: 5, UserOnly: 10, BothNegative: 15}) || q.Kappa == nil ||
		math.Abs(q.Kappa.Kappa-0.4) > 1e-12 || math.Abs(q.Kappa.SE*q.Kappa.SE-0.016128) > 1e-12 || q.Spearman != nil {
		t.Errorf("quality: %+v kappa %+v", q, q.Kappa)
	}
	if q.Verdict != "judge agrees with users: fair (κ = 0.40, n = 50)" {
		t.Errorf("quality verdict %q", q.Verdict)
	}
	h := byName["judge_pointwise/helpfulness"]
	if h.N != 8 || h.Scale != agreement.ScaleRating || h.HumanThreshold != 4 || h.Kappa == nil || math.Abs(h.Kappa.Kappa-0.5) > 1e-12 ||
		h.Spearman == nil || math.Abs(h.Spearman.Rho-28.25/40.5) > 1e-12 {
		t.Errorf("helpfulness: %+v", h)
	}
	r := byName["guard_refusal/refusal"]
	if r.N != 50 || r.JudgeThreshold != 0.5 || r.Kappa == nil || math.Abs(r.Kappa.Kappa-0.4) > 1e-12 {
		t.Errorf("refusal: %+v", r)
	}

	// --since drops the two-day-old ratings; --evaluator and --metric filter.
	out, _, err = agreementRun(t, "--json", "--since", "24h")
	if err != nil || strings.Contains(out, "helpfulness") || !strings.Contains(out, `"quality"`) {
		t.Errorf("--since 24h: %v\n%s", err, out)
	}
	out, _, err = agreementRun(t, "--json", "--evaluator", "judge_pointwise", "--metric", "helpfulness")
	if err := json.Unmarshal([]byte(out), &reports); err != nil || len(reports) != 1 || reports[0].Metric != "helpfulness" {
		t.Errorf("--evaluator/--metric: %v\n%s", err, out)
	}
	// --feedback-scale rating on thumbs: a thumbs up (1) is below 4, so every
	// user verdict is negative; the judge's are half positive: κ = 0.
	out, _, _ = agreementRun(t, "--json", "--metric", "quality", "--feedback-scale", "rating")
	if err := json.Unmarshal([]byte(out), &reports); err != nil || len(reports) != 1 || reports[0].Kappa == nil ||
		reports[0].Kappa.Kappa != 0 || reports[0].Counts != (agreement.Counts{JudgeOnly: 25, BothNegative: 25}) {
		t.Errorf("thumbs read as ratings: %v %+v", err, reports)
	}

	// The table.
	out, _, err = agreementRun(t, "--evaluator", "judge_pointwise")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("table:\n%s", out)
	for _, want := range []string{"evaluator", "verdict", "judge agrees with users: fair (κ = 0.40, n = 50)", "[0.15, 0.65]",
		"judge agrees with users: moderate (κ = 0.50, n = 8); ranks: moderate (ρ = 0.70, p = 0.0544)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = agreementRun(t, "--evaluator", "nobody")
	if !strings.Contains(out, "no traces have both") {
		t.Errorf("no pairs: %q", out)
	}
	if _, _, err := agreementRun(t, "--feedback-scale", "stars"); err == nil || !strings.Contains(err.Error(), "--feedback-scale") {
		t.Errorf("bad scale: %v", err)
	}
}
