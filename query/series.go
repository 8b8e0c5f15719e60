package query

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// RollupMode says whether SpanSeries may read a rollup
// (schemas.Rollups) instead of the spans table.
type RollupMode int

const (
	// RollupAuto reads the rollup when the query allows it (see
	// SpanSeries) and the range is at least RollupMinRange long.
	RollupAuto RollupMode = iota
	// RollupNever always reads the spans table.
	RollupNever
	// RollupAlways reads the rollup whenever the query allows it.
	RollupAlways
)

// RollupMinRange is the shortest range RollupAuto reads from the rollup:
// below it the spans table is fast, and exact to the nanosecond at the
// range's ends.
const RollupMinRange = 6 * time.Hour

// maxBucketsFromSpans bounds the buckets read again from spans because
// their checks do not vouch for the rollup (uncheckedBuckets); above it
// the whole range is read from spans.
const maxBucketsFromSpans = 200

// SeriesOptions refine SpanSeries.
type SeriesOptions struct {
	Rollup RollupMode
	// RootsOnly keeps the root spans only (one per request): latency is
	// then the end-to-end latency of the chain.
	RootsOnly bool
	// NoLatency and NoTokens leave the quantiles (NaN) and the token sums
	// (0) out: cheaper when a panel does not show them.
	NoLatency, NoTokens bool
}

// SeriesPoint is one row of SpanSeries: the spans of one group in one time
// bucket.
type SeriesPoint struct {
	Group
	Spans         uint64 // distinct spans
	Errors        uint64 // of which status "error"
	Requests      uint64 // root spans (one per request)
	RequestErrors uint64 // root spans with status "error"
	InputTokens   uint64
	OutputTokens  uint64
	// P50MS, P95MS and P99MS are quantiles of the spans' durations
	// (from spans: ClickHouse's quantiles, exact below 8192 values, sampled
	// above; from the rollup: merged t-digests, approximate).
	P50MS, P95MS, P99MS float64
}

// Series is the result of SpanSeries.
type Series struct {
	Points []SeriesPoint
	// Rollup says the points came from the rollup table (the range widened
	// to whole buckets), RollupTable which; BucketsFromSpans is how many
	// of its buckets were read from spans FINAL instead (not checked yet,
	// inserted into since their check, or holding a replayed span).
	Rollup           bool
	RollupTable      string
	BucketsFromSpans int
	// From and To are the range actually read.
	From, To time.Time
}

// rollupCols are the rollup's columns for each selector field ("" where
// the rollup lacks the field).
var rollupCols = [nFields]string{fApp: "app", fEnvironment: "environment", fChain: "chain_name", fChainVersion: "chain_version",
	fComponentKind: "component_kind", fModel: "model_requested", fStatus: "status"}

// rollupTable is a rollup as a selector sees it: the range bounds the
// bucket's start.
func rollupTable(r schemas.Rollup) Table {
	return Table{name: r.Table, cols: rollupCols, time: seconds("bucket_start")}
}

// pickRollup is the coarsest rollup whose buckets divide the interval;
// without an interval (one bucket for the range) the coarsest.
func pickRollup(iv time.Duration) (schemas.Rollup, bool) {
	if iv == 0 {
		return schemas.Rollups[0], true
	}
	for _, r := range schemas.Rollups {
		if iv > 0 && iv%r.Step == 0 {
			return r, true
		}
	}
	return schemas.Rollup{}, false
}

// rollupDims are the rollup's columns for each dimension it has
// (ByComponent is not among them).
var rollupDims = map[Dimension][]string{
	ByApp:          {"app"},
	ByEnvironment:  {"environment"},
	ByChain:        {"chain_name"},
	ByChainVersion: {"chain_name", "chain_version"},
	ByModel:        {"model_requested"},
}

