package datasets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/schemas"
)

// File formats ReadFile understands.
const (
	FormatJSONL   = "jsonl"
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// Defaults of ReadOptions.
const (
	DefaultInputField    = "input"
	DefaultExpectedField = "expected"
	DefaultOutputField   = "output"
	DefaultTagsField     = "tags"
	DefaultContextField  = "context"
	// DefaultMaxErrors is how many bad rows ReadFile reports before it
	// summarises the rest as a count.
	DefaultMaxErrors = 20
)

// ReadOptions say how to map a file's fields onto dataset rows. Zero values
// take the defaults above.
type ReadOptions struct {
	// Format is jsonl, csv or parquet; empty chooses by extension (.jsonl,
	// .ndjson, .json; .csv; .parquet, .pq).
	Format string

	InputField    string
	ExpectedField string
	OutputField   string
	TagsField     string
	ContextField  string

	// RequireExpected makes a row without an expected output (missing, null
	// or empty) an error instead of a warning.
	RequireExpected bool

	// MaxErrors bounds the bad rows listed in the error; the rest are
	// counted. 0 means DefaultMaxErrors.
	MaxErrors int
}

func (o ReadOptions) withDefaults() ReadOptions {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.InputField, DefaultInputField)
	def(&o.ExpectedField, DefaultExpectedField)
	def(&o.OutputField, DefaultOutputField)
	def(&o.TagsField, DefaultTagsField)
	def(&o.ContextField, DefaultContextField)
	if o.MaxErrors <= 0 {
		o.MaxErrors = DefaultMaxErrors
	}
	return o
}

// FormatOf returns the format a file name implies, or an error naming the
// extensions understood.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	case ".parquet", ".pq":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension %q (want .jsonl, .csv or .parquet, or pass --format)", path, filepath.Ext(path))
}

// RowError is one bad row of a file. Line is 1-based: a line of a JSONL
// file, a line of a CSV file with the header as line 1 (a record spanning
// lines is named by its first line), or a row of a Parquet file counted from
// 1 (row 1 is the first data row; DatasetRow.Row of that row is 0).
type RowError struct {
	File    string // base name of the file
	Line    int    // 0 when the problem is not tied to a row
	Parquet bool   // Line counts Parquet rows, not text lines
	Field   string // the dataset field (input, expected, …); empty when the whole row is bad
	Msg     string
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.Parquet {
			fmt.Fprintf(&b, ": row %d", e.Line)
		} else {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ReadReport is what ReadFile noticed besides errors: things an operator should
// know but that do not stop an import.
type ReadReport struct {
	Rows            int
	MissingExpected int      // rows without an expected output
	IgnoredFields   []string // fields of the file that map to no dataset field, sorted
}

// Warnings renders the report as lines for a person.
func (r ReadReport) Warnings(file string) []string {
	var out []string
	if r.MissingExpected > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %d rows have no expected output (reference metrics will skip them; --require-expected makes this an error)",
			file, r.MissingExpected, r.Rows))
	}
	if len(r.IgnoredFields) > 0 {
		out = append(out, fmt.Sprintf("%s: ignoring fields that map to no dataset field: %s", file, strings.Join(r.IgnoredFields, ", ")))
	}
	return out
}

// ReadFile reads an evaluation dataset from a JSONL, CSV or Parquet file and
// validates every row. On any bad row it returns no rows and a joined error
// listing up to MaxErrors *RowError (file, line or row, field), followed by
// a count of the rest.
//
// Field rules: input is required and must not be empty or blank; expected,
// output and context are optional (a missing expected output is counted in
// the ReadReport, or is an error with RequireExpected). Text fields must be
// valid UTF-8. In JSONL a string is taken as is, null is missing, and any
// other JSON value (number, boolean, object, array) is stored as its
// compact JSON text. Tags are an array of strings in JSONL, a list of
// strings (or a string) in Parquet, and a string split at commas and
// semicolons in CSV; blank tags are dropped and the others trimmed.
func ReadFile(path string, o ReadOptions) ([]schemas.DatasetRow, error) {
	rows, _, err := ReadFileReport(path, o)
	return rows, err
}

