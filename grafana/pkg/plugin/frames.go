package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/chainwatch/chainwatch/evaluators/agreement"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/schemas"
)

type framesT = data.Frames

// metricValue reads one metric from a point; NaN where undefined.
func metricValue(m string, p query.SeriesPoint) float64 {
	ratio := func(a, b uint64) float64 {
		if b == 0 {
			return math.NaN()
		}
		return float64(a) / float64(b)
	}
	switch m {
	case MetricRequests:
		return float64(p.Requests)
	case MetricSpans:
		return float64(p.Spans)
	case MetricErrors:
		return float64(p.Errors)
	case MetricErrorRate:
		return ratio(p.Errors, p.Spans)
	case MetricRequestErrorRate:
		return ratio(p.RequestErrors, p.Requests)
	case MetricLatencyP50:
		return p.P50MS
	case MetricLatencyP95:
		return p.P95MS
	case MetricLatencyP99:
		return p.P99MS
	case MetricInputTokens:
		return float64(p.InputTokens)
	default:
		return float64(p.OutputTokens)
	}
}

func unit(m string) string {
	switch m {
	case MetricErrorRate, MetricRequestErrorRate:
		return "percentunit"
	case MetricLatencyP50, MetricLatencyP95, MetricLatencyP99:
		return "ms"
	case MetricEstimatedCost:
		return "currencyUSD"
	case MetricRequests, MetricSpans, MetricErrors:
		return "short"
	}
	return "none"
}

// nullable turns NaN into null.
func nullable(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// groupLabels are a group's values for the dimensions grouped by.
func groupLabels(g query.Group, by []string) data.Labels {
	if len(by) == 0 {
		return nil
	}
	l := data.Labels{}
	for _, b := range by {
		switch b {
		case "app":
			l["app"] = g.App
		case "environment":
			l["environment"] = g.Environment
		case "chain":
			l["chain"] = g.Chain
		case "chain_version":
			l["chain"], l["chain_version"] = g.Chain, g.ChainVersion
		case "component":
			l["component"] = g.Component
		case "model":
			l["model"] = g.Model
		}
	}
	return l
}

func (d *Datasource) timeSeries(ctx context.Context, q Query, sel query.Selector, dq backend.DataQuery) (framesT, error) {
	metrics := q.Metrics
	if len(metrics) == 0 {
		metrics = []string{MetricRequests}
	}
	g := query.Grouping{}
	for _, b := range q.GroupBy {
		g.By = append(g.By, groupBys[b])
	}
	table := q.Format == "table"
	if !table {
		g.Interval = interval(dq)
	}
	opts := query.SeriesOptions{RootsOnly: q.RootsOnly, NoLatency: true, NoTokens: true}
	for _, m := range metrics {
		switch m {
		case MetricLatencyP50, MetricLatencyP95, MetricLatencyP99:
			opts.NoLatency = false
		case MetricInputTokens, MetricOutputTokens, MetricEstimatedCost:
			opts.NoTokens = false
		}
	}
	switch q.Rollup {
	case "never":
		opts.Rollup = query.RollupNever
	case "always":
		opts.Rollup = query.RollupAlways
	}
	s, err := d.reader.SpanSeries(ctx, sel, g, opts)
	if err != nil {
		return nil, err
	}
	value := metricValue
	var unpriced []string
	for _, m := range metrics {
		if m != MetricEstimatedCost {
			continue
		}
		var cost map[string]float64
		if cost, unpriced, err = d.costs(ctx, sel, g, opts, q.GroupBy, s); err != nil {
			return nil, err
		}
		value = func(m string, p query.SeriesPoint) float64 {
			if m != MetricEstimatedCost {
				return metricValue(m, p)
			}
			if c, ok := cost[costKey(p.Time, groupLabels(p.Group, q.GroupBy))]; ok {
				return c
			}
			return math.NaN()
		}
	}
	source := "spans (FINAL)"
	if s.Rollup {
		source = fmt.Sprintf("%s (%d buckets read from spans FINAL: not checked yet, or holding a replayed span)", s.RollupTable, s.BucketsFromSpans)
	}
	meta := &data.FrameMeta{ExecutedQueryString: fmt.Sprintf("span series from %s over [%s, %s), interval %s",
		source, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), g.Interval)}
	if len(unpriced) > 0 {
		meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: "estimated_cost leaves out models without a price in the datasource's settings: " + strings.Join(unpriced, ", ")})
	}
	if table {
		f := data.NewFrame("series")
		dims := map[string][]string{}
		var dimNames []string
		for _, b := range q.GroupBy {
			if b == "chain_version" {
				dimNames = append(dimNames, "chain", "chain_version")
			} else {
				dimNames = append(dimNames, b)
			}
		}
		for _, p := range s.Points {
			l := groupLabels(p.Group, q.GroupBy)
			for _, n := range dimNames {
				dims[n] = append(dims[n], l[n])
			}
		}
		for _, n := range dimNames {
			f.Fields = append(f.Fields, data.NewField(n, nil, nonNil(dims[n])))
		}
		for _, m := range metrics {
			vals := make([]*float64, len(s.Points))
			for i, p := range s.Points {
				vals[i] = nullable(value(m, p))
			}
			f.Fields = append(f.Fields, data.NewField(m, nil, vals).SetConfig(&data.FieldConfig{Unit: unit(m)}))
		}
		return framesT{f.SetMeta(meta)}, nil
	}
	// One frame per group: time, then one field per metric, labelled with
	// the group (Grafana's multi-frame time series).
	type series struct {
		labels data.Labels
		times  []time.Time
		vals   [][]*float64
	}
	var order []string
	byKey := map[string]*series{}
	for _, p := range s.Points {
		l := groupLabels(p.Group, q.GroupBy)
		k := l.String()
		sr := byKey[k]
		if sr == nil {
			sr = &series{labels: l, vals: make([][]*float64, len(metrics))}
			byKey[k] = sr
			order = append(order, k)
		}
		sr.times = append(sr.times, p.Time)
		for i, m := range metrics {
			sr.vals[i] = append(sr.vals[i], nullable(value(m, p)))
		}
	}
	sort.Strings(order)
	var out framesT
	for _, k := range order {
		sr := byKey[k]
		f := data.NewFrame("series", data.NewField("time", nil, sr.times))
		for i, m := range metrics {
			f.Fields = append(f.Fields, data.NewField(m, sr.labels, sr.vals[i]).SetConfig(&data.FieldConfig{Unit: unit(m)}))
		}
		out = append(out, f.SetMeta(meta))
	}
	if len(out) == 0 {
		// An empty frame with the fields the panel reads: "No data", not
		// "field not found".
		f := data.NewFrame("series", data.NewField("time", nil, []time.Time{}))
		for _, m := range metrics {
			f.Fields = append(f.Fields, data.NewField(m, nil, []*float64{}))
		}
		out = framesT{f.SetMeta(meta)}
	}
	return out, nil
}

