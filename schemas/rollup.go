package schemas

// The spans rollup (migration 7): per-minute aggregates of the spans table
// for the Grafana time-series queries, so a dashboard over months reads
// minutes rather than spans.
//
// An AggregatingMergeTree fed by a materialized view sees every insert,
// replays included: the writer re-inserts a batch it could not commit, and
// the spans table (a ReplacingMergeTree) only folds the copies at merge or
// with FINAL. So the rollup keeps two counts per row: rows (every inserted
// row, countState) and spans (distinct spans, uniqExactState of a hash of
// the span's key). Span, request and error counts come from the distinct
// count and are exact with replays present; where rows differs from spans
// in a bucket, that bucket held a replayed span, and its token sums and
// quantiles are read from the spans table with FINAL instead
// (query.Reader.SpanSeries). Replays are rare, so this costs little.
//
// The migration also backfills the rollup from the spans already stored. A
// span inserted between the view's creation and the backfill lands twice:
// its bucket reads as replayed, and is read from spans — still exact.

// RollupTable is the name of the rollup table and RollupDims its
// dimension columns, in sort-key order after app and minute.
const RollupTable = "spans_rollup_1m"

// RollupDims are the span columns the rollup groups by: a filter or a
// grouping on any other column reads the spans table.
var RollupDims = []string{"app", "environment", "chain_name", "chain_version", "component_kind", "model_requested", "status", "root"}

const rollupSelect = `SELECT
    toStartOfMinute(start_time) AS minute,
    app, environment, chain_name, chain_version, component_kind, model_requested, status,
    toUInt8(parent_span_id = '') AS root,
    countState() AS rows,
    uniqExactState(cityHash64(trace_id, span_id)) AS spans,
    sumState(toUInt64(input_tokens)) AS input_tokens,
    sumState(toUInt64(output_tokens)) AS output_tokens,
    quantilesState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms
FROM spans`

const rollupGroupBy = `
GROUP BY minute, app, environment, chain_name, chain_version, component_kind, model_requested, status, root`

func (d ddl) spansRollup() []string {
	lc := d.lc()
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + RollupTable + ` (
    minute DateTime,
    app ` + lc + `,
    environment ` + lc + `,
    chain_name ` + lc + `,
    chain_version ` + lc + `,
    component_kind ` + lc + `,
    model_requested ` + lc + `,
    status ` + lc + `,
    root UInt8,
    rows AggregateFunction(count),
    spans AggregateFunction(uniqExact, UInt64),
    input_tokens AggregateFunction(sum, UInt64),
    output_tokens AggregateFunction(sum, UInt64),
    duration_ms AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (app, minute, environment, chain_name, chain_version, component_kind, model_requested, status, root)` + d.ttl("minute"),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS ` + RollupTable + `_mv TO ` + RollupTable + ` AS
` + rollupSelect + rollupGroupBy,
		`INSERT INTO ` + RollupTable + `
` + rollupSelect + rollupGroupBy,
	}
}
