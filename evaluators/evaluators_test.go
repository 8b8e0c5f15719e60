package evaluators

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTokenBudgetSlidingHour(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 30, 0, time.UTC)
	b := NewTokenBudget(100, func() time.Time { return now })
	step := func(d time.Duration) { now = now.Add(d) }

	b.Record(60)
	step(30 * time.Minute)
	b.Record(40)
	if err := b.Allow(); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("100 of 100 spent: want ErrBudgetExhausted, got %v", err)
	}
	step(29 * time.Minute) // 12:59:30: the first 60 are still within the hour
	if b.Spent() != 100 {
		t.Errorf("spent %d at 12:59:30, want 100", b.Spent())
	}
	step(61 * time.Second) // 13:00:31: the 12:00 minute has left the window
	if got := b.Spent(); got != 40 {
		t.Errorf("spent %d at 13:00:31, want 40", got)
	}
	if err := b.Allow(); err != nil {
		t.Errorf("40 of 100: %v", err)
	}
	step(2 * time.Hour)
	if got := b.Spent(); got != 0 {
		t.Errorf("spent %d two hours later", got)
	}
	var unlimited *TokenBudget = NewTokenBudget(0, nil)
	unlimited.Record(1 << 30)
	if unlimited.Allow() != nil || unlimited.Spent() != 0 {
		t.Error("a zero budget is unlimited")
	}
}

func TestCombineSxS(t *testing.T) {
	tests := []struct {
		ab, ba     string
		value, cfd float64
	}{
		{"A", "A", SxSWin, 1},
		{"B", "B", SxSLoss, 1},
		{"tie", "tie", SxSTie, 1},
		{"A", "tie", SxSWin, 0.5},
		{"tie", "A", SxSWin, 0.5},
		{"B", "tie", SxSLoss, 0.5},
		{"tie", "B", SxSLoss, 0.5},
		{"A", "B", SxSTie, 0},
		{"B", "A", SxSTie, 0},
	}
	for _, tt := range tests {
		t.Run(tt.ab+","+tt.ba, func(t *testing.T) {
			v, c, why := combineSxS(tt.ab, tt.ba)
			if v != tt.value || c != tt.cfd || why == "" {
				t.Errorf("got %v %v %q, want %v %v", v, c, why, tt.value, tt.cfd)
			}
		})
	}
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLRU(2)
	k := func(s string) cacheKey { return makeCacheKey(s) }
	c.put(k("a"), []Result{{Value: 1}})
	c.put(k("b"), []Result{{Value: 2}})
	c.get(k("a")) // a is now the most recent
	c.put(k("c"), []Result{{Value: 3}})
	if _, ok := c.get(k("b")); ok {
		t.Error("b should have been evicted")
	}
	if r, ok := c.get(k("a")); !ok || r[0].Value != 1 {
		t.Error("a should have stayed")
	}
	if c.len() != 2 {
		t.Errorf("len %d", c.len())
	}
	if makeCacheKey("ab", "c") == makeCacheKey("a", "bc") {
		t.Error("cache key parts must not run together")
	}
	if newLRU(0) != nil {
		t.Error("size 0 disables the cache")
	}
}

func TestScores(t *testing.T) {
	span := Span{TraceID: strings.Repeat("ab", 16), SpanID: strings.Repeat("cd", 8), App: "bot", Chain: "answer"}
	created := time.Unix(1_800_000_000, 0).UTC()
	ev := NewTokenF1()
	results := []Result{
		{Metric: "token_f1", Value: 0.5, Reasoning: "half"},
		{Metric: "token_f1", Value: 3, Error: "no reference", Reason: ReasonMissingInput},
		{Metric: "token_f1", Error: "odd"},
	}
	got := Scores(span, ev, results, created)
	if len(got) != 3 {
		t.Fatalf("%d scores", len(got))
	}
	if s := got[0]; s.TraceID != span.TraceID || s.SpanID != span.SpanID || s.App != "bot" || s.Chain != "answer" ||
		s.Evaluator != "token_f1" || s.EvaluatorVersion != ev.Version() || s.Value != 0.5 || s.Error != "" || !s.Created.Equal(created) {
		t.Errorf("score %+v", s)
	}
	if s := got[1]; s.Value != 0 || s.Error != "missing_input: no reference" || !s.Failed() {
		t.Errorf("failed score %+v", s)
	}
	if got[2].Error != "other: odd" {
		t.Errorf("unlabelled failure: %q", got[2].Error)
	}
}

type reasonErr struct{}

func (reasonErr) Error() string  { return "x" }
func (reasonErr) Reason() string { return "rate_limited" }

func TestReasonOf(t *testing.T) {
	tests := []struct {
		err  error
		want Reason
	}{
		{nil, ReasonNone},
		{fmt.Errorf("calling: %w", reasonErr{}), ReasonRateLimited},
		{&malformedError{attempts: 2, err: errors.New("bad")}, ReasonMalformedOutput},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ReasonTimeout},
		{fmt.Errorf("x: %w", ErrBudgetExhausted), ReasonBudgetExhausted},
		{errors.New("?"), ReasonOther},
	}
	for _, tt := range tests {
		if got := ReasonOf(tt.err); got != tt.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRubricValidate(t *testing.T) {
	for _, r := range []Rubric{QualityRubric, CorrectnessRubric, GroundednessRubric, HelpfulnessRubric, SafetyRubric} {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	bad := QualityRubric
	bad.ScaleMax = 10
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "anchors") {
		t.Errorf("anchor count mismatch not caught: %v", err)
	}
	if _, err := NewPointwiseJudge(ChatClientFunc(nil), Rubric{Name: "x"}, JudgeConfig{Model: "m"}); err == nil {
		t.Error("an invalid rubric should be refused")
	}
}