func costKey(t time.Time, l data.Labels) string { return fmt.Sprint(t.Unix(), l.String()) }

// costs prices the tokens of sel per bucket and group of g: the series
// again, grouped by model too, each model's tokens times its price, summed
// back into g's groups (when g groups by model already, the series s, read
// with tokens, is priced as it is). It returns the models with tokens and
// no price.
func (d *Datasource) costs(ctx context.Context, sel query.Selector, g query.Grouping, opts query.SeriesOptions, groupBy []string, s query.Series) (map[string]float64, []string, error) {
	byModel := g
	byModel.By = append([]query.Dimension(nil), g.By...)
	hasModel := false
	for _, b := range g.By {
		hasModel = hasModel || b == query.ByModel
	}
	if !hasModel {
		byModel.By = append(byModel.By, query.ByModel)
		opts.NoTokens, opts.NoLatency = false, true
		var err error
		if s, err = d.reader.SpanSeries(ctx, sel, byModel, opts); err != nil {
			return nil, nil, err
		}
	}
	out := map[string]float64{}
	missing := map[string]bool{}
	for _, p := range s.Points {
		k := costKey(p.Time, groupLabels(p.Group, groupBy))
		price, ok := d.settings.Prices[p.Model]
		if !ok {
			if p.InputTokens+p.OutputTokens > 0 {
				missing[p.Model] = true
			}
			if _, seen := out[k]; !seen {
				out[k] = 0
			}
			continue
		}
		out[k] += (float64(p.InputTokens)*price.Input + float64(p.OutputTokens)*price.Output) / 1e6
	}
	var names []string
	for m := range missing {
		names = append(names, fmt.Sprintf("%q", m))
	}
	sort.Strings(names)
	return out, names, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (d *Datasource) drift(ctx context.Context, q Query, sel query.Selector) (framesT, error) {
	dsel := query.Selector{App: q.App, Chain: q.Chain, From: sel.From, To: sel.To}
	if q.Kind != "" {
		dsel.And = append(dsel.And, query.Eq("kind", q.Kind))
	}
	if q.View == DriftRuns {
		if q.Monitor != "" {
			dsel.And = append(dsel.And, query.Eq("monitor", q.Monitor))
		}
		runs, err := d.reader.MonitorRuns(ctx, dsel)
		if err != nil {
			return nil, err
		}
		f := data.NewFrame("runs",
			data.NewField("monitor", nil, []string{}), data.NewField("runs", nil, []uint64{}),
			data.NewField("drift_runs", nil, []uint64{}), data.NewField("insufficient_data", nil, []uint64{}),
			data.NewField("errors", nil, []uint64{}), data.NewField("last_tick", nil, []time.Time{}),
			data.NewField("last_p_value", nil, []*float64{}))
		for _, r := range runs {
			f.AppendRow(r.Monitor, r.Runs, r.DriftRuns, r.InsufficientData, r.Errors, r.LastTick, r.LastPValue)
		}
		return framesT{f}, nil
	}
	rs, err := d.reader.DetectorResults(ctx, dsel, q.Monitor, 0)
	if err != nil {
		return nil, err
	}
	// DetectorResults is newest first; frames go oldest first, one per
	// monitor (in name order).
	byMon := map[string][]schemas.DetectorResult{}
	var mons []string
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if _, ok := byMon[r.Monitor]; !ok {
			mons = append(mons, r.Monitor)
		}
		byMon[r.Monitor] = append(byMon[r.Monitor], r)
	}
	sort.Strings(mons)
	var out framesT
	for _, m := range mons {
		runs := byMon[m]
		l := data.Labels{"monitor": m, "feature": runs[len(runs)-1].Feature, "detector": runs[len(runs)-1].Detector, "kind": runs[len(runs)-1].Kind}
		f := data.NewFrame(m,
			data.NewField("time", nil, []time.Time{}), data.NewField("statistic", l, []*float64{}),
			data.NewField("threshold", l, []*float64{}), data.NewField("p_value", l, []*float64{}),
			data.NewField("n_ref", l, []uint32{}), data.NewField("n_cur", l, []uint32{}),
			data.NewField("drift", l, []bool{}), data.NewField("status", l, []string{}))
		for _, r := range runs {
			stat, thr := nullable(r.Statistic), nullable(r.Threshold)
			if r.Status != schemas.RunOK {
				stat = nil
			}
			f.AppendRow(r.Tick, stat, thr, r.PValue, r.NRef, r.NCur, r.Drift, r.Status)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		out = framesT{data.NewFrame("drift", data.NewField("time", nil, []time.Time{}), data.NewField("statistic", nil, []*float64{}),
			data.NewField("threshold", nil, []*float64{}), data.NewField("p_value", nil, []*float64{}),
			data.NewField("n_ref", nil, []uint32{}), data.NewField("n_cur", nil, []uint32{}),
			data.NewField("drift", nil, []bool{}), data.NewField("status", nil, []string{}))}
	}
	return out, nil
}

// alerts returns the alert regions overlapping the range: each firing
// event opens a region of its fingerprint and the next resolved event
// closes it (an open one ends at the range's end), as Grafana's
// annotations read them (time, timeEnd, title, text, tags).
func (d *Datasource) alerts(ctx context.Context, q Query, sel query.Selector) (framesT, error) {
	asel := query.Selector{App: q.App, Chain: q.Chain, To: sel.To}
	if q.Monitor != "" {
		asel.And = append(asel.And, query.Eq("monitor", q.Monitor))
	}
	evs, err := d.reader.AlertHistory(ctx, asel, 0)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	f := data.NewFrame("alerts", data.NewField("time", nil, []time.Time{}), data.NewField("timeEnd", nil, []time.Time{}),
		data.NewField("title", nil, []string{}), data.NewField("text", nil, []string{}), data.NewField("tags", nil, []json.RawMessage{}))
	open := map[string]schemas.AlertEvent{}
	var fps []string
	emit := func(start schemas.AlertEvent, end time.Time) {
		if end.Before(sel.From) {
			return
		}
		tags := []string{"monitor:" + start.Monitor}
		for _, k := range []string{"app", "chain", "severity"} {
			if v := start.Labels[k]; v != "" {
				tags = append(tags, k+":"+v)
			}
		}
		tj, _ := json.Marshal(tags)
		text := start.Annotations["summary"]
		if text == "" {
			text = start.Annotations["description"]
		}
		f.AppendRow(start.Time, end, "drift alert: "+start.Monitor, text, json.RawMessage(tj))
	}
	for _, e := range evs {
		switch e.State {
		case "firing":
			if _, ok := open[e.Fingerprint]; !ok {
				open[e.Fingerprint] = e
				fps = append(fps, e.Fingerprint)
			}
		case "resolved":
			if s, ok := open[e.Fingerprint]; ok {
				emit(s, e.Time)
				delete(open, e.Fingerprint)
			}
		}
	}
	for _, fp := range fps {
		if s, ok := open[fp]; ok {
			emit(s, sel.To)
		}
	}
	return framesT{f}, nil
}

func (d *Datasource) quality(ctx context.Context, q Query, sel query.Selector, dq backend.DataQuery) (framesT, error) {
	ssel := query.Selector{App: q.App, Chain: q.Chain, From: sel.From, To: sel.To}
	if q.Evaluator != "" {
		ssel.And = append(ssel.And, query.Eq("evaluator", q.Evaluator))
	}
	if q.Metric != "" {
		ssel.And = append(ssel.And, query.Eq("metric", q.Metric))
	}
	switch q.View {
	case QualityDistribution:
		limit := q.Limit
		if limit == 0 {
			limit = query.DefaultRawMaxRows
		}
		vals, err := d.reader.EvalScoreValues(ctx, query.Selector{App: q.App, Chain: q.Chain, From: sel.From, To: sel.To}, q.Evaluator, q.Metric, limit)
		if err != nil {
			return nil, err
		}
		f := data.NewFrame(q.Evaluator+"/"+q.Metric, data.NewField("time", nil, []time.Time{}), data.NewField("value", nil, []float64{}))
		for _, v := range vals {
			f.AppendRow(v.Time, v.Value)
		}
		return framesT{f}, nil
	case QualityFeedback:
		fsel := q.selector()
		fsel.Status = ""
		fsel.From, fsel.To = sel.From, sel.To
		st, err := d.reader.FeedbackStats(ctx, fsel, query.Grouping{Interval: interval(dq)})
		if err != nil {
			return nil, err
		}
		f := data.NewFrame("feedback", data.NewField("time", nil, []time.Time{}), data.NewField("feedback", nil, []uint64{}),
			data.NewField("scored", nil, []uint64{}), data.NewField("mean_score", nil, []*float64{}))
		for _, s := range st {
			var mean *float64
			if s.Scored > 0 {
				mean = nullable(s.MeanScore)
			}
			f.AppendRow(s.Time, s.Count, s.Scored, mean)
		}
		return framesT{f}, nil
	case QualityAgreement:
		groups, err := d.reader.AgreementPairs(ctx, query.Selector{App: q.App, Chain: q.Chain, From: sel.From, To: sel.To}, q.Evaluator, q.Metric)
		if err != nil {
			return nil, err
		}
		f := data.NewFrame("agreement", data.NewField("evaluator", nil, []string{}), data.NewField("metric", nil, []string{}),
			data.NewField("pairs", nil, []int64{}), data.NewField("kappa", nil, []*float64{}),
			data.NewField("spearman", nil, []*float64{}), data.NewField("verdict", nil, []string{}))
		for _, g := range groups {
			pairs := make([]agreement.Pair, len(g.Pairs))
			for i, p := range g.Pairs {
				pairs[i] = agreement.Pair{TraceID: p.TraceID, Judge: p.Judge, Human: p.Human}
			}
			r := agreement.Analyze(g.Evaluator, g.Metric, pairs, agreement.Options{})
			var kappa, rho *float64
			if r.Kappa != nil {
				kappa = nullable(r.Kappa.Kappa)
			}
			if r.Spearman != nil {
				rho = nullable(r.Spearman.Rho)
			}
			f.AppendRow(g.Evaluator, g.Metric, int64(r.N), kappa, rho, r.Verdict)
		}
		return framesT{f}, nil
	}
	guards := q.View == QualityGuards
	if guards {
		ssel.And = append(ssel.And, query.Predicate{SQL: "evaluator LIKE 'guard%'"})
	}
	st, err := d.reader.ScoreStats(ctx, ssel, query.Grouping{Interval: interval(dq)})
	if err != nil {
		return nil, err
	}
	valueName := "mean"
	if guards {
		valueName = "hit_rate"
	}
	type series struct {
		l      data.Labels
		times  []time.Time
		mean   []*float64
		scores []uint64
		errs   []uint64
	}
	var keys []string
	by := map[string]*series{}
	for _, s := range st {
		k := s.Evaluator + "\x00" + s.Metric
		sr := by[k]
		if sr == nil {
			sr = &series{l: data.Labels{"evaluator": s.Evaluator, "metric": s.Metric}}
			by[k] = sr
			keys = append(keys, k)
		}
		sr.times = append(sr.times, s.Time)
		sr.mean = append(sr.mean, nullable(s.Mean))
		sr.scores = append(sr.scores, s.Scores)
		sr.errs = append(sr.errs, s.Errors)
	}
	sort.Strings(keys)
	var out framesT
	for _, k := range keys {
		sr := by[k]
		out = append(out, data.NewFrame(strings.ReplaceAll(k, "\x00", "/"), data.NewField("time", nil, sr.times),
			data.NewField(valueName, sr.l, sr.mean), data.NewField("scores", sr.l, sr.scores), data.NewField("errors", sr.l, sr.errs)))
	}
	if len(out) == 0 {
		out = framesT{data.NewFrame("scores", data.NewField("time", nil, []time.Time{}), data.NewField(valueName, nil, []*float64{}),
			data.NewField("scores", nil, []uint64{}), data.NewField("errors", nil, []uint64{}))}
	}
	return out, nil
}

func (d *Datasource) traces(ctx context.Context, q Query, sel query.Selector) (framesT, error) {
	limit := q.Limit
	if limit == 0 {
		limit = query.DefaultTraceLimit
	}
	ts, err := d.reader.SearchTraces(ctx, sel, query.TraceSearch{UserID: q.UserID, SessionID: q.SessionID, TraceID: q.TraceID, Text: q.Text, Limit: limit})
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("traces",
		data.NewField("traceID", nil, []string{}), data.NewField("start", nil, []time.Time{}),
		data.NewField("duration_ms", nil, []float64{}).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("name", nil, []string{}), data.NewField("app", nil, []string{}), data.NewField("environment", nil, []string{}),
		data.NewField("chain", nil, []string{}), data.NewField("chain_version", nil, []string{}),
		data.NewField("spans", nil, []uint64{}), data.NewField("errors", nil, []uint64{}),
		data.NewField("input_tokens", nil, []uint64{}), data.NewField("output_tokens", nil, []uint64{}),
		data.NewField("user_id", nil, []string{}), data.NewField("session_id", nil, []string{}),
		data.NewField("input", nil, []string{}), data.NewField("output", nil, []string{}))
	for _, t := range ts {
		f.AppendRow(t.TraceID, t.Start, t.DurationMS, t.Name, t.App, t.Environment, t.Chain, t.ChainVersion,
			t.Spans, t.Errors, t.InputTokens, t.OutputTokens, t.UserID, t.SessionID, t.Input, t.Output)
	}
	return framesT{f}, nil
}

type kv struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// trace returns one trace as the traces data frame Grafana's Trace view
// reads: traceID, spanID, parentSpanID, operationName, serviceName,
// serviceTags, startTime (ms since the epoch), duration (ms), tags, kind,
// statusCode, statusMessage.
func (d *Datasource) trace(ctx context.Context, q Query, sel query.Selector) (framesT, error) {
	var spans []query.SpanRow
	if q.TraceID != "" {
		var err error
		if spans, err = d.reader.Trace(ctx, q.TraceID, sel.From, sel.To); err != nil {
			return nil, err
		}
	}
	f := data.NewFrame("trace",
		data.NewField("traceID", nil, []string{}), data.NewField("spanID", nil, []string{}),
		data.NewField("parentSpanID", nil, []string{}), data.NewField("operationName", nil, []string{}),
		data.NewField("serviceName", nil, []string{}), data.NewField("serviceTags", nil, []json.RawMessage{}),
		data.NewField("startTime", nil, []float64{}), data.NewField("duration", nil, []float64{}),
		data.NewField("tags", nil, []json.RawMessage{}), data.NewField("kind", nil, []string{}),
		data.NewField("statusCode", nil, []int64{}), data.NewField("statusMessage", nil, []string{}))
	f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTrace})
	for _, s := range spans {
		svc := []kv{{"app", s.App}, {"environment", s.Environment}}
		tags := []kv{}
		add := func(k, v string) {
			if v != "" {
				tags = append(tags, kv{k, v})
			}
		}
		add("chain", s.ChainName)
		add("chain_version", s.ChainVersion)
		add("component", s.ComponentName)
		add("component_kind", string(s.ComponentKind))
		add("prompt_template", s.PromptTemplateID)
		add("prompt_template_version", s.PromptTemplateVersion)
		add("operation", s.Operation)
		add("provider", s.Provider)
		add("model_requested", s.ModelRequested)
		add("model_returned", s.ModelReturned)
		if s.InputTokens > 0 || s.OutputTokens > 0 {
			tags = append(tags, kv{"input_tokens", s.InputTokens}, kv{"output_tokens", s.OutputTokens})
		}
		add("session_id", s.SessionID)
		add("user_id", s.UserID)
		add("system_instructions", s.SystemInstructions)
		add("input", s.InputText)
		add("output", s.OutputText)
		add("tool_definitions", s.ToolDefinitions)
		add("guardrail_result", s.GuardrailResult)
		// The stored attribute order is the mapping's, not stable: by key.
		attrs := make([]kv, 0, len(s.AttrKeys))
		for i, k := range s.AttrKeys {
			if i < len(s.AttrValues) && s.AttrValues[i] != "" {
				attrs = append(attrs, kv{"attr." + k, s.AttrValues[i]})
			}
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
		tags = append(tags, attrs...)
		code := int64(0)
		switch s.Status {
		case schemas.StatusOK:
			code = 1
		case schemas.StatusError:
			code = 2
		}
		sj, _ := json.Marshal(svc)
		tj, _ := json.Marshal(tags)
		op := s.Name
		if op == "" {
			op = s.ComponentName
		}
		f.AppendRow(s.TraceID, s.SpanID, s.ParentSpanID, op, s.App, json.RawMessage(sj),
			float64(s.StartUnixNano)/1e6, s.DurationMS, json.RawMessage(tj), string(s.ComponentKind), code, s.ErrorMessage)
	}
	switch {
	case q.TraceID == "":
		// No trace chosen yet (the Trace explorer before a click): an
		// empty trace, saying so.
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "no trace chosen: pick one in the traces table, or enter a trace id"})
	case len(spans) == 0:
		return nil, badQuery("trace %s: no spans stored", q.TraceID)
	}
	return framesT{f}, nil
}

