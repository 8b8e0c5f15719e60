package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/schemas"
)

// want is the content of every fixture below, in each format.
var want = []schemas.DatasetRow{
	{Row: 0, Input: "What is the capital of France?", Expected: "Paris", Tags: []string{"geo", "easy"}},
	{Row: 1, Input: "Summarise:\n\"a, b; c\"", Expected: "", Output: "abc", Context: "passage one"},
	{Row: 2, Input: "2+2", Expected: "4", Tags: []string{"math"}, Context: "ctx"},
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const fixtureJSONL = `{"input": "What is the capital of France?", "expected": "Paris", "tags": ["geo", " easy ", ""]}

{"input": "Summarise:\n\"a, b; c\"", "expected": null, "output": "abc", "context": "passage one", "id": 7}
{"input": "2+2", "expected": 4, "tags": ["math"], "context": "ctx"}
`

const fixtureCSV = "\ufeffinput,expected,output,tags,context,id\n" +
	"What is the capital of France?,Paris,,\"geo; easy\",,1\n" +
	"\"Summarise:\n\"\"a, b; c\"\"\",,abc,,passage one,2\n" +
	"2+2,4,,math,ctx,3\n"

// writeParquetFixture writes want with arrow-go: tags as list<string>, and an
// extra column that must be ignored.
func writeParquetFixture(t *testing.T, rows []schemas.DatasetRow, nullInputAt int) string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "input", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "expected", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "output", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "context", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i, r := range rows {
		if i == nullInputAt {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(r.Input)
		}
		if r.Expected == "" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(r.Expected)
		}
		b.Field(2).(*array.StringBuilder).Append(r.Output)
		lb := b.Field(3).(*array.ListBuilder)
		if r.Tags == nil {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for _, tg := range r.Tags {
				lb.ValueBuilder().(*array.StringBuilder).Append(tg)
			}
		}
		b.Field(4).(*array.StringBuilder).Append(r.Context)
		b.Field(5).(*array.Float64Builder).Append(float64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "fixture.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(sc, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil { // closes f
		t.Fatal(err)
	}
	return p
}

func TestReadFileFormats(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		ignored    []string
	}{
		{"jsonl", writeFile(t, "eval.jsonl", fixtureJSONL), []string{"id"}},
		{"csv", writeFile(t, "eval.csv", fixtureCSV), []string{"id"}},
		{"parquet", writeParquetFixture(t, want, -1), []string{"score"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rep, err := ReadFileReport(tc.path, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows:\n got %+v\nwant %+v", got, want)
			}
			if rep.MissingExpected != 1 || !reflect.DeepEqual(rep.IgnoredFields, tc.ignored) {
				t.Errorf("report %+v, want 1 missing expected and ignored %v", rep, tc.ignored)
			}
			if Checksum(got) != Checksum(want) {
				t.Error("checksum differs for identical rows")
			}
		})
	}
}

