package query

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Selector picks rows of one of chainwatch's tables: the lineage fields
// and the time range a dashboard's filters set. An empty field matches
// everything; set fields are ANDed. Values travel as query arguments
// (placeholders), never inside the SQL text, so a value is always matched
// literally, whatever quotes or backslashes it holds.
//
// Not every table has every field: a field set on a table without it is an
// error (see Table), not silently ignored.
type Selector struct {
	App           string
	Environment   string
	Chain         string // the chain's name
	ChainVersion  string
	Component     string // the component's name
	ComponentKind string // llm, retriever, tool, … (schemas.ComponentKind)
	Model         string // the model requested
	Status        string // a span's status (ok, error, unset) or a monitor run's (ok, insufficient_data, error)

	// From and To bound the rows' time to [From, To); a zero bound is
	// open. Which time that is depends on the table (see Table).
	From, To time.Time

	// And adds conditions, ANDed with the fields'.
	And []Predicate
}

// Predicate is one more condition for a selector: a boolean SQL expression
// over the table's columns with one ? placeholder per argument, e.g.
// {SQL: "operation = ?", Args: []any{"chat"}} (no other ? in the SQL).
// The SQL is part of the program, never built from input; values go in
// Args.
type Predicate struct {
	SQL  string
	Args []any
}

// Eq is the predicate column = value.
func Eq(column string, value any) Predicate {
	return Predicate{SQL: column + " = ?", Args: []any{value}}
}

// with is s with more predicates (s.And is not modified).
func (s Selector) with(ps ...Predicate) Selector {
	s.And = append(s.And[:len(s.And):len(s.And)], ps...)
	return s
}

// field indexes the selector's lineage fields in Table.cols.
type field int

const (
	fApp field = iota
	fEnvironment
	fChain
	fChainVersion
	fComponent
	fComponentKind
	fModel
	fStatus
	nFields
)

var fieldNames = [nFields]string{"app", "environment", "chain", "chain_version", "component", "component_kind", "model", "status"}

func (s Selector) values() [nFields]string {
	return [nFields]string{s.App, s.Environment, s.Chain, s.ChainVersion, s.Component, s.ComponentKind, s.Model, s.Status}
}

// spanFields reports whether s sets a lineage field other than Status:
// what a subquery on spans must filter.
func (s Selector) spanFields() bool {
	v := s.values()
	for f := fApp; f < fStatus; f++ {
		if v[f] != "" {
			return true
		}
	}
	return false
}

// Table is one of chainwatch's tables as a selector sees it: the column
// each selector field filters on and the time the range bounds.
type Table struct {
	name string
	cols [nFields]string // "" where the table lacks the field
	// time renders the [from, to) bounds (a zero bound is open).
	time func(from, to time.Time) ([]string, []any)
	// viaSpans: the lineage fields select the rows of traces that have a
	// matching span (feedback has no lineage columns of its own).
	viaSpans bool
}

// Name is the table's name in ClickHouse.
func (t Table) Name() string { return t.name }

var spanCols = [nFields]string{"app", "environment", "chain_name", "chain_version", "component_name", "component_kind", "model_requested", "status"}

// endNanos is a span's end in Unix nanoseconds (end_time is whole seconds
// on servers without DateTime64).
const endNanos = "(start_unix_nano + toUInt64(duration_ms * 1000000))"

// FeedbackLookback is how long before a feedback selector's From the spans
// that tie feedback to an app or chain may have started: feedback comes
// after the answer it judges.
const FeedbackLookback = time.Hour

// The tables a Selector applies to.
var (
	// Spans: every lineage field; the range bounds the span's start,
	// exactly (start_unix_nano), narrowed by start_time for the primary key
	// and partitions.
	Spans = Table{name: "spans", cols: spanCols, time: spanStarts}
	// SpanEnds is the spans table with the range on the span's end: a span
	// is exported when it ends, so a window by end time is complete once
	// the pipeline's latency has passed (the monitors' windows).
	SpanEnds = Table{name: "spans", cols: spanCols, time: spanEnds}
	// Feedback: the range bounds the feedback's time (whole seconds); the
	// lineage fields keep feedback on traces with a matching span that
	// started in [From − FeedbackLookback, To). Status does not apply.
	Feedback = Table{name: "feedback", cols: spanCols, time: seconds("time"), viaSpans: true}
	// EvalScores: App and Chain; the range bounds the score's creation
	// (whole seconds).
	EvalScores = Table{name: "eval_scores", cols: [nFields]string{fApp: "app", fChain: "chain"}, time: seconds("created")}
	// DetectorResults: App, Chain and Status (the run's); the range bounds
	// the run's tick.
	DetectorResults = Table{name: "detector_results", cols: [nFields]string{fApp: "app", fChain: "chain", fStatus: "status"}, time: seconds("tick")}
	// Alerts: App and Chain (the alert's labels); the range bounds the
	// event's time.
	Alerts = Table{name: "alerts", cols: [nFields]string{
		fApp:   "label_values[indexOf(label_keys, 'app')]",
		fChain: "label_values[indexOf(label_keys, 'chain')]",
	}, time: seconds("time")}
)

