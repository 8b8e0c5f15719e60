package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// WindowSpan is what a monitor reads of one span.
type WindowSpan struct {
	End                       time.Time // the span's end (UTC, nanoseconds)
	Input, Output             string
	InputTokens, OutputTokens float64
	DurationMS                float64
	Model                     string // the model returned, else the model requested
	Status                    string
	Component, Operation      string
}

const windowCols = endNanos + `, ` + MergedInput + `, ` + MergedOutput + `, toFloat64(input_tokens), toFloat64(output_tokens), duration_ms,
    if(model_returned != '', model_returned, model_requested), status, component_name, operation`

// windowRaw are the spans columns windowCols reads, selected by the inner
// query of withLogText.
const windowRaw = `trace_id, span_id, start_unix_nano, duration_ms, input_text, output_text, input_tokens, output_tokens,
    model_returned, model_requested, status, component_name, operation`

// MergedInput and MergedOutput are a span's input and output text as
// every reader sees them: the span's own, else what its GenAI events sent
// as OTLP log records add (genai/logs.go), joined in time order with "\n".
// They are valid in a query built by withLogText, whose join names the
// events' texts log_input and log_output.
const (
	MergedInput  = "if(input_text != '', input_text, log_input)"
	MergedOutput = "if(output_text != '', output_text, log_output)"
	MergedSystem = "if(system_instructions != '', system_instructions, log_system)"
)

// logTextLookback bounds the log records joined to a window's spans: a
// GenAI event is within this of its span's start.
const logTextLookback = time.Hour

// withLogText wraps inner, a query over spans that selects trace_id,
// span_id, input_text and output_text among its columns, in the join that
// adds log_input and log_output: the texts of the spans' GenAI events, in
// time order, each record once (logs FINAL). cols is the outer select list
// (MergedInput, MergedOutput and inner's columns). With from and to set,
// only log records within logTextLookback of [from, to) are read; the
// returned args are the lookup's, to follow inner's.
//
// The join is on the read side so that it is right whatever the order in
// which a span and its events arrive, in whichever requests, batches and
// writer lifetimes: nothing at write time has to find the other half.
func withLogText(cols, inner string, from, to time.Time) (string, []any) {
	cond, args := logTimeCond(from, to)
	return "SELECT " + cols + " FROM (" + inner + ") ANY LEFT JOIN (" + logTextSubquery(cond) + ") USING (trace_id, span_id)", args
}

// logTimeCond narrows the logs table to the records that can belong to
// spans starting in [from, to): those within logTextLookback of it (" AND
// …" and its arguments; nothing when the range is open on either side).
func logTimeCond(from, to time.Time) (string, []any) {
	if from.IsZero() || to.IsZero() {
		return "", nil
	}
	return " AND time >= toDateTime(?) AND time < toDateTime(?)", []any{from.Add(-logTextLookback).Unix(), to.Add(logTextLookback).Unix()}
}

// logTextSubquery reads, per span, the texts its GenAI events add to its
// input and output (log_input, log_output): every record once (FINAL),
// ordered by time (then place in its request, then record id), empty texts left out, joined with
// "\n" — genai's rule for the messages of one span. cond narrows the
// records (" AND …").
func logTextSubquery(cond string) string {
	return `
    SELECT trace_id, span_id,
        arrayStringConcat(arrayFilter(x -> x != '', arrayMap(x -> tupleElement(x, 4), arraySort(groupArray((time_unix_nano, seq, record_id, input_text))))), '\n') AS log_input,
        arrayStringConcat(arrayFilter(x -> x != '', arrayMap(x -> tupleElement(x, 4), arraySort(groupArray((time_unix_nano, seq, record_id, output_text))))), '\n') AS log_output,
        arrayStringConcat(arrayFilter(x -> x != '', arrayMap(x -> tupleElement(x, 4), arraySort(groupArray((time_unix_nano, seq, record_id, system_text))))), '\n') AS log_system
    FROM logs FINAL
    WHERE span_id != '' AND (input_text != '' OR output_text != '' OR system_text != '')` + cond + `
    GROUP BY trace_id, span_id
`
}

