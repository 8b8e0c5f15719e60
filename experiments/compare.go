package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/experiments/stats"
	"github.com/chainwatch/chainwatch/schemas"
)

// RequiredTag marks a dataset row that the candidate must pass whatever the
// statistics say.
const RequiredTag = "required"

// Pass/fail metrics by name, and the ones where a 1 is bad. Every other
// metric is a continuous score where higher is better (CompareOptions
// overrides both).
var (
	binaryMetrics = map[string]bool{MetricChainOK: true, "exact_match": true, "json_valid": true, "json_schema_valid": true,
		"pii_leak": true, "prompt_injection": true, "refusal": true}
	lowerIsBetter = map[string]bool{"pii_leak": true, "prompt_injection": true, "refusal": true}
)

// CompareOptions configure Compare.
type CompareOptions struct {
	Margins       map[string]float64 // non-inferiority margin per metric; others DefaultMargin
	DefaultMargin float64
	LowerIsBetter []string // more metrics where lower is better (latency-like scores)
	Binary        []string // more pass/fail metrics
	Metrics       []string // compare only these (empty: every metric both ran)
	Stats         stats.Options
	// Pairwise, when set, judges each row's first-repeat outputs side by
	// side (candidate as A, base as B; the judge runs both orders).
	Pairwise evaluators.Evaluator
}

// RequiredResult is one required row's outcome in the candidate.
type RequiredResult struct {
	Row    uint32   `json:"row_index"`
	Input  string   `json:"input"`
	Passed bool     `json:"passed"`
	Failed []string `json:"failed_metrics,omitempty"`
}

// ChangedItem is a row whose pass/fail outcome differs between the
// versions, with both outputs.
type ChangedItem struct {
	Row        uint32  `json:"row_index"`
	Metric     string  `json:"metric"`
	Input      string  `json:"input"`
	Expected   string  `json:"expected,omitempty"`
	BaseOutput string  `json:"base_output"`
	CandOutput string  `json:"candidate_output"`
	BaseValue  float64 `json:"base_value"`
	CandValue  float64 `json:"candidate_value"`
	Direction  string  `json:"direction"` // "regressed" or "improved"
}

// Report is a comparison of two experiments.
type Report struct {
	Base      schemas.Experiment      `json:"base"`
	Candidate schemas.Experiment      `json:"candidate"`
	Alpha     float64                 `json:"alpha"`
	Tests     int                     `json:"tests"` // alpha is split over this many one-sided tests (Bonferroni)
	Seed      uint64                  `json:"seed"`
	Metrics   []stats.MetricResult    `json:"metrics"`
	Samples   map[string][2][]float64 `json:"-"` // per metric: base and candidate item means (for plots)
	Required  []RequiredResult        `json:"required"`
	Changed   []ChangedItem           `json:"changed"`
	WinRate   *stats.WinRateResult    `json:"win_rate,omitempty"`
	WinMetric string                  `json:"win_metric,omitempty"`
	Warnings  []string                `json:"warnings,omitempty"`
	Verdict   string                  `json:"verdict"` // pass, regression, error
	Failures  []string                `json:"failures,omitempty"`
}

// Gate verdicts.
const (
	GatePass       = "pass"
	GateRegression = "regression"
	GateError      = "error"
)

// Compare pairs the items of two experiments by dataset row and compares
// every metric (experiments/stats), checks the required rows, lists the
// rows that changed verdict, and runs the pairwise judge when given.
func Compare(ctx context.Context, base, cand schemas.Experiment, baseItems, candItems []schemas.ExperimentItem, o CompareOptions) (*Report, error) {
	o.Stats.Alpha = cmpf(o.Stats.Alpha, 0.05)
	r := &Report{Base: base, Candidate: cand, Alpha: o.Stats.Alpha, Seed: o.Stats.Seed, Samples: map[string][2][]float64{}}
	if base.Dataset != cand.Dataset {
		return nil, fmt.Errorf("experiments ran different datasets: %s and %s: rows cannot be paired", base.Dataset, cand.Dataset)
	}
	if base.DatasetVersion != cand.DatasetVersion {
		r.Warnings = append(r.Warnings, fmt.Sprintf("dataset versions differ (%d and %d): rows are paired by row number", base.DatasetVersion, cand.DatasetVersion))
	}
	for _, e := range []schemas.Experiment{base, cand} {
		if e.Status != StatusDone {
			r.Warnings = append(r.Warnings, fmt.Sprintf("experiment %s is %s, not done: only its recorded items are compared", e.ID, e.Status))
		}
	}
	lower := setOf(o.LowerIsBetter, lowerIsBetter)
	binary := setOf(o.Binary, binaryMetrics)
	bs, be := collect(baseItems)
	cs, ce := collect(candItems)
	names := o.Metrics
	if len(names) == 0 {
		seen := map[string]bool{}
		for m := range bs {
			seen[m] = true
		}
		for m := range cs {
			seen[m] = true
		}
		for m := range seen {
			names = append(names, m)
		}
		sort.Slice(names, func(i, j int) bool { // chain_ok first, then by name
			if (names[i] == MetricChainOK) != (names[j] == MetricChainOK) {
				return names[i] == MetricChainOK
			}
			return names[i] < names[j]
		})
	}
	var inputs []stats.MetricInput
	for _, m := range names {
		kind := stats.Continuous
		if binary[m] {
			kind = stats.Binary
		}
		margin, ok := o.Margins[m]
		if !ok {
			margin = o.DefaultMargin
		}
		in := stats.MetricInput{Name: m, Kind: kind, LowerIsBetter: lower[m], Margin: margin,
			Base: bs[m], Cand: cs[m], Errors: be[m] + ce[m]}
		if in.Base == nil {
			in.Base = map[string][]float64{}
		}
		if in.Cand == nil {
			in.Cand = map[string][]float64{}
		}
		inputs = append(inputs, in)
	}
	if len(inputs) == 0 {
		return nil, errors.New("no metrics to compare: neither experiment recorded a score")
	}
	r.Tests = len(inputs)
	if o.Pairwise != nil {
		r.Tests++ // the win-rate test shares alpha with the metrics
	}
	r.Metrics = stats.CompareWith(inputs, r.Tests, o.Stats)
	for _, m := range r.Metrics {
		var b, c []float64
		for _, d := range m.Diffs {
			b, c = append(b, d.Base), append(c, d.Cand)
		}
		r.Samples[m.Name] = [2][]float64{b, c}
	}
	r.required(baseItems, candItems, binary, lower)
	r.changed(baseItems, candItems, binary, lower)
	if o.Pairwise != nil {
		if err := r.pairwise(ctx, o.Pairwise, baseItems, candItems); err != nil {
			return nil, err
		}
	}
	r.gate()
	return r, nil
}

