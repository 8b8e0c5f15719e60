package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/query"
)

// Defaults of SpanExportOptions.
const (
	DefaultSpanRowGroupRows = 10_000
	DefaultProgressEvery    = 100_000
)

// SpanFilter selects a production window: spans that started in [From, To)
// and match every non-empty field.
type SpanFilter struct {
	From, To    time.Time
	App         string
	Environment string
	Chain       string // chain_name
	Component   string // component_name
	Kind        string // component_kind: llm, retriever, tool, …
	// Final deduplicates replayed spans at read time (FROM spans FINAL);
	// slower on large windows, exact counts.
	Final bool
}

// Validate names the bad flag.
func (f SpanFilter) Validate() error {
	var errs []error
	if f.From.IsZero() || f.To.IsZero() {
		errs = append(errs, errors.New("--from and --to are required (RFC 3339, e.g. 2026-11-24T00:00:00Z)"))
	} else if !f.From.Before(f.To) {
		errs = append(errs, fmt.Errorf("--from (%s) must be before --to (%s)", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// SpanExportOptions shape ExportSpans' output.
type SpanExportOptions struct {
	// RowGroupRows is the number of spans per Parquet row group, which is
	// also how many spans are held in memory at once (default 10,000).
	RowGroupRows int
	// Progress, when set, is called every ProgressEvery spans (default
	// 100,000) and once at the end with the number written so far.
	Progress      func(spans int64)
	ProgressEvery int64
}

// SpanSchema is the Arrow schema of a span export: the spans table's
// columns, with microsecond UTC timestamps (start_time from the exact
// start_unix_nano, end_time from it plus the duration) and the attributes as
// a map<string, string> on every server version.
var SpanSchema = arrow.NewSchema([]arrow.Field{
	{Name: "trace_id", Type: arrow.BinaryTypes.String},
	{Name: "span_id", Type: arrow.BinaryTypes.String},
	{Name: "parent_span_id", Type: arrow.BinaryTypes.String},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "start_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "end_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "duration_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "app", Type: arrow.BinaryTypes.String},
	{Name: "environment", Type: arrow.BinaryTypes.String},
	{Name: "chain_name", Type: arrow.BinaryTypes.String},
	{Name: "chain_version", Type: arrow.BinaryTypes.String},
	{Name: "component_name", Type: arrow.BinaryTypes.String},
	{Name: "component_kind", Type: arrow.BinaryTypes.String},
	{Name: "prompt_template_id", Type: arrow.BinaryTypes.String},
	{Name: "prompt_template_version", Type: arrow.BinaryTypes.String},
	{Name: "operation", Type: arrow.BinaryTypes.String},
	{Name: "provider", Type: arrow.BinaryTypes.String},
	{Name: "model_requested", Type: arrow.BinaryTypes.String},
	{Name: "model_returned", Type: arrow.BinaryTypes.String},
	{Name: "input_text", Type: arrow.BinaryTypes.String},
	{Name: "output_text", Type: arrow.BinaryTypes.String},
	{Name: "input_tokens", Type: arrow.PrimitiveTypes.Int64},
	{Name: "output_tokens", Type: arrow.PrimitiveTypes.Int64},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "error_message", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.BinaryTypes.String},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "attributes", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)},
	{Name: "ingested_at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}}, // Parquet has no seconds unit
	// Current conventions (migrations 5 and 9).
	{Name: "cache_read_input_tokens", Type: arrow.PrimitiveTypes.Int64},
	{Name: "cache_creation_input_tokens", Type: arrow.PrimitiveTypes.Int64},
	{Name: "reasoning_output_tokens", Type: arrow.PrimitiveTypes.Int64},
	{Name: "stream", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "time_to_first_chunk_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "system_instructions", Type: arrow.BinaryTypes.String},
	{Name: "tool_definitions", Type: arrow.BinaryTypes.String},
	{Name: "guardrail_result", Type: arrow.BinaryTypes.String},
}, nil)

// Selector is the query selector of f: spans that started in [From, To).
func (f SpanFilter) Selector() query.Selector {
	return query.Selector{From: f.From, To: f.To, App: f.App, Environment: f.Environment, Chain: f.Chain,
		Component: f.Component, ComponentKind: f.Kind}
}

// ExportSpans streams the spans f selects from ClickHouse into w as Parquet
// (SpanSchema, zstd), one row group per RowGroupRows spans, so memory holds
// one row group whatever the window's size. It returns the number of spans
// written. Spans come in the order ClickHouse reads them (by app and start
// time within each part), not globally sorted.
func ExportSpans(ctx context.Context, conn driver.Conn, f SpanFilter, w io.Writer, o SpanExportOptions) (int64, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultSpanRowGroupRows
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	rs, err := query.NewReader(conn).Spans(ctx, f.Selector(), f.Final)
	if err != nil {
		return 0, hint(err)
	}
	defer rs.Close()

	fw, err := pqarrow.NewFileWriter(SpanSchema, struct{ io.Writer }{w}, parquetProps(), pqarrow.DefaultWriterProps())
	if err != nil {
		return 0, fmt.Errorf("creating parquet writer: %w", err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, SpanSchema)
	defer b.Release()
	str := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	start, end := b.Field(4).(*array.TimestampBuilder), b.Field(5).(*array.TimestampBuilder)
	dur := b.Field(6).(*array.Float64Builder)
	inTok, outTok := b.Field(21).(*array.Int64Builder), b.Field(22).(*array.Int64Builder)
	attrs := b.Field(27).(*array.MapBuilder)
	attrK, attrV := attrs.KeyBuilder().(*array.StringBuilder), attrs.ItemBuilder().(*array.StringBuilder)
	ingested := b.Field(28).(*array.TimestampBuilder)
	usage := []*array.Int64Builder{b.Field(29).(*array.Int64Builder), b.Field(30).(*array.Int64Builder), b.Field(31).(*array.Int64Builder)}
	stream, ttfc := b.Field(32).(*array.BooleanBuilder), b.Field(33).(*array.Float64Builder)

	var (
		n, pending int64
		sp         query.SpanRow
		flush      = func() error {
			rec := b.NewRecordBatch()
			defer rec.Release()
			if rec.NumRows() == 0 {
				return nil
			}
			if err := fw.Write(rec); err != nil {
				return fmt.Errorf("writing parquet row group: %w", err)
			}
			return nil
		}
	)
	fail := func(err error) (int64, error) {
		fw.Close()
		return n, err
	}
	for rs.Next(&sp) {
		str(0).Append(sp.TraceID)
		str(1).Append(sp.SpanID)
		str(2).Append(sp.ParentSpanID)
		str(3).Append(sp.Name)
		startUS := int64(sp.StartUnixNano / 1000)
		start.Append(arrow.Timestamp(startUS))
		end.Append(arrow.Timestamp(startUS + int64(math.Round(sp.DurationMS*1000))))
		dur.Append(sp.DurationMS)
		for i, s := range []string{sp.App, sp.Environment, sp.ChainName, sp.ChainVersion, sp.ComponentName, string(sp.ComponentKind),
			sp.PromptTemplateID, sp.PromptTemplateVersion, sp.Operation, sp.Provider, sp.ModelRequested, sp.ModelReturned,
			sp.InputText, sp.OutputText} {
			str(7 + i).Append(s)
		}
		inTok.Append(sp.InputTokens)
		outTok.Append(sp.OutputTokens)
		str(23).Append(sp.Status)
		str(24).Append(sp.ErrorMessage)
		str(25).Append(sp.SessionID)
		str(26).Append(sp.UserID)
		attrs.Append(true)
		for i, k := range sp.AttrKeys {
			attrK.Append(k)
			if i < len(sp.AttrValues) {
				attrV.Append(sp.AttrValues[i])
			} else {
				attrV.Append("")
			}
		}
		ingested.Append(arrow.Timestamp(sp.IngestedAt.UnixMilli()))
		for i, v := range []int64{sp.CacheReadInputTokens, sp.CacheCreationInputTokens, sp.ReasoningOutputTokens} {
			usage[i].Append(v)
		}
		stream.Append(sp.Stream)
		ttfc.Append(sp.TimeToFirstChunkMS)
		str(34).Append(sp.SystemInstructions)
		str(35).Append(sp.ToolDefinitions)
		str(36).Append(sp.GuardrailResult)
		n++
		pending++
		if pending == int64(o.RowGroupRows) {
			if err := flush(); err != nil {
				return fail(err)
			}
			pending = 0
		}
		if o.Progress != nil && n%o.ProgressEvery == 0 {
			o.Progress(n)
		}
	}
	if err := rs.Err(); err != nil {
		return fail(err)
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if err := fw.Close(); err != nil {
		return n, fmt.Errorf("closing parquet writer: %w", err)
	}
	if o.Progress != nil && n%o.ProgressEvery != 0 {
		o.Progress(n)
	}
	return n, nil
}

// ExportSpansFile is ExportSpans into a file, written under a temporary name
// and renamed when complete.
func ExportSpansFile(ctx context.Context, conn driver.Conn, f SpanFilter, path string, o SpanExportOptions) (int64, error) {
	var n int64
	err := atomicWrite(path, func(w io.Writer) error {
		var err error
		n, err = ExportSpans(ctx, conn, f, w, o)
		return err
	})
	return n, err
}