// LogTexts returns, for each span (traces[i], spans[i]), the texts its
// GenAI events sent as OTLP log records add to its input and output
// (empty when none arrived): the other half of the merged view, for a
// reader that has the span itself from Kafka (the continuous evaluator).
func (r *Reader) LogTexts(ctx context.Context, traces, spans []string) (in, out []string, err error) {
	if len(traces) != len(spans) {
		return nil, nil, fmt.Errorf("log texts: %d trace ids for %d span ids", len(traces), len(spans))
	}
	in, out = make([]string, len(spans)), make([]string, len(spans))
	if len(spans) == 0 {
		return in, out, nil
	}
	rows, err := r.conn.Query(ctx, "SELECT trace_id, span_id, log_input, log_output FROM ("+logTextSubquery(" AND has(?, trace_id) AND has(?, span_id)")+")", traces, spans)
	if err != nil {
		return nil, nil, fmt.Errorf("querying log texts: %w", err)
	}
	defer rows.Close()
	at := make(map[[2]string]int, len(spans))
	for i := range spans {
		at[[2]string{traces[i], spans[i]}] = i
	}
	for rows.Next() {
		var t, s, li, lo string
		if err := rows.Scan(&t, &s, &li, &lo); err != nil {
			return nil, nil, fmt.Errorf("reading log texts: %w", err)
		}
		if i, ok := at[[2]string{t, s}]; ok {
			in[i], out[i] = li, lo
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading log texts: %w", err)
	}
	return in, out, nil
}

// WindowSpans returns the spans of sel that ended in [sel.From, sel.To)
// (table SpanEnds; both bounds required) — at most max of them: those with
// the smallest hash of their ids, which is every span when there are no
// more than max, else a deterministic pseudo-random subset — ordered by
// end time. Spans are read without FINAL: a replayed span counted twice
// shifts a window by one row, and FINAL would cost a merge on every read.
func (r *Reader) WindowSpans(ctx context.Context, sel Selector, max int) ([]WindowSpan, error) {
	if sel.From.IsZero() || sel.To.IsZero() {
		return nil, errors.New("window spans: from and to are required")
	}
	if max <= 0 {
		return nil, fmt.Errorf("window spans: %w", errNoMax)
	}
	where, args, err := sel.Where(SpanEnds)
	if err != nil {
		return nil, err
	}
	q, largs := withLogText(windowCols, "SELECT "+windowRaw+" FROM spans "+where+" ORDER BY cityHash64(trace_id, span_id) LIMIT ?", sel.From, sel.To)
	return r.windowSpans(ctx, q, append(append(args, max), largs...))
}

// LastSpans returns the last n spans of sel that ended before sel.To
// (required; sel.From must be zero), ordered by end time.
func (r *Reader) LastSpans(ctx context.Context, sel Selector, n int) ([]WindowSpan, error) {
	if sel.To.IsZero() || !sel.From.IsZero() {
		return nil, errors.New("last spans: to is required and from must be unset")
	}
	if n <= 0 {
		return nil, fmt.Errorf("last spans: %w", errNoMax)
	}
	where, args, err := sel.Where(SpanEnds)
	if err != nil {
		return nil, err
	}
	q, largs := withLogText(windowCols, "SELECT "+windowRaw+" FROM spans "+where+" ORDER BY "+endNanos+" DESC LIMIT ?", sel.To.Add(-24*time.Hour), sel.To)
	return r.windowSpans(ctx, q, append(append(args, n), largs...))
}

func (r *Reader) windowSpans(ctx context.Context, q string, args []any) ([]WindowSpan, error) {
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying spans: %w", err)
	}
	defer rows.Close()
	var out []WindowSpan
	for rows.Next() {
		var s WindowSpan
		var ns uint64
		if err := rows.Scan(&ns, &s.Input, &s.Output, &s.InputTokens, &s.OutputTokens, &s.DurationMS, &s.Model, &s.Status, &s.Component, &s.Operation); err != nil {
			return nil, fmt.Errorf("reading spans: %w", err)
		}
		s.End = time.Unix(0, int64(ns)).UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading spans: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].End.Before(out[j].End) })
	return out, nil
}

