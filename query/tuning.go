package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
)

// TuningFilter selects the production spans that tuning data is built from.
type TuningFilter struct {
	From, To time.Time // [From, To) on the span's start
	App      string    // empty: every app
	Chain    string    // empty: every chain
	Kind     string    // component kind; empty: "llm"
	Limit    int       // at most this many spans (0: 100,000)
}

// TuningSpan is one production span with the signals about it: the mean
// user feedback score of its trace and the mean of each judge metric on it
// (eval_scores), and its lineage.
type TuningSpan struct {
	TraceID               string             `json:"trace_id"`
	SpanID                string             `json:"span_id"`
	App                   string             `json:"app"`
	Chain                 string             `json:"chain"`
	ChainVersion          string             `json:"chain_version"`
	PromptTemplateID      string             `json:"prompt_template_id,omitempty"`
	PromptTemplateVersion string             `json:"prompt_template_version,omitempty"`
	Model                 string             `json:"model"`
	Start                 time.Time          `json:"start"`
	System                string             `json:"-"`
	Input                 string             `json:"-"`
	Output                string             `json:"-"`
	Feedback              *float64           `json:"feedback,omitempty"` // mean feedback score of the trace
	FeedbackCount         int                `json:"feedback_count,omitempty"`
	Judge                 map[string]float64 `json:"judge,omitempty"` // metric → mean valid value on this span
}

// TuningSpans reads the spans of f that answered (output text, status not
// error) with their feedback and judge scores. Feedback is joined by trace
// (users rate an answer, which its trace carries), judge scores by span.
// The three reads are separate queries rather than joins, which 18.16 runs
// poorly; traces are looked up 1,000 at a time.
func (r *Reader) TuningSpans(ctx context.Context, f TuningFilter) ([]TuningSpan, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.To.After(f.From) {
		return nil, errors.New("tuning export: want --from before --to")
	}
	if f.Kind == "" {
		f.Kind = "llm"
	}
	if f.Limit <= 0 {
		f.Limit = 100_000
	}
	where := []string{"start_time >= ?", "start_time < ?", "component_kind = ?", "output_text != ''", "status != 'error'"}
	args := []any{f.From.UTC(), f.To.UTC(), f.Kind}
	if f.App != "" {
		where, args = append(where, "app = ?"), append(args, f.App)
	}
	if f.Chain != "" {
		where, args = append(where, "chain_name = ?"), append(args, f.Chain)
	}
	args = append(args, uint64(f.Limit))
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, `SELECT trace_id, span_id, app, chain_name, chain_version, prompt_template_id, prompt_template_version,
    if(model_returned != '', model_returned, model_requested), start_time, system_instructions, input_text, output_text
FROM spans FINAL WHERE `+strings.Join(where, " AND ")+` ORDER BY start_time, trace_id, span_id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading spans for tuning data: %w", err)
	}
	var out []TuningSpan
	byTrace := map[string][]int{}
	bySpan := map[[2]string]int{}
	for rows.Next() {
		var s TuningSpan
		if err := rows.Scan(&s.TraceID, &s.SpanID, &s.App, &s.Chain, &s.ChainVersion, &s.PromptTemplateID, &s.PromptTemplateVersion,
			&s.Model, &s.Start, &s.System, &s.Input, &s.Output); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading spans for tuning data: %w", err)
		}
		s.Start = s.Start.UTC()
		byTrace[s.TraceID] = append(byTrace[s.TraceID], len(out))
		bySpan[[2]string{s.TraceID, s.SpanID}] = len(out)
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading spans for tuning data: %w", err)
	}
	traces := make([]string, 0, len(byTrace))
	for t := range byTrace {
		traces = append(traces, t)
	}
	for start := 0; start < len(traces); start += 1000 {
		chunk := traces[start:min(start+1000, len(traces))]
		if err := r.tuningFeedback(ctx, chunk, out, byTrace); err != nil {
			return nil, err
		}
		if err := r.tuningScores(ctx, chunk, out, bySpan); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Reader) tuningFeedback(ctx context.Context, traces []string, out []TuningSpan, byTrace map[string][]int) error {
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, `SELECT trace_id, avg(assumeNotNull(score)), count()
FROM feedback FINAL WHERE has(?, trace_id) AND isNotNull(score) GROUP BY trace_id`, traces)
	if err != nil {
		return fmt.Errorf("reading feedback for tuning data: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var avg float64
		var n uint64
		if err := rows.Scan(&t, &avg, &n); err != nil {
			return fmt.Errorf("reading feedback for tuning data: %w", err)
		}
		for _, i := range byTrace[t] {
			v := avg
			out[i].Feedback, out[i].FeedbackCount = &v, int(n)
		}
	}
	return rows.Err()
}

func (r *Reader) tuningScores(ctx context.Context, traces []string, out []TuningSpan, bySpan map[[2]string]int) error {
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, `SELECT trace_id, span_id, metric, avg(value)
FROM eval_scores FINAL WHERE has(?, trace_id) AND error = '' GROUP BY trace_id, span_id, metric`, traces)
	if err != nil {
		return fmt.Errorf("reading judge scores for tuning data: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, s, m string
		var v float64
		if err := rows.Scan(&t, &s, &m, &v); err != nil {
			return fmt.Errorf("reading judge scores for tuning data: %w", err)
		}
		i, ok := bySpan[[2]string{t, s}]
		if !ok {
			continue
		}
		if out[i].Judge == nil {
			out[i].Judge = map[string]float64{}
		}
		out[i].Judge[m] = v
	}
	return rows.Err()
}
