package plugin_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/grafana/pkg/plugin"
	"github.com/chainwatch/chainwatch/query"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func dataQuery(refID string, q map[string]any, from, to time.Time, interval time.Duration) backend.DataQuery {
	b, _ := json.Marshal(q)
	qt, _ := q["queryType"].(string)
	return backend.DataQuery{RefID: refID, QueryType: qt, JSON: b, Interval: interval,
		TimeRange: backend.TimeRange{From: from, To: to}}
}

func run(t *testing.T, ds *plugin.Datasource, qs ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sumField adds up a numeric field over every frame of a response.
func sumField(t *testing.T, dr backend.DataResponse, name string) float64 {
	t.Helper()
	total, found := 0.0, false
	for _, f := range dr.Frames {
		for _, fl := range f.Fields {
			if fl.Name != name {
				continue
			}
			found = true
			for i := 0; i < fl.Len(); i++ {
				if v, ok := fl.ConcreteAt(i); ok {
					switch x := v.(type) {
					case float64:
						total += x
					case uint64:
						total += float64(x)
					case int64:
						total += float64(x)
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("no field %q in %d frames", name, len(dr.Frames))
	}
	return total
}

// TestPlugin runs every query type against ClickHouse 18.16 seeded through
// the pipeline with a replayed batch.
func TestPlugin(t *testing.T) {
	s := seed(t)
	if s.inserted == s.spans {
		t.Fatal("the seed has no replay")
	}
	t.Run("Golden", func(t *testing.T) { testGolden(t, s) })
	t.Run("CountsExactWithReplays", func(t *testing.T) { testCounts(t, s) })
	t.Run("RollupMatchesSpans", func(t *testing.T) { testRollup(t, s) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, s) })
	t.Run("Health", func(t *testing.T) { testHealth(t, s) })
	t.Run("Resources", func(t *testing.T) { testResources(t, s) })
	t.Run("DashboardPanels", func(t *testing.T) { testDashboardPanels(t, s) })
}

func testGolden(t *testing.T, s *seeded) {
	tid := s.traces[5].TraceIDHex()
	cases := map[string]map[string]any{
		"timeseries_by_version":   {"queryType": "timeseries", "metrics": []string{"requests", "errors", "error_rate", "latency_p50", "latency_p95", "latency_p99", "input_tokens", "output_tokens"}, "groupBy": []string{"chain_version"}},
		"timeseries_llm_by_model": {"queryType": "timeseries", "componentKind": "llm", "metrics": []string{"spans", "latency_p95", "output_tokens"}, "groupBy": []string{"model"}},
		"timeseries_top_chains":   {"queryType": "timeseries", "format": "table", "rootsOnly": true, "metrics": []string{"requests", "request_error_rate", "latency_p95"}, "groupBy": []string{"app", "chain"}},
		"drift_statistic":         {"queryType": "drift", "kind": "drift"},
		"drift_runs":              {"queryType": "drift", "view": "runs"},
		"alerts":                  {"queryType": "alerts"},
		"quality_scores":          {"queryType": "quality", "evaluator": "relevance"},
		"quality_distribution":    {"queryType": "quality", "view": "distribution", "evaluator": "relevance", "metric": "relevance"},
		"quality_guards":          {"queryType": "quality", "view": "guards"},
		"quality_feedback":        {"queryType": "quality", "view": "feedback"},
		"quality_agreement":       {"queryType": "quality", "view": "agreement"},
		"traces_search":           {"queryType": "traces", "app": "support-bot", "limit": 5},
		"trace":                   {"queryType": "trace", "traceId": tid},
		"sql":                     {"queryType": "sql", "rawSql": "SELECT $__timeInterval(start_time) AS time, app, count() AS spans FROM spans FINAL WHERE $__timeFilter(start_time) GROUP BY time, app ORDER BY time, app"},
		"variable_apps":           {"queryType": "variable", "list": "apps"},
		"variable_versions":       {"queryType": "variable", "list": "chain_versions", "app": "support-bot"},
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			dr := run(t, s.ds, dataQuery("A", q, seedStart, seedEnd, 10*time.Minute)).Responses["A"]
			if dr.Error != nil {
				t.Fatalf("%s: %v", name, dr.Error)
			}
			if len(dr.Frames) == 0 || dr.Frames[0].Rows() == 0 {
				t.Fatalf("%s: no rows", name)
			}
			experimental.CheckGoldenJSONResponse(t, "testdata", name, &dr, *update)
		})
	}
}

func testCounts(t *testing.T, s *seeded) {
	q := map[string]any{"queryType": "timeseries", "metrics": []string{"spans", "requests", "errors", "input_tokens", "output_tokens"}, "rollup": "never"}
	dr := run(t, s.ds, dataQuery("A", q, seedStart, seedEnd, time.Minute)).Responses["A"]
	if dr.Error != nil {
		t.Fatal(dr.Error)
	}
	for name, want := range map[string]float64{"spans": float64(s.spans), "requests": float64(s.roots), "errors": float64(s.errors),
		"input_tokens": float64(s.inTok), "output_tokens": float64(s.outTok)} {
		if got := sumField(t, dr, name); got != want {
			t.Errorf("%s: got %v, want %v (inserted rows %d)", name, got, want, s.inserted)
		}
	}
	// The estimated cost is every model's tokens at its price, each span
	// once.
	rows, err := s.conn.Query(context.Background(), "SELECT model_requested, sum(toUInt64(input_tokens)), sum(toUInt64(output_tokens)) FROM spans FINAL GROUP BY model_requested")
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for rows.Next() {
		var m string
		var in, out uint64
		if err := rows.Scan(&m, &in, &out); err != nil {
			t.Fatal(err)
		}
		p, ok := testPrices[m]
		if !ok && in+out > 0 {
			t.Fatalf("model %q has tokens and no test price", m)
		}
		want += (float64(in)*p.Input + float64(out)*p.Output) / 1e6
	}
	rows.Close()
	for _, by := range [][]string{nil, {"chain_version"}, {"model"}} {
		q := map[string]any{"queryType": "timeseries", "metrics": []string{"estimated_cost"}, "groupBy": by}
		dr := run(t, s.ds, dataQuery("A", q, seedStart, seedEnd, 5*time.Minute)).Responses["A"]
		if dr.Error != nil {
			t.Fatal(dr.Error)
		}
		if got := sumField(t, dr, "estimated_cost"); want == 0 || math.Abs(got-want) > 1e-9*want {
			t.Errorf("estimated cost by %v: %v, want %v", by, got, want)
		}
	}
	cheap := s.settings
	cheap.Prices = map[string]plugin.Price{"gpt-4o-mini": {Input: 1, Output: 1}}
	ds, err := plugin.Open(cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Dispose()
	dr = run(t, ds, dataQuery("A", map[string]any{"queryType": "timeseries", "metrics": []string{"estimated_cost"}}, seedStart, seedEnd, 5*time.Minute)).Responses["A"]
	if dr.Error != nil || len(dr.Frames) == 0 || dr.Frames[0].Meta == nil || len(dr.Frames[0].Meta.Notices) != 1 ||
		!strings.Contains(dr.Frames[0].Meta.Notices[0].Text, `"gpt-4.1-mini"`) {
		t.Errorf("unpriced models: no notice naming them: %+v", dr.Frames)
	}
	if s.roots != seedTraces {
		t.Errorf("roots %d, want one per trace (%d)", s.roots, seedTraces)
	}
	// The trace search counts each trace's spans once too.
	dr = run(t, s.ds, dataQuery("A", map[string]any{"queryType": "traces", "limit": 1000}, seedStart, seedEnd, time.Minute)).Responses["A"]
	if dr.Error != nil {
		t.Fatal(dr.Error)
	}
	if got := dr.Frames[0].Rows(); got != seedTraces {
		t.Errorf("traces: %d rows, want %d", got, seedTraces)
	}
	if got := sumField(t, dr, "spans"); got != float64(s.spans) {
		t.Errorf("traces: %v spans, want %d", got, s.spans)
	}
	dr = run(t, s.ds, dataQuery("A", map[string]any{"queryType": "quality", "view": "feedback"}, seedStart, seedEnd.Add(time.Hour), time.Hour)).Responses["A"]
	if got := sumField(t, dr, "feedback"); got != float64(s.feedback) {
		t.Errorf("feedback: %v, want %d", got, s.feedback)
	}
	dr = run(t, s.ds, dataQuery("A", map[string]any{"queryType": "quality", "evaluator": "relevance"}, seedStart, seedEnd.Add(time.Hour), time.Hour)).Responses["A"]
	if got := sumField(t, dr, "scores"); got != float64(seedTraces/3) {
		t.Errorf("relevance scores: %v, want %d (inserted twice)", got, seedTraces/3)
	}
}

// testRollup: the rollup answers exactly what the spans table answers,
// the replayed batch included.
func testRollup(t *testing.T, s *seeded) {
	r := query.NewReader(s.conn)
	ctx := context.Background()
	// The worker's checks, once every bucket has closed: the buckets
	// without a replay are then read from the rollup.
	rep, err := r.CheckRollups(ctx, seedEnd.Add(24*time.Hour), 0)
	if err != nil || rep.Checks == 0 || rep.Replayed == 0 {
		t.Fatalf("checking the rollups: %+v, %v; want checks, some of buckets with a replay", rep, err)
	}
	cases := []struct {
		by       []query.Dimension
		interval time.Duration
		table    string
	}{
		{nil, 5 * time.Minute, "spans_rollup_1m"},
		{[]query.Dimension{query.ByChainVersion}, 5 * time.Minute, "spans_rollup_1m"},
		{[]query.Dimension{query.ByModel, query.ByApp}, time.Minute, "spans_rollup_1m"},
		{[]query.Dimension{query.ByChainVersion}, time.Hour, "spans_rollup_1h"},
		{[]query.Dimension{query.ByModel}, 2 * time.Hour, "spans_rollup_1h"},
		{[]query.Dimension{query.ByApp, query.ByChainVersion}, 0, "spans_rollup_1h"}, // a table: one bucket
	}
	for _, c := range cases {
		g := query.Grouping{By: c.by, Interval: c.interval}
		roll, err := r.SpanSeries(ctx, query.Selector{From: seedStart, To: seedEnd}, g, query.SeriesOptions{Rollup: query.RollupAlways})
		if err != nil {
			t.Fatal(err)
		}
		// The spans table over the range the rollup read (widened to its
		// buckets).
		raw, err := r.SpanSeries(ctx, query.Selector{From: roll.From, To: roll.To}, g, query.SeriesOptions{Rollup: query.RollupNever})
		if err != nil {
			t.Fatal(err)
		}
		if raw.Rollup || !roll.Rollup || roll.RollupTable != c.table {
			t.Fatalf("rollup flags: raw %v, rollup %v from %q, want %q", raw.Rollup, roll.Rollup, roll.RollupTable, c.table)
		}
		if roll.BucketsFromSpans == 0 {
			t.Errorf("by %v every %v: no bucket read from spans (the seed has a replay)", c.by, c.interval)
		}
		if len(raw.Points) != len(roll.Points) {
			t.Fatalf("by %v every %v: %d raw points, %d rollup points", c.by, c.interval, len(raw.Points), len(roll.Points))
		}
		for i := range raw.Points {
			a, b := raw.Points[i], roll.Points[i]
			qa, qb := [3]float64{a.P50MS, a.P95MS, a.P99MS}, [3]float64{b.P50MS, b.P95MS, b.P99MS}
			a.P50MS, a.P95MS, a.P99MS, b.P50MS, b.P95MS, b.P99MS = 0, 0, 0, 0, 0, 0
			if a != b {
				t.Errorf("by %v every %v point %d: raw %+v, rollup %+v", c.by, c.interval, i, a, b)
			}
			// Quantiles: the rollup's are merged t-digests (approximate,
			// and a table's count a replayed span's duration twice), the
			// spans table's exact at these sizes; they agree roughly where
			// a bucket holds enough spans for a p95 to mean something.
			if !(qb[0] > 0 && qb[0] <= qb[1] && qb[1] <= qb[2]) {
				t.Errorf("by %v every %v point %d: rollup quantiles %v not ordered", c.by, c.interval, i, qb)
			}
			for k := range qa {
				if a.Spans >= 50 && math.Abs(qa[k]-qb[k]) > 0.35*qa[k] {
					t.Errorf("by %v every %v point %d quantile %d: raw %v, rollup %v", c.by, c.interval, i, k, qa[k], qb[k])
				}
			}
		}
	}
	// A component name is not in the rollup: the spans table answers.
	sr, err := r.SpanSeries(ctx, query.Selector{From: seedStart, To: seedEnd, Component: "x"}, query.Grouping{Interval: time.Minute}, query.SeriesOptions{Rollup: query.RollupAlways})
	if err != nil || sr.Rollup {
		t.Errorf("component filter: rollup %v, err %v", sr.Rollup, err)
	}
}

func testBadInput(t *testing.T, s *seeded) {
	good := dataQuery("A", map[string]any{"queryType": "timeseries", "metrics": []string{"requests"}}, seedStart, seedEnd, time.Minute)
	sql := func(ref, q string) backend.DataQuery {
		return dataQuery(ref, map[string]any{"queryType": "sql", "rawSql": q}, seedStart, seedEnd, time.Minute)
	}
	malformed := backend.DataQuery{RefID: "C", JSON: json.RawMessage(`{"queryType": "timeseries", "metrics": [`), TimeRange: good.TimeRange}
	qs := []backend.DataQuery{
		good,
		dataQuery("B", map[string]any{"queryType": "nonsense"}, seedStart, seedEnd, time.Minute),
		malformed,
		sql("D", "INSERT INTO spans (trace_id) SELECT 'x'"),
		sql("E", "ALTER TABLE spans DELETE WHERE 1"),
		sql("F", "  drop table spans"),
		sql("G", "SELECT 1; DROP TABLE spans"),
		sql("H", "SELECT count() AS n FROM spans FINAL WHERE $__timeFilter(start_time); -- trailing comment"),
		sql("I", "SELECT 'a;b' AS s, $__nope"),
		sql("J", "SELECT * FROM spans SETTINGS readonly = 0"),
		sql("M", "SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')"),
		dataQuery("K", map[string]any{"queryType": "timeseries", "metrics": []string{"latency_p42"}}, seedStart, seedEnd, time.Minute),
		dataQuery("L", map[string]any{"queryType": "trace", "traceId": "'; DROP TABLE spans; --"}, seedStart, seedEnd, time.Minute),
	}
	qs = append(qs,
		dataQuery("N", map[string]any{"queryType": "trace", "traceId": strings.Repeat("ab", 16)}, seedStart, seedEnd, time.Minute),
		dataQuery("O", map[string]any{"queryType": "trace"}, seedStart, seedEnd, time.Minute))
	resp := run(t, s.ds, qs...)
	want := map[string]string{
		"B": `unknown query type "nonsense"`,
		"C": "malformed query JSON",
		"D": "INSERT statements are not allowed",
		"E": "ALTER statements are not allowed",
		"F": "DROP statements are not allowed",
		"G": "multiple statements are not allowed",
		"I": "unknown macro $__nope",
		"J": "readonly",
		"M": "readonly",
		"N": "no spans stored",
		"K": `unknown metric "latency_p42"`,
		"L": "trace id must be 32 lower-case hex digits",
	}
	for ref, w := range want {
		dr := resp.Responses[ref]
		if dr.Error == nil || !strings.Contains(dr.Error.Error(), w) {
			t.Errorf("query %s: error %v, want one saying %q", ref, dr.Error, w)
			continue
		}
		if !strings.Contains(dr.Error.Error(), "query "+ref) {
			t.Errorf("query %s: error %q does not name the query", ref, dr.Error)
		}
		if dr.Status != backend.StatusBadRequest {
			t.Errorf("query %s: status %v, want 400", ref, dr.Status)
		}
	}
	if dr := resp.Responses["A"]; dr.Error != nil || sumField(t, dr, "requests") != float64(s.roots) {
		t.Errorf("good query A beside the bad ones: %v", dr.Error)
	}
	if dr := resp.Responses["H"]; dr.Error != nil || sumField(t, dr, "n") != float64(s.spans) {
		t.Errorf("good query H beside the bad ones: err %v", dr.Error)
	}
	if dr := resp.Responses["O"]; dr.Error != nil || len(dr.Frames) != 1 || dr.Frames[0].Rows() != 0 || len(dr.Frames[0].Meta.Notices) != 1 {
		t.Errorf("a trace query without a trace id: %v, %+v", dr.Error, dr.Frames)
	}
	var n uint64
	if err := s.conn.QueryRow(context.Background(), "SELECT count() FROM spans").Scan(&n); err != nil || n != uint64(s.inserted) {
		t.Fatalf("spans after the bad queries: %d rows, err %v", n, err)
	}
}

func testHealth(t *testing.T, s *seeded) {
	res, err := s.ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusOk || !strings.Contains(res.Message, "ClickHouse 18.16") ||
		!strings.Contains(res.Message, "schema version "+itoa(plugin.LatestSchema())) {
		t.Fatalf("health: %+v, %v", res, err)
	}
	// A database without chainwatch's schema.
	bare := s.settings
	bare.Database = "default"
	ds, err := plugin.Open(bare)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Dispose()
	res, _ = ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "no chainwatch schema") || !strings.Contains(res.Message, "chainwatch migrate") {
		t.Fatalf("health without schema: %+v", res)
	}
	// No ClickHouse there.
	gone := s.settings
	gone.Address = "127.0.0.1:1"
	ds2, _ := plugin.Open(gone)
	defer ds2.Dispose()
	res, _ = ds2.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "cannot reach ClickHouse at 127.0.0.1:1") {
		t.Fatalf("health without clickhouse: %+v", res)
	}
	// Settings: a missing address is named.
	if _, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{JSONData: json.RawMessage(`{}`)}); err == nil || !strings.Contains(err.Error(), "address is required") {
		t.Fatalf("settings without address: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

type captured struct{ resp *backend.CallResourceResponse }

func (c *captured) Send(r *backend.CallResourceResponse) error { c.resp = r; return nil }

func testResources(t *testing.T, s *seeded) {
	get := func(path, url string) (int, []string) {
		var c captured
		if err := s.ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: "GET", Path: path, URL: url}, &c); err != nil {
			t.Fatal(err)
		}
		var out []string
		_ = json.Unmarshal(c.resp.Body, &out)
		return c.resp.Status, out
	}
	if code, apps := get("lists/apps", "lists/apps"); code != 200 || strings.Join(apps, ",") != "docs-qa,support-bot,travel-agent" {
		t.Errorf("apps: %d %v", code, apps)
	}
	if code, vs := get("lists/chain_versions", "lists/chain_versions?app=support-bot"); code != 200 || len(vs) == 0 {
		t.Errorf("versions: %d %v", code, vs)
	}
	if code, ms := get("lists/monitors", "lists/monitors"); code != 200 || strings.Join(ms, ",") != "docs-skew,support-length" {
		t.Errorf("monitors: %d %v", code, ms)
	}
	if code, ms := get("lists/metrics", "lists/metrics?evaluator=guard_pii"); code != 200 || strings.Join(ms, ",") != "pii" {
		t.Errorf("metrics: %d %v", code, ms)
	}
	for _, l := range query.Lists {
		if code, _ := get("lists/"+string(l), "lists/"+string(l)); code != 200 {
			t.Errorf("list %s: status %d", l, code)
		}
	}
	if code, _ := get("lists/nope", "lists/nope"); code != 404 {
		t.Errorf("unknown list: status %d", code)
	}
}
