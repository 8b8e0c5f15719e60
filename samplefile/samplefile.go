// Package samplefile reads samples for the detectors from files: CSV, JSONL
// and Parquet (through Apache Arrow's Go library), one row per instance.
// It is the I/O side of `chainwatch detect`; the detectors themselves never
// touch files.
package samplefile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Options say how to read a file.
type Options struct {
	// Columns selects and orders columns by name (JSONL keys, CSV header,
	// Parquet fields); empty takes them all (JSONL: the first object's keys,
	// sorted).
	Columns []string
	// Text reads one text per row: a plain text file is one line per text;
	// CSV, JSONL and Parquet take the column TextField (default "text"), or
	// the only column.
	Text      bool
	TextField string
	// Header says whether a CSV's first row names the columns: "auto"
	// (default), "yes" or "no". Auto takes a first row as a header when it
	// is not all numbers and none of its values recurs in its column below
	// (so a categorical sample's first instance is not mistaken for names).
	Header string
}

// Table is what a file held.
type Table struct {
	Columns []string
	// Cells are every value as a string, rows × columns (categorical tests).
	Cells [][]string
	// Numeric is rows × features when every value is a number; list-valued
	// columns (embeddings) are expanded into one feature per element. Nil
	// when some value is not numeric (NumericErr says which).
	Numeric    [][]float64
	NumericErr error
	// Texts is set in Text mode.
	Texts []string
}

// Read reads path, choosing the format by extension: .csv, .tsv, .jsonl,
// .ndjson, .json, .parquet, and .txt (text mode only).
func Read(path string, o Options) (*Table, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return readCSV(path, ',', o)
	case ".tsv":
		return readCSV(path, '\t', o)
	case ".jsonl", ".ndjson", ".json":
		return readJSONL(path, o)
	case ".parquet", ".pq":
		return readParquet(path, o)
	case ".txt", "":
		if !o.Text {
			return nil, fmt.Errorf("%s: a plain text file needs --text", path)
		}
		return readLines(path)
	}
	return nil, fmt.Errorf("%s: unknown format %q (want .csv, .tsv, .jsonl, .parquet or .txt)", path, filepath.Ext(path))
}

