package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/schemas"
)

// Store is the monitors' view of ClickHouse: windows of spans, dataset
// rows, and the result and alert tables.
type Store struct {
	conn driver.Conn
}

// NewStore wraps a connection whose database has been migrated
// (schemas.Migrate, migration 2 or later).
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn} }

// quote renders a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// where renders the selector as a WHERE clause fragment (AND-joined).
func (s Selector) where() string {
	var parts []string
	for _, c := range []struct{ col, v string }{
		{"app", s.App}, {"environment", s.Environment}, {"chain_name", s.Chain}, {"chain_version", s.ChainVersion},
		{"component_name", s.Component}, {"component_kind", s.ComponentKind},
	} {
		if c.v != "" && c.v != "*" {
			parts = append(parts, c.col+" = "+quote(c.v))
		}
	}
	if len(parts) == 0 {
		return "1"
	}
	return strings.Join(parts, " AND ")
}

// endNanos is a span's end in Unix nanoseconds (end_time is whole seconds
// on servers without DateTime64).
const endNanos = "(start_unix_nano + toUInt64(duration_ms * 1000000))"

const spanCols = endNanos + `, input_text, output_text, toFloat64(input_tokens), toFloat64(output_tokens), duration_ms,
    if(model_returned != '', model_returned, model_requested), status, component_name, operation`

// Window reads the spans of sel that ended in [from, to) — at most max of
// them: the max with the smallest hash of their ids, which is every span
// when there are no more than max, else a deterministic pseudo-random
// subset, in one query. Windows go by end time: a span is exported when it
// ends, so every span that ended before a tick is in ClickHouse once the
// pipeline's latency has passed (worker.settle), whereas a long span (a
// 30 s timeout) that started in a window arrives after that window was
// evaluated and would be counted only by later windows, biasing the
// comparison (the error rate most). Spans are read without FINAL: a
// replayed span counted twice shifts a window by one row, and FINAL would
// cost a merge on every read.
func (st *Store) Window(ctx context.Context, sel Selector, from, to time.Time, max int) ([]Record, error) {
	q := fmt.Sprintf("SELECT %s FROM spans WHERE %s AND end_time >= toDateTime(%d) AND start_time <= toDateTime(%d) AND %s >= %d AND %s < %d ORDER BY cityHash64(trace_id, span_id) LIMIT %d",
		spanCols, sel.where(), from.Unix()-1, to.Unix(), endNanos, from.UnixNano(), endNanos, to.UnixNano(), max)
	return st.records(ctx, q)
}

// LastN reads the last n spans of sel that ended before to.
func (st *Store) LastN(ctx context.Context, sel Selector, to time.Time, n int) ([]Record, error) {
	q := fmt.Sprintf("SELECT %s FROM spans WHERE %s AND start_time <= toDateTime(%d) AND %s < %d ORDER BY %s DESC LIMIT %d",
		spanCols, sel.where(), to.Unix(), endNanos, to.UnixNano(), endNanos, n)
	return st.records(ctx, q)
}

