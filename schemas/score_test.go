package schemas

import (
	"encoding/json"
	"testing"
	"time"
)

func TestScoreJSONRoundTrip(t *testing.T) {
	created := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		score  Score
		failed bool
	}{
		{"value", Score{
			TraceID: "0123456789abcdef0123456789abcdef", SpanID: "0123456789abcdef",
			App: "support-bot", Chain: "answer", Evaluator: "judge_pointwise", EvaluatorVersion: "quality-v1",
			Metric: "quality", Value: 4, Reasoning: "grounded", JudgeModel: "gpt-4o-mini",
			CostUSD: 0.0002, Latency: 1500 * time.Millisecond, Created: created,
		}, false},
		{"failed", Score{
			TraceID: "0123456789abcdef0123456789abcdef", SpanID: "0123456789abcdef",
			Evaluator: "judge_pointwise", Metric: "quality", Error: "malformed_output: missing field score",
			Created: created,
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.score)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"trace_id", "span_id", "app", "chain", "evaluator", "evaluator_version",
				"metric", "value", "reasoning", "judge_model", "cost_usd", "latency", "error", "created"} {
				if _, ok := m[k]; !ok {
					t.Errorf("JSON lacks key %q: %s", k, b)
				}
			}
			var got Score
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.score {
				t.Errorf("round trip: got %+v, want %+v", got, tt.score)
			}
			if got.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", got.Failed(), tt.failed)
			}
		})
	}
}
