package schemas

import "time"

// The spans rollups (migration 7): per-minute and per-hour aggregates of
// the spans table for the Grafana time-series queries, so a dashboard over
// months reads minutes or hours rather than spans. Two granularities: a
// state per (minute, group) holds a handful of spans, and merging millions
// of small states costs nearly what reading the spans does; the hourly one
// serves intervals of whole hours (a month's dashboard).
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
// its bucket reads as replayed, and is read from spans — still exact. A
// migrator interrupted after the backfill and run again backfills twice:
// every bucket then reads as replayed (exact, and as slow as spans) until
// the rollups are truncated and backfilled once (the INSERT … SELECT of
// spansRollup).

// Rollup is one rollup table: its name and the width of its buckets.
type Rollup struct {
	Table string
	Step  time.Duration
	fn    string // the bucket function of start_time
}

// Rollups are the rollup tables, coarsest first.
var Rollups = []Rollup{
	{"spans_rollup_1h", time.Hour, "toStartOfHour"},
	{"spans_rollup_1m", time.Minute, "toStartOfMinute"},
}

// RollupDims are the span columns the rollups group by (besides
// bucket_start, the bucket's start): a filter or a grouping on any other
// column reads the spans table.
var RollupDims = []string{"app", "environment", "chain_name", "chain_version", "component_kind", "model_requested", "status", "root"}

func (r Rollup) selectSQL() string {
	return `SELECT
    ` + r.fn + `(start_time) AS bucket_start,
    app, environment, chain_name, chain_version, component_kind, model_requested, status,
    toUInt8(parent_span_id = '') AS root,
    countState() AS rows,
    uniqExactState(cityHash64(trace_id, span_id)) AS spans,
    sumState(toUInt64(input_tokens)) AS input_tokens,
    sumState(toUInt64(output_tokens)) AS output_tokens,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms
FROM spans
GROUP BY bucket_start, app, environment, chain_name, chain_version, component_kind, model_requested, status, root`
}

func (d ddl) spansRollup() []string {
	lc := d.lc()
	var out []string
	for _, r := range Rollups {
		out = append(out,
			`CREATE TABLE IF NOT EXISTS `+r.Table+` (
    bucket_start DateTime,
    app `+lc+`,
    environment `+lc+`,
    chain_name `+lc+`,
    chain_version `+lc+`,
    component_kind `+lc+`,
    model_requested `+lc+`,
    status `+lc+`,
    root UInt8,
    rows AggregateFunction(count),
    spans AggregateFunction(uniqExact, UInt64),
    input_tokens AggregateFunction(sum, UInt64),
    output_tokens AggregateFunction(sum, UInt64),
    duration_ms AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (app, bucket_start, environment, chain_name, chain_version, component_kind, model_requested, status, root)`+d.ttl(r.Table, "bucket_start"),
			`CREATE MATERIALIZED VIEW IF NOT EXISTS `+r.Table+`_mv TO `+r.Table+` AS
`+r.selectSQL())
	}
	// The backfill runs after both views exist (see above: a span
	// inserted meanwhile reads as replayed, and is read from spans).
	for _, r := range Rollups {
		out = append(out, `INSERT INTO `+r.Table+`
`+r.selectSQL())
	}
	return out
}
