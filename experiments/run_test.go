package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
)

// budgetEval scores 1 and runs out of budget after n evaluations, as the
// judge does when its token budget is spent.
type budgetEval struct{ n, used atomic.Int64 }

func (b *budgetEval) Name() string    { return "budgeted" }
func (b *budgetEval) Version() string { return "1" }
func (b *budgetEval) Evaluate(ctx context.Context, in evaluators.Input) ([]evaluators.Result, error) {
	if b.used.Add(1) > b.n.Load() {
		return nil, evaluators.ErrBudgetExhausted
	}
	return []evaluators.Result{{Metric: "budgeted", Value: 1}}, nil
}

// TestRunBudgetAndChainErrors: a failed chain call is recorded (chain_ok 0,
// the error kept, no evaluator run on it); a spent evaluator budget stops
// the run as interrupted, and a resume with budget finishes it without
// scoring a recorded item again. No spans exporter: the run says calls are
// not traced.
func TestRunBudgetAndChainErrors(t *testing.T) {
	ctx := context.Background()
	conn := chtest.Migrated(t)
	var rows []schemas.DatasetRow
	for i := range 12 {
		rows = append(rows, schemas.DatasetRow{Input: fmt.Sprintf("q%d", i), Expected: "a"})
	}
	dv, err := datasets.Import(ctx, conn, "small", rows, datasets.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
		if strings.Contains(r.Prompt(), "q3") {
			return openaitest.BadRequest("content policy")
		}
		return openaitest.Answer("a")
	}))
	client, _ := openai.New(srv.URL, openai.MaxRetries(0))
	ev := &budgetEval{}
	ev.n.Store(5)
	var progress strings.Builder
	cfg := RunConfig{Name: "budget", Chain: Chain{Name: "c", Version: "1", Model: "m", Messages: []MessageTemplate{{Role: "user", Content: "{{input}}"}}},
		Dataset: dv.Name, Concurrency: 1}
	deps := Deps{Conn: conn, Chat: client.ChatCompletion, Evaluators: []evaluators.Evaluator{ev}, Progress: &progress}
	res, err := Run(ctx, cfg, deps)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, evaluators.ErrBudgetExhausted) || res.Experiment.Status != StatusInterrupted {
		t.Fatalf("spent budget: err %v, status %s", err, res.Experiment.Status)
	}
	if !strings.Contains(progress.String(), "not traced") {
		t.Errorf("no warning about untraced calls: %q", progress.String())
	}
	first, _ := ReadItems(ctx, conn, res.Experiment.ID)
	ev.n.Store(1000)
	cfg.ID = res.Experiment.ID
	res2, err := Run(ctx, cfg, deps)
	if err != nil || res2.Skipped != len(first) || res2.Skipped+res2.Scored != 12 {
		t.Fatalf("resume: %v, skipped %d (recorded %d), scored %d", err, res2.Skipped, len(first), res2.Scored)
	}
	items, _ := ReadItems(ctx, conn, res.Experiment.ID)
	if len(items) != 12 {
		t.Fatalf("%d items, want 12", len(items))
	}
	for _, it := range items {
		if it.Input == "q3" {
			if it.Error == "" || !strings.Contains(it.Error, "content policy") || len(it.Metrics) != 1 || it.Values[0] != 0 {
				t.Errorf("failed call recorded as %+v", it)
			}
		} else if len(it.Metrics) != 2 || it.Values[0] != 1 || it.Values[1] != 1 {
			t.Errorf("item %s: %v %v", it.Input, it.Metrics, it.Values)
		}
	}
}
