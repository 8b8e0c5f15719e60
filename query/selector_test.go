package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSelectorWhere(t *testing.T) {
	from := time.Date(2026, 1, 1, 10, 0, 0, 250, time.UTC)
	to := time.Date(2026, 1, 1, 11, 0, 0, 500_000_000, time.UTC)
	fs, fns := from.Unix(), uint64(from.UnixNano())
	ts, tns := to.Unix(), uint64(to.UnixNano())
	for _, c := range []struct {
		name  string
		sel   Selector
		table Table
		where string
		args  []any
	}{
		{"empty", Selector{}, Spans, "WHERE 1", nil},
		{"spans fields", Selector{App: "shop", Environment: "prod", Chain: "rag", ChainVersion: "2", Component: "answer", ComponentKind: "llm", Model: "gpt", Status: "error"}, Spans,
			"WHERE app = ? AND environment = ? AND chain_name = ? AND chain_version = ? AND component_name = ? AND component_kind = ? AND model_requested = ? AND status = ?",
			[]any{"shop", "prod", "rag", "2", "answer", "llm", "gpt", "error"}},
		// To is rounded up to the next second on start_time (seconds on old
		// servers) and exact on start_unix_nano.
		{"spans by start", Selector{From: from, To: to}, Spans,
			"WHERE start_time >= toDateTime(?) AND start_unix_nano >= ? AND start_time <= toDateTime(?) AND start_unix_nano < ?",
			[]any{fs, fns, ts + 1, tns}},
		{"spans by end", Selector{App: "a", From: from, To: to}, SpanEnds,
			"WHERE app = ? AND end_time >= toDateTime(?) AND " + endNanos + " >= ? AND start_time <= toDateTime(?) AND " + endNanos + " < ?",
			[]any{"a", fs - 1, fns, ts, tns}},
		{"feedback plain", Selector{From: from}, Feedback, "WHERE time >= toDateTime(?)", []any{fs}},
		{"feedback via spans", Selector{App: "a", ComponentKind: "llm", From: from, To: to}, Feedback,
			"WHERE trace_id IN (SELECT trace_id FROM spans WHERE app = ? AND component_kind = ? AND start_time >= toDateTime(?) AND start_time < toDateTime(?)) AND time >= toDateTime(?) AND time < toDateTime(?)",
			[]any{"a", "llm", fs - 3600, ts, fs, ts}},
		{"eval scores", Selector{App: "a", Chain: "c", To: to, And: []Predicate{Eq("metric", "m"), {SQL: "value BETWEEN ? AND ?", Args: []any{1, 2}}}}, EvalScores,
			"WHERE app = ? AND chain = ? AND created < toDateTime(?) AND (metric = ?) AND (value BETWEEN ? AND ?)",
			[]any{"a", "c", ts, "m", 1, 2}},
		{"detector results", Selector{Status: "ok", From: from}, DetectorResults, "WHERE status = ? AND tick >= toDateTime(?)", []any{"ok", fs}},
		{"alerts", Selector{App: "a"}, Alerts, "WHERE label_values[indexOf(label_keys, 'app')] = ?", []any{"a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			where, args, err := c.sel.Where(c.table)
			if err != nil {
				t.Fatal(err)
			}
			if where != c.where {
				t.Errorf("where\n got %s\nwant %s", where, c.where)
			}
			if !reflect.DeepEqual(args, c.args) {
				t.Errorf("args %#v, want %#v", args, c.args)
			}
		})
	}
}

func TestSelectorRefuses(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		sel   Selector
		table Table
		want  string
	}{
		{"model on eval_scores", Selector{Model: "gpt"}, EvalScores, "does not apply to eval_scores: model"},
		{"status on feedback", Selector{Status: "ok"}, Feedback, "does not apply to feedback: status"},
		{"environment on alerts", Selector{Environment: "prod"}, Alerts, "does not apply to alerts: environment"},
		{"empty range", Selector{From: t0, To: t0}, Spans, "must be before"},
		{"placeholders", Selector{And: []Predicate{{SQL: "a = ? AND b = ?", Args: []any{1}}}}, Spans, "2 placeholders and 1 arguments"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := c.sel.Where(c.table)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if strings.Contains(c.want, "does not apply") && !errors.Is(err, ErrNotApplicable) {
				t.Errorf("%v is not ErrNotApplicable", err)
			}
		})
	}
}

func TestSelectorWithKeepsCallersSlice(t *testing.T) {
	base := make([]Predicate, 1, 4)
	base[0] = Eq("a", 1)
	s := Selector{And: base}
	s1 := s.with(Eq("b", 2))
	s2 := s.with(Eq("c", 3))
	if len(s.And) != 1 || s1.And[1].SQL != "b = ?" || s2.And[1].SQL != "c = ?" {
		t.Fatalf("with shares the backing array: %+v %+v", s1.And, s2.And)
	}
}

func TestGroupingValidate(t *testing.T) {
	if err := (Grouping{Interval: 1500 * time.Millisecond}).validate(spanDims); err == nil {
		t.Error("fractional interval accepted")
	}
	if err := (Grouping{By: []Dimension{ByModel}}).validate(scoreDims); err == nil {
		t.Error("model on eval_scores accepted")
	}
	if err := (Grouping{By: []Dimension{ByApp, ByApp}}).validate(spanDims); err == nil {
		t.Error("dimension twice accepted")
	}
	if err := (Grouping{By: []Dimension{ByApp, ByChainVersion}, Interval: time.Minute}).validate(spanDims); err != nil {
		t.Error(err)
	}
}
