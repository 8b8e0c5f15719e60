package datasets

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/schemas"
)

// ExportRowGroupRows is the row-group size of exported Parquet files.
const ExportRowGroupRows = 10_000

// jsonRow is a dataset row as exported: the field names ReadFile takes by
// default, so an export imports again unchanged.
type jsonRow struct {
	Input    string   `json:"input"`
	Expected string   `json:"expected"`
	Output   string   `json:"output,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Context  string   `json:"context,omitempty"`
}

// WriteJSONL writes rows as JSON lines with the fields input, expected and,
// when set, output, tags and context.
func WriteJSONL(w io.Writer, rows []schemas.DatasetRow) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range rows {
		r := &rows[i]
		if err := enc.Encode(jsonRow{r.Input, r.Expected, r.Output, r.Tags, r.Context}); err != nil {
			return fmt.Errorf("writing row %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// DatasetSchema is the Arrow schema of an exported dataset: input, expected,
// output and context strings and tags as list<string>.
var DatasetSchema = arrow.NewSchema([]arrow.Field{
	{Name: DefaultInputField, Type: arrow.BinaryTypes.String},
	{Name: DefaultExpectedField, Type: arrow.BinaryTypes.String},
	{Name: DefaultOutputField, Type: arrow.BinaryTypes.String},
	{Name: DefaultTagsField, Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: DefaultContextField, Type: arrow.BinaryTypes.String},
}, nil)

// WriteParquet writes rows as Parquet (DatasetSchema, zstd, row groups of
// ExportRowGroupRows).
func WriteParquet(w io.Writer, rows []schemas.DatasetRow) error {
	fw, err := pqarrow.NewFileWriter(DatasetSchema, struct{ io.Writer }{w}, parquetProps(), pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("creating parquet writer: %w", err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, DatasetSchema)
	defer b.Release()
	in, exp, out := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.StringBuilder), b.Field(2).(*array.StringBuilder)
	tags, ctx := b.Field(3).(*array.ListBuilder), b.Field(4).(*array.StringBuilder)
	tag := tags.ValueBuilder().(*array.StringBuilder)
	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := fw.Write(rec); err != nil {
			return fmt.Errorf("writing parquet row group: %w", err)
		}
		return nil
	}
	for i := range rows {
		r := &rows[i]
		in.Append(r.Input)
		exp.Append(r.Expected)
		out.Append(r.Output)
		tags.Append(true)
		for _, t := range r.Tags {
			tag.Append(t)
		}
		ctx.Append(r.Context)
		if (i+1)%ExportRowGroupRows == 0 {
			if err := flush(); err != nil {
				fw.Close()
				return err
			}
		}
	}
	if len(rows)%ExportRowGroupRows != 0 || len(rows) == 0 {
		if err := flush(); err != nil {
			fw.Close()
			return err
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("closing parquet writer: %w", err)
	}
	return nil
}

func parquetProps() *parquet.WriterProperties {
	return parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(1<<20))
}

// WriteFile writes rows to path, as Parquet for .parquet/.pq and JSONL for
// .jsonl/.ndjson/.json. It writes a temporary file beside path and renames
// it, so a failed export leaves no partial file.
func WriteFile(path string, rows []schemas.DatasetRow) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	write := WriteJSONL
	switch format {
	case FormatParquet:
		write = WriteParquet
	case FormatCSV:
		return fmt.Errorf("%s: export writes .jsonl or .parquet (CSV cannot keep tags that contain commas)", path)
	}
	return atomicWrite(path, func(w io.Writer) error { return write(w, rows) })
}

// atomicWrite writes through a temporary file in path's directory and
// renames it onto path when write succeeded.
func atomicWrite(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename there is nothing to remove
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming onto %s: %w", path, err)
	}
	return nil
}