// ReadFileReport is ReadFile that also returns the warnings' material.
func ReadFileReport(path string, o ReadOptions) ([]schemas.DatasetRow, ReadReport, error) {
	o = o.withDefaults()
	format := strings.ToLower(o.Format)
	if format == "" {
		f, err := FormatOf(path)
		if err != nil {
			return nil, ReadReport{}, err
		}
		format = f
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, ReadReport{}, fmt.Errorf("opening dataset file: %w", err)
	}
	defer f.Close()
	c := &collector{file: filepath.Base(path), o: o, ignored: map[string]bool{}}
	switch format {
	case FormatJSONL, "ndjson", "json":
		err = c.readJSONL(f)
	case FormatCSV:
		err = c.readCSV(f)
	case FormatParquet:
		c.parquet = true
		err = c.readParquet(f)
	default:
		return nil, ReadReport{}, fmt.Errorf("unknown format %q (want jsonl, csv or parquet)", o.Format)
	}
	if err != nil {
		return nil, ReadReport{}, err
	}
	if err := c.err(); err != nil {
		return nil, ReadReport{}, err
	}
	if len(c.rows) == 0 {
		return nil, ReadReport{}, &RowError{File: c.file, Msg: "has no rows"}
	}
	rep := ReadReport{Rows: len(c.rows), MissingExpected: c.missingExpected}
	for k := range c.ignored {
		rep.IgnoredFields = append(rep.IgnoredFields, k)
	}
	sort.Strings(rep.IgnoredFields)
	return c.rows, rep, nil
}

// collector accumulates rows and bad-row errors while a file is read.
type collector struct {
	file            string
	o               ReadOptions
	parquet         bool
	rows            []schemas.DatasetRow
	errs            []error
	more            int // bad rows beyond MaxErrors
	missingExpected int
	ignored         map[string]bool
}

func (c *collector) fail(line int, field, format string, args ...any) {
	if len(c.errs) >= c.o.MaxErrors {
		c.more++
		return
	}
	c.errs = append(c.errs, &RowError{File: c.file, Line: line, Parquet: c.parquet, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	errs := c.errs
	if c.more > 0 {
		errs = append(slices.Clip(errs), fmt.Errorf("%s: … and %d more errors", c.file, c.more))
	}
	return errors.Join(errs...)
}

// field is one optional text value of a row as read from a file.
type field struct {
	val     string
	present bool // not missing and not null
}

// add validates one row and appends it. Row errors go to c.errs.
func (c *collector) add(line int, input, expected, output, context field, tags []string) {
	before := len(c.errs) + c.more
	switch {
	case !input.present:
		c.fail(line, "input", "is missing")
	case strings.TrimSpace(input.val) == "":
		c.fail(line, "input", "is empty")
	}
	for _, f := range []struct {
		name string
		v    field
	}{{"input", input}, {"expected", expected}, {"output", output}, {"context", context}} {
		if f.v.present && !utf8.ValidString(f.v.val) {
			c.fail(line, f.name, "is not valid UTF-8")
		}
	}
	for _, t := range tags {
		if !utf8.ValidString(t) {
			c.fail(line, "tags", "is not valid UTF-8")
			break
		}
	}
	if expected.val == "" {
		if c.o.RequireExpected {
			c.fail(line, "expected", "is missing or empty (--require-expected)")
		} else {
			c.missingExpected++
		}
	}
	if len(c.errs)+c.more > before {
		return
	}
	c.rows = append(c.rows, schemas.DatasetRow{
		Row:      uint32(len(c.rows)),
		Input:    input.val,
		Expected: expected.val,
		Output:   output.val,
		Tags:     tags,
		Context:  context.val,
	})
}

// cleanTags trims each tag and drops blank ones; no tags is nil.
func cleanTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// splitTags splits a CSV (or Parquet string) tags cell at commas and
// semicolons.
func splitTags(s string) []string {
	return cleanTags(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }))
}

