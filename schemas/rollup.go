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
// replays included: the writer re-inserts a batch it could not commit, a
// sender retries a request, and the spans table (a ReplacingMergeTree)
// only folds the copies at merge or with FINAL. Rows, token sums and
// quantiles count a replayed span twice. Which buckets hold one is what
// the checks of migration 11 say (below, at CheckTable): a reader takes a
// bucket from the rollup only where they vouch for it, and reads the
// others from spans FINAL (query.Reader.SpanSeries). Until migration 11
// each row carried a distinct-span state for that instead.
//
// Migration 7 also backfills the rollup from the spans already stored. A
// span inserted between the view's creation and the backfill lands twice:
// its bucket's rows exceed its spans, and it is read from spans — still
// exact. A migrator interrupted after the backfill and run again
// backfills twice: every bucket then reads as replayed (exact, and as slow
// as spans) until the rollups are truncated and backfilled once (the
// INSERT … SELECT of spansRollup) and their checks truncated.

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

// selectSQL is migration 7's view and backfill: with the distinct-span
// state (see migration 11).
func (r Rollup) selectSQL() string { return r.rollupSQL(true) }

func (r Rollup) rollupSQL(distinct bool) string {
	// Without: an empty state (18.16's views fill no column they lack).
	spans := "\n    uniqExactStateIf(toUInt64(0), 0) AS spans,"
	if distinct {
		spans = "\n    uniqExactState(cityHash64(trace_id, span_id)) AS spans,"
	}
	return `SELECT
    ` + r.fn + `(start_time) AS bucket_start,
    app, environment, chain_name, chain_version, component_kind, model_requested, status,
    toUInt8(parent_span_id = '') AS root,
    countState() AS rows,` + spans + `
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

// The rollups' checks (migration 11). Migration 7's distinct-span state
// held the hash of every span of its bucket and group: a state grew with
// the traffic (3.6 M hashes an hour at 1,000 spans/s in one group), every
// merge of the bucket rewrote it and every dashboard query merged them
// all, so a rollup query cost in proportion to the spans it covered — the
// thing a rollup is for not doing. Migration 11 stops filling it (a view
// with an empty state replaces migration 7's; the column stays, and
// nothing reads it) and keeps exactness another way: a check per
// bucket and app, written by the worker (query.CheckRollups) once the
// bucket has closed — the rollup's inserted rows then, and the distinct
// spans the spans table holds for that bucket and app (uniqExact of its
// ReplacingMergeTree key, counted once, a minute or an hour of one app at
// a time). A reader takes a bucket from the rollup only where, for every
// app, the newest check's rows equal the rollup's rows now and its spans
// equal its rows: inserted rows only ever grow, so equal rows mean nothing
// was inserted since the check, and equal spans mean nothing in it was
// inserted twice. Every other bucket (not yet checked, inserted into
// since, or holding a replay) is read from spans FINAL, as a replayed one
// was before — exact either way, and a rollup query now reads a few
// numbers per bucket and app whatever the traffic.
//
// A check's versions: ReplacingMergeTree(checked_unix_nano) keeps the
// newest; readers take argMax(…, checked_unix_nano) before merges do.
// Where the spans of a bucket are gone (spans kept for fewer days than the
// rollups) the check takes the rollup as it is (spans = rows): reading
// spans would answer nothing. The new views are created before the old
// ones are dropped: a span inserted in between is counted twice in its
// bucket, which then holds more rows than spans and is read from spans.

// CheckTable is the table of r's checks.
func (r Rollup) CheckTable() string { return r.Table + "_checks" }

func (d ddl) rollupChecks() []string {
	lc := d.lc()
	var out []string
	for _, r := range Rollups {
		out = append(out, `CREATE TABLE IF NOT EXISTS `+r.CheckTable()+` (
    bucket_start DateTime,
    app `+lc+`,
    rows UInt64,
    spans UInt64,
    checked_unix_nano UInt64
) ENGINE = ReplacingMergeTree(checked_unix_nano)
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (app, bucket_start)`+d.ttl(r.Table, "bucket_start"),
			`CREATE MATERIALIZED VIEW IF NOT EXISTS `+r.Table+`_counts_mv TO `+r.Table+` AS
`+r.rollupSQL(false),
			`DROP TABLE IF EXISTS `+r.Table+`_mv`)
	}
	return out
}