// rollupAllows says whether the rollup can answer sel grouped by g.
func rollupAllows(sel Selector, g Grouping) bool {
	if sel.Component != "" || len(sel.And) > 0 || sel.From.IsZero() || sel.To.IsZero() {
		return false
	}
	if _, ok := pickRollup(g.Interval); !ok {
		return false
	}
	for _, d := range g.By {
		if _, ok := rollupDims[d]; !ok {
			return false
		}
	}
	return true
}

// SpanSeries returns the traffic of the spans sel selects (table Spans: by
// start time) per group and time bucket of g, ordered by bucket and then
// by the dimensions in g.By's order, each span counted once however often
// it was inserted. It reads a rollup when opts allow it, g
// has a whole-minute Interval (or none: a table), g.By and sel use only the rollup's columns
// (not the component's name, no extra predicates) and both bounds are
// set; the range is then widened to whole buckets of the coarsest rollup
// that divides the interval (hours, else minutes). Buckets of the rollup
// whose checks do not vouch for it (held a replayed span, or were
// inserted into since the worker last checked them: uncheckedBuckets)
// are read again from spans with FINAL, so counts and token sums are
// exact either way. Without an interval (one bucket for the range) those
// hours are left out of the rollup's counts and token sums and read from
// spans FINAL instead, the two added up (quantiles: see patchHours).
func (r *Reader) SpanSeries(ctx context.Context, sel Selector, g Grouping, opts SeriesOptions) (Series, error) {
	if err := g.validate(spanDims); err != nil {
		return Series{}, err
	}
	useRollup := opts.Rollup != RollupNever && rollupAllows(sel, g) &&
		(opts.Rollup == RollupAlways || sel.To.Sub(sel.From) >= RollupMinRange)
	if !useRollup {
		pts, err := r.rawSeries(ctx, sel, g, opts, nil)
		return Series{Points: pts, From: sel.From, To: sel.To}, err
	}
	ru, _ := pickRollup(g.Interval)
	sel.From = sel.From.Truncate(ru.Step)
	if t := sel.To.Truncate(ru.Step); !t.Equal(sel.To) {
		sel.To = t.Add(ru.Step)
	}
	pts, err := r.rollupSeries(ctx, ru, sel, g, opts)
	if err != nil {
		return Series{}, err
	}
	// The checks after the rollup: a bucket inserted into between the two
	// reads no longer matches its check, and is read from spans.
	dirty, err := r.uncheckedBuckets(ctx, ru, sel.From, sel.To, g.Interval)
	if err != nil {
		return Series{}, err
	}
	out := Series{Rollup: true, RollupTable: ru.Table, BucketsFromSpans: len(dirty), From: sel.From, To: sel.To}
	if len(dirty) == 0 {
		out.Points = pts
		return out, nil
	}
	if len(dirty) > maxBucketsFromSpans {
		out.Points, err = r.rawSeries(ctx, sel, g, opts, nil)
		return out, err
	}
	if g.Interval == 0 {
		out.Points, err = r.patchHours(ctx, ru, sel, g, opts, dirty, pts)
		return out, err
	}
	again, err := r.rawSeries(ctx, sel, g, opts, dirty)
	if err != nil {
		return Series{}, err
	}
	isDirty := map[int64]bool{}
	for _, b := range dirty {
		isDirty[int64(b)] = true
	}
	kept := pts[:0]
	for _, p := range pts {
		if !isDirty[p.Time.Unix()] {
			kept = append(kept, p)
		}
	}
	out.Points = append(kept, again...)
	sort.SliceStable(out.Points, func(i, j int) bool { return lessPoint(out.Points[i], out.Points[j], g.By) })
	return out, nil
}

