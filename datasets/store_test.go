package datasets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// migrated returns a connection to a fresh, migrated database.
func migrated(t *testing.T) driver.Conn {
	t.Helper()
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	if _, err := schemas.Migrate(t.Context(), clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	return conn
}

func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// withNames is rows as Rows returns them.
func withNames(rows []schemas.DatasetRow, name string, v uint32) []schemas.DatasetRow {
	out := make([]schemas.DatasetRow, len(rows))
	for i, r := range rows {
		r.Name, r.Version, r.Row = name, v, uint32(i)
		out[i] = r
	}
	return out
}

func TestImportVersionsAndReadBack(t *testing.T) {
	conn := migrated(t)
	ctx := t.Context()
	// Each format imports as the next version of one name and reads back
	// as it was in the file.
	paths := []string{
		writeFile(t, "eval.jsonl", fixtureJSONL),
		writeFile(t, "eval.csv", fixtureCSV),
		writeParquetFixture(t, want, -1),
	}
	for i, p := range paths {
		rows, err := ReadFile(p, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := Import(ctx, conn, "qa", rows, Meta{Source: filepath.Base(p), Description: "fixture"})
		if err != nil {
			t.Fatalf("importing %s: %v", p, err)
		}
		if v.Version != uint32(i+1) || v.Rows != 3 || v.SHA256 != Checksum(want) || v.Source != filepath.Base(p) {
			t.Errorf("import %d: %+v", i, v)
		}
		got, err := Rows(ctx, conn, "qa", v.Version)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, withNames(want, "qa", v.Version)) {
			t.Errorf("%s read back:\n got %+v\nwant %+v", p, got, want)
		}
	}
	// Identical content: found by checksum, imported as a new version anyway.
	if m, ok, err := Match(ctx, conn, "qa", Checksum(want)); err != nil || !ok || m.Version != 3 {
		t.Errorf("Match = %+v, %v, %v; want version 3", m, ok, err)
	}
	if _, ok, err := Match(ctx, conn, "qa", Checksum(want[:1])); err != nil || ok {
		t.Errorf("Match of other content = %v, %v", ok, err)
	}
	changed := withNames(want, "", 0)
	changed = append(changed[:1], schemas.DatasetRow{Input: "new", Expected: "row"})
	v4, err := Import(ctx, conn, "qa", changed, Meta{Source: "code"})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := Latest(ctx, conn, "qa")
	if err != nil || latest.Version != 4 || latest.Rows != 2 || latest != v4 {
		t.Errorf("Latest = %+v, %v; want %+v", latest, err, v4)
	}
	// Old versions are unchanged.
	got1, err := Rows(ctx, conn, "qa", 1)
	if err != nil || !reflect.DeepEqual(got1, withNames(want, "qa", 1)) {
		t.Errorf("version 1 after version 4: %+v, %v", got1, err)
	}
	got0, err := Rows(ctx, conn, "qa", 0)
	if err != nil || len(got0) != 2 || got0[1].Input != "new" || got0[1].Version != 4 {
		t.Errorf("latest rows: %+v, %v", got0, err)
	}
	head, err := Head(ctx, conn, "qa", 2, 2)
	if err != nil || len(head) != 2 || head[1].Input != want[1].Input {
		t.Errorf("Head: %+v, %v", head, err)
	}
	// A second dataset, and List.
	if _, err := Import(ctx, conn, "other", want[:1], Meta{}); err != nil {
		t.Fatal(err)
	}
	list, err := List(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "other" || list[0].Version != 1 || list[1].Name != "qa" || list[1].Version != 4 || list[1].Versions != 4 || list[1].Rows != 2 {
		t.Errorf("List = %+v", list)
	}
	vs, err := Versions(ctx, conn, "qa")
	if err != nil || len(vs) != 4 || vs[0].Version != 1 || vs[3].Version != 4 || vs[0].Description != "fixture" {
		t.Errorf("Versions = %+v, %v", vs, err)
	}
	// Missing names and versions.
	for _, f := range []func() error{
		func() error { _, err := Latest(ctx, conn, "nope"); return err },
		func() error { _, err := Rows(ctx, conn, "qa", 9); return err },
		func() error { _, err := Versions(ctx, conn, "nope"); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	}
}

func TestImportAllOrNothing(t *testing.T) {
	conn := migrated(t)
	ctx := t.Context()
	bad := []schemas.DatasetRow{{Input: "ok"}, {Input: " "}, {Input: "ok", Expected: "\xff"}}
	_, err := Import(ctx, conn, "qa", bad, Meta{})
	if err == nil || !strings.Contains(err.Error(), `dataset: row 2: field "input" is empty`) || !strings.Contains(err.Error(), `row 3: field "expected" is not valid UTF-8`) {
		t.Fatalf("got %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM dataset_rows"); n != 0 {
		t.Errorf("%d rows written by a failed import", n)
	}
	if _, err := Import(ctx, conn, "bad name", want, Meta{}); err == nil {
		t.Error("bad name accepted")
	}

	// A file with a bad row: the command path reads, fails, writes nothing.
	if _, err := ReadFile(writeFile(t, "eval.jsonl", fixtureJSONL+`{"input": ""}`+"\n"), ReadOptions{}); err == nil ||
		!strings.Contains(err.Error(), `eval.jsonl:5: field "input" is empty`) {
		t.Errorf("got %v", err)
	}

	// An import that died after writing some rows left version 1's rows
	// without a version row: readers don't see them, and the next import
	// takes version 2 rather than mixing with them.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO dataset_rows ("+strings.Join(schemas.DatasetRowColumns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Append("qa", uint32(1), uint32(i), "orphan", "", "", []string{}, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := Latest(ctx, conn, "qa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unpublished rows visible: %v", err)
	}
	v, err := Import(ctx, conn, "qa", want, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 {
		t.Errorf("version after an orphaned version 1 = %d, want 2", v.Version)
	}
	if got, err := Rows(ctx, conn, "qa", 0); err != nil || !reflect.DeepEqual(got, withNames(want, "qa", 2)) {
		t.Errorf("rows: %+v, %v", got, err)
	}
	if _, err := Rows(ctx, conn, "qa", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("orphaned version 1 readable: %v", err)
	}
}

func TestMissingTablesHint(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	_, err := List(t.Context(), conn)
	if err == nil || !strings.Contains(err.Error(), "run `chainwatch migrate`") {
		t.Errorf("List on an empty database: %v", err)
	}
	if _, err := Import(t.Context(), conn, "qa", want, Meta{}); err == nil || !strings.Contains(err.Error(), "run `chainwatch migrate`") {
		t.Errorf("Import on an empty database: %v", err)
	}
}

func TestImportLarge(t *testing.T) {
	// More than one insert batch.
	conn := migrated(t)
	rows := make([]schemas.DatasetRow, InsertBatchRows+7)
	for i := range rows {
		rows[i] = schemas.DatasetRow{Input: fmt.Sprintf("q%d", i), Expected: fmt.Sprintf("a%d", i)}
	}
	v, err := Import(t.Context(), conn, "big", rows, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Rows(t.Context(), conn, "big", v.Version)
	if err != nil || len(got) != len(rows) || got[InsertBatchRows+6].Input != fmt.Sprintf("q%d", InsertBatchRows+6) {
		t.Fatalf("read back %d rows, %v", len(got), err)
	}
}

func TestExportRoundTrip(t *testing.T) {
	conn := migrated(t)
	ctx := t.Context()
	rows, err := ReadFile(writeFile(t, "eval.jsonl", fixtureJSONL), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := Import(ctx, conn, "qa", rows, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"jsonl", "parquet"} {
		t.Run(ext, func(t *testing.T) {
			stored, err := Rows(ctx, conn, "qa", v1.Version)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "export."+ext)
			if err := WriteFile(out, stored); err != nil {
				t.Fatal(err)
			}
			back, rep, err := ReadFileReport(out, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.IgnoredFields) != 0 {
				t.Errorf("export has fields import ignores: %v", rep.IgnoredFields)
			}
			v, err := Import(ctx, conn, "qa", back, Meta{Source: filepath.Base(out)})
			if err != nil {
				t.Fatal(err)
			}
			if v.SHA256 != v1.SHA256 || v.Version == v1.Version {
				t.Errorf("re-import of the %s export: %+v, first import %+v", ext, v, v1)
			}
		})
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "x.csv"), rows); err == nil {
		t.Error("CSV export accepted")
	}
}

func TestExportSpans(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	store, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var spans []schemas.Span
	for i := range 250 {
		app := "shop"
		if i%5 == 0 {
			app = "bank"
		}
		st := base.Add(time.Duration(i)*time.Second + 123456*time.Microsecond)
		spans = append(spans, schemas.Span{
			TraceID: fmt.Sprintf("%032x", i), SpanID: fmt.Sprintf("%016x", i), Name: "chat",
			StartTime: st, EndTime: st.Add(time.Duration(100+i) * time.Millisecond),
			App: app, ChainName: "rag", ComponentName: "answer", ComponentKind: schemas.KindLLM,
			ModelRequested: "gpt-x", InputText: fmt.Sprintf("question %d", i), OutputText: fmt.Sprintf("answer %d", i),
			InputTokens: int64(i), OutputTokens: 7, Status: schemas.StatusOK,
			Attributes: map[string]string{"k": fmt.Sprintf("v%d", i)},
		})
	}
	if err := store.InsertSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	// Window [10:00:10, 10:03:20) of app shop: spans 10..199 (start at .123456
	// past the second, so 199 at 10:03:19.12 is in) minus the bank ones.
	f := SpanFilter{From: base.Add(10 * time.Second), To: base.Add(200 * time.Second), App: "shop", Final: true}
	var progress []int64
	out := filepath.Join(t.TempDir(), "spans.parquet")
	n, err := ExportSpansFile(ctx, conn, f, out, SpanExportOptions{RowGroupRows: 64, ProgressEvery: 50, Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	wantIdx := map[int]bool{}
	for i := 10; i < 200; i++ {
		if i%5 != 0 {
			wantIdx[i] = true
		}
	}
	if n != int64(len(wantIdx)) {
		t.Errorf("exported %d spans, want %d", n, len(wantIdx))
	}
	if want := []int64{50, 100, 150, 152}; !reflect.DeepEqual(progress, want) {
		t.Errorf("progress calls %v, want %v", progress, want)
	}

	rdr, err := file.OpenParquetFile(out, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if rdr.NumRows() != n || rdr.NumRowGroups() != 3 {
		t.Errorf("parquet has %d rows in %d row groups, want %d in 3", rdr.NumRows(), rdr.NumRowGroups(), n)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	for i, f := range SpanSchema.Fields() {
		if g := tbl.Schema().Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			t.Errorf("column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	seen := 0
	for tr.Next() {
		rec := tr.RecordBatch()
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		for r := 0; r < int(rec.NumRows()); r++ {
			var i int
			if _, err := fmt.Sscanf(col("input_text").(*array.String).Value(r), "question %d", &i); err != nil || !wantIdx[i] {
				t.Fatalf("unexpected span %q", col("input_text").(*array.String).Value(r))
			}
			delete(wantIdx, i)
			sp := spans[i]
			start := col("start_time").(*array.Timestamp).Value(r)
			end := col("end_time").(*array.Timestamp).Value(r)
			if int64(start) != sp.StartTime.UnixMicro() || int64(end) != sp.EndTime.UnixMicro() {
				t.Errorf("span %d: start %d end %d, want %d %d", i, start, end, sp.StartTime.UnixMicro(), sp.EndTime.UnixMicro())
			}
			if got := col("output_text").(*array.String).Value(r); got != sp.OutputText {
				t.Errorf("span %d: output %q", i, got)
			}
			if got := col("input_tokens").(*array.Int64).Value(r); got != sp.InputTokens {
				t.Errorf("span %d: input tokens %d", i, got)
			}
			if got := col("duration_ms").(*array.Float64).Value(r); got != float64(100+i) {
				t.Errorf("span %d: duration %v", i, got)
			}
			if got := col("app").(*array.String).Value(r) + "/" + col("model_requested").(*array.String).Value(r) + "/" + col("status").(*array.String).Value(r); got != "shop/gpt-x/ok" {
				t.Errorf("span %d: %s", i, got)
			}
			m := col("attributes").(*array.Map)
			s, e := m.ValueOffsets(r)
			if e-s != 1 || m.Keys().(*array.String).Value(int(s)) != "k" || m.Items().(*array.String).Value(int(s)) != fmt.Sprintf("v%d", i) {
				t.Errorf("span %d: attributes entries %d..%d", i, s, e)
			}
			seen++
		}
	}
	if len(wantIdx) != 0 {
		t.Errorf("%d spans missing from the export", len(wantIdx))
	}

	// Filters that select nothing still write a valid, empty file.
	empty := filepath.Join(t.TempDir(), "none.parquet")
	if n, err := ExportSpansFile(ctx, conn, SpanFilter{From: base, To: base.Add(time.Hour), Chain: "nope"}, empty, SpanExportOptions{}); err != nil || n != 0 {
		t.Errorf("empty export: %d, %v", n, err)
	}
	if r, err := file.OpenParquetFile(empty, false); err != nil || r.NumRows() != 0 {
		t.Errorf("empty export unreadable: %v", err)
	} else {
		r.Close()
	}
	// A bad window is refused before anything is written.
	var buf bytes.Buffer
	if _, err := ExportSpans(ctx, conn, SpanFilter{From: base, To: base}, &buf, SpanExportOptions{}); err == nil || buf.Len() != 0 {
		t.Errorf("empty window accepted: %v", err)
	}
}

// The example queries in schemas/README.md's dataset section run on the
// test server, and the first returns the latest version's rows.
func TestReadmeQueries(t *testing.T) {
	doc, err := os.ReadFile("../schemas/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Evaluation datasets")
	if !ok {
		t.Fatal("no dataset section in schemas/README.md")
	}
	var queries []string
	for _, block := range strings.Split(section, "```sql")[1:] {
		q, _, _ := strings.Cut(block, "```")
		queries = append(queries, strings.TrimSuffix(strings.TrimSpace(q), ";"))
	}
	if len(queries) < 2 {
		t.Fatalf("%d queries in the dataset section", len(queries))
	}
	conn := migrated(t)
	ctx := t.Context()
	if _, err := Import(ctx, conn, "qa", want, Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, conn, "qa", want[:2], Meta{}); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		rs, err := conn.Query(ctx, q)
		if err != nil {
			t.Errorf("query %d: %v\n%s", i+1, err, q)
			continue
		}
		n := 0
		for rs.Next() {
			n++
		}
		if err := rs.Err(); err != nil {
			t.Errorf("query %d: %v", i+1, err)
		}
		rs.Close()
		if i == 0 && n != 2 {
			t.Errorf("latest version's rows: %d, want 2", n)
		}
	}
}

// A version whose rows were overwritten (a concurrent import of the same
// version, or a hand-made insert) is refused, not read as mixed content.
func TestRowsRefusesChangedVersion(t *testing.T) {
	conn := migrated(t)
	ctx := t.Context()
	v, err := Import(ctx, conn, "qa", want, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO dataset_rows ("+strings.Join(schemas.DatasetRowColumns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("qa", v.Version, uint32(1), "other input", "", "", []string{}, "", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := Rows(ctx, conn, "qa", v.Version); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Rows of a changed version: %v", err)
	}
}
