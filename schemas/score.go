package schemas

import "time"

// Score is one metric of one evaluation of one span: one row of the
// ClickHouse eval_scores table and one record on the scores topic.
//
// An evaluation that failed (the judge answered malformed JSON after every
// retry, timed out, the reference was missing, …) is still a Score, with
// Error set to the reason and Value left 0: a failed evaluation is recorded,
// never mistaken for a score. Consumers must filter on Error == "" before
// aggregating values.
type Score struct {
	TraceID string `json:"trace_id"` // 32 lower-case hex digits
	SpanID  string `json:"span_id"`  // 16 lower-case hex digits
	App     string `json:"app"`
	Chain   string `json:"chain"`

	// Evaluator and EvaluatorVersion identify the code and prompt that
	// produced the score; a rubric change bumps the version, so series from
	// different versions are never mixed silently.
	Evaluator        string `json:"evaluator"`
	EvaluatorVersion string `json:"evaluator_version"`

	// Metric is one of the evaluator's metric names (evaluators/README.md).
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Reasoning string  `json:"reasoning"`
	// Label is a categorical verdict ("relevant", "pass"), where the
	// evaluation gives one (an application's gen_ai.evaluation.result).
	Label string `json:"label,omitempty"`

	// JudgeModel is the model that judged, empty for deterministic
	// evaluators. CostUSD is what the judge calls for this score cost
	// (0 for cache hits and deterministic evaluators).
	JudgeModel string        `json:"judge_model"`
	CostUSD    float64       `json:"cost_usd"`
	Latency    time.Duration `json:"latency"` // nanoseconds on the wire

	// Error is the reason the evaluation failed, empty for a valid score.
	Error string `json:"error"`

	Created time.Time `json:"created"`
}

// Failed reports whether the score records a failed evaluation rather than a
// value.
func (s *Score) Failed() bool { return s.Error != "" }