// patchHours answers a one-bucket series from the rollup's hours without
// replays plus spans FINAL over the hours with (dirty: their starts); the
// quantiles are all's (the rollup over every hour: a replayed span's
// duration counted twice among the rest moves a t-digest's quantiles
// little, and leaving those hours out would leave groups with few spans).
func (r *Reader) patchHours(ctx context.Context, ru schemas.Rollup, sel Selector, g Grouping, opts SeriesOptions, dirty []uint64, all []SeriesPoint) ([]SeriesPoint, error) {
	clean, err := r.rollupSeries(ctx, ru, sel.with(Predicate{SQL: "NOT has(?, toUInt32(bucket_start))", Args: []any{dirty}}), g, opts)
	if err != nil {
		return nil, err
	}
	n := uint64(ru.Step / time.Second)
	again, err := r.rawSeries(ctx, sel.with(Predicate{SQL: "has(?, toUInt32(intDiv(toUInt32(start_time), ?) * ?))", Args: []any{dirty, n, n}}), g, opts, nil)
	if err != nil {
		return nil, err
	}
	key := func(p SeriesPoint) string {
		k := ""
		for _, d := range g.By {
			for _, c := range spanDims[d] {
				k += *groupField(d, c)(&p.Group) + "\x00"
			}
		}
		return k
	}
	at := map[string]int{}
	out := append([]SeriesPoint(nil), clean...)
	for i, p := range out {
		at[key(p)] = i
	}
	for _, p := range again {
		i, ok := at[key(p)]
		if !ok {
			at[key(p)] = len(out)
			out = append(out, p)
			continue
		}
		o := &out[i]
		o.Spans += p.Spans
		o.Errors += p.Errors
		o.Requests += p.Requests
		o.RequestErrors += p.RequestErrors
		o.InputTokens += p.InputTokens
		o.OutputTokens += p.OutputTokens
	}
	for _, p := range all {
		if i, ok := at[key(p)]; ok {
			out[i].P50MS, out[i].P95MS, out[i].P99MS = p.P50MS, p.P95MS, p.P99MS
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return lessPoint(out[i], out[j], g.By) })
	return out, nil
}

func lessPoint(a, b SeriesPoint, by []Dimension) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	for _, d := range by {
		for _, c := range spanDims[d] {
			x, y := *groupField(d, c)(&a.Group), *groupField(d, c)(&b.Group)
			if x != y {
				return x < y
			}
		}
	}
	return false
}

// rawSeries reads the points from spans FINAL; buckets, when set, limits
// it to those buckets (Unix seconds of their start).
func (r *Reader) rawSeries(ctx context.Context, sel Selector, g Grouping, opts SeriesOptions, buckets []uint64) ([]SeriesPoint, error) {
	if opts.RootsOnly {
		sel = sel.with(Predicate{SQL: "parent_span_id = ''"})
	}
	bucket, bargs := g.bucket("intDiv(start_unix_nano, 1000000000)")
	if len(buckets) > 0 {
		n := uint64(g.Interval / time.Second)
		sel = sel.with(Predicate{SQL: "has(?, toUInt64(intDiv(toUInt32(start_time), ?) * ?))", Args: []any{buckets, n, n}})
	}
	where, wargs, err := sel.Where(Spans)
	if err != nil {
		return nil, err
	}
	cols, dest := g.keys(spanDims)
	groupBy := "bucket" + prefixed(cols)
	tokens, latency := "sum(toUInt64(input_tokens)), sum(toUInt64(output_tokens))", "quantiles(0.5, 0.95, 0.99)(duration_ms)"
	if opts.NoTokens {
		tokens = "toUInt64(0), toUInt64(0)"
	}
	if opts.NoLatency {
		latency = "emptyArrayFloat64()"
	}
	q := "SELECT " + bucket + " AS bucket" + prefixed(cols) + `,
    count(), countIf(status = 'error'), countIf(parent_span_id = ''), countIf(parent_span_id = '' AND status = 'error'),
    ` + tokens + ", " + latency + `
FROM spans FINAL ` + where + " GROUP BY " + groupBy + " HAVING count() > 0 ORDER BY " + groupBy
	return r.seriesRows(ctx, q, append(bargs, wargs...), g, dest)
}

