package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/evaluators/agreement"
)

// runAgreement is `chainwatch agreement`: whether each evaluator's scores
// agree with the users' feedback on the same traces (package
// evaluators/agreement), from ClickHouse.
func runAgreement(ctx context.Context, args []string) error {
	return agreementCmd(ctx, args, os.Stdout, os.Stderr)
}

func agreementCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agreement", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	since := fs.Duration("since", 0, "only scores created within this long before now, e.g. 24h (0: all)")
	evaluator := fs.String("evaluator", "", "only this evaluator, e.g. judge_pointwise (default: every evaluator)")
	metric := fs.String("metric", "", "only this metric, e.g. quality (default: every metric)")
	threshold := fs.Float64("threshold", agreement.DefaultJudgeThreshold, "a judge score >= this is a positive verdict (metrics whose values all lie in [0, 1] use 0.5)")
	ratingThreshold := fs.Float64("rating-threshold", agreement.DefaultRatingThreshold, "a 1–5 user rating >= this is positive (thumbs: up is positive)")
	scale := fs.String("feedback-scale", "auto", "auto, thumbs (0/1) or rating (1–5); auto takes ratings when a group's feedback has a value other than 0 or 1")
	minPairs := fs.Int("min-pairs", agreement.DefaultMinPairs, "below this many pairs the verdict warns that the interval is wide")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sc, err := agreement.ParseScale(*scale)
	if err != nil {
		return fmt.Errorf("--feedback-scale: %w", err)
	}
	if *since < 0 {
		return fmt.Errorf("--since must be >= 0, got %v", *since)
	}
	if *minPairs < 1 {
		return fmt.Errorf("--min-pairs must be >= 1, got %d", *minPairs)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, cfg.clickHouseOrLocal())
	if err != nil {
		return err
	}
	defer conn.Close()

	q := agreementQuery{Evaluator: *evaluator, Metric: *metric}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	groups, err := q.pairs(ctx, conn)
	if err != nil {
		return err
	}
	reports := make([]agreement.Report, 0, len(groups))
	for _, g := range groups {
		s := sc
		if s == agreement.ScaleAuto {
			s = agreement.ScaleThumbs
			if g.nonBinary {
				s = agreement.ScaleRating
			}
		}
		reports = append(reports, agreement.Analyze(g.evaluator, g.metric, g.pairs, agreement.Options{
			JudgeThreshold: *threshold, Scale: s, RatingThreshold: *ratingThreshold, MinPairs: *minPairs,
		}))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	if len(reports) == 0 {
		fmt.Fprintln(stdout, "no traces have both an evaluation score and user feedback (with a score)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "evaluator\tmetric\tpairs\tfeedback\tjudge ≥\tuser ≥\tkappa\t95% CI\trho\tp\tverdict")
	for _, r := range reports {
		k, ci, rho, p := "-", "-", "-", "-"
		if r.Kappa != nil {
			k = fmt.Sprintf("%.2f", r.Kappa.Kappa)
			ci = fmt.Sprintf("[%.2f, %.2f]", r.Kappa.Lower, r.Kappa.Upper)
		}
		if r.Spearman != nil {
			rho = fmt.Sprintf("%.2f", r.Spearman.Rho)
			p = strconv.FormatFloat(r.Spearman.P, 'g', 3, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%g\t%g\t%s\t%s\t%s\t%s\t%s\n",
			r.Evaluator, r.Metric, r.N, r.Scale, r.JudgeThreshold, r.HumanThreshold, k, ci, rho, p, r.Verdict)
	}
	return tw.Flush()
}

// agreementQuery selects the (judge, user) pairs.
type agreementQuery struct {
	Evaluator, Metric string
	Since             time.Time // zero: all
}

type pairGroup struct {
	evaluator, metric string
	pairs             []agreement.Pair
	nonBinary         bool // some feedback value is neither 0 nor 1
}

// sql joins the valid scores (error = ”, averaged per evaluator, metric
// and trace) with the feedback that has a score (averaged per trace), both
// deduplicated with FINAL, by trace_id. ALL INNER JOIN … USING with
// unqualified column names works on ClickHouse 18.16 and on current
// servers alike.
func (q agreementQuery) sql() (string, []any) {
	where, args := "error = ''", []any{}
	if !q.Since.IsZero() {
		where += fmt.Sprintf(" AND created >= toDateTime(%d)", q.Since.Unix())
	}
	if q.Evaluator != "" {
		where += " AND evaluator = ?"
		args = append(args, q.Evaluator)
	}
	if q.Metric != "" {
		where += " AND metric = ?"
		args = append(args, q.Metric)
	}
	return `
SELECT evaluator, metric, trace_id, judge, human, non_binary
FROM (
    SELECT evaluator, metric, trace_id, avg(value) AS judge
    FROM eval_scores FINAL
    WHERE ` + where + `
    GROUP BY evaluator, metric, trace_id
)
ALL INNER JOIN (
    SELECT trace_id, avg(ifNull(score, 0)) AS human,
           max(ifNull(score, 0) != 0 AND ifNull(score, 0) != 1) AS non_binary
    FROM feedback FINAL
    WHERE isNotNull(score)
    GROUP BY trace_id
) USING trace_id
ORDER BY evaluator, metric, trace_id`, args
}

// pairs runs the query and groups its rows by evaluator and metric, in
// order.
func (q agreementQuery) pairs(ctx context.Context, conn driver.Conn) ([]pairGroup, error) {
	query, args := q.sql()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("querying scores joined with feedback: %w", err)
	}
	defer rows.Close()
	var out []pairGroup
	for rows.Next() {
		var ev, m, trace string
		var judge, human float64
		var nonBinary uint8
		if err := rows.Scan(&ev, &m, &trace, &judge, &human, &nonBinary); err != nil {
			return nil, fmt.Errorf("reading scores joined with feedback: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].evaluator != ev || out[len(out)-1].metric != m {
			out = append(out, pairGroup{evaluator: ev, metric: m})
		}
		g := &out[len(out)-1]
		g.pairs = append(g.pairs, agreement.Pair{TraceID: trace, Judge: judge, Human: human})
		g.nonBinary = g.nonBinary || nonBinary != 0
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading scores joined with feedback: %w", err)
	}
	return out, nil
}
