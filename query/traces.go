package query

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// TraceSearch is what SearchTraces looks for besides a selector's fields.
type TraceSearch struct {
	UserID    string
	SessionID string
	TraceID   string
	// Text matches (case-insensitively, as a substring) the input or the
	// output of any span of the trace.
	Text  string
	Limit int // at most this many traces; 0: DefaultTraceLimit
}

// DefaultTraceLimit is TraceSearch.Limit's default and MaxTraceLimit its
// ceiling.
const (
	DefaultTraceLimit = 100
	MaxTraceLimit     = 10000
)

// TraceSummary is one trace found by SearchTraces: its root span's lineage
// and the totals of its spans.
type TraceSummary struct {
	TraceID             string
	Start               time.Time // the earliest span's start
	DurationMS          float64   // from the first start to the last end
	Name                string    // the root span's name ("" when no root was stored)
	App, Environment    string
	Chain, ChainVersion string
	Spans               uint64
	Errors              uint64
	InputTokens         uint64
	OutputTokens        uint64
	UserID, SessionID   string
	Input, Output       string // the root span's texts
}

// SearchTraces returns the traces that have a span matching sel (table
// Spans: by start time) and s, newest first, each span counted once
// (FINAL).
func (r *Reader) SearchTraces(ctx context.Context, sel Selector, s TraceSearch) ([]TraceSummary, error) {
	limit := s.Limit
	if limit == 0 {
		limit = DefaultTraceLimit
	}
	if limit < 0 || limit > MaxTraceLimit {
		return nil, fmt.Errorf("trace search: limit must be in 1..%d, got %d", MaxTraceLimit, limit)
	}
	if s.UserID != "" {
		sel = sel.with(Eq("user_id", s.UserID))
	}
	if s.SessionID != "" {
		sel = sel.with(Eq("session_id", s.SessionID))
	}
	if s.TraceID != "" {
		sel = sel.with(Eq("trace_id", s.TraceID))
	}
	if s.Text != "" {
		// The span's own text, or its GenAI events' (the merged view),
		// reading only the log records the merged view itself would join
		// to spans of the range.
		cond, cargs := logTimeCond(sel.From, sel.To)
		sel = sel.with(Predicate{SQL: `(positionCaseInsensitiveUTF8(input_text, ?) > 0 OR positionCaseInsensitiveUTF8(output_text, ?) > 0
    OR trace_id IN (SELECT trace_id FROM logs WHERE (positionCaseInsensitiveUTF8(input_text, ?) > 0 OR positionCaseInsensitiveUTF8(output_text, ?) > 0)` + cond + `))`,
			Args: append([]any{s.Text, s.Text, s.Text, s.Text}, cargs...)})
	}
	where, args, err := sel.Where(Spans)
	if err != nil {
		return nil, err
	}
	// The matching traces first (bounded), then all their spans in the
	// range's neighbourhood: a trace's other spans may fail the filters.
	var outer []string
	var oargs []any
	if !sel.From.IsZero() {
		outer = append(outer, "start_time >= toDateTime(?)")
		oargs = append(oargs, sel.From.Add(-time.Hour).Unix())
	}
	if !sel.To.IsZero() {
		outer = append(outer, "start_time <= toDateTime(?)")
		oargs = append(oargs, sel.To.Add(time.Hour).Unix())
	}
	ow := ""
	for _, c := range outer {
		ow += " AND " + c
	}
	// The root span's texts as every reader sees them (withLogText).
	inner := `SELECT trace_id, span_id, start_unix_nano, duration_ms, name, parent_span_id, app, environment, chain_name, chain_version,
    status, input_tokens, output_tokens, user_id, session_id, input_text, output_text
FROM spans FINAL
WHERE trace_id IN (SELECT trace_id FROM spans ` + where + ` GROUP BY trace_id ORDER BY max(start_unix_nano) DESC LIMIT ?)` + ow
	merged, largs := withLogText(`trace_id, start_unix_nano, duration_ms, name, parent_span_id, app, environment, chain_name, chain_version,
    status, input_tokens, output_tokens, user_id, session_id, `+MergedInput+` AS m_in, `+MergedOutput+` AS m_out`, inner, sel.From, sel.To)
	q := `SELECT trace_id, min(start_unix_nano) AS first,
    (max(start_unix_nano + toUInt64(duration_ms * 1000000)) - min(start_unix_nano)) / 1000000,
    anyIf(name, parent_span_id = ''), anyIf(app, parent_span_id = ''), anyIf(environment, parent_span_id = ''),
    anyIf(chain_name, parent_span_id = ''), anyIf(chain_version, parent_span_id = ''),
    count(), countIf(status = 'error'), sum(toUInt64(input_tokens)), sum(toUInt64(output_tokens)),
    any(user_id), any(session_id), anyIf(m_in, parent_span_id = ''), anyIf(m_out, parent_span_id = '')
FROM (` + merged + `)
GROUP BY trace_id ORDER BY first DESC, trace_id`
	args = append(append(append(args, limit), oargs...), largs...)
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("searching traces: %w", err)
	}
	defer rows.Close()
	var out []TraceSummary
	for rows.Next() {
		var t TraceSummary
		var first uint64
		if err := rows.Scan(&t.TraceID, &first, &t.DurationMS, &t.Name, &t.App, &t.Environment, &t.Chain, &t.ChainVersion,
			&t.Spans, &t.Errors, &t.InputTokens, &t.OutputTokens, &t.UserID, &t.SessionID, &t.Input, &t.Output); err != nil {
			return nil, fmt.Errorf("reading traces: %w", err)
		}
		t.Start = time.Unix(0, int64(first)).UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading traces: %w", err)
	}
	return out, nil
}

// ErrTraceID is returned for a trace id that is not 32 hex digits.
var ErrTraceID = errors.New("trace id must be 32 lower-case hex digits")

// Trace returns every span of one trace, once each (FINAL), in start
// order (then by span id). sel's time range, when set, narrows the
// partitions read (widened by an hour either side: a trace's spans may
// start before the range); its other fields must be empty.
func (r *Reader) Trace(ctx context.Context, traceID string, from, to time.Time) ([]SpanRow, error) {
	if !validTraceID(traceID) {
		return nil, fmt.Errorf("trace %q: %w", traceID, ErrTraceID)
	}
	sel := Selector{}.with(Eq("trace_id", traceID))
	if !from.IsZero() {
		sel = sel.with(Predicate{SQL: "start_time >= toDateTime(?)", Args: []any{from.Add(-time.Hour).Unix()}})
	}
	if !to.IsZero() {
		sel = sel.with(Predicate{SQL: "start_time <= toDateTime(?)", Args: []any{to.Add(time.Hour).Unix()}})
	}
	it, err := r.Spans(ctx, sel, true)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []SpanRow
	var s SpanRow
	for it.Next(&s) {
		out = append(out, s)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	sortSpanRows(out)
	return out, nil
}

func sortSpanRows(rs []SpanRow) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].StartUnixNano != rs[j].StartUnixNano {
			return rs[i].StartUnixNano < rs[j].StartUnixNano
		}
		return rs[i].SpanID < rs[j].SpanID
	})
}

func validTraceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
