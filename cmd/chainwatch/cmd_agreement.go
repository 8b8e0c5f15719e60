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

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/evaluators/agreement"
	"github.com/chainwatch/chainwatch/query"
)

// runAgreement is `chainwatch agreement`: whether each evaluator's scores
// agree with the users' feedback on the same traces (package
// evaluators/agreement), from the pairs query.AgreementPairs reads.
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

	var scores query.Selector
	if *since > 0 {
		scores.From = time.Now().Add(-*since)
	}
	groups, err := query.NewReader(conn).AgreementPairs(ctx, scores, *evaluator, *metric)
	if err != nil {
		return err
	}
	reports := make([]agreement.Report, 0, len(groups))
	for _, g := range groups {
		s := sc
		if s == agreement.ScaleAuto {
			s = agreement.ScaleThumbs
			if g.NonBinary {
				s = agreement.ScaleRating
			}
		}
		pairs := make([]agreement.Pair, len(g.Pairs))
		for i, p := range g.Pairs {
			pairs[i] = agreement.Pair(p)
		}
		reports = append(reports, agreement.Analyze(g.Evaluator, g.Metric, pairs, agreement.Options{
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
