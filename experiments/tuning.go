package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/chainwatch/chainwatch/query"
)

// TuningOptions choose which production spans become tuning rows.
type TuningOptions struct {
	// MinFeedback: a span whose trace has feedback is kept for SFT only when
	// its mean feedback score is at least this (thumbs are 0/1).
	MinFeedback float64
	// JudgeMetric and MinJudge: a span with a score of JudgeMetric is kept
	// for SFT only when it is at least MinJudge. Empty: judge scores are
	// carried in the lineage but decide nothing.
	JudgeMetric string
	MinJudge    float64
	// IncludeUnrated keeps spans with no signal at all (default: dropped:
	// an unrated answer is not known to be good).
	IncludeUnrated bool
	// Prefer is the signal that orders answers for preference pairs:
	// "feedback" (default) or "judge" (JudgeMetric).
	Prefer string
	// MinGap is the least difference of that signal between the chosen and
	// the rejected answer (default 0: any strict difference).
	MinGap float64
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Lineage is where a tuning row came from.
type Lineage struct {
	TraceID               string             `json:"trace_id"`
	SpanID                string             `json:"span_id"`
	App                   string             `json:"app"`
	Chain                 string             `json:"chain"`
	ChainVersion          string             `json:"chain_version"`
	PromptTemplateID      string             `json:"prompt_template_id,omitempty"`
	PromptTemplateVersion string             `json:"prompt_template_version,omitempty"`
	Model                 string             `json:"model"`
	Time                  string             `json:"time"`
	Feedback              *float64           `json:"feedback,omitempty"`
	FeedbackCount         int                `json:"feedback_count,omitempty"`
	Judge                 map[string]float64 `json:"judge,omitempty"`
}

func lineageOf(s query.TuningSpan) Lineage {
	return Lineage{TraceID: s.TraceID, SpanID: s.SpanID, App: s.App, Chain: s.Chain, ChainVersion: s.ChainVersion,
		PromptTemplateID: s.PromptTemplateID, PromptTemplateVersion: s.PromptTemplateVersion, Model: s.Model,
		Time: s.Start.Format("2006-01-02T15:04:05.000000000Z07:00"), Feedback: s.Feedback, FeedbackCount: s.FeedbackCount, Judge: s.Judge}
}

// SFTRow is one supervised example in the chat fine-tuning format
// (messages: system, user, assistant), with its lineage beside it.
type SFTRow struct {
	Messages []chatMessage `json:"messages"`
	Lineage  Lineage       `json:"lineage"`
}

func prompt(s query.TuningSpan) []chatMessage {
	var m []chatMessage
	if s.System != "" {
		m = append(m, chatMessage{"system", systemText(s.System)})
	}
	return append(m, chatMessage{"user", s.Input})
}

// systemText reads the system_instructions column, which holds the GenAI
// parts JSON ([{"type":"text","content":…}]) or plain text.
func systemText(s string) string {
	var parts []struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	if json.Unmarshal([]byte(s), &parts) == nil && len(parts) > 0 {
		out := ""
		for i, p := range parts {
			if i > 0 {
				out += "\n"
			}
			out += p.Content
		}
		return out
	}
	return s
}

// sftKeep says whether a span's signals make it a supervised example.
func sftKeep(s query.TuningSpan, o TuningOptions) bool {
	rated := false
	if s.Feedback != nil {
		rated = true
		if *s.Feedback < o.MinFeedback {
			return false
		}
	}
	if o.JudgeMetric != "" {
		if v, ok := s.Judge[o.JudgeMetric]; ok {
			rated = true
			if v < o.MinJudge {
				return false
			}
		}
	}
	return rated || o.IncludeUnrated
}

// BuildSFT keeps the spans whose every signal passes (feedback at least
// MinFeedback, the judge metric at least MinJudge) and that have at least
// one signal unless IncludeUnrated.
func BuildSFT(spans []query.TuningSpan, o TuningOptions) []SFTRow {
	var out []SFTRow
	for _, s := range spans {
		if s.Input == "" || s.Output == "" || !sftKeep(s, o) {
			continue
		}
		out = append(out, SFTRow{Messages: append(prompt(s), chatMessage{"assistant", s.Output}), Lineage: lineageOf(s)})
	}
	return out
}

// PreferenceRow is one pair in the conversational preference format
// (prompt, chosen, rejected — as TRL's DPO trainer reads it), with the
// lineage of both answers.
type PreferenceRow struct {
	Prompt   []chatMessage `json:"prompt"`
	Chosen   []chatMessage `json:"chosen"`
	Rejected []chatMessage `json:"rejected"`
	Lineage  struct {
		Chosen   Lineage `json:"chosen"`
		Rejected Lineage `json:"rejected"`
	} `json:"lineage"`
	Signal string  `json:"signal"` // feedback or judge:METRIC
	Gap    float64 `json:"gap"`
}

// BuildPreference groups the spans by prompt (app, chain, system and
// input text) and, in each group with two answers whose signal differs by
// more than MinGap, pairs the best with the worst (one pair per prompt;
// identical answers are never paired).
func BuildPreference(spans []query.TuningSpan, o TuningOptions) ([]PreferenceRow, error) {
	signal := "feedback"
	value := func(s query.TuningSpan) (float64, bool) {
		if s.Feedback == nil {
			return 0, false
		}
		return *s.Feedback, true
	}
	switch o.Prefer {
	case "", "feedback":
	case "judge":
		if o.JudgeMetric == "" {
			return nil, errors.New("preference by judge needs a judge metric (--judge-metric)")
		}
		signal = "judge:" + o.JudgeMetric
		value = func(s query.TuningSpan) (float64, bool) { v, ok := s.Judge[o.JudgeMetric]; return v, ok }
	default:
		return nil, fmt.Errorf("--prefer %q: want feedback or judge", o.Prefer)
	}
	type key struct{ app, chain, system, input string }
	groups := map[key][]query.TuningSpan{}
	var order []key
	for _, s := range spans {
		if s.Input == "" || s.Output == "" {
			continue
		}
		if _, ok := value(s); !ok {
			continue
		}
		k := key{s.App, s.Chain, s.System, s.Input}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	var out []PreferenceRow
	for _, k := range order {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		sort.SliceStable(g, func(i, j int) bool { a, _ := value(g[i]); b, _ := value(g[j]); return a > b })
		best, worst := g[0], g[len(g)-1]
		bv, _ := value(best)
		wv, _ := value(worst)
		if bv-wv <= o.MinGap || best.Output == worst.Output {
			continue
		}
		row := PreferenceRow{Prompt: prompt(best), Chosen: []chatMessage{{"assistant", best.Output}},
			Rejected: []chatMessage{{"assistant", worst.Output}}, Signal: signal, Gap: bv - wv}
		row.Lineage.Chosen, row.Lineage.Rejected = lineageOf(best), lineageOf(worst)
		out = append(out, row)
	}
	return out, nil
}

// WriteJSONL writes one JSON object per line.
func WriteJSONL[T any](w io.Writer, rows []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(rows[i]); err != nil {
			return fmt.Errorf("writing row %d: %w", i, err)
		}
	}
	return nil
}
