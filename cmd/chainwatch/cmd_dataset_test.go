package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/schemas"
)

// datasetRun runs `chainwatch dataset ARGS…` in-process.
func datasetRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = datasetCmd(t.Context(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestDatasetCLI(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	eval := write("eval.jsonl", `{"input": "q1", "expected": "a1", "tags": ["x"]}
{"input": "q2", "expected": "a2"}
{"input": "q3", "id": 3}
`)
	mustRun := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := datasetRun(t, args...)
		if err != nil {
			t.Fatalf("dataset %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
		}
		return out, errOut
	}

	t.Run("import", func(t *testing.T) {
		out, errOut := mustRun("import", eval, "--name", "qa", "--description", "first") // flags after the file too
		if !strings.Contains(out, "imported 3 rows from "+eval+" as qa@1") {
			t.Errorf("stdout: %s", out)
		}
		if !strings.Contains(errOut, "eval.jsonl: 1 of 3 rows have no expected output") || !strings.Contains(errOut, "ignoring fields that map to no dataset field: id") {
			t.Errorf("stderr: %s", errOut)
		}
		out, _ = mustRun("import", "--name", "qa", eval)
		if !strings.Contains(out, "as qa@2") || !strings.Contains(out, "same content as qa@1") {
			t.Errorf("identical re-import: %s", out)
		}
		out, _ = mustRun("import", "--name", "qa", "--skip-identical", eval)
		if !strings.Contains(out, "identical to qa@2") || !strings.Contains(out, "no new version created") {
			t.Errorf("--skip-identical: %s", out)
		}
		if _, _, err := datasetRun(t, "import", "--name", "qa", "--require-expected", eval); err == nil ||
			!strings.Contains(err.Error(), `eval.jsonl:3: field "expected" is missing or empty`) {
			t.Errorf("--require-expected: %v", err)
		}
		bad := write("bad.jsonl", `{"input": "ok"}
{"expected": "no input"}
{"input": ""}
`)
		_, _, err := datasetRun(t, "import", "--name", "qa", bad)
		if err == nil || !strings.Contains(err.Error(), "nothing imported from "+bad) ||
			!strings.Contains(err.Error(), `bad.jsonl:2: field "input" is missing`) || !strings.Contains(err.Error(), `bad.jsonl:3: field "input" is empty`) {
			t.Errorf("bad file: %v", err)
		}
		csvFile := write("qa.csv", "question,answer,labels\nq,a,\"x;y\"\n")
		out, _ = mustRun("import", "--name", "from-csv", "--input-field", "question", "--expected-field", "answer", "--tags-field", "labels", csvFile)
		if !strings.Contains(out, "as from-csv@1") {
			t.Errorf("csv: %s", out)
		}
		for _, args := range [][]string{
			{"import", eval},                  // no name
			{"import", "--name", "a b", eval}, // bad name
			{"import", "--name", "qa"},        // no file
			{"import", "--name", "qa", "--format", "xml", eval},
		} {
			if _, _, err := datasetRun(t, args...); err == nil {
				t.Errorf("dataset %v: no error", args)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		out, _ := mustRun("list")
		t.Log("\n" + out)
		if !strings.Contains(out, "NAME") || !datasetLineHas(out, "qa", "2", "3", "2") || !datasetLineHas(out, "from-csv", "1", "1", "1") {
			t.Errorf("list:\n%s", out)
		}
		out, _ = mustRun("list", "--json")
		var list []datasets.Summary
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[1].Name != "qa" || list[1].Versions != 2 {
			t.Errorf("list --json: %v\n%s", err, out)
		}
	})

	t.Run("show", func(t *testing.T) {
		out, _ := mustRun("show", "qa@1", "--rows", "2")
		t.Log("\n" + out)
		if !strings.Contains(out, "first 2 of 3 rows of qa@1") || !strings.Contains(out, "first") || !datasetLineHas(out, "*", "1", "3") || !datasetLineHas(out, "1", "q2", "a2") {
			t.Errorf("show:\n%s", out)
		}
		if out, _ := mustRun("show", "qa"); !datasetLineHas(out, "*", "2", "3") {
			t.Errorf("show latest:\n%s", out)
		}
		if _, _, err := datasetRun(t, "show", "qa@9"); err == nil || !strings.Contains(err.Error(), "qa has no version 9") {
			t.Errorf("show qa@9: %v", err)
		}
		if _, _, err := datasetRun(t, "show", "qa@x"); err == nil {
			t.Error("show qa@x: no error")
		}
	})

	t.Run("export", func(t *testing.T) {
		v1, err := datasets.Version(ctx, conn, "qa", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{"parquet", "jsonl"} {
			p := filepath.Join(dir, "qa1."+ext)
			out, _ := mustRun("export", "qa@1", "--out", p)
			if !strings.Contains(out, "wrote 3 rows of qa@1 to "+p) {
				t.Errorf("export: %s", out)
			}
			mustRun("import", "--name", "again-"+ext, p)
			v, err := datasets.Latest(ctx, conn, "again-"+ext)
			if err != nil || v.SHA256 != v1.SHA256 {
				t.Errorf("re-import of the %s export: %+v, %v; want sha256 %s", ext, v, err, v1.SHA256)
			}
		}
		if _, _, err := datasetRun(t, "export", "qa", "--out", filepath.Join(dir, "x.txt")); err == nil {
			t.Error("export to .txt accepted")
		}
	})

	t.Run("export-spans", func(t *testing.T) {
		store, err := clickhouse.NewInserter(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		var spans []schemas.Span
		for i := range 10 {
			st := base.Add(time.Duration(i) * time.Minute)
			spans = append(spans, schemas.Span{TraceID: fmt.Sprintf("%032x", i+1), SpanID: fmt.Sprintf("%016x", i+1),
				StartTime: st, EndTime: st.Add(time.Second), App: "shop", ChainName: []string{"rag", "chat"}[i%2],
				InputText: "in", OutputText: "out", Status: schemas.StatusOK})
		}
		if err := store.InsertSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "window.parquet")
		out, errOut := mustRun("export-spans", "--from", "2026-11-24T12:00:00Z", "--to", "2026-11-24T12:08:00Z",
			"--app", "shop", "--chain", "rag", "--out", p, "--progress-every", "2")
		// spans 0, 2, 4, 6 are rag and start before 12:08.
		if !strings.Contains(out, "wrote 4 spans") || !strings.Contains(errOut, "export-spans: 2 spans") || !strings.Contains(errOut, "export-spans: 4 spans") {
			t.Errorf("stdout: %s\nstderr: %s", out, errOut)
		}
		r, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.NumRows() != 4 {
			t.Errorf("parquet rows %d, want 4", r.NumRows())
		}
		_, _, err = datasetRun(t, "export-spans", "--to", "yesterday", "--out", filepath.Join(dir, "w.csv"))
		if err == nil || !strings.Contains(err.Error(), "--from is required") || !strings.Contains(err.Error(), `--to "yesterday"`) ||
			!strings.Contains(err.Error(), "--out must name a .parquet file") {
			t.Errorf("bad flags: %v", err)
		}
		if _, _, err := datasetRun(t, "export-spans", "--from", "2026-11-24T12:00:00Z", "--to", "2026-11-24T11:00:00Z", "--out", p); err == nil ||
			!strings.Contains(err.Error(), "must be before") {
			t.Errorf("reversed window: %v", err)
		}
	})

	if _, _, err := datasetRun(t, "frobnicate"); err == nil {
		t.Error("unknown subcommand accepted")
	}
}

// datasetLineHas reports whether some line of out has the given cells in order,
// as whole whitespace-separated fields.
func datasetLineHas(out string, cells ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		i := 0
		for _, c := range f {
			if i < len(cells) && c == cells[i] {
				i++
			}
		}
		if i == len(cells) {
			return true
		}
	}
	return false
}