func (c *collector) known(k string) bool {
	o := c.o
	return k == o.InputField || k == o.ExpectedField || k == o.OutputField || k == o.TagsField || k == o.ContextField
}

func (c *collector) readJSONL(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if len(b) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			c.fail(line, "", "is not a JSON object: %v", err)
			continue
		}
		for k := range obj {
			if !c.known(k) {
				c.ignored[k] = true
			}
		}
		text := func(name, key string) field {
			raw, ok := obj[key]
			if !ok || string(raw) == "null" {
				return field{}
			}
			var s string
			if raw[0] == '"' {
				if err := json.Unmarshal(raw, &s); err != nil {
					c.fail(line, name, "is not a valid JSON string: %v", err)
					return field{}
				}
				return field{val: s, present: true}
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				c.fail(line, name, "%v", err)
				return field{}
			}
			return field{val: buf.String(), present: true}
		}
		before := len(c.errs) + c.more
		in := text("input", c.o.InputField)
		exp := text("expected", c.o.ExpectedField)
		out := text("output", c.o.OutputField)
		ctx := text("context", c.o.ContextField)
		var tags []string
		if raw, ok := obj[c.o.TagsField]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &tags); err != nil {
				c.fail(line, "tags", "must be an array of strings, got %s", abbreviate(string(raw)))
			}
		}
		if len(c.errs)+c.more > before {
			continue
		}
		c.add(line, in, exp, out, ctx, cleanTags(tags))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: reading: %w", c.file, line+1, err)
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func (c *collector) readCSV(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return &RowError{File: c.file, Msg: "is empty (want a header line naming the columns)"}
	}
	if err != nil {
		return c.csvErr(err)
	}
	header = slices.Clone(header)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; dup {
			return &RowError{File: c.file, Line: 1, Msg: fmt.Sprintf("column %q appears twice in the header", h)}
		}
		col[h] = i
		if !c.known(h) {
			c.ignored[h] = true
		}
	}
	if _, ok := col[c.o.InputField]; !ok {
		return &RowError{File: c.file, Line: 1, Field: "input",
			Msg: fmt.Sprintf("has no column %q in the header (columns: %s; choose one with --input-field)", c.o.InputField, strings.Join(header, ", "))}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return c.csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && len(header) > 1 {
			continue // a blank line inside quotes is data; a blank record is not
		}
		if len(rec) != len(header) {
			c.fail(line, "", "has %d columns, the header has %d", len(rec), len(header))
			continue
		}
		text := func(key string) field {
			i, ok := col[key]
			if !ok {
				return field{}
			}
			return field{val: rec[i], present: true}
		}
		var tags []string
		if i, ok := col[c.o.TagsField]; ok {
			tags = splitTags(rec[i])
		}
		c.add(line, text(c.o.InputField), text(c.o.ExpectedField), text(c.o.OutputField), text(c.o.ContextField), tags)
	}
}

// csvErr turns a CSV syntax error, after which the rest of the file cannot
// be trusted, into a RowError that ends the read.
func (c *collector) csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return errors.Join(append(c.errs, &RowError{File: c.file, Line: pe.Line, Msg: pe.Err.Error() + " (CSV syntax; nothing after it was read)"})...)
	}
	return fmt.Errorf("%s: reading: %w", c.file, err)
}