func TestReadFileFieldMapping(t *testing.T) {
	p := writeFile(t, "qa.jsonl", `{"question": "q1", "answer": "a1", "labels": ["x"]}`+"\n")
	got, err := ReadFile(p, ReadOptions{InputField: "question", ExpectedField: "answer", TagsField: "labels"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Input != "q1" || got[0].Expected != "a1" || !reflect.DeepEqual(got[0].Tags, []string{"x"}) {
		t.Errorf("got %+v", got)
	}
	if _, err := ReadFile(p, ReadOptions{}); err == nil || !strings.Contains(err.Error(), `qa.jsonl:1: field "input" is missing`) {
		t.Errorf("default fields on a question/answer file: %v", err)
	}
	if _, err := ReadFile(p, ReadOptions{InputField: "question", ExpectedField: "nope", RequireExpected: true}); err == nil ||
		!strings.Contains(err.Error(), `qa.jsonl:1: field "expected" is missing or empty`) {
		t.Errorf("require expected: %v", err)
	}
}

func TestReadFileBadRows(t *testing.T) {
	jsonl := `{"input": "ok"}
{"expected": "no input"}
{"input": "   "}
{"input": "x", "tags": "a,b"}
not json

{"input": "fine"}
{"input": 12, "context": {"k": [1, 2]}}
`
	csvText := "input,expected\n" +
		"ok,1\n" +
		",2\n" +
		"\"multi\nline\",3\n" +
		"too,many,cells\n"
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"jsonl", writeFile(t, "bad.jsonl", jsonl), []string{
			`bad.jsonl:2: field "input" is missing`,
			`bad.jsonl:3: field "input" is empty`,
			`bad.jsonl:4: field "tags" must be an array of strings`,
			`bad.jsonl:5: is not a JSON object`,
		}},
		{"csv", writeFile(t, "bad.csv", csvText), []string{
			`bad.csv:3: field "input" is empty`,
			`bad.csv:6: has 3 columns, the header has 2`, // the record before spans lines 4-5
		}},
		{"parquet", writeParquetFixture(t, want, 1), []string{
			`fixture.parquet: row 2: field "input" is missing`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadFile(tc.path, ReadOptions{})
			if err == nil || rows != nil {
				t.Fatalf("want an error and no rows, got %d rows, %v", len(rows), err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%s", n, len(tc.want), msg)
			}
			var re *RowError
			if !errors.As(err, &re) || re.Line == 0 {
				t.Errorf("error is not a *RowError with a line: %#v", err)
			}
		})
	}
	t.Run("valid JSON values become text", func(t *testing.T) {
		rows, err := ReadFile(writeFile(t, "v.jsonl", `{"input": 12, "expected": true, "context": {"k": [1, 2]}}`), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r := rows[0]; r.Input != "12" || r.Expected != "true" || r.Context != `{"k":[1,2]}` {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("at most MaxErrors listed", func(t *testing.T) {
		p := writeFile(t, "many.jsonl", strings.Repeat(`{"input": ""}`+"\n", 30))
		_, err := ReadFile(p, ReadOptions{MaxErrors: 5})
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		if strings.Count(msg, "\n") != 5 || !strings.Contains(msg, "many.jsonl:5: ") || !strings.Contains(msg, "and 25 more errors") {
			t.Errorf("got:\n%s", msg)
		}
	})
	t.Run("csv without the input column", func(t *testing.T) {
		_, err := ReadFile(writeFile(t, "h.csv", "question,answer\nq,a\n"), ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), `h.csv:1: field "input" has no column "input" in the header`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("csv syntax error", func(t *testing.T) {
		_, err := ReadFile(writeFile(t, "q.csv", "input\nok\n\"unterminated\n"), ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "q.csv:3:") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		_, err := ReadFile(writeFile(t, "e.jsonl", "\n\n"), ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "e.jsonl: has no rows") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("unknown extension", func(t *testing.T) {
		if _, err := ReadFile(writeFile(t, "x.txt", "a"), ReadOptions{}); err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("got %v", err)
		}
		if rows, err := ReadFile(writeFile(t, "x.txt", `{"input":"a"}`), ReadOptions{Format: "jsonl"}); err != nil || len(rows) != 1 {
			t.Errorf("--format jsonl: %v", err)
		}
	})
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		name    string
		version uint32
		ok      bool
	}{
		{"qa", "qa", 0, true},
		{"qa@3", "qa", 3, true},
		{"qa@latest", "qa", 0, true},
		{"team/qa-v2.1@12", "team/qa-v2.1", 12, true},
		{"qa@0", "", 0, false},
		{"qa@", "", 0, false},
		{"qa@x", "", 0, false},
		{"qa@-1", "", 0, false},
		{"qa@1@2", "", 0, false},
		{"@3", "", 0, false},
		{"", "", 0, false},
		{"-qa", "", 0, false},
		{"q a", "", 0, false},
		{"qa@4294967296", "", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			name, v, err := ParseRef(tc.in)
			if (err == nil) != tc.ok || name != tc.name || v != tc.version {
				t.Errorf("ParseRef(%q) = %q, %d, %v; want %q, %d, ok=%v", tc.in, name, v, err, tc.name, tc.version, tc.ok)
			}
			if tc.ok && FormatRef(name, v) != strings.TrimSuffix(tc.in, "@latest") {
				t.Errorf("FormatRef(%q, %d) = %q", name, v, FormatRef(name, v))
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	a := []schemas.DatasetRow{{Input: "ab", Expected: "c"}}
	b := []schemas.DatasetRow{{Input: "a", Expected: "bc"}}
	c := []schemas.DatasetRow{{Input: "ab", Expected: "c", Tags: []string{}}}
	d := []schemas.DatasetRow{{Input: "ab", Expected: "c", Tags: []string{""}}}
	if Checksum(a) == Checksum(b) {
		t.Error("moving a byte between fields keeps the checksum")
	}
	if Checksum(a) != Checksum(c) {
		t.Error("nil and empty tags differ")
	}
	if Checksum(a) == Checksum(d) {
		t.Error("an empty tag is not counted")
	}
	if Checksum(append(a, b...)) == Checksum(append(b, a...)) {
		t.Error("row order not counted")
	}
}
