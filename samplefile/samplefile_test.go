package samplefile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFormats(t *testing.T) {
	want := [][]float64{{1, 2}, {3, 4.5}}
	for _, tc := range []struct{ name, body string }{
		{"plain.csv", "1,2\n3,4.5\n"},
		{"header.csv", "a,b\n1,2\n3,4.5\n"},
		{"arrays.jsonl", "[1,2]\n\n[3,4.5]\n"},
		{"objects.jsonl", `{"b":2,"a":1}` + "\n" + `{"a":3,"b":4.5}` + "\n"},
		{"nested.jsonl", `{"emb":[1,2]}` + "\n" + `{"emb":[3,4.5]}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Read(write(t, tc.name, tc.body), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tb.Numeric, want) {
				t.Fatalf("numeric %v, want %v (err %v)", tb.Numeric, want, tb.NumericErr)
			}
		})
	}
}

func TestReadCategoricalAndText(t *testing.T) {
	tb, err := Read(write(t, "c.csv", "model,status\ngpt,ok\nllama,error\ngpt,error\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Numeric != nil || !strings.Contains(tb.NumericErr.Error(), `line 2, column model: "gpt"`) {
		t.Fatalf("numeric %v err %v", tb.Numeric, tb.NumericErr)
	}
	if !reflect.DeepEqual(tb.Cells, [][]string{{"gpt", "ok"}, {"llama", "error"}, {"gpt", "error"}}) {
		t.Fatalf("cells %v", tb.Cells)
	}
	txt, err := Read(write(t, "t.txt", "hello there\n\nsecond line\n"), Options{Text: true})
	if err != nil || !reflect.DeepEqual(txt.Texts, []string{"hello there", "second line"}) {
		t.Fatalf("texts %v %v", txt.Texts, err)
	}
	jt, err := Read(write(t, "t.jsonl", `{"text":"a b","n":1}`+"\n"+`{"text":"c","n":2}`+"\n"), Options{Text: true})
	if err != nil || !reflect.DeepEqual(jt.Texts, []string{"a b", "c"}) {
		t.Fatalf("jsonl texts %v %v", jt.Texts, err)
	}
}

func TestReadErrorsSayWhere(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"bad.jsonl", "[1,2]\n{oops\n", "line 2"},
		{"ragged.jsonl", "[1,2]\n[3]\n", "line 2: 1 values"},
		{"missing.jsonl", `{"a":1}` + "\n" + `{"b":2}` + "\n", `line 2: no key "a"`},
		{"x.xlsx", "", "unknown format"},
	} {
		_, err := Read(write(t, tc.name, tc.body), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	noHeader, err := Read(write(t, "n.csv", "gpt,ok\ngpt,error\n"), Options{})
	if err != nil || len(noHeader.Cells) != 2 {
		t.Errorf("a categorical first row was taken for a header: %v %v", noHeader, err)
	}
	if _, err := Read(write(t, "c.csv", "a,b\n1,2\n"), Options{Columns: []string{"z"}}); err == nil || !strings.Contains(err.Error(), `no column "z"`) {
		t.Errorf("unknown column: %v", err)
	}
}

func TestReadParquet(t *testing.T) {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "emb", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
		{Name: "latency", Type: arrow.PrimitiveTypes.Float64},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	lb := b.Field(0).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	for _, row := range [][]float32{{1, 2}, {3, 4}} {
		lb.Append(true)
		vb.AppendValues(row, nil)
	}
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{0.5, 1.5}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"hi there", "bye"}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	p := filepath.Join(t.TempDir(), "s.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := pqarrow.WriteTable(tbl, f, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tb, err := Read(p, Options{Columns: []string{"emb", "latency"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tb.Numeric, [][]float64{{1, 2, 0.5}, {3, 4, 1.5}}) {
		t.Fatalf("parquet numeric %v (%v)", tb.Numeric, tb.NumericErr)
	}
	txt, err := Read(p, Options{Text: true})
	if err != nil || !reflect.DeepEqual(txt.Texts, []string{"hi there", "bye"}) {
		t.Fatalf("parquet texts %v %v", txt.Texts, err)
	}
}