// rollupSeries reads the points from the rollup. Its counts are of
// inserted rows: the distinct spans' counts in the buckets whose checks
// say so (uncheckedBuckets lists the others, read again from spans).
func (r *Reader) rollupSeries(ctx context.Context, ru schemas.Rollup, sel Selector, g Grouping, opts SeriesOptions) ([]SeriesPoint, error) {
	if opts.RootsOnly {
		sel = sel.with(Predicate{SQL: "root = 1"})
	}
	where, wargs, err := sel.Where(rollupTable(ru))
	if err != nil {
		return nil, err
	}
	bucket, bargs := g.bucket("toUInt32(bucket_start)")
	cols, dest := g.keys(rollupDims)
	groupBy := "bucket" + prefixed(cols)
	tokens, latency := "sumMerge(input_tokens), sumMerge(output_tokens)", "arrayMap(x -> toFloat64(x), quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_ms))"
	if opts.NoTokens {
		tokens = "toUInt64(0), toUInt64(0)"
	}
	if opts.NoLatency {
		latency = "emptyArrayFloat64()"
	}
	q := "SELECT " + bucket + " AS bucket" + prefixed(cols) + `,
    countMerge(rows), countMergeIf(rows, status = 'error'), countMergeIf(rows, root = 1), countMergeIf(rows, root = 1 AND status = 'error'),
    ` + tokens + ", " + latency + `
FROM ` + ru.Table + " " + where + " GROUP BY " + groupBy + " HAVING countMerge(rows) > 0 ORDER BY " + groupBy
	return r.seriesRows(ctx, q, append(bargs, wargs...), g, dest)
}

// uncheckedBuckets lists the buckets of the rollup in [from, to) that
// must be read from spans (schemas.Rollup.CheckTable says why): those in
// which some app's rows differ from its newest check's, or its check
// found fewer spans than rows. With an interval they are the series'
// buckets (Unix seconds of their start) holding such a rollup bucket,
// without, the rollup's own. Every app counts, whatever sel selects: a
// check is per bucket and app, and reading a bucket again costs less
// than one more query to narrow it.
func (r *Reader) uncheckedBuckets(ctx context.Context, ru schemas.Rollup, from, to time.Time, interval time.Duration) ([]uint64, error) {
	b, args := "toUInt64(toUInt32(bucket_start))", []any(nil)
	if interval > 0 {
		b, args = Grouping{Interval: interval}.bucket("toUInt32(bucket_start)")
	}
	q := "SELECT DISTINCT " + b + " AS b FROM (" + checkedRowsSQL(ru, bucketRange) + `)
WHERE n > 0 AND NOT (checked_rows = n AND checked_spans = n) ORDER BY b LIMIT ?`
	args = append(args, from.Unix(), to.Unix(), from.Unix(), to.Unix(), maxBucketsFromSpans+1)
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying span series: the rollup's checks: %w", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var b uint64
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("querying span series: the rollup's checks: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (r *Reader) seriesRows(ctx context.Context, q string, args []any, g Grouping, dest []func(*Group) *string) ([]SeriesPoint, error) {
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying span series: %w", err)
	}
	defer rows.Close()
	var out []SeriesPoint
	for rows.Next() {
		var p SeriesPoint
		var b uint64
		var qs []float64
		d := []any{&b}
		for _, f := range dest {
			d = append(d, f(&p.Group))
		}
		d = append(d, &p.Spans, &p.Errors, &p.Requests, &p.RequestErrors, &p.InputTokens, &p.OutputTokens, &qs)
		if err := rows.Scan(d...); err != nil {
			return nil, fmt.Errorf("reading span series: %w", err)
		}
		if g.Interval > 0 {
			p.Time = time.Unix(int64(b), 0).UTC()
		}
		p.P50MS, p.P95MS, p.P99MS = math.NaN(), math.NaN(), math.NaN()
		if len(qs) == 3 && p.Spans > 0 {
			p.P50MS, p.P95MS, p.P99MS = qs[0], qs[1], qs[2]
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading span series: %w", err)
	}
	return out, nil
}