func (st *Store) records(ctx context.Context, q string) ([]Record, error) {
	rows, err := st.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("querying spans: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var ns uint64
		if err := rows.Scan(&ns, &r.Input, &r.Output, &r.UsageIn, &r.UsageOut, &r.LatencyMS, &r.Model, &r.Status, &r.Component, &r.Operation); err != nil {
			return nil, fmt.Errorf("reading spans: %w", err)
		}
		r.Time = time.Unix(0, int64(ns)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading spans: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Feedback reads the end-user feedback scores given in [from, to) on
// traces that have a span matching sel (started up to an hour before the
// window): Record.Value is the score, Time the feedback's time.
func (st *Store) Feedback(ctx context.Context, sel Selector, from, to time.Time, max int) ([]Record, error) {
	q := fmt.Sprintf(`SELECT toUInt64(toUnixTimestamp(time)) * 1000000000, assumeNotNull(score) FROM feedback
WHERE time >= toDateTime(%d) AND time < toDateTime(%d) AND isNotNull(score)
  AND trace_id IN (SELECT trace_id FROM spans WHERE %s AND start_time >= toDateTime(%d) AND start_time < toDateTime(%d))
ORDER BY cityHash64(id) LIMIT %d`, from.Unix(), to.Unix(), sel.where(), from.Add(-time.Hour).Unix(), to.Unix(), max)
	return st.values(ctx, q)
}

// Scores reads the valid (error-free) eval_scores values of one
// evaluator's metric produced in [from, to), for sel's app and chain.
func (st *Store) Scores(ctx context.Context, sel Selector, s ScoreSeries, from, to time.Time, max int) ([]Record, error) {
	cond := fmt.Sprintf("evaluator = %s AND metric = %s AND error = '' AND created >= toDateTime(%d) AND created < toDateTime(%d)",
		quote(s.Evaluator), quote(s.Metric), from.Unix(), to.Unix())
	if sel.App != "" && sel.App != "*" {
		cond += " AND app = " + quote(sel.App)
	}
	if sel.Chain != "" && sel.Chain != "*" {
		cond += " AND chain = " + quote(sel.Chain)
	}
	q := fmt.Sprintf("SELECT toUInt64(toUnixTimestamp(created)) * 1000000000, value FROM eval_scores FINAL WHERE %s ORDER BY cityHash64(trace_id, span_id) LIMIT %d", cond, max)
	return st.values(ctx, q)
}

func (st *Store) values(ctx context.Context, q string) ([]Record, error) {
	rows, err := st.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("querying scores: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var ns uint64
		var r Record
		if err := rows.Scan(&ns, &r.Value); err != nil {
			return nil, fmt.Errorf("reading scores: %w", err)
		}
		r.Time = time.Unix(0, int64(ns)).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// DatasetRecords reads a dataset version (0: the latest that finished
// importing) through datasets.Rows, which refuses a version whose rows do
// not match its recorded count and checksum, as records: Input the
// dataset's input, Output its recorded output or else its expected output.
// More than max rows are subsampled by a hash of the row number. It
// returns the version read.
func (st *Store) DatasetRecords(ctx context.Context, name string, version uint32, max int) ([]Record, uint32, error) {
	v, err := datasets.Version(ctx, st.conn, name, version)
	if err != nil {
		return nil, 0, err
	}
	rows, err := datasets.Rows(ctx, st.conn, name, v.Version)
	if err != nil {
		return nil, 0, err
	}
	if len(rows) > max {
		h := func(r uint32) uint64 {
			x := uint64(r)*0x9e3779b97f4a7c15 + 1
			x ^= x >> 31
			return x * 0xbf58476d1ce4e5b9
		}
		sort.Slice(rows, func(i, j int) bool { return h(rows[i].Row) < h(rows[j].Row) })
		rows = rows[:max]
	}
	out := make([]Record, len(rows))
	for i, r := range rows {
		out[i] = Record{Input: r.Input, Output: r.Output}
		if out[i].Output == "" {
			out[i].Output = r.Expected
		}
	}
	return out, v.Version, nil
}

// InsertResult writes one monitor run.
func (st *Store) InsertResult(ctx context.Context, r schemas.DetectorResult) error {
	b, err := st.conn.PrepareBatch(ctx, "INSERT INTO detector_results ("+strings.Join(schemas.DetectorResultColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing detector_results insert: %w", err)
	}
	defer b.Abort()
	drift := uint8(0)
	if r.Drift {
		drift = 1
	}
	if err := b.Append(r.Monitor, r.MonitorVersion, r.Tick, r.App, r.Chain, r.Feature, r.Detector, r.Kind, r.Status,
		r.Statistic, r.PValue, r.Threshold, drift, r.NRef, r.NCur, r.RefStart, r.RefEnd, r.CurStart, r.CurEnd,
		r.Reference, r.Params, r.DurationMS, r.Error, r.Worker, r.CreatedAt); err != nil {
		return fmt.Errorf("appending detector result: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting detector result: %w", err)
	}
	return nil
}

// InsertAlerts appends to the alert history.
func (st *Store) InsertAlerts(ctx context.Context, evs []schemas.AlertEvent) error {
	if len(evs) == 0 {
		return nil
	}
	b, err := st.conn.PrepareBatch(ctx, "INSERT INTO alerts ("+strings.Join(schemas.AlertColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing alerts insert: %w", err)
	}
	defer b.Abort()
	for _, e := range evs {
		keys := make([]string, 0, len(e.Labels))
		for k := range e.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = e.Labels[k]
		}
		ann, _ := json.Marshal(e.Annotations)
		if err := b.Append(e.Time, e.Monitor, e.Tick, e.State, e.Fingerprint, keys, vals, string(ann)); err != nil {
			return fmt.Errorf("appending alert event: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d alert events: %w", len(evs), err)
	}
	return nil
}

// LastRun returns the newest tick recorded for a monitor and whether that
// run found drift (zero time when it never ran).
func (st *Store) LastRun(ctx context.Context, monitor string) (time.Time, bool, error) {
	rows, err := st.conn.Query(ctx, "SELECT tick, drift FROM detector_results FINAL WHERE monitor = "+quote(monitor)+" ORDER BY tick DESC LIMIT 1")
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading last run of %s: %w", monitor, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return time.Time{}, false, rows.Err()
	}
	var t time.Time
	var d uint8
	if err := rows.Scan(&t, &d); err != nil {
		return time.Time{}, false, fmt.Errorf("reading last run of %s: %w", monitor, err)
	}
	return t, d == 1, nil
}
