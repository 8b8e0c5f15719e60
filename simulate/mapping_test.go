package simulate_test

import (
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
)

// Every dialect the simulator emits comes out of the collector's mapping
// with the texts, tokens and lineage the simulator meant.
func TestGeneratedTrafficMapsBack(t *testing.T) {
	tr := simulate.DefaultTraffic()
	tr.ErrorRate = 0.2
	g, err := simulate.NewGenerator(tr)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var traces []*simulate.Trace
	for i := 0; i < 400; i++ {
		traces = append(traces, g.Next(now.Add(time.Duration(i)*time.Millisecond), false))
	}
	spans, err := genai.AppendSpans(nil, g.Pack(traces))
	if err != nil {
		t.Fatal(err)
	}
	byTrace := map[string][]schemas.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	apps := map[string]bool{}
	for _, want := range traces {
		got := byTrace[want.TraceIDHex()]
		if len(got) != len(want.Spans) {
			t.Fatalf("trace %s: %d spans mapped, %d generated", want.TraceIDHex(), len(got), len(want.Spans))
		}
		var llm *schemas.Span
		for i := range got {
			s := &got[i]
			if s.App != want.App || s.ChainVersion != want.ChainVersion || s.SessionID != want.SessionID || s.UserID != want.UserID {
				t.Fatalf("trace %s span %s: lineage %q/%q/%q/%q, want %q/%q/%q/%q", want.TraceIDHex(), s.Name,
					s.App, s.ChainVersion, s.SessionID, s.UserID, want.App, want.ChainVersion, want.SessionID, want.UserID)
			}
			if s.ComponentKind == schemas.KindLLM {
				llm = s
			}
			if s.ParentSpanID == "" && (want.Error != simulate.ErrNone) != (s.Status == schemas.StatusError) {
				t.Fatalf("trace %s: root status %q, generated error %q", want.TraceIDHex(), s.Status, want.Error)
			}
		}
		if llm == nil && want.Error != simulate.ErrNone {
			continue // failed before the model was called
		}
		if llm == nil {
			t.Fatalf("trace %s (%s): no llm span", want.TraceIDHex(), want.App)
		}
		if llm.InputText != want.Prompt || (want.Error == simulate.ErrNone && llm.OutputText != want.Answer) {
			t.Fatalf("trace %s (%s): texts %q → %q, want %q → %q", want.TraceIDHex(), want.App, llm.InputText, llm.OutputText, want.Prompt, want.Answer)
		}
		if want.Error == simulate.ErrNone && (llm.InputTokens != want.InputTokens || llm.OutputTokens != want.OutputTokens) {
			t.Fatalf("trace %s (%s): tokens %d/%d, want %d/%d", want.TraceIDHex(), want.App, llm.InputTokens, llm.OutputTokens, want.InputTokens, want.OutputTokens)
		}
		apps[want.App] = true
	}
	if len(apps) < 3 {
		t.Fatalf("only apps %v generated; the test should cover every dialect", apps)
	}
}
