package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestReportCLI(t *testing.T) {
	conn := scoresDB(t)
	ctx := t.Context()
	store, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	sp := func(trace, id, parent, app string, kind schemas.ComponentKind, model string, start time.Time, dur time.Duration, status string) schemas.Span {
		return schemas.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, App: app, ComponentKind: kind, ModelRequested: model,
			StartTime: start, EndTime: start.Add(dur), InputTokens: 10, OutputTokens: 5, Status: status}
	}
	spans := []schemas.Span{
		sp("t1", "r1", "", "shop", schemas.KindChain, "", now.Add(-time.Minute), 100*time.Millisecond, "ok"),
		sp("t1", "l1", "r1", "shop", schemas.KindLLM, "gpt-a", now.Add(-time.Minute), 50*time.Millisecond, "error"),
		sp("t2", "r2", "", "shop", schemas.KindChain, "", now.Add(-time.Minute), 300*time.Millisecond, "ok"),
		sp("t3", "r3", "", "bank", schemas.KindChain, "", now.Add(-48*time.Hour), 400*time.Millisecond, "ok"),
	}
	if err := store.InsertSpans(ctx, append(spans, spans[0])); err != nil { // a replay, counted once
		t.Fatal(err)
	}
	one, four := 1.0, 4.0
	if err := store.InsertFeedback(ctx, []schemas.Feedback{{ID: "f1", TraceID: "t1", Score: &one, Time: now}, {ID: "f2", TraceID: "t2", Score: &four, Time: now}}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) [][]string {
		t.Helper()
		var o, e bytes.Buffer
		if err := reportCmd(ctx, args, &o, &e); err != nil {
			t.Fatalf("report %v: %v\n%s", args, err, e.String())
		}
		var lines [][]string
		for _, l := range strings.Split(o.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				lines = append(lines, f)
			}
		}
		return lines
	}
	has := func(lines [][]string, want string) bool {
		for _, l := range lines {
			if strings.Join(l, " ") == want {
				return true
			}
		}
		return false
	}
	all := run()
	for _, want := range []string{
		"bank 1 1 0.0 400 400",
		"shop 3 2 33.3 200 290", // roots 100 and 300 ms: p50 200, p95 290
		"gpt-a 1 10 5 50 50",
		"feedback 2 mean score 2.50",
	} {
		if !has(all, want) {
			t.Errorf("report lacks %q: %v", want, all)
		}
	}
	recent := run("-since", "24h")
	if has(recent, "bank 1 1 0.0 400 400") || !has(recent, "shop 3 2 33.3 200 290") {
		t.Errorf("-since 24h: %v", recent)
	}

	var o, e bytes.Buffer
	if err := reportCmd(ctx, []string{"-alerts-json"}, &o, &e); err != nil {
		t.Fatal(err)
	}
	var alerts []map[string]any
	if err := json.Unmarshal(o.Bytes(), &alerts); err != nil || len(alerts) != 0 {
		t.Errorf("-alerts-json with none firing: %v %q", err, o.String())
	}
}
