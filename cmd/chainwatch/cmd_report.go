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
	"github.com/chainwatch/chainwatch/query"
)

// runReport prints spans per app, chain latency percentiles and tokens per
// model from ClickHouse (package query), deduplicated with FINAL.
func runReport(ctx context.Context, args []string) error {
	return reportCmd(ctx, args, os.Stdout, os.Stderr)
}

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	since := fs.Duration("since", 0, "only spans that started within this long before now (0: all)")
	alertsJSON := fs.Bool("alerts-json", false, "print only the monitors' alerts now firing (from the alerts table) as JSON")
	if err := fs.Parse(args); err != nil {
		return err
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
	r := query.NewReader(conn)
	if *alertsJSON {
		return printFiringAlerts(ctx, r, stdout)
	}
	var spans query.Selector
	if *since > 0 {
		spans.From = time.Now().Add(-*since)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()

	apps, err := r.SpanStats(ctx, spans, query.Grouping{By: []query.Dimension{query.ByApp}})
	if err != nil {
		return fmt.Errorf("spans per app: %w", err)
	}
	fmt.Fprintln(tw, "app\tspans\ttraces\terror spans %\tchain p50 ms\tchain p95 ms\t")
	for _, s := range apps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%.0f\t\n", s.App, s.Spans, s.Traces, 100*float64(s.Errors)/float64(s.Spans), s.RequestP50MS, s.RequestP95MS)
	}
	llm := spans
	llm.ComponentKind = "llm"
	models, err := r.SpanStats(ctx, llm, query.Grouping{By: []query.Dimension{query.ByModel}})
	if err != nil {
		return fmt.Errorf("tokens per model: %w", err)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t")
	fmt.Fprintln(tw, "model\tllm calls\tinput tokens\toutput tokens\tp50 ms\tp95 ms\t")
	for _, s := range models {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t\n", s.Model, s.Spans, s.InputTokens, s.OutputTokens, s.LatencyP50MS, s.LatencyP95MS)
	}
	// Feedback and monitor runs are not bounded by --since.
	if fb, err := r.FeedbackStats(ctx, query.Selector{}, query.Grouping{}); err == nil {
		var all query.FeedbackStat
		if len(fb) == 1 {
			all = fb[0]
		}
		fmt.Fprintln(tw, "\t\t\t\t\t\t")
		fmt.Fprintf(tw, "feedback\t%d\tmean score %.2f\t\t\t\t\n", all.Count, all.MeanScore)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t")
	fmt.Fprintln(tw, "monitor\truns\tdrift runs\tinsufficient\terrors\tlast p-value\t")
	runs, err := r.MonitorRuns(ctx, query.Selector{})
	if err != nil {
		return nil // a database from before the monitors (migration 2) has no results
	}
	for _, m := range runs {
		p := "-"
		if m.LastPValue != nil {
			p = strconv.FormatFloat(*m.LastPValue, 'g', -1, 64)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", m.Monitor, m.Runs, m.DriftRuns, m.InsufficientData, m.Errors, p)
	}
	return nil
}

// printFiringAlerts prints the alerts whose last event is "firing", in
// Alertmanager's GET /api/v2/alerts shape (labels, annotations, startsAt).
func printFiringAlerts(ctx context.Context, r *query.Reader, w io.Writer) error {
	alerts, err := r.FiringAlerts(ctx, query.Selector{})
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, map[string]any{"labels": a.Labels, "annotations": a.Annotations, "startsAt": a.StartsAt})
	}
	return json.NewEncoder(w).Encode(out)
}
