package evaluators

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// PairwiseJudge compares two answers to the same input side by side, in the
// manner of AutoSxS: answer A is Input.Output, answer B Input.Alternative.
// The judge is asked twice, once with A in position 1 and once with B in
// position 1, to cancel its position bias, and the two verdicts combine by
// this rule (each verdict counts +1 for A, −1 for B, 0 for a tie):
//
//	both orderings agree (A,A / B,B / tie,tie)  → that outcome, confidence 1
//	one prefers an answer, the other says tie   → that answer,  confidence 0.5
//	the orderings prefer different answers      → tie,          confidence 0
//
// Metrics: "<rubric>_sxs", 1 when A wins, 0.5 for a tie, 0 when A loses; and
// "<rubric>_sxs_confidence", in {0, 0.5, 1}. Averaging the first over many
// inputs gives A's win rate with ties counted half.
type PairwiseJudge struct {
	*judgeCore
	rubric Rubric
}

var _ Evaluator = (*PairwiseJudge)(nil)

// NewPairwiseJudge returns a side-by-side judge weighing rubric's criteria
// (its scale is not used).
func NewPairwiseJudge(client ChatClient, rubric Rubric, cfg JudgeConfig, opts ...JudgeOpt) (*PairwiseJudge, error) {
	if rubric.Name == "" || rubric.Version == "" || len(rubric.Criteria) == 0 {
		return nil, errors.New("creating pairwise judge: the rubric needs a name, a version and criteria")
	}
	core, err := newJudgeCore(client, cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating pairwise judge: %w", err)
	}
	return &PairwiseJudge{judgeCore: core, rubric: rubric}, nil
}

// Name is "judge_pairwise".
func (j *PairwiseJudge) Name() string { return "judge_pairwise" }

// Version is "<rubric name>-<rubric version>+prompt<PromptVersion>".
func (j *PairwiseJudge) Version() string {
	return j.rubric.Name + "-" + j.rubric.Version + "+prompt" + PromptVersion
}

// Metric names of the judge.
func (j *PairwiseJudge) metrics() (outcome, confidence string) {
	return j.rubric.Name + "_sxs", j.rubric.Name + "_sxs_confidence"
}

// Outcome of a side-by-side comparison, for answer A.
const (
	SxSWin  = 1.0
	SxSTie  = 0.5
	SxSLoss = 0.0
)

// combineSxS applies the rule in PairwiseJudge's doc to the verdicts of the
// (A,B) and (B,A) orderings, each already mapped to "A", "B" or "tie".
func combineSxS(ab, ba string) (value, confidence float64, why string) {
	vote := func(w string) int {
		switch w {
		case "A":
			return 1
		case "B":
			return -1
		}
		return 0
	}
	a, b := vote(ab), vote(ba)
	switch {
	case ab == ba && a > 0:
		return SxSWin, 1, "both orderings prefer A"
	case ab == ba && a < 0:
		return SxSLoss, 1, "both orderings prefer B"
	case ab == ba:
		return SxSTie, 1, "both orderings say tie"
	case a+b > 0:
		return SxSWin, 0.5, "one ordering prefers A, the other says tie"
	case a+b < 0:
		return SxSLoss, 0.5, "one ordering prefers B, the other says tie"
	default:
		return SxSTie, 0, "the orderings disagree (position bias): tie"
	}
}

// Evaluate compares in.Output (A) with in.Alternative (B).
func (j *PairwiseJudge) Evaluate(ctx context.Context, in Input) ([]Result, error) {
	mOutcome, mConf := j.metrics()
	if in.Alternative == "" {
		err := errors.New("pairwise judge needs Input.Alternative (answer B)")
		r1, r2 := failed(mOutcome, err), failed(mConf, err)
		r1.Reason, r2.Reason = ReasonMissingInput, ReasonMissingInput
		return []Result{r1, r2}, nil
	}
	key := inputKey(j.Name(), j.Version(), j.cfg.Model, in)
	if rs, ok := j.fromCache(key); ok {
		return rs, nil
	}

	type side struct {
		winner, reasoning string
		stats             callStats
		err               error
	}
	var ab, ba side
	var wg sync.WaitGroup
	run := func(s *side, first, second string, firstIs, secondIs string) {
		defer wg.Done()
		s.stats, s.err = j.ask(ctx, renderPairwise(j.rubric, in, first, second), func(content string) error {
			w, r, err := parsePairwise(content)
			if err != nil {
				return err
			}
			switch w {
			case winnerFirst:
				s.winner = firstIs
			case winnerSecond:
				s.winner = secondIs
			default:
				s.winner = winnerTie
			}
			s.reasoning = r
			return nil
		})
	}
	wg.Add(2)
	go run(&ab, in.Output, in.Alternative, "A", "B")
	go run(&ba, in.Alternative, in.Output, "B", "A")
	wg.Wait()

	base := Result{
		JudgeModel: ab.stats.model,
		CostUSD:    ab.stats.costUSD(j.cfg) + ba.stats.costUSD(j.cfg),
		Tokens:     ab.stats.usage.Total() + ba.stats.usage.Total(),
		Latency:    max(ab.stats.latency, ba.stats.latency),
	}
	if err := errors.Join(ab.err, ba.err); err != nil {
		if fatal(ctx, err) {
			return nil, fmt.Errorf("evaluating with %s: %w", j.Name(), err)
		}
		first := ab.err
		if first == nil {
			first = ba.err
		}
		r1, r2 := base, base
		r1.Metric, r2.Metric = mOutcome, mConf
		r1.Error, r2.Error = err.Error(), err.Error()
		r1.Reason, r2.Reason = ReasonOf(first), ReasonOf(first)
		r2.CostUSD, r2.Tokens = 0, 0 // the cost is counted once, on the outcome
		return []Result{r1, r2}, nil
	}
	value, conf, why := combineSxS(ab.winner, ba.winner)
	reasoning := fmt.Sprintf("%s. A first: %s (%s). B first: %s (%s)", why, ab.winner, ab.reasoning, ba.winner, ba.reasoning)
	r1, r2 := base, base
	r1.Metric, r1.Value, r1.Reasoning = mOutcome, value, reasoning
	r2.Metric, r2.Value, r2.Reasoning = mConf, conf, why
	r2.CostUSD, r2.Tokens = 0, 0
	rs := []Result{r1, r2}
	j.cache.put(key, rs)
	return rs, nil
}
