package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// EvalScoreValues returns the valid (error-free) values of one evaluator's
// metric that sel selects (table EvalScores: created in [sel.From,
// sel.To), both required) — at most max of them, a deterministic subset by
// a hash of the span's ids — counted once per evaluation (FINAL).
// Sample.Time is the score's creation in whole seconds.
func (r *Reader) EvalScoreValues(ctx context.Context, sel Selector, evaluator, metric string, max int) ([]Sample, error) {
	if sel.From.IsZero() || sel.To.IsZero() {
		return nil, errors.New("eval score values: from and to are required")
	}
	if max <= 0 {
		return nil, fmt.Errorf("eval score values: %w", errNoMax)
	}
	where, args, err := sel.with(Eq("evaluator", evaluator), Eq("metric", metric), Predicate{SQL: "error = ''"}).Where(EvalScores)
	if err != nil {
		return nil, err
	}
	q := "SELECT toUInt64(toUnixTimestamp(created)) * 1000000000, value FROM eval_scores FINAL " + where +
		" ORDER BY cityHash64(trace_id, span_id) LIMIT ?"
	out, err := r.samples(ctx, q, append(args, max))
	if err != nil {
		return nil, fmt.Errorf("reading eval scores: %w", err)
	}
	return out, nil
}

// scoreDims are the eval_scores columns for each dimension it has.
var scoreDims = map[Dimension][]string{ByApp: {"app"}, ByChain: {"chain"}}

// ScoreStat is one row of ScoreStats: one evaluator's metric in one group
// and time bucket.
type ScoreStat struct {
	Group
	Evaluator, Metric string
	Scores            uint64  // valid evaluations
	Errors            uint64  // evaluations that failed (no value)
	Mean              float64 // mean of the valid values; NaN when none
	Min, Max          float64 // of the valid values; NaN when none
}

// ScoreStats returns the evaluations sel selects (table EvalScores), once
// per evaluation (FINAL), per evaluator, metric, group (ByApp, ByChain)
// and time bucket of g, ordered by bucket, evaluator, metric and then the
// dimensions.
func (r *Reader) ScoreStats(ctx context.Context, sel Selector, g Grouping) ([]ScoreStat, error) {
	if err := g.validate(scoreDims); err != nil {
		return nil, err
	}
	where, wargs, err := sel.Where(EvalScores)
	if err != nil {
		return nil, err
	}
	bucket, args := g.bucket("toUnixTimestamp(created)")
	cols, dest := g.keys(scoreDims)
	keys := "bucket, evaluator, metric" + prefixed(cols)
	q := "SELECT " + bucket + " AS bucket, evaluator, metric" + prefixed(cols) + `,
    countIf(error = ''), countIf(error != ''),
    avgIf(value, error = ''), minIf(value, error = ''), maxIf(value, error = '')
FROM eval_scores FINAL ` + where + " GROUP BY " + keys + " HAVING count() > 0 ORDER BY " + keys
	rows, err := r.conn.Query(ctx, q, append(args, wargs...)...)
	if err != nil {
		return nil, fmt.Errorf("querying score stats: %w", err)
	}
	defer rows.Close()
	var out []ScoreStat
	for rows.Next() {
		var s ScoreStat
		var b uint64
		d := []any{&b, &s.Evaluator, &s.Metric}
		for _, f := range dest {
			d = append(d, f(&s.Group))
		}
		d = append(d, &s.Scores, &s.Errors, &s.Mean, &s.Min, &s.Max)
		if err := rows.Scan(d...); err != nil {
			return nil, fmt.Errorf("reading score stats: %w", err)
		}
		if g.Interval > 0 {
			s.Time = time.Unix(int64(b), 0).UTC()
		}
		if s.Scores == 0 {
			s.Mean, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN()
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading score stats: %w", err)
	}
	return out, nil
}

// AgreementPair is one trace with both a judge's score and user feedback.
type AgreementPair struct {
	TraceID string
	Judge   float64 // the evaluator's valid scores on the trace, averaged
	Human   float64 // the trace's feedback scores, averaged
}

// AgreementGroup is the pairs of one evaluator's metric.
type AgreementGroup struct {
	Evaluator, Metric string
	Pairs             []AgreementPair // by trace id
	// NonBinary: some trace's feedback has a score other than 0 and 1
	// (ratings rather than thumbs).
	NonBinary bool
}

// AgreementPairs joins the valid evaluation scores that sel selects (table
// EvalScores; evaluator and metric "" for all), averaged per evaluator,
// metric and trace, with the feedback that has a score, averaged per
// trace, by trace id; both deduplicated with FINAL. Groups come ordered by
// evaluator and metric. The feedback is not bounded by time: a judge's
// score created in the range is paired with whatever the users said.
func (r *Reader) AgreementPairs(ctx context.Context, sel Selector, evaluator, metric string) ([]AgreementGroup, error) {
	sel = sel.with(Predicate{SQL: "error = ''"})
	if evaluator != "" {
		sel = sel.with(Eq("evaluator", evaluator))
	}
	if metric != "" {
		sel = sel.with(Eq("metric", metric))
	}
	where, args, err := sel.Where(EvalScores)
	if err != nil {
		return nil, err
	}
	// ALL INNER JOIN … USING with unqualified column names works on
	// ClickHouse 18.16 and on current servers alike.
	q := `
SELECT evaluator, metric, trace_id, judge, human, non_binary
FROM (
    SELECT evaluator, metric, trace_id, avg(value) AS judge
    FROM eval_scores FINAL
    ` + where + `
    GROUP BY evaluator, metric, trace_id
)
ALL INNER JOIN (
    SELECT trace_id, avg(ifNull(score, 0)) AS human,
           max(ifNull(score, 0) != 0 AND ifNull(score, 0) != 1) AS non_binary
    FROM feedback FINAL
    WHERE isNotNull(score)
    GROUP BY trace_id
) USING trace_id
ORDER BY evaluator, metric, trace_id`
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying scores joined with feedback: %w", err)
	}
	defer rows.Close()
	var out []AgreementGroup
	for rows.Next() {
		var ev, m, trace string
		var judge, human float64
		var nonBinary uint8
		if err := rows.Scan(&ev, &m, &trace, &judge, &human, &nonBinary); err != nil {
			return nil, fmt.Errorf("reading scores joined with feedback: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Evaluator != ev || out[len(out)-1].Metric != m {
			out = append(out, AgreementGroup{Evaluator: ev, Metric: m})
		}
		g := &out[len(out)-1]
		g.Pairs = append(g.Pairs, AgreementPair{TraceID: trace, Judge: judge, Human: human})
		g.NonBinary = g.NonBinary || nonBinary != 0
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading scores joined with feedback: %w", err)
	}
	return out, nil
}
