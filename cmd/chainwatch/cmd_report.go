package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
)

// runReport prints spans per app, chain latency percentiles and tokens per
// model from ClickHouse, deduplicated with FINAL.
func runReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
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
	chc := cfg.clickHouseOrLocal()
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *alertsJSON {
		return printFiringAlerts(ctx, conn)
	}
	where := "1"
	if *since > 0 {
		where = fmt.Sprintf("start_time >= toDateTime(%d)", time.Now().Add(-*since).Unix())
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()

	fmt.Fprintln(tw, "app\tspans\ttraces\terror spans %\tchain p50 ms\tchain p95 ms\t")
	rows, err := conn.Query(ctx, `
SELECT app, count() AS spans, uniqExact(trace_id) AS traces,
       100 * countIf(status = 'error') / count() AS err_pct,
       quantileIf(0.5)(duration_ms, parent_span_id = '') AS p50,
       quantileIf(0.95)(duration_ms, parent_span_id = '') AS p95
FROM spans FINAL WHERE `+where+` GROUP BY app ORDER BY app`)
	if err != nil {
		return fmt.Errorf("querying spans per app: %w", err)
	}
	for rows.Next() {
		var app string
		var spans, traces uint64
		var errPct, p50, p95 float64
		if err := rows.Scan(&app, &spans, &traces, &errPct, &p50, &p95); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%.0f\t\n", app, spans, traces, errPct, p50, p95)
	}
	rows.Close()
	fmt.Fprintln(tw, "\t\t\t\t\t\t")
	fmt.Fprintln(tw, "model\tllm calls\tinput tokens\toutput tokens\tp50 ms\tp95 ms\t")
	rows, err = conn.Query(ctx, `
SELECT model_requested, count(), sum(input_tokens), sum(output_tokens),
       quantile(0.5)(duration_ms), quantile(0.95)(duration_ms)
FROM spans FINAL WHERE component_kind = 'llm' AND `+where+` GROUP BY model_requested ORDER BY model_requested`)
	if err != nil {
		return fmt.Errorf("querying tokens per model: %w", err)
	}
	for rows.Next() {
		var model string
		var calls, in, out uint64
		var p50, p95 float64
		if err := rows.Scan(&model, &calls, &in, &out, &p50, &p95); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t\n", model, calls, in, out, p50, p95)
	}
	rows.Close()
	var fb uint64
	var avg float64
	if err := conn.QueryRow(ctx, "SELECT count(), toFloat64(ifNull(sum(score), 0)) / greatest(count(score), 1) FROM feedback FINAL").Scan(&fb, &avg); err == nil {
		fmt.Fprintln(tw, "\t\t\t\t\t\t")
		fmt.Fprintf(tw, "feedback\t%d\tmean score %.2f\t\t\t\t\n", fb, avg)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t")
	fmt.Fprintln(tw, "monitor\truns\tdrift runs\tinsufficient\terrors\tlast p-value\t")
	rows, err = conn.Query(ctx, `
SELECT monitor, count(), countIf(drift = 1), countIf(status = 'insufficient_data'), countIf(status = 'error'),
       toString(argMax(p_value, tick))
FROM detector_results FINAL GROUP BY monitor ORDER BY monitor`)
	if err != nil {
		return nil // a database from before the monitors (migration 2) has no results
	}
	for rows.Next() {
		var m, p string
		var runs, drift, thin, errs uint64
		if err := rows.Scan(&m, &runs, &drift, &thin, &errs, &p); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", m, runs, drift, thin, errs, p)
	}
	rows.Close()
	return nil
}

// printFiringAlerts prints the alerts whose last event is "firing", in
// Alertmanager's GET /api/v2/alerts shape (labels, annotations, startsAt).
func printFiringAlerts(ctx context.Context, conn driver.Conn) error {
	rows, err := conn.Query(ctx, `
SELECT argMax(label_keys, time), argMax(label_values, time), argMax(annotations, time), min(time), argMax(state, time) AS last
FROM alerts GROUP BY fingerprint HAVING last = 'firing'`)
	if err != nil {
		return fmt.Errorf("querying alerts: %w", err)
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		var keys, vals []string
		var ann, state string
		var since time.Time
		if err := rows.Scan(&keys, &vals, &ann, &since, &state); err != nil {
			return err
		}
		labels := map[string]string{}
		for i, k := range keys {
			if i < len(vals) {
				labels[k] = vals[i]
			}
		}
		annotations := map[string]string{}
		_ = json.Unmarshal([]byte(ann), &annotations)
		out = append(out, map[string]any{"labels": labels, "annotations": annotations, "startsAt": since})
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
