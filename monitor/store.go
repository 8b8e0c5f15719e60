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
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/schemas"
)

// Store is the monitors' view of ClickHouse: windows of spans, feedback
// and scores (read through package query), dataset rows, and the result
// and alert tables.
type Store struct {
	conn driver.Conn
	q    *query.Reader
}

// NewStore wraps a connection whose database has been migrated
// (schemas.Migrate, migration 2 or later).
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn, q: query.NewReader(conn)} }

// selector is the query selector of s; "*" matches everything, as "".
func (s Selector) selector(from, to time.Time) query.Selector {
	all := func(v string) string {
		if v == "*" {
			return ""
		}
		return v
	}
	return query.Selector{App: all(s.App), Environment: all(s.Environment), Chain: all(s.Chain), ChainVersion: all(s.ChainVersion),
		Component: all(s.Component), ComponentKind: all(s.ComponentKind), From: from, To: to}
}

// Window reads the spans of sel that ended in [from, to) — at most max of
// them, a deterministic subset when there are more (query.WindowSpans).
// Windows go by end time: a span is exported when it ends, so every span
// that ended before a tick is in ClickHouse once the pipeline's latency
// has passed (worker.settle), whereas a long span (a 30 s timeout) that
// started in a window arrives after that window was evaluated and would be
// counted only by later windows, biasing the comparison (the error rate
// most).
func (st *Store) Window(ctx context.Context, sel Selector, from, to time.Time, max int) ([]Record, error) {
	spans, err := st.q.WindowSpans(ctx, sel.selector(from, to), max)
	return records(spans), err
}

// LastN reads the last n spans of sel that ended before to.
func (st *Store) LastN(ctx context.Context, sel Selector, to time.Time, n int) ([]Record, error) {
	spans, err := st.q.LastSpans(ctx, sel.selector(time.Time{}, to), n)
	return records(spans), err
}

func records(spans []query.WindowSpan) []Record {
	var out []Record
	for _, s := range spans {
		out = append(out, Record{Time: s.End, Input: s.Input, Output: s.Output, UsageIn: s.InputTokens, UsageOut: s.OutputTokens,
			LatencyMS: s.DurationMS, Model: s.Model, Status: s.Status, Component: s.Component, Operation: s.Operation})
	}
	return out
}

// Feedback reads the end-user feedback scores given in [from, to) on
// traces that have a span matching sel (started up to an hour before the
// window): Record.Value is the score, Time the feedback's time.
func (st *Store) Feedback(ctx context.Context, sel Selector, from, to time.Time, max int) ([]Record, error) {
	v, err := st.q.FeedbackValues(ctx, sel.selector(from, to), max)
	return values(v), err
}

// Scores reads the valid (error-free) eval_scores values of one
// evaluator's metric produced in [from, to), for sel's app and chain.
func (st *Store) Scores(ctx context.Context, sel Selector, s ScoreSeries, from, to time.Time, max int) ([]Record, error) {
	all := sel.selector(from, to)
	v, err := st.q.EvalScoreValues(ctx, query.Selector{App: all.App, Chain: all.Chain, From: from, To: to}, s.Evaluator, s.Metric, max)
	return values(v), err
}

func values(samples []query.Sample) []Record {
	var out []Record
	for _, s := range samples {
		out = append(out, Record{Time: s.Time, Value: s.Value})
	}
	return out
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
	r, ok, err := st.q.LastRun(ctx, monitor)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading last run of %s: %w", monitor, err)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return r.Tick, r.Drift, nil
}
