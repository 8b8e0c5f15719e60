package query

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// List names a list of values for a dashboard's variables and a query
// editor's dropdowns.
type List string

// The lists. ChainVersions and Metrics are narrowed by Chain and by the
// evaluator ListFilter names.
const (
	ListApps          List = "apps"
	ListEnvironments  List = "environments"
	ListChains        List = "chains"
	ListChainVersions List = "chain_versions"
	ListComponents    List = "components"
	ListModels        List = "models"
	ListMonitors      List = "monitors"
	ListEvaluators    List = "evaluators"
	ListMetrics       List = "metrics"
	ListDatasets      List = "datasets"
)

// Lists is every list, in the order the docs name them.
var Lists = []List{ListApps, ListEnvironments, ListChains, ListChainVersions, ListComponents, ListModels,
	ListMonitors, ListEvaluators, ListMetrics, ListDatasets}

// ListLimit bounds every list.
const ListLimit = 1000

// ListLookback is how far back a list looks when the selector has no
// range.
const ListLookback = 30 * 24 * time.Hour

// ListFilter narrows a list: the selector's fields that apply to the list's
// table (others are ignored: a variable that depends on $app still lists
// datasets) and, for ListMetrics, the evaluator.
type ListFilter struct {
	Selector
	Evaluator string
}

type listDef struct {
	table Table
	col   string
	// fields of the selector that narrow it (others are dropped).
	fields []field
}

var listDefs = map[List]listDef{
	ListApps:          {Spans, "app", nil},
	ListEnvironments:  {Spans, "environment", []field{fApp}},
	ListChains:        {Spans, "chain_name", []field{fApp, fEnvironment}},
	ListChainVersions: {Spans, "chain_version", []field{fApp, fEnvironment, fChain}},
	ListComponents:    {Spans, "component_name", []field{fApp, fEnvironment, fChain, fChainVersion}},
	ListModels:        {Spans, "model_requested", []field{fApp, fEnvironment, fChain, fChainVersion}},
	ListMonitors:      {DetectorResults, "monitor", []field{fApp, fChain}},
	ListEvaluators:    {EvalScores, "evaluator", []field{fApp, fChain}},
	ListMetrics:       {EvalScores, "metric", []field{fApp, fChain}},
	ListDatasets:      {Table{name: "dataset_versions", time: func(time.Time, time.Time) ([]string, []any) { return nil, nil }}, "name", nil},
}

// ParseList checks a list's name.
func ParseList(s string) (List, error) {
	if _, ok := listDefs[List(s)]; ok {
		return List(s), nil
	}
	names := make([]string, len(Lists))
	for i, l := range Lists {
		names[i] = string(l)
	}
	return "", fmt.Errorf("unknown list %q (want one of %s)", s, strings.Join(names, ", "))
}

// Values returns the distinct non-empty values of a list, sorted, at most
// ListLimit of them. Without a range in f it looks back ListLookback from
// now.
func (r *Reader) Values(ctx context.Context, l List, f ListFilter) ([]string, error) {
	def, ok := listDefs[l]
	if !ok {
		_, err := ParseList(string(l))
		return nil, err
	}
	sel := Selector{From: f.From, To: f.To}
	if sel.From.IsZero() && sel.To.IsZero() {
		sel.From = time.Now().Add(-ListLookback).Truncate(time.Second)
	}
	vals := f.values()
	for _, fl := range def.fields {
		if def.table.cols[fl] == "" {
			continue
		}
		switch fl {
		case fApp:
			sel.App = vals[fl]
		case fEnvironment:
			sel.Environment = vals[fl]
		case fChain:
			sel.Chain = vals[fl]
		case fChainVersion:
			sel.ChainVersion = vals[fl]
		}
	}
	if l == ListMetrics && f.Evaluator != "" {
		sel = sel.with(Eq("evaluator", f.Evaluator))
	}
	sel = sel.with(Predicate{SQL: def.col + " != ''"})
	where, args, err := sel.Where(def.table)
	if err != nil {
		return nil, err
	}
	q := "SELECT DISTINCT toString(" + def.col + ") AS v FROM " + def.table.name + " " + where + " ORDER BY v LIMIT ?"
	rows, err := r.conn.Query(ctx, q, append(args, ListLimit)...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", l, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("listing %s: %w", l, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", l, err)
	}
	sort.Strings(out)
	return out, nil
}
