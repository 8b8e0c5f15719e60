package evaluators

import (
	"context"
	"fmt"
)

// PointwiseJudge scores one answer on a rubric's scale with an LLM judge.
// Metric: the rubric's Name; value: an integer in [ScaleMin, ScaleMax].
// Verdicts are cached by (name, version, model, every input field).
type PointwiseJudge struct {
	*judgeCore
	rubric Rubric
}

var _ Evaluator = (*PointwiseJudge)(nil)

// NewPointwiseJudge returns a judge of rubric through client. cfg's model,
// parse retries, max tokens, prices, budget and cache size apply; the HTTP
// settings belong to the client.
func NewPointwiseJudge(client ChatClient, rubric Rubric, cfg JudgeConfig, opts ...JudgeOpt) (*PointwiseJudge, error) {
	if err := rubric.Validate(); err != nil {
		return nil, fmt.Errorf("creating pointwise judge: %w", err)
	}
	core, err := newJudgeCore(client, cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating pointwise judge: %w", err)
	}
	return &PointwiseJudge{judgeCore: core, rubric: rubric}, nil
}

// Name is "judge_pointwise".
func (j *PointwiseJudge) Name() string { return "judge_pointwise" }

// Version is "<rubric name>-<rubric version>+prompt<PromptVersion>".
func (j *PointwiseJudge) Version() string {
	return j.rubric.Name + "-" + j.rubric.Version + "+prompt" + PromptVersion
}

// Evaluate asks the judge for a verdict on in.Output.
func (j *PointwiseJudge) Evaluate(ctx context.Context, in Input) ([]Result, error) {
	key := inputKey(j.Name(), j.Version(), j.cfg.Model, in)
	if rs, ok := j.fromCache(key); ok {
		return rs, nil
	}
	var score int
	var reasoning string
	stats, err := j.ask(ctx, renderPointwise(j.rubric, in), func(content string) error {
		var perr error
		score, reasoning, perr = parsePointwise(content, j.rubric.ScaleMin, j.rubric.ScaleMax)
		return perr
	})
	if err != nil && fatal(ctx, err) {
		return nil, fmt.Errorf("evaluating with %s: %w", j.Name(), err)
	}
	r := Result{Metric: j.rubric.Name, JudgeModel: stats.model, CostUSD: stats.costUSD(j.cfg),
		Tokens: stats.usage.Total(), Latency: stats.latency}
	if err != nil {
		r.Error, r.Reason = err.Error(), ReasonOf(err)
		return []Result{r}, nil
	}
	r.Value, r.Reasoning = float64(score), reasoning
	j.cache.put(key, []Result{r})
	return []Result{r}, nil
}