func (c *collector) readParquet(f *os.File) error {
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		return &RowError{File: c.file, Msg: "is not a Parquet file: " + err.Error()}
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("%s: reading Parquet schema: %w", c.file, err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("%s: reading Parquet schema: %w", c.file, err)
	}
	idx := map[string]int{}
	var cols []int
	for i, fld := range sc.Fields() {
		if c.known(fld.Name) {
			idx[fld.Name] = len(cols)
			cols = append(cols, i)
		} else {
			c.ignored[fld.Name] = true
		}
	}
	if _, ok := idx[c.o.InputField]; !ok {
		var names []string
		for _, fld := range sc.Fields() {
			names = append(names, fld.Name)
		}
		return &RowError{File: c.file, Field: "input",
			Msg: fmt.Sprintf("has no column %q (columns: %s; choose one with --input-field)", c.o.InputField, strings.Join(names, ", "))}
	}
	rr, err := fr.GetRecordReader(context.Background(), cols, nil)
	if err != nil {
		return fmt.Errorf("%s: reading Parquet: %w", c.file, err)
	}
	defer rr.Release()
	row := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		get := func(key string) arrow.Array {
			if i, ok := idx[key]; ok {
				return rec.Column(i)
			}
			return nil
		}
		in, exp, out, ctx, tg := get(c.o.InputField), get(c.o.ExpectedField), get(c.o.OutputField), get(c.o.ContextField), get(c.o.TagsField)
		for r := 0; r < int(rec.NumRows()); r++ {
			row++
			before := len(c.errs) + c.more
			text := func(name string, a arrow.Array) field {
				if a == nil || a.IsNull(r) {
					return field{}
				}
				s, err := textOf(a, r)
				if err != nil {
					c.fail(row, name, "%v", err)
					return field{}
				}
				return field{val: s, present: true}
			}
			fi, fe, fo, fc := text("input", in), text("expected", exp), text("output", out), text("context", ctx)
			var tags []string
			if tg != nil && !tg.IsNull(r) {
				t, err := tagsOf(tg, r)
				if err != nil {
					c.fail(row, "tags", "%v", err)
				}
				tags = t
			}
			if len(c.errs)+c.more > before {
				continue
			}
			c.add(row, fi, fe, fo, fc, tags)
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: reading Parquet after row %d: %w", c.file, row, err)
	}
	return nil
}

// textOf renders a Parquet cell as text: strings as they are, numbers and
// booleans as their literal.
func textOf(a arrow.Array, i int) (string, error) {
	switch x := a.(type) {
	case *array.String:
		return x.Value(i), nil
	case *array.LargeString:
		return x.Value(i), nil
	case *array.StringView:
		return x.Value(i), nil
	case *array.Binary:
		return string(x.Value(i)), nil
	case *array.Int64, *array.Int32, *array.Int16, *array.Int8,
		*array.Uint64, *array.Uint32, *array.Uint16, *array.Uint8,
		*array.Float64, *array.Float32, *array.Boolean:
		return a.ValueStr(i), nil
	}
	return "", fmt.Errorf("has type %s, want a string", a.DataType())
}

// tagsOf reads a list<string> cell, or a string cell split like CSV tags.
func tagsOf(a arrow.Array, i int) ([]string, error) {
	var vals arrow.Array
	var start, end int64
	switch x := a.(type) {
	case *array.List:
		start, end = x.ValueOffsets(i)
		vals = x.ListValues()
	case *array.LargeList:
		start, end = x.ValueOffsets(i)
		vals = x.ListValues()
	case *array.String, *array.LargeString:
		s, _ := textOf(a, i)
		return splitTags(s), nil
	default:
		return nil, fmt.Errorf("has type %s, want list<string>", a.DataType())
	}
	var out []string
	for j := start; j < end; j++ {
		if vals.IsNull(int(j)) {
			continue
		}
		s, err := textOf(vals, int(j))
		if err != nil {
			return nil, fmt.Errorf("has elements of type %s, want list<string>", vals.DataType())
		}
		out = append(out, s)
	}
	return cleanTags(out), nil
}

// ValidateRows applies ReadFile's rules to rows built in code (the input is
// required and non-empty, text is valid UTF-8). Errors count rows from 1.
// It is what Import checks before writing anything.
func ValidateRows(rows []schemas.DatasetRow) error {
	if len(rows) == 0 {
		return errors.New("dataset has no rows")
	}
	c := &collector{file: "dataset", parquet: true, o: ReadOptions{}.withDefaults()}
	for i, r := range rows {
		c.add(i+1, field{r.Input, true}, field{r.Expected, true}, field{r.Output, true}, field{r.Context, true}, r.Tags)
	}
	return c.err()
}
