package plugin_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/grafana/dashboards"
	"github.com/chainwatch/chainwatch/grafana/pkg/plugin"
	"github.com/chainwatch/chainwatch/query"
)

// benchSpans generates n spans over 30 days ending at end, server-side
// (INSERT … SELECT FROM numbers: the materialized view fills the rollup as
// the writer's inserts do): traces of 5 spans (a root chain span, a
// retriever, two LLM calls, a tool), 3 apps with 2 chain versions each, 3
// models, 2 % errors, durations 10 ms – 5 s, up to 2000 tokens per LLM call.
const benchSpansSQL = `INSERT INTO spans (trace_id, span_id, parent_span_id, name, start_time, end_time, start_unix_nano, duration_ms,
    app, environment, chain_name, chain_version, component_name, component_kind, operation, model_requested, model_returned,
    input_text, output_text, input_tokens, output_tokens, status, session_id, user_id, ingested_at)
SELECT trace_id, span_id, parent_span_id, kind AS name, toDateTime(start_s), toDateTime(start_s + intDiv(toUInt64(dur), 1000)),
    start_s * 1000000000 + number % 1000 * 1000000, dur,
    app, 'prod', chain, version, concat(kind, '-1'), kind, if(kind = 'llm', 'chat', kind), model, model,
    concat('question ', toString(trace)), concat('answer ', toString(trace)), tokens_in, tokens_out, status,
    concat('s', toString(trace % 5000)), concat('u', toString(trace % 2000)), now()
FROM (
    SELECT number, intDiv(number, 5) AS trace,
        concat(lower(hex(cityHash64(trace))), lower(hex(cityHash64(trace, 1)))) AS trace_id,
        lower(hex(cityHash64(number, 2))) AS span_id,
        if(number % 5 = 0, '', lower(hex(cityHash64(trace * 5, 2)))) AS parent_span_id,
        ? + intDiv(number * ?, ?) AS start_s,
        ['chain', 'retriever', 'llm', 'llm', 'tool'][number % 5 + 1] AS kind,
        ['docs-qa', 'support-bot', 'travel-agent'][trace % 3 + 1] AS app,
        ['docs-rag', 'support-answer', 'trip-planner'][trace % 3 + 1] AS chain,
        concat('v', toString(cityHash64(trace, 3) % 2 + 1)) AS version,
        if(kind = 'llm', ['gpt-4o-mini', 'claude-sonnet', 'llama-70b'][cityHash64(number, 4) % 3 + 1], '') AS model,
        toFloat64(10 + cityHash64(number, 5) % 5000) AS dur,
        toUInt32(if(kind = 'llm', cityHash64(number, 6) % 2000, 0)) AS tokens_in,
        toUInt32(if(kind = 'llm', cityHash64(number, 7) % 500, 0)) AS tokens_out,
        if(cityHash64(number, 8) % 50 = 0, 'error', 'ok') AS status
    FROM numbers(?)
)`

// BenchmarkOverviewPanels times each Overview time-series panel's query
// over 30 days at Grafana's 1 h interval, from spans (raw) and from the
// rollup, over CHAINWATCH_BENCH_SPANS spans (default 1,000,000):
//
//	CHAINWATCH_BENCH_SPANS=10000000 go test -run '^$' -bench OverviewPanels -benchtime 5x ./grafana/pkg/plugin
func BenchmarkOverviewPanels(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("CHAINWATCH_BENCH_SPANS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	conn := chtest.Migrated(b)
	ctx := context.Background()
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	from := end.Add(-30 * 24 * time.Hour)
	start := time.Now()
	for off := 0; off < n; off += 1_000_000 { // one insert per million: bounded memory on a small server
		k := min(1_000_000, n-off)
		// Each chunk covers its share of the 30 days.
		span := 30 * 24 * 3600 * k / n
		first := from.Unix() + int64(30*24*3600*off/n)
		if err := conn.Exec(ctx, benchSpansSQL, first, span, k, k); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("inserted %d spans in %s", n, time.Since(start).Round(time.Millisecond))
	// The worker's checks of the rollups (every bucket has closed): what
	// the rollup's queries rely on, and their cost once per span.
	start = time.Now()
	rep, err := query.NewReader(conn).CheckRollups(ctx, time.Now(), 0)
	if err != nil || rep.Replayed != 0 {
		b.Fatalf("checking the rollups: %+v, %v", rep, err)
	}
	b.Logf("checked the rollups in %s: %+v", time.Since(start).Round(time.Millisecond), rep)
	var settings plugin.Settings
	addr := chtest.Addr(b)
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		b.Fatal(err)
	}
	settings.Address, settings.Database = addr, db
	ds, err := plugin.Open(settings)
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Dispose()
	var overview dashboards.Board
	for _, bd := range dashboards.Boards() {
		if bd.UID == "chainwatch-overview" {
			overview = bd
		}
	}
	for _, p := range overview.Rows[0].Panels {
		if p.Query == nil || p.Query.QueryType != plugin.TypeTimeSeries {
			continue
		}
		for _, mode := range []string{"never", "always"} {
			q := *p.Query
			q.App, q.Chain, q.ChainVersion = "", "", "" // the variables at All
			q.Rollup = mode
			raw, _ := json.Marshal(q)
			name := strings.ReplaceAll(p.Title, " ", "_") + "/" + map[string]string{"never": "raw", "always": "rollup"}[mode]
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{{RefID: "A", QueryType: q.QueryType, JSON: raw,
						Interval: time.Hour, TimeRange: backend.TimeRange{From: from, To: end}}}})
					if err != nil {
						b.Fatal(err)
					}
					if dr := resp.Responses["A"]; dr.Error != nil || len(dr.Frames) == 0 || dr.Frames[0].Rows() == 0 {
						b.Fatalf("%s: %v", name, dr.Error)
					}
				}
			})
		}
	}
}
