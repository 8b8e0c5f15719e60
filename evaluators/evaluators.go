// Package evaluators scores generative answers: LLM judges (pointwise rubric
// and pairwise side-by-side), reference metrics against ground truth (exact
// match, token F1, BLEU, ROUGE-L, embedding cosine) and deterministic guards
// (PII leakage, prompt injection, refusals, JSON and JSON-schema validity).
//
// Everything here is pure computation: a judge talks to its model through the
// small ChatClient interface (evaluators/openai implements it over HTTP), an
// embedding metric through Embedder. No Kafka, ClickHouse or HTTP inside.
// README.md beside this file lists every evaluator, its metrics, their ranges
// and versions.
package evaluators

import (
	"context"
	"errors"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// Evaluator scores one answer. Implementations are safe for concurrent use.
//
// Evaluate returns one Result per metric the evaluator reports. A metric that
// could not be evaluated (malformed judge output after every retry, judge
// timeout, missing reference, …) is a Result with Error set and Value 0: it is
// recorded as a failure, never as a score. Evaluate returns a non-nil error
// only when nothing should be recorded and the caller should try again later:
// ctx is done, or the token budget is exhausted (ErrBudgetExhausted).
type Evaluator interface {
	// Name is stable across versions, e.g. "judge_pointwise" or "bleu".
	Name() string
	// Version changes whenever a change could move the scores (rubric text,
	// tokenisation, pattern lists).
	Version() string
	Evaluate(ctx context.Context, in Input) ([]Result, error)
}

// Input is what an evaluator sees of one span.
type Input struct {
	// Input is the user's prompt (or the chain's rendered input).
	Input string
	// Output is the answer under evaluation; for pairwise judges, answer A.
	Output string
	// Alternative is answer B for pairwise judges (another model, prompt or
	// chain version answering the same Input); ignored by the others.
	Alternative string
	// Context holds the retrieved passages the answer should be grounded in.
	Context []string
	// Reference is the ground-truth answer for reference metrics; a judge's
	// rubric may use it when present.
	Reference string
}

// Result is one metric of one evaluation.
type Result struct {
	Metric    string
	Value     float64
	Reasoning string

	// Error is empty for a valid value. Otherwise it explains the failure
	// and Value is meaningless (0); Reason is its bounded label.
	Error  string
	Reason Reason

	// Judge bookkeeping, zero for deterministic evaluators.
	JudgeModel string
	CostUSD    float64
	Tokens     int
	Latency    time.Duration
	Cached     bool
}

// Failed reports whether r records a failed evaluation.
func (r Result) Failed() bool { return r.Error != "" }

// Reason is a bounded label for a failed evaluation, fit for a metric label.
type Reason string

// Failure reasons.
const (
	ReasonNone             Reason = ""
	ReasonMalformedOutput  Reason = "malformed_output"  // the judge never answered a valid verdict
	ReasonTimeout          Reason = "timeout"           // every attempt timed out
	ReasonRateLimited      Reason = "rate_limited"      // 429 after every retry
	ReasonJudgeUnavailable Reason = "judge_unavailable" // 5xx or transport errors after every retry
	ReasonJudgeRejected    Reason = "judge_rejected"    // 4xx other than 429: a permanent error
	ReasonMissingInput     Reason = "missing_input"     // e.g. no reference for a reference metric
	ReasonEmbedding        Reason = "embedding_error"
	ReasonBudgetExhausted  Reason = "budget_exhausted" // nothing was evaluated (Evaluate's error)
	ReasonOther            Reason = "other"
)

// ErrBudgetExhausted is returned (wrapped) by judges when the hourly token
// budget is spent. Nothing was evaluated; try again later.
var ErrBudgetExhausted = errors.New("judge token budget exhausted")

// reasoner is implemented by errors that know their failure label (the
// openai client's errors do).
type reasoner interface{ Reason() string }

// ReasonOf maps an error to its bounded label.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var r reasoner
	if errors.As(err, &r) {
		return Reason(r.Reason())
	}
	if errors.Is(err, ErrBudgetExhausted) {
		return ReasonBudgetExhausted
	}
	var me *malformedError
	if errors.As(err, &me) {
		return ReasonMalformedOutput
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	return ReasonOther
}

// failed builds the Result of a metric that could not be evaluated.
func failed(metric string, err error) Result {
	return Result{Metric: metric, Error: err.Error(), Reason: ReasonOf(err)}
}

// Span identifies the span a set of results belongs to, for Scores.
type Span struct {
	TraceID, SpanID, App, Chain string
}

// Scores turns an evaluator's results for one span into score records,
// failures included (with Score.Error set to "reason: message").
func Scores(span Span, ev Evaluator, results []Result, created time.Time) []schemas.Score {
	out := make([]schemas.Score, 0, len(results))
	for _, r := range results {
		s := schemas.Score{
			TraceID: span.TraceID, SpanID: span.SpanID, App: span.App, Chain: span.Chain,
			Evaluator: ev.Name(), EvaluatorVersion: ev.Version(),
			Metric: r.Metric, Value: r.Value, Reasoning: r.Reasoning,
			JudgeModel: r.JudgeModel, CostUSD: r.CostUSD, Latency: r.Latency,
			Created: created,
		}
		if r.Failed() {
			s.Value = 0
			reason := r.Reason
			if reason == ReasonNone {
				reason = ReasonOther
			}
			s.Error = string(reason) + ": " + r.Error
		}
		out = append(out, s)
	}
	return out
}
