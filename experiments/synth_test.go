package experiments

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/query"
)

func TestSynthesize(t *testing.T) {
	srv := openaitest.NewServer(t)
	// call 1: malformed; call 2: three items, one repeating a seed (case and
	// spaces differ) and one empty; call 3: two new items and a repeat.
	srv.Chat.Enqueue(openaitest.Answer("sure! here are items"),
		openaitest.Answer(`{"items": [{"input": "How do I  RESET my password?", "expected": "x"}, {"input": "Can I change my plan mid-month?", "expected": "Yes, prorated."}, {"input": " "}]}`),
		openaitest.Answer("```json\n"+`{"items": [{"input": "Can I change my plan mid-month?"}, {"input": "Do you ship to Norway?", "expected": "Yes."}, {"input": "Is there a student discount?", "expected": "10 %."}]}`+"\n```"))
	client, err := openai.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	seeds := []Example{{Input: "how do I reset my password?", Expected: "Use the link."}}
	rows, rep, err := Synthesize(context.Background(), client.ChatCompletion, SynthConfig{Model: "gen-1", Count: 3, PerCall: 3, SeedSource: "dataset:faq@1"}, seeds)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rep.Calls != 3 || rep.Malformed != 2 || rep.Duplicates != 2 {
		t.Fatalf("rows %d, report %+v", len(rows), rep)
	}
	want := []string{"Can I change my plan mid-month?", "Do you ship to Norway?", "Is there a student discount?"}
	for i, r := range rows {
		if r.Input != want[i] {
			t.Errorf("row %d input %q, want %q", i, r.Input, want[i])
		}
		tags := strings.Join(r.Tags, ",")
		if tags != "synthetic,generator:gen-1,prompt:"+SynthPromptVersion+",seeds:dataset:faq@1" {
			t.Errorf("row %d tags %s", i, tags)
		}
	}
	reqs := srv.ChatRequests()
	if !strings.Contains(reqs[0].Prompt(), "how do I reset my password?") || reqs[0].ResponseFormat == nil || reqs[0].Model != "gen-1" {
		t.Errorf("generator request: %+v", reqs[0])
	}
	// a generator that never answers in JSON: an error that says so, not a short dataset
	srv.Reset()
	srv.SetResponder(func(openaitest.ChatRequest) openaitest.Reply { return openaitest.Answer("no") })
	if _, _, err := Synthesize(context.Background(), client.ChatCompletion, SynthConfig{Model: "g", Count: 2}, seeds); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("malformed generator: %v", err)
	}
}

func f(v float64) *float64 { return &v }

func TestBuildTuningRows(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sp := func(id, input, output string, fb *float64, judge float64) query.TuningSpan {
		s := query.TuningSpan{TraceID: "t" + id, SpanID: "s" + id, App: "shop", Chain: "support", ChainVersion: "v3",
			PromptTemplateVersion: "p1", Model: "m", Start: at, System: `[{"type":"text","content":"Be kind."}]`,
			Input: input, Output: output, Feedback: fb}
		if judge > 0 {
			s.Judge = map[string]float64{"quality": judge}
		}
		return s
	}
	spans := []query.TuningSpan{
		sp("1", "q1", "good answer", f(1), 5),    // sft: yes
		sp("2", "q1", "bad answer", f(0), 2),     // sft: feedback 0
		sp("3", "q2", "judge-only good", nil, 4), // sft: judge passes
		sp("4", "q2", "judge-only bad", nil, 3),  // sft: judge below 4
		sp("5", "q3", "unrated", nil, 0),         // sft: unrated
		sp("6", "q4", "liked but judged bad", f(1), 1),
	}
	sft := BuildSFT(spans, TuningOptions{MinFeedback: 1, JudgeMetric: "quality", MinJudge: 4})
	if len(sft) != 2 || sft[0].Lineage.SpanID != "s1" || sft[1].Lineage.SpanID != "s3" {
		t.Fatalf("sft rows: %+v", sft)
	}
	if m := sft[0].Messages; len(m) != 3 || m[0].Content != "Be kind." || m[1].Content != "q1" || m[2].Content != "good answer" {
		t.Fatalf("sft messages: %+v", m)
	}
	if len(BuildSFT(spans, TuningOptions{MinFeedback: 1, JudgeMetric: "quality", MinJudge: 4, IncludeUnrated: true})) != 3 {
		t.Fatal("include-unrated did not add the unrated span")
	}
	pref, err := BuildPreference(spans, TuningOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pref) != 1 || pref[0].Chosen[0].Content != "good answer" || pref[0].Rejected[0].Content != "bad answer" ||
		pref[0].Lineage.Chosen.TraceID != "t1" || pref[0].Lineage.Rejected.TraceID != "t2" || pref[0].Gap != 1 {
		t.Fatalf("preference by feedback: %+v", pref)
	}
	pref, _ = BuildPreference(spans, TuningOptions{Prefer: "judge", JudgeMetric: "quality"})
	if len(pref) != 2 || pref[1].Chosen[0].Content != "judge-only good" || pref[1].Signal != "judge:quality" {
		t.Fatalf("preference by judge: %+v", pref)
	}
	b, _ := json.Marshal(pref[0])
	if !strings.Contains(string(b), `"prompt":[{"role":"system"`) || !strings.Contains(string(b), `"lineage":{"chosen":{"trace_id"`) {
		t.Fatalf("preference JSON: %s", b)
	}
	if _, err := BuildPreference(spans, TuningOptions{Prefer: "judge"}); err == nil {
		t.Fatal("preference by judge without a metric accepted")
	}
}
