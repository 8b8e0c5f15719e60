package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
)

// TestDatasetSynthesizeReviewExport: synthesize from a dataset and from
// production spans (an openaitest generator), review, and export SFT and
// preference JSONL from spans joined with feedback and judge scores,
// against ClickHouse 18.16.
func TestDatasetSynthesizeReviewExport(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	ins, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sp := func(trace, input, output string, i int) schemas.Span {
		return schemas.Span{TraceID: trace, SpanID: "s" + trace, Name: "chat", StartTime: at.Add(time.Duration(i) * time.Second),
			EndTime: at.Add(time.Duration(i)*time.Second + time.Second), App: "shop", Environment: "prod", ChainName: "support",
			ChainVersion: "v3", ComponentName: "llm", ComponentKind: schemas.KindLLM, PromptTemplateVersion: "p7", ModelRequested: "gpt-x",
			InputText: input, OutputText: output, Status: "ok", SystemInstructions: `[{"type":"text","content":"Be kind."}]`,
			Attributes: map[string]string{}}
	}
	spans := []schemas.Span{sp("a1", "Where is my order?", "It ships today.", 1), sp("a2", "Where is my order?", "No idea.", 2),
		sp("a3", "Refund please", "Refund issued.", 3)}
	if err := ins.InsertSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	one, zero := 1.0, 0.0
	if err := ins.InsertFeedback(ctx, []schemas.Feedback{{ID: "f1", TraceID: "a1", Score: &one, Time: at}, {ID: "f2", TraceID: "a2", Score: &zero, Time: at}}); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertScores(ctx, []schemas.Score{{TraceID: "a3", SpanID: "sa3", App: "shop", Chain: "support", Evaluator: "judge_pointwise",
		EvaluatorVersion: "1", Metric: "quality", Value: 5, Created: at}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		var o, e bytes.Buffer
		err := datasetCmd(ctx, args, &o, &e)
		return o.String() + e.String(), err
	}
	readJSONL := func(p string) []map[string]any {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []map[string]any
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out = append(out, m)
		}
		return out
	}

	sft := filepath.Join(dir, "sft.jsonl")
	if out, err := run("export", "--format", "sft", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z", "--judge-metric", "quality", "--out", sft); err != nil {
		t.Fatalf("export sft: %v %s", err, out)
	}
	rows := readJSONL(sft)
	if len(rows) != 2 {
		t.Fatalf("sft rows %d, want 2 (liked a1, judged a3): %v", len(rows), rows)
	}
	lin := rows[0]["lineage"].(map[string]any)
	if lin["trace_id"] != "a1" || lin["chain_version"] != "v3" || lin["prompt_template_version"] != "p7" || lin["feedback"] != 1.0 {
		t.Fatalf("sft lineage: %v", lin)
	}
	if j := rows[1]["lineage"].(map[string]any)["judge"].(map[string]any); j["quality"] != 5.0 {
		t.Fatalf("sft judge lineage: %v", rows[1])
	}
	pref := filepath.Join(dir, "pref.jsonl")
	if out, err := run("export", "--format=preference", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z", "--out", pref); err != nil {
		t.Fatalf("export preference: %v %s", err, out)
	}
	prows := readJSONL(pref)
	if len(prows) != 1 || fmt.Sprint(prows[0]["chosen"]) != "[map[content:It ships today. role:assistant]]" {
		t.Fatalf("preference rows: %v", prows)
	}

	// synthesize from spans and from a dataset
	gen := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
		n := len(r.Messages[1].Content) // vary by prompt: both calls' items differ
		return openaitest.Answer(fmt.Sprintf(`{"items": [{"input": "Can I pay by invoice %d?", "expected": "Yes."}, {"input": "Do you ship abroad %d?", "expected": "Yes."}]}`, n, n))
	}))
	out, err := run("synthesize", "--name", "support-synth", "--endpoint", gen.URL, "--model", "gen-1", "--from-spans",
		"--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z", "--count", "2", "--per-call", "2")
	if err != nil || !strings.Contains(out, "support-synth@1, status pending") {
		t.Fatalf("synthesize from spans: %v %s", err, out)
	}
	if !strings.Contains(gen.ChatRequests()[0].Prompt(), "Where is my order?") {
		t.Fatal("span seeds not in the generator prompt")
	}
	out, err = run("synthesize", "--name", "support-synth", "--endpoint", gen.URL, "--model", "gen-1", "--from-dataset", "support-synth@1", "--count", "2")
	if err != nil || !strings.Contains(out, "support-synth@2") {
		t.Fatalf("synthesize from a dataset: %v %s", err, out)
	}
	out, err = run("review", "support-synth@1")
	if err != nil || !strings.Contains(out, `"status": "pending"`) || !strings.Contains(out, `"generator_model": "gen-1"`) {
		t.Fatalf("review show: %v %s", err, out)
	}
	if out, err := run("review", "support-synth@1", "--status", "approved", "--reviewer", "ana"); err != nil || !strings.Contains(out, "approved by ana") {
		t.Fatalf("review approve: %v %s", err, out)
	}
	out, _ = run("review", "support-synth@1")
	if !strings.Contains(out, `"status": "approved"`) || !strings.Contains(out, `"synthetic": true`) {
		t.Fatalf("after approval: %s", out)
	}
	if _, err := run("review", "support-synth@1", "--status", "maybe"); err == nil {
		t.Fatal("a bad status accepted")
	}
	out, _ = run("show", "support-synth@1")
	if !strings.Contains(out, "synthetic") {
		t.Fatalf("synthetic rows not tagged: %s", out)
	}
}
