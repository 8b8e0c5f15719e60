package query

import (
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

// The merged view: a span without content of its own reads the texts of
// its GenAI events (log records) in time order, each record once however
// often it was stored; a span with content keeps its own; events of other
// spans and other logs change nothing.
func TestSpansMergeLogText(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	bare := span("m1", "s1", "", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(0), ms(100), 3, 4, "ok")
	bare.InputText, bare.OutputText = "", ""
	own := span("m2", "s2", "", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(ms(5)), ms(100), 3, 4, "ok")
	ev := func(trace, sp string, d time.Duration, id, in, out string) schemas.LogRecord {
		return schemas.LogRecord{TraceID: trace, SpanID: sp, Time: at(d), App: "shop", EventName: "gen_ai.user.message", RecordID: id, InputText: in, OutputText: out}
	}
	logs := []schemas.LogRecord{
		ev("m1", "s1", ms(20), "c", "", "the answer"), // arrives first, happened last
		ev("m1", "s1", ms(10), "b", "second question", ""),
		ev("m1", "s1", ms(1), "a", "first question", ""),
		{TraceID: "m1", SpanID: "s1", Time: at(0), App: "shop", EventName: "gen_ai.system.message", RecordID: "sys", SystemText: "Be brief."},
		ev("m2", "s2", ms(1), "d", "ignored: the span has its own", "ignored"),
		ev("zz", "s9", ms(1), "e", "another span's", ""),
		{App: "shop", Time: at(ms(2)), Body: "a plain log", RecordID: "f"},
		// Times tie (millisecond stamps): the order in the request decides,
		// not the record id.
		{TraceID: "m3", SpanID: "s3", Time: at(ms(3)), App: "shop", RecordID: "zz", Seq: 0, InputText: "first"},
		{TraceID: "m3", SpanID: "s3", Time: at(ms(3)), App: "shop", RecordID: "aa", Seq: 1, InputText: "second"},
	}
	// The logs before the spans, and the first event twice (a replay).
	if err := ins.InsertLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertLogs(ctx, logs[2:3]); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertSpans(ctx, []schemas.Span{bare, own}); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ins.Conn())
	sel := Selector{App: "shop", From: base, To: at(sec(1))}
	wantIn, wantOut := "first question\nsecond question", "the answer"

	ws, err := r.WindowSpans(ctx, sel, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Input != wantIn || ws[0].Output != wantOut || ws[1].Input != "in s2" || ws[1].Output != "out s2" {
		t.Fatalf("WindowSpans: %+v", ws)
	}
	last, err := r.LastSpans(ctx, Selector{App: "shop", To: at(sec(1))}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last[0].Input != wantIn || last[0].Output != wantOut {
		t.Fatalf("LastSpans: %+v", last)
	}
	in, out, err := r.LogTexts(ctx, []string{"m1", "m2", "nope", "m3"}, []string{"s1", "s2", "s1", "s3"})
	if err != nil || in[0] != wantIn || out[0] != wantOut || in[1] != "ignored: the span has its own" || in[2] != "" || out[2] != "" || in[3] != "first\nsecond" {
		t.Fatalf("LogTexts: %q %q %v", in, out, err)
	}
	for _, final := range []bool{false, true} {
		rows, err := r.Spans(ctx, sel, final)
		if err != nil {
			t.Fatal(err)
		}
		var got []SpanRow
		var row SpanRow
		for rows.Next(&row) {
			got = append(got, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		byID := map[string]SpanRow{}
		for _, g := range got {
			byID[g.SpanID] = g
		}
		if len(got) != 2 || byID["s1"].InputText != wantIn || byID["s1"].OutputText != wantOut || byID["s1"].SystemInstructions != "Be brief." || byID["s2"].InputText != "in s2" ||
			len(byID["s2"].AttrKeys) != 1 || byID["s2"].AttrValues[0] != "s2" {
			t.Fatalf("Spans(final=%v): %+v", final, got)
		}
	}
}