func readLines(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Table{Columns: []string{"text"}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.TrimSpace(line) != "" {
			t.Texts = append(t.Texts, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readCSV(path string, sep rune, o Options) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = sep
	r.ReuseRecord = false
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	var header []string
	hasHeader := false
	switch o.Header {
	case "yes":
		hasHeader = true
	case "no":
	case "", "auto":
		hasHeader = len(o.Columns) > 0 || o.Text || looksLikeHeader(rows)
	default:
		return nil, fmt.Errorf("header must be auto, yes or no; got %q", o.Header)
	}
	first := 1
	if hasHeader {
		header, rows, first = rows[0], rows[1:], 2
	} else {
		for i := range rows[0] {
			header = append(header, fmt.Sprintf("c%d", i))
		}
	}
	return fromCells(path, header, rows, o, func(i int) string { return fmt.Sprintf("line %d", i+first) })
}

// looksLikeHeader: the first row is not all numbers and none of its values
// recurs in its column below.
func looksLikeHeader(rows [][]string) bool {
	if len(rows) < 2 || allNumbers(rows[0]) {
		return false
	}
	for _, row := range rows[1:] {
		for j, c := range row {
			if j < len(rows[0]) && c == rows[0][j] {
				return false
			}
		}
	}
	return true
}

func allNumbers(row []string) bool {
	for _, c := range row {
		if _, err := strconv.ParseFloat(strings.TrimSpace(c), 64); err != nil {
			return false
		}
	}
	return true
}

// fromCells selects columns and fills Numeric or Texts.
func fromCells(path string, header []string, rows [][]string, o Options, where func(int) string) (*Table, error) {
	idx := make([]int, 0, len(header))
	cols := header
	if o.Text {
		field := o.TextField
		if field == "" {
			field = "text"
		}
		i := slices.Index(header, field)
		if i < 0 && len(header) == 1 {
			i = 0
		}
		if i < 0 {
			return nil, fmt.Errorf("%s: no column %q for the texts (columns: %s)", path, field, strings.Join(header, ", "))
		}
		t := &Table{Columns: []string{header[i]}}
		for r, row := range rows {
			if i >= len(row) {
				return nil, fmt.Errorf("%s: %s: has %d columns, want at least %d", path, where(r), len(row), i+1)
			}
			t.Texts = append(t.Texts, row[i])
		}
		return t, nil
	}
	if len(o.Columns) > 0 {
		cols = o.Columns
		for _, c := range o.Columns {
			i := slices.Index(header, c)
			if i < 0 {
				return nil, fmt.Errorf("%s: no column %q (columns: %s)", path, c, strings.Join(header, ", "))
			}
			idx = append(idx, i)
		}
	} else {
		for i := range header {
			idx = append(idx, i)
		}
	}
	t := &Table{Columns: cols, Cells: make([][]string, len(rows))}
	for r, row := range rows {
		cells := make([]string, len(idx))
		for j, i := range idx {
			if i >= len(row) {
				return nil, fmt.Errorf("%s: %s: has %d columns, want %d", path, where(r), len(row), len(header))
			}
			cells[j] = strings.TrimSpace(row[i])
		}
		t.Cells[r] = cells
	}
	t.Numeric, t.NumericErr = numeric(path, t.Cells, cols, where)
	return t, nil
}

func numeric(path string, cells [][]string, cols []string, where func(int) string) ([][]float64, error) {
	out := make([][]float64, len(cells))
	for r, row := range cells {
		out[r] = make([]float64, len(row))
		for j, c := range row {
			v, err := strconv.ParseFloat(c, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: %s, column %s: %q is not a finite number", path, where(r), cols[j], c)
			}
			out[r][j] = v
		}
	}
	return out, nil
}

func readJSONL(path string, o Options) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var header []string
	var rows [][]string
	var lines []int
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: line %d: %v", path, line, err)
		}
		var row []string
		switch x := v.(type) {
		case []any:
			if header == nil {
				for i := range flatten(x) {
					header = append(header, fmt.Sprintf("c%d", i))
				}
			}
			row = flatten(x)
		case map[string]any:
			if header == nil {
				header = o.Columns
				if len(header) == 0 {
					for k := range x {
						header = append(header, k)
					}
					sort.Strings(header)
				}
			}
			for _, k := range header {
				val, ok := x[k]
				if !ok {
					return nil, fmt.Errorf("%s: line %d: no key %q", path, line, k)
				}
				row = append(row, flatten([]any{val})...)
			}
		case string:
			header = []string{"text"}
			row = []string{x}
		default:
			return nil, fmt.Errorf("%s: line %d: want an array, an object or a string", path, line)
		}
		rows = append(rows, row)
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	cols := header
	if n := len(rows[0]); n != len(header) { // list values expanded
		cols = nil
		for i := 0; i < n; i++ {
			cols = append(cols, fmt.Sprintf("c%d", i))
		}
	}
	for r := range rows {
		if len(rows[r]) != len(rows[0]) {
			return nil, fmt.Errorf("%s: line %d: %d values, the first row has %d", path, lines[r], len(rows[r]), len(rows[0]))
		}
	}
	where := func(r int) string { return fmt.Sprintf("line %d", lines[r]) }
	if o.Text {
		o.Columns = nil
		return fromCells(path, header, rows, o, where)
	}
	return fromCells(path, cols, rows, Options{}, where)
}

// flatten turns JSON values into cells; nested arrays (embeddings) expand.
func flatten(vs []any) []string {
	var out []string
	for _, v := range vs {
		switch x := v.(type) {
		case []any:
			out = append(out, flatten(x)...)
		case json.Number:
			out = append(out, x.String())
		case string:
			out = append(out, x)
		case bool:
			out = append(out, strconv.FormatBool(x))
		case nil:
			out = append(out, "")
		default:
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

func readParquet(path string, o Options) (*Table, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer tbl.Release()
	n := int(tbl.NumRows())
	var header []string
	var columns [][][]string // per column: per row: cells (lists expand)
	for i := 0; i < int(tbl.NumCols()); i++ {
		col := tbl.Column(i)
		header = append(header, col.Name())
		cells := make([][]string, 0, n)
		for _, chunk := range col.Data().Chunks() {
			for r := 0; r < chunk.Len(); r++ {
				c, err := cellOf(chunk, r)
				if err != nil {
					return nil, fmt.Errorf("%s: row %d, column %s: %w", path, len(cells), col.Name(), err)
				}
				cells = append(cells, c)
			}
		}
		columns = append(columns, cells)
	}
	rows := make([][]string, n)
	for r := 0; r < n; r++ {
		for c := range columns {
			rows[r] = append(rows[r], columns[c][r]...)
		}
	}
	where := func(r int) string { return fmt.Sprintf("row %d", r) }
	if o.Text || len(o.Columns) > 0 {
		// Select by name before list expansion.
		sel := o.Columns
		if o.Text {
			field := o.TextField
			if field == "" {
				field = "text"
			}
			sel = []string{field}
			if !slices.Contains(header, field) && len(header) == 1 {
				sel = header
			}
		}
		var picked [][]string
		for r := 0; r < n; r++ {
			var row []string
			for _, s := range sel {
				i := slices.Index(header, s)
				if i < 0 {
					return nil, fmt.Errorf("%s: no column %q (columns: %s)", path, s, strings.Join(header, ", "))
				}
				row = append(row, columns[i][r]...)
			}
			picked = append(picked, row)
		}
		if o.Text {
			t := &Table{Columns: sel}
			for _, row := range picked {
				t.Texts = append(t.Texts, strings.Join(row, " "))
			}
			return t, nil
		}
		rows = picked
		header = sel
	}
	cols := header
	if n > 0 && len(rows[0]) != len(header) {
		cols = nil
		for i := range rows[0] {
			cols = append(cols, fmt.Sprintf("c%d", i))
		}
	}
	return fromCells(path, cols, rows, Options{}, where)
}

func cellOf(a arrow.Array, i int) ([]string, error) {
	if a.IsNull(i) {
		return []string{""}, nil
	}
	switch x := a.(type) {
	case *array.Float64:
		return []string{strconv.FormatFloat(x.Value(i), 'g', -1, 64)}, nil
	case *array.Float32:
		return []string{strconv.FormatFloat(float64(x.Value(i)), 'g', -1, 32)}, nil
	case *array.Int64:
		return []string{strconv.FormatInt(x.Value(i), 10)}, nil
	case *array.Int32:
		return []string{strconv.FormatInt(int64(x.Value(i)), 10)}, nil
	case *array.Int16:
		return []string{strconv.FormatInt(int64(x.Value(i)), 10)}, nil
	case *array.Int8:
		return []string{strconv.FormatInt(int64(x.Value(i)), 10)}, nil
	case *array.Uint64:
		return []string{strconv.FormatUint(x.Value(i), 10)}, nil
	case *array.Uint32:
		return []string{strconv.FormatUint(uint64(x.Value(i)), 10)}, nil
	case *array.Boolean:
		return []string{strconv.FormatBool(x.Value(i))}, nil
	case *array.String:
		return []string{x.Value(i)}, nil
	case *array.LargeString:
		return []string{x.Value(i)}, nil
	case *array.List:
		start, end := x.ValueOffsets(i)
		var out []string
		for j := int(start); j < int(end); j++ {
			c, err := cellOf(x.ListValues(), j)
			if err != nil {
				return nil, err
			}
			out = append(out, c...)
		}
		return out, nil
	case *array.FixedSizeList:
		size := int(x.DataType().(*arrow.FixedSizeListType).Len())
		var out []string
		for j := i * size; j < (i+1)*size; j++ {
			c, err := cellOf(x.ListValues(), j)
			if err != nil {
				return nil, err
			}
			out = append(out, c...)
		}
		return out, nil
	}
	return nil, errors.New("unsupported Parquet type " + a.DataType().String())
}
