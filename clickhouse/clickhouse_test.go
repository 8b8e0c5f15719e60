package clickhouse_test

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// Every field of a span survives the insert, on the server at hand.
func TestCHStoreRoundTrip(t *testing.T) {
	s := chtest.Inserter(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	want := schemas.Span{
		TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708", ParentSpanID: "1112131415161718", Name: "chat gpt-x",
		StartTime: start, EndTime: start.Add(1500 * time.Millisecond),
		App: "a", Environment: "prod", ChainName: "qa", ChainVersion: "v3", ComponentName: "answer", ComponentKind: schemas.KindLLM,
		PromptTemplateID: "t1", PromptTemplateVersion: "7", Operation: "chat", Provider: "openai", ModelRequested: "gpt-x", ModelReturned: "gpt-x-2026",
		InputText: "what is 'quoted' \\ text\nwith newline, ünïcödé", OutputText: "answer", InputTokens: 11, OutputTokens: 22,
		Status: schemas.StatusError, ErrorMessage: "rate limited", SessionID: "s1", UserID: "u1",
		CacheReadInputTokens: 8, CacheCreationInputTokens: 3, ReasoningOutputTokens: 5, Stream: true, TimeToFirstChunkMS: 312.5,
		SystemInstructions: "Be brief.", ToolDefinitions: `[{"type":"function","name":"get_weather"}]`, GuardrailResult: `{"decision":"block"}`,
		Attributes: map[string]string{"gen_ai.request.temperature": "0.2", "custom": "x"},
	}
	if err := s.InsertSpans(ctx, []schemas.Span{want}); err != nil {
		t.Fatal(err)
	}
	var got schemas.Span
	var kind string
	var nano uint64
	var dur float64
	var in, out, cacheRead, cacheWrite, reasoning uint32
	var stream uint8
	var keys, vals []string
	err := s.Conn().QueryRow(ctx, `SELECT trace_id, span_id, parent_span_id, name, start_unix_nano, duration_ms, app, environment, chain_name, chain_version,
		component_name, component_kind, prompt_template_id, prompt_template_version, operation, provider, model_requested, model_returned,
		input_text, output_text, input_tokens, output_tokens, status, error_message, session_id, user_id, attr_keys, attr_values,
		cache_read_input_tokens, cache_creation_input_tokens, reasoning_output_tokens, stream, time_to_first_chunk_ms,
		system_instructions, tool_definitions, guardrail_result FROM spans`).Scan(
		&got.TraceID, &got.SpanID, &got.ParentSpanID, &got.Name, &nano, &dur, &got.App, &got.Environment, &got.ChainName, &got.ChainVersion,
		&got.ComponentName, &kind, &got.PromptTemplateID, &got.PromptTemplateVersion, &got.Operation, &got.Provider, &got.ModelRequested, &got.ModelReturned,
		&got.InputText, &got.OutputText, &in, &out, &got.Status, &got.ErrorMessage, &got.SessionID, &got.UserID, &keys, &vals,
		&cacheRead, &cacheWrite, &reasoning, &stream, &got.TimeToFirstChunkMS,
		&got.SystemInstructions, &got.ToolDefinitions, &got.GuardrailResult)
	if err != nil {
		t.Fatal(err)
	}
	got.ComponentKind = schemas.ComponentKind(kind)
	got.InputTokens, got.OutputTokens = int64(in), int64(out)
	got.CacheReadInputTokens, got.CacheCreationInputTokens, got.ReasoningOutputTokens = int64(cacheRead), int64(cacheWrite), int64(reasoning)
	got.Stream = stream == 1
	got.StartTime, got.EndTime = time.Unix(0, int64(nano)).UTC(), time.Unix(0, int64(nano)).UTC().Add(time.Duration(dur*1e6))
	got.Attributes = map[string]string{}
	for i := range keys {
		got.Attributes[keys[i]] = vals[i]
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// The example queries in schemas/README.md run on the server at hand.
func TestReadmeQueriesRun(t *testing.T) {
	s := chtest.Inserter(t)
	ctx := context.Background()
	doc, err := os.ReadFile("../schemas/README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 10 {
		t.Fatalf("README has %d example queries, want ≥ 10", len(blocks))
	}
	attr := regexp.MustCompile(`attributes\['([^']*)'\]`)
	for i, b := range blocks {
		q := strings.TrimSuffix(strings.TrimSpace(b[1]), ";")
		if !s.Capabilities().Map {
			q = attr.ReplaceAllString(q, "attr_values[indexOf(attr_keys, '$1')]")
		}
		rows, err := s.Conn().Query(ctx, q)
		if err != nil {
			t.Errorf("query %d fails: %v\n%s", i+1, err, q)
			continue
		}
		rows.Close()
	}
}

// Every field of a score survives the insert, failures keep their reason,
// and re-inserting the same (trace, span, evaluator, version, metric)
// replaces the row under FINAL.
func TestScoresRoundTripAndDedup(t *testing.T) {
	s := chtest.Inserter(t)
	ctx := context.Background()
	created := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	scores := []schemas.Score{
		{TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708", App: "a", Chain: "qa",
			Evaluator: "judge_pointwise", EvaluatorVersion: "quality-1+prompt1", Metric: "quality", Value: 4,
			Reasoning: "correct, 'quoted'", JudgeModel: "m", CostUSD: 0.0012, Latency: 1500 * time.Microsecond, Created: created},
		{TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708", App: "a", Chain: "qa",
			Evaluator: "guard_pii", EvaluatorVersion: "1", Metric: "pii_leak", Error: "malformed_output: no", Created: created},
	}
	for i := 0; i < 2; i++ { // a re-evaluation
		if err := s.InsertScores(ctx, scores); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Conn().Query(ctx, `SELECT trace_id, span_id, app, chain, evaluator, evaluator_version, metric, value, reasoning,
		judge_model, cost_usd, latency_ms, error, toUnixTimestamp(created) FROM eval_scores FINAL ORDER BY evaluator DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []schemas.Score
	for rows.Next() {
		var sc schemas.Score
		var ms float64
		var ts uint32
		if err := rows.Scan(&sc.TraceID, &sc.SpanID, &sc.App, &sc.Chain, &sc.Evaluator, &sc.EvaluatorVersion, &sc.Metric, &sc.Value,
			&sc.Reasoning, &sc.JudgeModel, &sc.CostUSD, &ms, &sc.Error, &ts); err != nil {
			t.Fatal(err)
		}
		sc.Latency = time.Duration(ms * 1e6)
		sc.Created = time.Unix(int64(ts), 0).UTC()
		got = append(got, sc)
	}
	if !reflect.DeepEqual(got, scores) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, scores)
	}
}

// A migrator killed between an ADD COLUMN and its bookkeeping row runs
// again without failing (18.16 has no ADD COLUMN IF NOT EXISTS).
func TestMigrationAddColumnRerun(t *testing.T) {
	conn := chtest.Migrated(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "ALTER TABLE schema_migrations DELETE WHERE version = 4"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations WHERE version = 4").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bookkeeping row was not deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{})
	if err != nil {
		t.Fatalf("re-running migration 4 over its applied ALTER: %v", err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Version != 4 {
		t.Fatalf("applied %v, want migration 4 again", rep.Applied)
	}
}
