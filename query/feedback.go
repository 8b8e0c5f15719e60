package query

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FeedbackValues returns the end-user feedback scores of sel (table
// Feedback: given in [sel.From, sel.To), both required; the lineage fields
// keep feedback on traces with a matching span) — at most max of them, a
// deterministic subset by a hash of the feedback id. Sample.Time is the
// feedback's time in whole seconds. Feedback without a score is left out;
// replays are not deduplicated (as WindowSpans).
func (r *Reader) FeedbackValues(ctx context.Context, sel Selector, max int) ([]Sample, error) {
	if sel.From.IsZero() || sel.To.IsZero() {
		return nil, errors.New("feedback values: from and to are required")
	}
	if max <= 0 {
		return nil, fmt.Errorf("feedback values: %w", errNoMax)
	}
	where, args, err := sel.with(Predicate{SQL: "isNotNull(score)"}).Where(Feedback)
	if err != nil {
		return nil, err
	}
	q := "SELECT toUInt64(toUnixTimestamp(time)) * 1000000000, assumeNotNull(score) FROM feedback " + where +
		" ORDER BY cityHash64(id) LIMIT ?"
	out, err := r.samples(ctx, q, append(args, max))
	if err != nil {
		return nil, fmt.Errorf("reading feedback: %w", err)
	}
	return out, nil
}

// FeedbackStat is one time bucket of FeedbackStats.
type FeedbackStat struct {
	Time   time.Time // bucket start (UTC); zero without an Interval
	Count  uint64    // feedback given
	Scored uint64    // of which with a score
	// MeanScore is the mean of the scores; 0 when none has one.
	MeanScore float64
}

// FeedbackStats returns the feedback sel selects (table Feedback), counted
// once per id (FINAL), per time bucket of g, in time order. The feedback
// table has no lineage columns, so g.By must be empty. Buckets without
// feedback have no row.
func (r *Reader) FeedbackStats(ctx context.Context, sel Selector, g Grouping) ([]FeedbackStat, error) {
	if err := g.validate(nil); err != nil {
		return nil, err
	}
	where, wargs, err := sel.Where(Feedback)
	if err != nil {
		return nil, err
	}
	bucket, args := g.bucket("toUnixTimestamp(time)")
	q := "SELECT " + bucket + ` AS bucket, count(), count(score), toFloat64(ifNull(sum(score), 0)) / greatest(count(score), 1)
FROM feedback FINAL ` + where + " GROUP BY bucket HAVING count() > 0 ORDER BY bucket"
	rows, err := r.conn.Query(ctx, q, append(args, wargs...)...)
	if err != nil {
		return nil, fmt.Errorf("querying feedback stats: %w", err)
	}
	defer rows.Close()
	var out []FeedbackStat
	for rows.Next() {
		var s FeedbackStat
		var b uint64
		if err := rows.Scan(&b, &s.Count, &s.Scored, &s.MeanScore); err != nil {
			return nil, fmt.Errorf("reading feedback stats: %w", err)
		}
		if g.Interval > 0 {
			s.Time = time.Unix(int64(b), 0).UTC()
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading feedback stats: %w", err)
	}
	return out, nil
}