func cmpf(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func setOf(extra []string, base map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range base {
		out[k] = v
	}
	for _, k := range extra {
		out[k] = true
	}
	return out
}

// collect groups valid scores by metric and row; errors are counted.
func collect(items []schemas.ExperimentItem) (map[string]map[string][]float64, map[string]int) {
	vals := map[string]map[string][]float64{}
	errs := map[string]int{}
	for _, it := range items {
		row := strconv.FormatUint(uint64(it.Row), 10)
		for i, m := range it.Metrics {
			if i < len(it.ScoreErrors) && it.ScoreErrors[i] != "" || i >= len(it.Values) || math.IsNaN(it.Values[i]) {
				errs[m]++
				continue
			}
			if vals[m] == nil {
				vals[m] = map[string][]float64{}
			}
			vals[m][row] = append(vals[m][row], it.Values[i])
		}
	}
	return vals, errs
}

// passes says whether the mean over repeats of a pass/fail metric is a pass
// (a majority of repeats, 1 meaning pass unless lower is better).
func passes(vals []float64, lowerBetter bool) bool {
	m := stats.Mean(vals)
	if lowerBetter {
		return m < 0.5
	}
	return m >= 0.5
}

type rowView struct {
	input, expected, output string
	tags                    []string
	vals                    map[string][]float64
	chainErr                bool
}

func byRow(items []schemas.ExperimentItem) map[uint32]*rowView {
	out := map[uint32]*rowView{}
	for _, it := range items {
		v := out[it.Row]
		if v == nil {
			v = &rowView{input: it.Input, expected: it.Expected, tags: it.Tags, vals: map[string][]float64{}}
			out[it.Row] = v
		}
		if it.Repeat == 0 || v.output == "" {
			v.output = it.Output
			if it.Error != "" && v.output == "" {
				v.output = "(error) " + it.Error
			}
		}
		if it.Error != "" {
			v.chainErr = true
		}
		for i, m := range it.Metrics {
			if i < len(it.ScoreErrors) && it.ScoreErrors[i] == "" && i < len(it.Values) {
				v.vals[m] = append(v.vals[m], it.Values[i])
			}
		}
	}
	return out
}

// required checks every row tagged "required": in the candidate, each
// pass/fail metric must pass by majority of repeats (a metric with no valid
// score on a required row is a failure too).
func (r *Report) required(baseItems, candItems []schemas.ExperimentItem, binary, lower map[string]bool) {
	cand := byRow(candItems)
	base := byRow(baseItems)
	rows := map[uint32]bool{}
	for row, v := range base {
		if hasTag(v.tags, RequiredTag) {
			rows[row] = true
		}
	}
	for row, v := range cand {
		if hasTag(v.tags, RequiredTag) {
			rows[row] = true
		}
	}
	var ids []uint32
	for row := range rows {
		ids = append(ids, row)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, row := range ids {
		rr := RequiredResult{Row: row, Passed: true}
		v := cand[row]
		if v == nil {
			rr.Passed, rr.Failed = false, []string{"(not run by the candidate)"}
			if b := base[row]; b != nil {
				rr.Input = b.input
			}
			r.Required = append(r.Required, rr)
			continue
		}
		rr.Input = v.input
		var ms []string
		for m := range binary {
			if _, inBase := base[row]; inBase && len(base[row].vals[m]) > 0 || len(v.vals[m]) > 0 {
				ms = append(ms, m)
			}
		}
		sort.Strings(ms)
		for _, m := range ms {
			if len(v.vals[m]) == 0 || !passes(v.vals[m], lower[m]) {
				rr.Passed = false
				rr.Failed = append(rr.Failed, m)
			}
		}
		r.Required = append(r.Required, rr)
	}
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

// changed lists the rows whose pass/fail outcome differs between base and
// candidate, regressions first.
func (r *Report) changed(baseItems, candItems []schemas.ExperimentItem, binary, lower map[string]bool) {
	base, cand := byRow(baseItems), byRow(candItems)
	for row, b := range base {
		c := cand[row]
		if c == nil {
			continue
		}
		for m := range binary {
			bv, cv := b.vals[m], c.vals[m]
			if len(bv) == 0 || len(cv) == 0 {
				continue
			}
			bp, cp := passes(bv, lower[m]), passes(cv, lower[m])
			if bp == cp {
				continue
			}
			dir := "improved"
			if bp {
				dir = "regressed"
			}
			r.Changed = append(r.Changed, ChangedItem{Row: row, Metric: m, Input: b.input, Expected: b.expected,
				BaseOutput: b.output, CandOutput: c.output, BaseValue: stats.Mean(bv), CandValue: stats.Mean(cv), Direction: dir})
		}
	}
	sort.Slice(r.Changed, func(i, j int) bool {
		a, b := r.Changed[i], r.Changed[j]
		if a.Direction != b.Direction {
			return a.Direction == "regressed"
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.Metric < b.Metric
	})
}

// pairwise judges each paired row once (first-repeat outputs).
func (r *Report) pairwise(ctx context.Context, ev evaluators.Evaluator, baseItems, candItems []schemas.ExperimentItem) error {
	base, cand := byRow(baseItems), byRow(candItems)
	var rows []uint32
	for row := range base {
		if cand[row] != nil && !base[row].chainErr && !cand[row].chainErr {
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i] < rows[j] })
	var wins, losses, ties, errs int
	for _, row := range rows {
		b, c := base[row], cand[row]
		in := evaluators.Input{Input: c.input, Output: c.output, Alternative: b.output, Reference: c.expected}
		rs, err := ev.Evaluate(ctx, in)
		if err != nil {
			return fmt.Errorf("pairwise judge on row %d: %w", row, err)
		}
		if len(rs) == 0 || rs[0].Failed() {
			errs++
			continue
		}
		r.WinMetric = rs[0].Metric
		switch rs[0].Value {
		case evaluators.SxSWin:
			wins++
		case evaluators.SxSLoss:
			losses++
		default:
			ties++
		}
	}
	if errs > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("pairwise judge failed on %d of %d rows", errs, len(rows)))
	}
	wr, err := stats.WinRate(wins, losses, ties, stats.Level(r.Alpha, r.Tests))
	if err != nil {
		r.Failures = append(r.Failures, "pairwise: no valid side-by-side judgment")
		return nil
	}
	r.WinRate = &wr
	return nil
}

// gate sets the overall verdict: "error" when a metric produced no valid
// scores, "regression" when a metric regressed, a required row failed, or
// the pairwise win rate's interval lies wholly below one half; else "pass".
func (r *Report) gate() {
	errs, regs := false, false
	for _, m := range r.Metrics {
		switch m.Verdict {
		case stats.Error:
			errs = true
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %s", m.Name, m.Reason))
		case stats.Regression:
			regs = true
			r.Failures = append(r.Failures, fmt.Sprintf("%s regressed: %s", m.Name, m.Reason))
		}
	}
	for _, q := range r.Required {
		if !q.Passed {
			regs = true
			r.Failures = append(r.Failures, fmt.Sprintf("required row %d failed %s", q.Row, strings.Join(q.Failed, ", ")))
		}
	}
	if r.WinRate != nil && r.WinRate.CI.Hi < 0.5 {
		regs = true
		r.Failures = append(r.Failures, fmt.Sprintf("pairwise: the candidate wins %d, loses %d of the decisive judgments (interval %.0f–%.0f%%, below one half)",
			r.WinRate.Wins, r.WinRate.Losses, 100*r.WinRate.CI.Lo, 100*r.WinRate.CI.Hi))
	}
	for _, f := range r.Failures {
		if strings.HasPrefix(f, "pairwise: no valid") {
			errs = true
		}
	}
	switch {
	case errs:
		r.Verdict = GateError
	case regs:
		r.Verdict = GateRegression
	default:
		r.Verdict = GatePass
	}
}

// Fails says whether the report fails a gate set by --fail-on: "regression"
// fails on a regression or an error; "inconclusive" also when a metric did
// not show non-inferiority; "never" only reports.
func (r *Report) Fails(failOn string) (bool, error) {
	switch failOn {
	case "never", "":
		return false, nil
	case "regression":
		return r.Verdict != GatePass, nil
	case "inconclusive":
		if r.Verdict != GatePass {
			return true, nil
		}
		for _, m := range r.Metrics {
			if m.Verdict != stats.NonInferior {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("--fail-on %q: want regression, inconclusive or never", failOn)
}
