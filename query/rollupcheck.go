package query

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// The rollups' checks: why they exist and what a reader makes of them is
// schemas.Rollup.CheckTable's comment; this is the writing side, run by
// the worker (RunRollupChecks). Each (bucket, app) is checked once its
// bucket has closed and again only when rows were inserted into it since,
// so the spans table's key columns are read about once per span, not once
// per dashboard query.

// CheckSettle is how long after its end a bucket is first checked: spans
// are exported after they end, so a minute keeps receiving them for a
// while. A span arriving later makes its bucket's rows differ from the
// check's, and the next pass checks it again.
const CheckSettle = 2 * time.Minute

// checkChunkRows bounds the spans one distinct count reads: uniqExact
// holds every key it has seen (a few tens of bytes each), so an hour of a
// busy app is counted a few minutes at a time.
const checkChunkRows = 4 << 20

// CheckReport says what one CheckRollups pass did.
type CheckReport struct {
	Hours    int // (hour, app) pairs inserted into since their last check
	Checks   int // checks written, minutes and hours
	Replayed int // of them, buckets holding fewer distinct spans than rows
	Expired  int // of them, buckets whose spans were gone (taken as the rollup says)
}

// CheckRollups checks the rollups' buckets that were inserted into since
// their last check (or never checked), newest hour first, at most
// maxHours (hour, app) pairs a pass (0: all): for each, the rollups' rows
// of its minutes and of the hour, read first, then the distinct spans of
// the minutes whose rows changed, counted from spans. Minutes are checked
// once CheckSettle has passed since their end, hours likewise.
func (r *Reader) CheckRollups(ctx context.Context, now time.Time, maxHours int) (CheckReport, error) {
	var rep CheckReport
	hour, minute := schemas.Rollups[0], schemas.Rollups[1]
	if hour.Step != time.Hour || minute.Step != time.Minute {
		return rep, fmt.Errorf("checking rollups: expected the hourly and the per-minute rollup, got %s and %s", hour.Table, minute.Table)
	}
	limit := ""
	if maxHours > 0 {
		limit = fmt.Sprintf(" LIMIT %d", maxHours)
	}
	type pair struct {
		hour uint32
		app  string
		rows uint64
	}
	var todo []pair
	rows, err := r.conn.Query(ctx, `SELECT toUInt32(bucket_start) AS h, app, n FROM (`+checkedRowsSQL(hour, "")+`)
WHERE n != checked_rows ORDER BY h DESC, app`+limit)
	if err != nil {
		return rep, fmt.Errorf("checking rollups: listing the hours to check: %w", err)
	}
	for rows.Next() {
		var p pair
		if err := rows.Scan(&p.hour, &p.app, &p.rows); err != nil {
			rows.Close()
			return rep, fmt.Errorf("checking rollups: %w", err)
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("checking rollups: %w", err)
	}
	// The checks' version: the clock's, not now (a caller's), so that a
	// later check wins.
	version := uint64(time.Now().UnixNano())
	for len(todo) > 0 { // an hour at a time, its apps together
		n := 1
		for n < len(todo) && todo[n].hour == todo[0].hour {
			n++
		}
		h, pairs := todo[0].hour, todo[:n]
		todo = todo[n:]
		rep.Hours += len(pairs)
		mins, err := r.minuteChecks(ctx, minute, h)
		if err != nil {
			return rep, err
		}
		// The minutes to count: closed, and inserted into since their check.
		var count []*minuteCheck
		for _, p := range pairs {
			for i := range mins[p.app] {
				if m := &mins[p.app][i]; m.rows != m.checkedRows && closed(m.start, time.Minute, now) {
					count = append(count, m)
				}
			}
		}
		if err := r.countSpans(ctx, count); err != nil {
			return rep, err
		}
		var minuteOut, hourOut []check
		for _, p := range pairs {
			if len(mins[p.app]) == 0 && closed(h, time.Hour, now) {
				// The per-minute rollup no longer holds the hour (kept for
				// fewer days than the hourly one): the hour is counted whole.
				c := check{start: h, app: p.app, rows: p.rows}
				if c.spans, err = r.hourSpans(ctx, p.app, h); err != nil {
					return rep, err
				}
				hourOut = append(hourOut, rep.counted(c))
				continue
			}
			var sumRows, sumSpans uint64
			allChecked := true
			for i := range mins[p.app] {
				m := &mins[p.app][i]
				sumRows += m.rows
				if m.counted {
					c := rep.counted(check{start: m.start, app: p.app, rows: m.rows, spans: m.spans})
					m.checkedRows, m.checkedSpans = c.rows, c.spans
					minuteOut = append(minuteOut, c)
				}
				if m.checkedRows != m.rows {
					allChecked = false
				}
				sumSpans += m.checkedSpans
			}
			// The hour: once closed, every minute checked, and its rows
			// the minutes' (both views see the same inserts; rows inserted
			// between the two reads differ, and a later pass checks it).
			if closed(h, time.Hour, now) && allChecked && sumRows == p.rows {
				hourOut = append(hourOut, rep.counted(check{start: h, app: p.app, rows: p.rows, spans: sumSpans}))
			}
		}
		if err := r.writeChecks(ctx, minute.CheckTable(), minuteOut, version); err != nil {
			return rep, err
		}
		if err := r.writeChecks(ctx, hour.CheckTable(), hourOut, version); err != nil {
			return rep, err
		}
		rep.Checks += len(minuteOut) + len(hourOut)
	}
	return rep, nil
}

// counted is the check c as written, its spans counted from the spans
// table: where they are gone (none left) it takes the rollup as it is
// (spans = rows). It counts c in rep as expired or replayed.
func (rep *CheckReport) counted(c check) check {
	if c.spans == 0 {
		c.spans = c.rows
		rep.Expired++
	}
	if c.spans != c.rows {
		rep.Replayed++
	}
	return c
}

// checkedRowsSQL is the rollup ru's rows per bucket and app (n) where
// cond holds, beside the newest check's (checked_rows, checked_spans; 0
// where there is none). cond's arguments are passed twice: it filters
// the rollup and its checks alike.
func checkedRowsSQL(ru schemas.Rollup, cond string) string {
	if cond != "" {
		cond = " WHERE " + cond
	}
	return `SELECT bucket_start, app, n, checked_rows, checked_spans FROM (
    SELECT bucket_start, app, countMerge(rows) AS n FROM ` + ru.Table + cond + ` GROUP BY bucket_start, app
) ANY LEFT JOIN (
    SELECT bucket_start, app, argMax(rows, checked_unix_nano) AS checked_rows, argMax(spans, checked_unix_nano) AS checked_spans
    FROM ` + ru.CheckTable() + cond + ` GROUP BY bucket_start, app
) USING (bucket_start, app)`
}

// bucketRange is checkedRowsSQL's condition for [from, to) in Unix seconds.
const bucketRange = "bucket_start >= toDateTime(?) AND bucket_start < toDateTime(?)"

// closed says whether the bucket starting at start (Unix seconds) ended
// CheckSettle or more before now.
func closed(start uint32, step time.Duration, now time.Time) bool {
	return !time.Unix(int64(start), 0).Add(step + CheckSettle).After(now)
}

type minuteCheck struct {
	start                     uint32 // Unix seconds
	app                       string
	rows                      uint64 // the rollup's, now
	checkedRows, checkedSpans uint64 // the newest check's (0, 0: none)
	spans                     uint64 // counted by this pass
	counted                   bool
}

type check struct {
	start       uint32
	app         string
	rows, spans uint64
}

// minuteChecks reads the per-minute rollup's rows in the hour starting at
// h, and each minute's newest check, by app.
func (r *Reader) minuteChecks(ctx context.Context, ru schemas.Rollup, h uint32) (map[string][]minuteCheck, error) {
	rows, err := r.conn.Query(ctx, `SELECT toUInt32(bucket_start) AS m, app, n, checked_rows, checked_spans FROM (`+
		checkedRowsSQL(ru, bucketRange)+") ORDER BY m", h, h+3600, h, h+3600)
	if err != nil {
		return nil, fmt.Errorf("checking rollups: the minutes of %s: %w", time.Unix(int64(h), 0).UTC().Format(time.RFC3339), err)
	}
	defer rows.Close()
	out := map[string][]minuteCheck{}
	for rows.Next() {
		var m minuteCheck
		if err := rows.Scan(&m.start, &m.app, &m.rows, &m.checkedRows, &m.checkedSpans); err != nil {
			return nil, fmt.Errorf("checking rollups: %w", err)
		}
		out[m.app] = append(out[m.app], m)
	}
	return out, rows.Err()
}

// countSpans counts the distinct spans of each minute of ms (one hour's,
// any apps) from the spans table (its ReplacingMergeTree key: what FINAL
// folds), a run of minutes holding at most checkChunkRows rows at a time.
func (r *Reader) countSpans(ctx context.Context, ms []*minuteCheck) error {
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	for len(ms) > 0 {
		n, inRun := 1, ms[0].rows
		for n < len(ms) && (ms[n].start == ms[n-1].start || inRun+ms[n].rows <= checkChunkRows) {
			inRun += ms[n].rows
			n++
		}
		run := ms[:n]
		ms = ms[n:]
		var apps []string
		for _, m := range run {
			if !slices.Contains(apps, m.app) {
				apps = append(apps, m.app)
			}
		}
		// toDateTime: start_time is a DateTime64 on servers that have it,
		// and toStartOfMinute then keeps its type.
		from, to := run[0].start, run[len(run)-1].start+60
		rows, err := r.conn.Query(ctx, `SELECT toUInt32(toStartOfMinute(toDateTime(start_time))) AS m, app, uniqExact(trace_id, span_id, start_time)
FROM spans WHERE start_time >= toDateTime(?) AND start_time < toDateTime(?) AND has(?, app) GROUP BY m, app`, from, to, apps)
		if err != nil {
			return fmt.Errorf("checking rollups: counting the spans from %s: %w", time.Unix(int64(from), 0).UTC().Format(time.RFC3339), err)
		}
		type key struct {
			m   uint32
			app string
		}
		got := map[key]uint64{}
		for rows.Next() {
			var k key
			var c uint64
			if err := rows.Scan(&k.m, &k.app, &c); err != nil {
				rows.Close()
				return fmt.Errorf("checking rollups: %w", err)
			}
			got[k] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("checking rollups: %w", err)
		}
		for _, m := range run {
			m.spans, m.counted = got[key{m.start, m.app}], true
		}
	}
	return nil
}

// hourSpans counts the distinct spans of app in the hour starting at h.
func (r *Reader) hourSpans(ctx context.Context, app string, h uint32) (uint64, error) {
	var n uint64
	err := r.conn.QueryRow(ctx, `SELECT uniqExact(trace_id, span_id, start_time) FROM spans
WHERE app = ? AND start_time >= toDateTime(?) AND start_time < toDateTime(?)`, app, h, h+3600).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("checking rollups: counting the spans of %s from %s: %w", app, time.Unix(int64(h), 0).UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

func (r *Reader) writeChecks(ctx context.Context, table string, cs []check, version uint64) error {
	if len(cs) == 0 {
		return nil
	}
	b, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+table+" (bucket_start, app, rows, spans, checked_unix_nano)")
	if err != nil {
		return fmt.Errorf("checking rollups: writing %s: %w", table, err)
	}
	for _, c := range cs {
		if err := b.Append(time.Unix(int64(c.start), 0).UTC(), c.app, c.rows, c.spans, version); err != nil {
			b.Abort()
			return fmt.Errorf("checking rollups: writing %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("checking rollups: writing %s: %w", table, err)
	}
	return nil
}

// RunRollupChecks runs CheckRollups every interval until ctx ends (the
// worker's job; with several workers each runs it, and a bucket checked
// twice has two equal checks), logging what a pass wrote and any error (a
// failed pass is tried again at the next).
func RunRollupChecks(ctx context.Context, r *Reader, every time.Duration, log func(msg string, args ...any)) {
	for {
		rep, err := r.CheckRollups(ctx, time.Now(), 240)
		if err != nil && ctx.Err() == nil {
			log("rollups: checking failed; trying again later", "err", err)
		} else if rep.Replayed > 0 || rep.Expired > 0 {
			log("rollups: checked", "hours", rep.Hours, "checks", rep.Checks, "replayed", rep.Replayed, "spans_gone", rep.Expired)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