// SpanStat is one row of SpanStats: the traffic of one group in one time
// bucket.
type SpanStat struct {
	Group
	Spans  uint64 // matching spans
	Traces uint64 // distinct traces among them
	Errors uint64 // spans with status "error"
	// LatencyP50MS and LatencyP95MS are quantiles of the matching spans'
	// durations.
	LatencyP50MS, LatencyP95MS float64
	// Requests counts the matching root spans (no parent): one per request
	// the application served, a chain run end to end.
	Requests uint64
	// RequestP50MS and RequestP95MS are quantiles of the root spans'
	// durations; NaN when the group has no root span.
	RequestP50MS, RequestP95MS float64
	InputTokens, OutputTokens  uint64
}

// SpanStats returns the traffic of the spans sel selects (table Spans: by
// start time), per group and time bucket of g, ordered by bucket and then
// by the dimensions in g.By's order. Groups without spans have no row.
// Replayed spans are counted once (FINAL). Quantiles are ClickHouse's
// quantile (exact below 8192 values, sampled above).
func (r *Reader) SpanStats(ctx context.Context, sel Selector, g Grouping) ([]SpanStat, error) {
	if err := g.validate(spanDims); err != nil {
		return nil, err
	}
	where, wargs, err := sel.Where(Spans)
	if err != nil {
		return nil, err
	}
	bucket, args := g.bucket("intDiv(start_unix_nano, 1000000000)")
	cols, dest := g.keys(spanDims)
	groupBy := "bucket" + prefixed(cols)
	// HAVING: without an Interval the bucket is a constant, and 18.16
	// answers a constant key over no rows with one empty row.
	q := "SELECT " + bucket + " AS bucket" + prefixed(cols) + `,
    count(), uniqExact(trace_id), countIf(status = 'error'),
    quantile(0.5)(duration_ms), quantile(0.95)(duration_ms),
    countIf(parent_span_id = ''), quantileIf(0.5)(duration_ms, parent_span_id = ''), quantileIf(0.95)(duration_ms, parent_span_id = ''),
    sum(input_tokens), sum(output_tokens)
FROM spans FINAL ` + where + " GROUP BY " + groupBy + " HAVING count() > 0 ORDER BY " + groupBy
	rows, err := r.conn.Query(ctx, q, append(args, wargs...)...)
	if err != nil {
		return nil, fmt.Errorf("querying span stats: %w", err)
	}
	defer rows.Close()
	var out []SpanStat
	for rows.Next() {
		var s SpanStat
		var b uint64
		d := []any{&b}
		for _, f := range dest {
			d = append(d, f(&s.Group))
		}
		d = append(d, &s.Spans, &s.Traces, &s.Errors, &s.LatencyP50MS, &s.LatencyP95MS,
			&s.Requests, &s.RequestP50MS, &s.RequestP95MS, &s.InputTokens, &s.OutputTokens)
		if err := rows.Scan(d...); err != nil {
			return nil, fmt.Errorf("reading span stats: %w", err)
		}
		if g.Interval > 0 {
			s.Time = time.Unix(int64(b), 0).UTC()
		}
		if s.Requests == 0 {
			s.RequestP50MS, s.RequestP95MS = math.NaN(), math.NaN()
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading span stats: %w", err)
	}
	return out, nil
}

func prefixed(cols []string) string {
	if len(cols) == 0 {
		return ""
	}
	return ", " + strings.Join(cols, ", ")
}

// SpanRow is one span as stored, read back whole.
type SpanRow struct {
	// Span has every column; StartTime is exact (start_unix_nano), EndTime
	// is StartTime plus DurationMS, and Attributes is nil: the attributes
	// are AttrKeys and AttrValues, in stored order.
	schemas.Span
	StartUnixNano        uint64
	DurationMS           float64
	AttrKeys, AttrValues []string
	IngestedAt           time.Time
}

// SpanRows iterates over the result of Spans.
type SpanRows struct {
	rows driver.Rows
	n    int64
	err  error
}

// Spans streams the spans sel selects (table Spans: by start time), in the
// order ClickHouse reads them (by app and start time within each part),
// not globally sorted. final deduplicates replayed spans at read time
// (FROM spans FINAL): exact, slower on large windows. The caller closes
// the rows.
func (r *Reader) Spans(ctx context.Context, sel Selector, final bool) (*SpanRows, error) {
	caps, err := r.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	where, args, err := sel.Where(Spans)
	if err != nil {
		return nil, err
	}
	attrs := "attr_keys, attr_values"
	if caps.Map {
		attrs = "mapKeys(attributes), mapValues(attributes)"
	}
	from := "spans"
	if final {
		from += " FINAL"
	}
	const cols = `trace_id, span_id, parent_span_id, name, start_unix_nano, duration_ms,
    app, environment, chain_name, chain_version, component_name, component_kind,
    prompt_template_id, prompt_template_version, operation, provider, model_requested, model_returned,
    %s, %s, input_tokens, output_tokens, status, error_message, session_id, user_id, %s, ingested_at,
    cache_read_input_tokens, cache_creation_input_tokens, reasoning_output_tokens, stream, time_to_first_chunk_ms,
    %s, tool_definitions, guardrail_result`
	inner := "SELECT " + fmt.Sprintf(cols, "input_text", "output_text", attrs, "system_instructions") + " FROM " + from + " " + where
	if caps.Map {
		attrs = "attr_keys, attr_values"
		inner = "SELECT " + fmt.Sprintf(cols, "input_text", "output_text", "mapKeys(attributes) AS attr_keys, mapValues(attributes) AS attr_values", "system_instructions") + " FROM " + from + " " + where
	}
	q, largs := withLogText(fmt.Sprintf(cols, MergedInput, MergedOutput, attrs, MergedSystem), inner, sel.From, sel.To)
	rows, err := r.conn.Query(ctx, q, append(args, largs...)...)
	if err != nil {
		return nil, fmt.Errorf("querying spans: %w", err)
	}
	return &SpanRows{rows: rows}, nil
}

// Next reads the next span into s; it returns false at the end or on an
// error (see Err).
func (it *SpanRows) Next(s *SpanRow) bool {
	if it.err != nil || !it.rows.Next() {
		return false
	}
	var kind string
	var in, out, cacheRead, cacheWrite, reasoning uint32
	var stream uint8
	*s = SpanRow{}
	sp := &s.Span
	if err := it.rows.Scan(&sp.TraceID, &sp.SpanID, &sp.ParentSpanID, &sp.Name, &s.StartUnixNano, &s.DurationMS,
		&sp.App, &sp.Environment, &sp.ChainName, &sp.ChainVersion, &sp.ComponentName, &kind,
		&sp.PromptTemplateID, &sp.PromptTemplateVersion, &sp.Operation, &sp.Provider, &sp.ModelRequested, &sp.ModelReturned,
		&sp.InputText, &sp.OutputText, &in, &out, &sp.Status, &sp.ErrorMessage, &sp.SessionID, &sp.UserID,
		&s.AttrKeys, &s.AttrValues, &s.IngestedAt,
		&cacheRead, &cacheWrite, &reasoning, &stream, &sp.TimeToFirstChunkMS,
		&sp.SystemInstructions, &sp.ToolDefinitions, &sp.GuardrailResult); err != nil {
		it.err = fmt.Errorf("reading span %d: %w", it.n, err)
		return false
	}
	sp.ComponentKind = schemas.ComponentKind(kind)
	sp.InputTokens, sp.OutputTokens = int64(in), int64(out)
	sp.CacheReadInputTokens, sp.CacheCreationInputTokens, sp.ReasoningOutputTokens = int64(cacheRead), int64(cacheWrite), int64(reasoning)
	sp.Stream = stream == 1
	sp.StartTime = time.Unix(0, int64(s.StartUnixNano)).UTC()
	sp.EndTime = sp.StartTime.Add(time.Duration(math.Round(s.DurationMS * 1e6)))
	it.n++
	return true
}

// Err is the error that ended the iteration, if any.
func (it *SpanRows) Err() error {
	if it.err != nil {
		return it.err
	}
	if err := it.rows.Err(); err != nil {
		return fmt.Errorf("reading spans after %d: %w", it.n, err)
	}
	return nil
}

// Close releases the query.
func (it *SpanRows) Close() error { return it.rows.Close() }