func spanStarts(from, to time.Time) ([]string, []any) {
	var conds []string
	var args []any
	if !from.IsZero() {
		conds = append(conds, "start_time >= toDateTime(?)", "start_unix_nano >= ?")
		args = append(args, from.Unix(), uint64(from.UnixNano()))
	}
	if !to.IsZero() {
		toSec := to.Unix()
		if to.Nanosecond() > 0 {
			toSec++
		}
		conds = append(conds, "start_time <= toDateTime(?)", "start_unix_nano < ?")
		args = append(args, toSec, uint64(to.UnixNano()))
	}
	return conds, args
}

func spanEnds(from, to time.Time) ([]string, []any) {
	var conds []string
	var args []any
	// end_time is stored from the span's end, endNanos computed from its
	// start and float duration: a second of slack keeps rounding out.
	if !from.IsZero() {
		conds = append(conds, "end_time >= toDateTime(?)", endNanos+" >= ?")
		args = append(args, from.Unix()-1, uint64(from.UnixNano()))
	}
	if !to.IsZero() {
		conds = append(conds, "start_time <= toDateTime(?)", endNanos+" < ?")
		args = append(args, to.Unix(), uint64(to.UnixNano()))
	}
	return conds, args
}

// seconds bounds a time column by whole seconds (From and To truncated).
func seconds(col string) func(from, to time.Time) ([]string, []any) {
	return func(from, to time.Time) ([]string, []any) {
		var conds []string
		var args []any
		if !from.IsZero() {
			conds = append(conds, col+" >= toDateTime(?)")
			args = append(args, from.Unix())
		}
		if !to.IsZero() {
			conds = append(conds, col+" < toDateTime(?)")
			args = append(args, to.Unix())
		}
		return conds, args
	}
}

// ErrNotApplicable is returned (wrapped) for a selector field the table
// does not have.
var ErrNotApplicable = errors.New("selector field does not apply")

// Where renders s for table t as "WHERE cond AND …" ("WHERE 1" when s
// selects everything) and the arguments of its placeholders, in order.
func (s Selector) Where(t Table) (string, []any, error) {
	conds, args, err := s.conds(t)
	if err != nil {
		return "", nil, err
	}
	if len(conds) == 0 {
		return "WHERE 1", nil, nil
	}
	return "WHERE " + strings.Join(conds, " AND "), args, nil
}

func (s Selector) conds(t Table) ([]string, []any, error) {
	if !s.From.IsZero() && !s.To.IsZero() && !s.From.Before(s.To) {
		return nil, nil, fmt.Errorf("selector: from (%s) must be before to (%s)", s.From.Format(time.RFC3339Nano), s.To.Format(time.RFC3339Nano))
	}
	var conds []string
	var args []any
	vals := s.values()
	if t.viaSpans {
		if s.Status != "" {
			return nil, nil, fmt.Errorf("selector: %w to %s: status", ErrNotApplicable, t.name)
		}
		if s.spanFields() {
			sub := Selector{App: s.App, Environment: s.Environment, Chain: s.Chain, ChainVersion: s.ChainVersion,
				Component: s.Component, ComponentKind: s.ComponentKind, Model: s.Model}
			sc, sa, _ := sub.conds(Spans)
			if !s.From.IsZero() {
				sc = append(sc, "start_time >= toDateTime(?)")
				sa = append(sa, s.From.Add(-FeedbackLookback).Unix())
			}
			if !s.To.IsZero() {
				sc = append(sc, "start_time < toDateTime(?)")
				sa = append(sa, s.To.Unix())
			}
			conds = append(conds, "trace_id IN (SELECT trace_id FROM spans WHERE "+strings.Join(sc, " AND ")+")")
			args = append(args, sa...)
		}
	} else {
		for f := field(0); f < nFields; f++ {
			if vals[f] == "" {
				continue
			}
			if t.cols[f] == "" {
				return nil, nil, fmt.Errorf("selector: %w to %s: %s", ErrNotApplicable, t.name, fieldNames[f])
			}
			conds = append(conds, t.cols[f]+" = ?")
			args = append(args, vals[f])
		}
	}
	tc, ta := t.time(s.From, s.To)
	conds = append(conds, tc...)
	args = append(args, ta...)
	for _, p := range s.And {
		if n := strings.Count(p.SQL, "?"); n != len(p.Args) {
			return nil, nil, fmt.Errorf("selector: predicate %q has %d placeholders and %d arguments", p.SQL, n, len(p.Args))
		}
		conds = append(conds, "("+p.SQL+")")
		args = append(args, p.Args...)
	}
	return conds, args, nil
}
