package schemas

// The eval_scores table (issue 5): one row per metric of one evaluation of
// one span, written by the writer from the scores topic (and by
// `chainwatch redteam` directly).

// ScoreColumns is the eval_scores insert column list, in the order
// clickhouse.Inserter.InsertScores appends them. latency_ms is Score.Latency in
// milliseconds; ingested_at is the insert time and the ReplacingMergeTree
// version.
func ScoreColumns() []string {
	return []string{"trace_id", "span_id", "app", "chain", "evaluator", "evaluator_version", "metric",
		"value", "reasoning", "judge_model", "cost_usd", "latency_ms", "error", "created", "ingested_at", "label"}
}

// evalScoresTable keeps one row per (trace_id, span_id, evaluator,
// evaluator_version, metric) after merges or with FINAL: a span evaluated
// again — by a runner restarted before it committed its offsets, or a
// replayed scores record — replaces itself, the newest insert winning.
//
// app and chain lead the sort key because every reader filters on them
// (monitors, dashboards); they are functions of the span, so they do not
// widen the deduplication key. The table is deliberately not partitioned
// by created: a re-evaluation straddling a month boundary would land in
// another partition, and ReplacingMergeTree only replaces within one.
// Retention is the TTL on created where the server has TTL.
func (d ddl) evalScoresTable() string {
	lc := d.lc()
	return `CREATE TABLE IF NOT EXISTS eval_scores (
    trace_id String,
    span_id String,
    app ` + lc + `,
    chain ` + lc + `,
    evaluator ` + lc + `,
    evaluator_version ` + lc + `,
    metric ` + lc + `,
    value Float64,
    reasoning String,
    judge_model ` + lc + `,
    cost_usd Float64,
    latency_ms Float64,
    error String,
    created ` + d.ts() + `,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (app, chain, evaluator, metric, evaluator_version, trace_id, span_id)` + d.ttl("eval_scores", "created")
}