func valuesFrame(vals []string) *data.Frame {
	return data.NewFrame("values", data.NewField("value", nil, vals))
}

func (d *Datasource) rawSQL(ctx context.Context, q Query, dq backend.DataQuery) (framesT, error) {
	limit := q.Limit
	if limit == 0 {
		limit = d.settings.MaxRows
	}
	res, err := d.reader.RawSQL(ctx, q.RawSQL, query.RawOptions{From: dq.TimeRange.From, To: dq.TimeRange.To,
		Interval: interval(dq), MaxRows: limit, Timeout: d.settings.timeout()})
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("sql")
	for _, c := range res.Columns {
		f.Fields = append(f.Fields, rawField(c))
	}
	meta := &data.FrameMeta{ExecutedQueryString: res.SQL}
	if res.Truncated {
		meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("result truncated to %d rows (the query's limit, or the datasource's maxRows)", f.Rows())})
	}
	return framesT{f.SetMeta(meta)}, nil
}

// rawField makes a field of a raw SQL column: its values' own type where
// data frames have it, else their JSON (arrays, tuples, maps) or text.
func rawField(c query.RawColumn) *data.Field {
	if len(c.Values) > 0 {
		t := reflect.TypeOf(c.Values[0])
		if t != nil && data.ValidFieldType(reflect.MakeSlice(reflect.SliceOf(t), 0, 0).Interface()) {
			s := reflect.MakeSlice(reflect.SliceOf(t), 0, len(c.Values))
			ok := true
			for _, v := range c.Values {
				if v == nil || reflect.TypeOf(v) != t {
					ok = false
					break
				}
				s = reflect.Append(s, reflect.ValueOf(v))
			}
			if ok {
				return data.NewField(c.Name, nil, s.Interface())
			}
		}
	}
	strs := make([]*string, len(c.Values))
	for i, v := range c.Values {
		if v == nil {
			continue
		}
		var s string
		switch x := v.(type) {
		case fmt.Stringer:
			s = x.String()
		default:
			if b, err := json.Marshal(x); err == nil {
				s = string(b)
			} else {
				s = fmt.Sprint(x)
			}
		}
		strs[i] = &s
	}
	return data.NewField(c.Name, nil, strs)
}
