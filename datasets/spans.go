package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/schemas"
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
}, nil)

// spanStrings are the string columns read in order after the fixed ones.
var spanStrings = []string{"app", "environment", "chain_name", "chain_version", "component_name", "component_kind",
	"prompt_template_id", "prompt_template_version", "operation", "provider", "model_requested", "model_returned",
	"input_text", "output_text"}

// spanQuery renders the streaming query for f on a server with caps.
func spanQuery(f SpanFilter, caps schemas.Capabilities) (string, []any) {
	attrs := "attr_keys, attr_values"
	if caps.Map {
		attrs = "mapKeys(attributes), mapValues(attributes)"
	}
	final := ""
	if f.Final {
		final = " FINAL"
	}
	// start_time narrows by the primary key and partitions (seconds on
	// servers without DateTime64); start_unix_nano makes the bounds exact.
	fromSec := f.From.Unix()
	toSec := f.To.Unix()
	if f.To.Nanosecond() > 0 {
		toSec++
	}
	where := []string{"start_time >= toDateTime(?)", "start_time <= toDateTime(?)", "start_unix_nano >= ?", "start_unix_nano < ?"}
	args := []any{fromSec, toSec, uint64(f.From.UnixNano()), uint64(f.To.UnixNano())}
	for _, c := range []struct{ col, val string }{
		{"app", f.App}, {"environment", f.Environment}, {"chain_name", f.Chain},
		{"component_name", f.Component}, {"component_kind", f.Kind},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	q := "SELECT trace_id, span_id, parent_span_id, name, start_unix_nano, duration_ms, " +
		strings.Join(spanStrings, ", ") +
		", input_tokens, output_tokens, status, error_message, session_id, user_id, " + attrs + ", ingested_at" +
		" FROM spans" + final + " WHERE " + strings.Join(where, " AND ")
	return q, args
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
	var ver string
	vctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	if err := conn.QueryRow(vctx, "SELECT version()").Scan(&ver); err != nil {
		return 0, fmt.Errorf("reading clickhouse version: %w", err)
	}
	sv, err := schemas.ParseServerVersion(ver)
	if err != nil {
		return 0, err
	}
	q, args := spanQuery(f, schemas.CapabilitiesOf(sv))
	rs, err := conn.Query(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("querying spans: %w", hint(err))
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

	var (
		n, pending      int64
		traceID, spanID string
		parent, name    string
		startNano       uint64
		durMS           float64
		texts           = make([]string, len(spanStrings))
		inT, outT       uint32
		status, errMsg  string
		session, user   string
		keys, vals      []string
		ingestedAt      time.Time
		dest            = []any{&traceID, &spanID, &parent, &name, &startNano, &durMS}
		flush           = func() error {
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
	for i := range texts {
		dest = append(dest, &texts[i])
	}
	dest = append(dest, &inT, &outT, &status, &errMsg, &session, &user, &keys, &vals, &ingestedAt)
	fail := func(err error) (int64, error) {
		fw.Close()
		return n, err
	}
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return fail(fmt.Errorf("reading span %d: %w", n, err))
		}
		str(0).Append(traceID)
		str(1).Append(spanID)
		str(2).Append(parent)
		str(3).Append(name)
		startUS := int64(startNano / 1000)
		start.Append(arrow.Timestamp(startUS))
		end.Append(arrow.Timestamp(startUS + int64(math.Round(durMS*1000))))
		dur.Append(durMS)
		for i, s := range texts {
			str(7 + i).Append(s)
		}
		inTok.Append(int64(inT))
		outTok.Append(int64(outT))
		str(23).Append(status)
		str(24).Append(errMsg)
		str(25).Append(session)
		str(26).Append(user)
		attrs.Append(true)
		for i, k := range keys {
			attrK.Append(k)
			if i < len(vals) {
				attrV.Append(vals[i])
			} else {
				attrV.Append("")
			}
		}
		ingested.Append(arrow.Timestamp(ingestedAt.UnixMilli()))
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
		return fail(fmt.Errorf("reading spans after %d: %w", n, err))
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
