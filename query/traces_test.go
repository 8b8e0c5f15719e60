package query

import (
	"slices"
	"testing"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

// Text search reads the merged view: a span's own texts, or those of its
// GenAI events — and, with a time range, only the events the merged view
// would join to spans of the range (within logTextLookback of it), not the
// whole logs table.
func TestSearchTracesText(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	own := span("t1", "a", "", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(0), ms(100), 3, 4, "ok")
	own.InputText = "What is the Refund policy?"
	bare := func(trace string) schemas.Span {
		s := span(trace, "a", "", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(ms(10)), ms(100), 3, 4, "ok")
		s.InputText, s.OutputText = "", ""
		return s
	}
	other := span("t4", "a", "", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(ms(20)), ms(100), 3, 4, "ok")
	if err := ins.InsertSpans(ctx, []schemas.Span{own, bare("t2"), bare("t3"), other}); err != nil {
		t.Fatal(err)
	}
	logs := []schemas.LogRecord{
		{TraceID: "t2", SpanID: "a", Time: at(ms(11)), App: "shop", EventName: "gen_ai.user.message", RecordID: "r1", InputText: "my lost luggage"},
		// Three hours after its span: outside what the merged view joins.
		{TraceID: "t3", SpanID: "a", Time: at(3 * 3600 * sec(1)), App: "shop", EventName: "gen_ai.user.message", RecordID: "r2", InputText: "lost luggage again"},
	}
	if err := ins.InsertLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ins.Conn())
	found := func(sel Selector, text string) []string {
		t.Helper()
		ts, err := r.SearchTraces(ctx, sel, TraceSearch{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range ts {
			ids = append(ids, x.TraceID)
		}
		slices.Sort(ids)
		return ids
	}
	window := Selector{App: "shop", From: base, To: at(sec(1))}
	for _, c := range []struct {
		sel  Selector
		text string
		want []string
	}{
		{window, "refund", []string{"t1"}},
		{window, "LUGGAGE", []string{"t2"}},
		{Selector{App: "shop"}, "luggage", []string{"t2", "t3"}}, // no range: every event
		{window, "nowhere", nil},
	} {
		if got := found(c.sel, c.text); !slices.Equal(got, c.want) {
			t.Errorf("search %q (range %v–%v): %v, want %v", c.text, c.sel.From, c.sel.To, got, c.want)
		}
	}
}
