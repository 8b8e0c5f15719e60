package query

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

var base = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func f64(v float64) *float64 { return &v }

// near compares floats to 1e-9 (quantiles interpolate), NaN equal to NaN.
func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func span(trace, id, parent, app, chain, version string, kind schemas.ComponentKind, model string, start time.Time, dur time.Duration, in, out int64, status string) schemas.Span {
	return schemas.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, Name: string(kind),
		StartTime: start, EndTime: start.Add(dur), App: app, Environment: "prod", ChainName: chain, ChainVersion: version,
		ComponentName: string(kind), ComponentKind: kind, ModelRequested: model, InputText: "in " + id, OutputText: "out " + id,
		InputTokens: in, OutputTokens: out, Status: status, Attributes: map[string]string{"k": id}}
}

// fixture: four traces.
//
//	t1 shop rag/1  root 100 ms at +0s,  llm gpt-a 50 ms at +10 ms (10/5 tokens)
//	t2 shop rag/1  root 200 ms at +60s, llm gpt-a 150 ms at +60.01 s (20/7), error
//	t3 shop rag/2  root 300 ms at +61s, llm gpt-b 250 ms at +61.01 s (30/9), returned gpt-b-0613
//	t4 bank bot/1  root 400 ms at +120s
var fixture = []schemas.Span{
	span("t1", "r1", "", "shop", "rag", "1", schemas.KindChain, "", at(0), ms(100), 0, 0, "ok"),
	span("t1", "l1", "r1", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(ms(10)), ms(50), 10, 5, "ok"),
	span("t2", "r2", "", "shop", "rag", "1", schemas.KindChain, "", at(sec(60)), ms(200), 0, 0, "ok"),
	span("t2", "l2", "r2", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(sec(60)+ms(10)), ms(150), 20, 7, "error"),
	span("t3", "r3", "", "shop", "rag", "2", schemas.KindChain, "", at(sec(61)), ms(300), 0, 0, "ok"),
	func() schemas.Span {
		s := span("t3", "l3", "r3", "shop", "rag", "2", schemas.KindLLM, "gpt-b", at(sec(61)+ms(10)), ms(250), 30, 9, "ok")
		s.ModelReturned = "gpt-b-0613"
		return s
	}(),
	span("t4", "r4", "", "bank", "bot", "1", schemas.KindChain, "", at(sec(120)), ms(400), 0, 0, "ok"),
}

func TestSpans(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	if err := ins.InsertSpans(ctx, fixture); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ins.Conn())

	// Windows read without FINAL: before the replay below.
	t.Run("WindowSpans", func(t *testing.T) {
		got, err := r.WindowSpans(ctx, Selector{App: "shop", From: base, To: at(sec(60) + ms(200))}, 10)
		if err != nil {
			t.Fatal(err)
		}
		// t2's root ends at exactly To: out.
		want := []WindowSpan{
			{End: at(ms(60)), Input: "in l1", Output: "out l1", InputTokens: 10, OutputTokens: 5, DurationMS: 50, Model: "gpt-a", Status: "ok", Component: "llm", Operation: ""},
			{End: at(ms(100)), Input: "in r1", Output: "out r1", DurationMS: 100, Status: "ok", Component: "chain"},
			{End: at(sec(60) + ms(160)), Input: "in l2", Output: "out l2", InputTokens: 20, OutputTokens: 7, DurationMS: 150, Model: "gpt-a", Status: "error", Component: "llm"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		two, err := r.WindowSpans(ctx, Selector{App: "shop", From: base, To: at(sec(60) + ms(200))}, 2)
		if err != nil || len(two) != 2 {
			t.Fatalf("max 2: %v %+v", err, two)
		}
		again, _ := r.WindowSpans(ctx, Selector{App: "shop", From: base, To: at(sec(60) + ms(200))}, 2)
		if !reflect.DeepEqual(two, again) {
			t.Errorf("sample not deterministic: %+v vs %+v", two, again)
		}
	})
	t.Run("LastSpans", func(t *testing.T) {
		got, err := r.LastSpans(ctx, Selector{App: "shop", ComponentKind: "llm", To: at(sec(61) + ms(260))}, 2)
		if err != nil {
			t.Fatal(err)
		}
		// l3 ends at 61.26 s, exactly To: out. The returned model wins.
		if len(got) != 2 || got[0].Input != "in l1" || got[1].Input != "in l2" {
			t.Errorf("got %+v", got)
		}
		got, err = r.LastSpans(ctx, Selector{App: "shop", ComponentKind: "llm", To: at(sec(62))}, 1)
		if err != nil || len(got) != 1 || got[0].Model != "gpt-b-0613" || !got[0].End.Equal(at(sec(61)+ms(260))) {
			t.Errorf("got %+v, %v", got, err)
		}
		if _, err := r.LastSpans(ctx, Selector{From: base, To: at(sec(1))}, 1); err == nil {
			t.Error("from accepted")
		}
	})

	// A replayed span: counted once by FINAL.
	if err := ins.InsertSpans(ctx, fixture[:1]); err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	for _, c := range []struct {
		name string
		sel  Selector
		g    Grouping
		want []SpanStat
	}{
		{"by app", Selector{}, Grouping{By: []Dimension{ByApp}}, []SpanStat{
			{Group: Group{App: "bank"}, Spans: 1, Traces: 1, LatencyP50MS: 400, LatencyP95MS: 400, Requests: 1, RequestP50MS: 400, RequestP95MS: 400},
			// durations 50 100 150 200 250 300: p50 at 2.5 → 175, p95 at 4.75 → 287.5;
			// roots 100 200 300: p50 200, p95 at 1.9 → 290.
			{Group: Group{App: "shop"}, Spans: 6, Traces: 3, Errors: 1, LatencyP50MS: 175, LatencyP95MS: 287.5, Requests: 3, RequestP50MS: 200, RequestP95MS: 290, InputTokens: 60, OutputTokens: 21},
		}},
		{"llm by model", Selector{ComponentKind: "llm"}, Grouping{By: []Dimension{ByModel}}, []SpanStat{
			{Group: Group{Model: "gpt-a"}, Spans: 2, Traces: 2, Errors: 1, LatencyP50MS: 100, LatencyP95MS: 145, RequestP50MS: nan, RequestP95MS: nan, InputTokens: 30, OutputTokens: 12},
			{Group: Group{Model: "gpt-b"}, Spans: 1, Traces: 1, LatencyP50MS: 250, LatencyP95MS: 250, RequestP50MS: nan, RequestP95MS: nan, InputTokens: 30, OutputTokens: 9},
		}},
		{"minutes by chain version", Selector{App: "shop"}, Grouping{By: []Dimension{ByChainVersion}, Interval: time.Minute}, []SpanStat{
			{Group: Group{Time: base, Chain: "rag", ChainVersion: "1"}, Spans: 2, Traces: 1, LatencyP50MS: 75, LatencyP95MS: 97.5, Requests: 1, RequestP50MS: 100, RequestP95MS: 100, InputTokens: 10, OutputTokens: 5},
			{Group: Group{Time: at(sec(60)), Chain: "rag", ChainVersion: "1"}, Spans: 2, Traces: 1, Errors: 1, LatencyP50MS: 175, LatencyP95MS: 197.5, Requests: 1, RequestP50MS: 200, RequestP95MS: 200, InputTokens: 20, OutputTokens: 7},
			{Group: Group{Time: at(sec(60)), Chain: "rag", ChainVersion: "2"}, Spans: 2, Traces: 1, LatencyP50MS: 275, LatencyP95MS: 297.5, Requests: 1, RequestP50MS: 300, RequestP95MS: 300, InputTokens: 30, OutputTokens: 9},
		}},
		// [+60 s, +120 s) by start: t2 and t3, not t4 at exactly +120 s.
		{"range", Selector{From: at(sec(60)), To: at(sec(120))}, Grouping{}, []SpanStat{
			{Spans: 4, Traces: 2, Errors: 1, LatencyP50MS: 225, LatencyP95MS: 292.5, Requests: 2, RequestP50MS: 250, RequestP95MS: 295, InputTokens: 50, OutputTokens: 16},
		}},
		// Nanosecond bounds: from +10 ms leaves t1's root (at +0) out, l1 (at +10 ms) in.
		{"exact from", Selector{App: "shop", Chain: "rag", ChainVersion: "1", From: at(ms(10)), To: at(sec(1))}, Grouping{}, []SpanStat{
			{Spans: 1, Traces: 1, LatencyP50MS: 50, LatencyP95MS: 50, RequestP50MS: nan, RequestP95MS: nan, InputTokens: 10, OutputTokens: 5},
		}},
		{"nothing", Selector{App: "nobody"}, Grouping{}, nil},
	} {
		t.Run("SpanStats/"+c.name, func(t *testing.T) {
			got, err := r.SpanStats(ctx, c.sel, c.g)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d rows, want %d: %+v", len(got), len(c.want), got)
			}
			for i := range got {
				g, w := got[i], c.want[i]
				if g.Group != w.Group || g.Spans != w.Spans || g.Traces != w.Traces || g.Errors != w.Errors || g.Requests != w.Requests ||
					g.InputTokens != w.InputTokens || g.OutputTokens != w.OutputTokens ||
					!near(g.LatencyP50MS, w.LatencyP50MS) || !near(g.LatencyP95MS, w.LatencyP95MS) ||
					!near(g.RequestP50MS, w.RequestP50MS) || !near(g.RequestP95MS, w.RequestP95MS) {
					t.Errorf("row %d\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}

	t.Run("Spans", func(t *testing.T) {
		it, err := r.Spans(ctx, Selector{App: "shop", From: at(sec(60)), To: at(sec(62))}, true)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var got []SpanRow
		var row SpanRow
		for it.Next(&row) {
			got = append(got, row)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].SpanID < got[j].SpanID })
		if len(got) != 4 || got[0].SpanID != "l2" || got[3].SpanID != "r3" {
			t.Fatalf("got %+v", got)
		}
		l3 := got[1]
		w := fixture[5]
		if l3.TraceID != w.TraceID || l3.ParentSpanID != "r3" || l3.ComponentKind != schemas.KindLLM || l3.ModelReturned != "gpt-b-0613" ||
			!l3.StartTime.Equal(w.StartTime) || !l3.EndTime.Equal(w.EndTime) || l3.StartUnixNano != uint64(w.StartTime.UnixNano()) ||
			l3.DurationMS != 250 || l3.InputTokens != 30 || l3.OutputTokens != 9 || l3.Environment != "prod" || l3.InputText != "in l3" ||
			!reflect.DeepEqual(l3.AttrKeys, []string{"k"}) || !reflect.DeepEqual(l3.AttrValues, []string{"l3"}) || l3.IngestedAt.IsZero() {
			t.Errorf("l3 read back as %+v", l3)
		}
	})
}

// TestSelectorLiteral: values with quotes, backslashes, placeholders and
// SQL are matched literally; an injection attempt stays a value.
func TestSelectorLiteral(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	apps := []string{`it's`, `a\b`, `x' OR '1'='1`, `\'`, `'); DROP TABLE spans; --`, `why? because`, "tab\tnew\nline", `a\'b`}
	var spans []schemas.Span
	for i, a := range apps {
		spans = append(spans, span("t"+string(rune('a'+i)), "s", "", a, "c", "1", schemas.KindLLM, "m", at(sec(i)), ms(10*(i+1)), 0, 0, "ok"))
	}
	if err := ins.InsertSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ins.Conn())
	for i, a := range apps {
		got, err := r.SpanStats(ctx, Selector{App: a}, Grouping{By: []Dimension{ByApp}})
		if err != nil {
			t.Fatalf("%q: %v", a, err)
		}
		if len(got) != 1 || got[0].App != a || got[0].Spans != 1 || got[0].LatencyP50MS != float64(10*(i+1)) {
			t.Errorf("app %q: %+v", a, got)
		}
		// The same value through an extra predicate.
		got, err = r.SpanStats(ctx, Selector{And: []Predicate{Eq("app", a)}}, Grouping{})
		if err != nil || len(got) != 1 || got[0].Spans != 1 {
			t.Errorf("predicate app = %q: %+v %v", a, got, err)
		}
	}
	for _, a := range []string{`' OR 1=1 OR app = '`, `x`, `it\'s`, `a\\b`, `%`, `*`} {
		got, err := r.SpanStats(ctx, Selector{App: a}, Grouping{})
		if err != nil || len(got) != 0 {
			t.Errorf("app %q matched %+v (%v)", a, got, err)
		}
	}
	all, err := r.SpanStats(ctx, Selector{}, Grouping{})
	if err != nil || len(all) != 1 || all[0].Spans != uint64(len(apps)) {
		t.Errorf("the table after the attempts: %+v %v", all, err)
	}
}

func TestFeedbackAndScores(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	if err := ins.InsertSpans(ctx, fixture); err != nil {
		t.Fatal(err)
	}
	fb := []schemas.Feedback{
		{ID: "f1", TraceID: "t1", Score: f64(1), Source: "user", Time: at(sec(30))},
		{ID: "f2", TraceID: "t2", Score: f64(0), Source: "user", Time: at(sec(90))},
		{ID: "f3", TraceID: "t3", Comment: "no score", Source: "user", Time: at(sec(95))},
		{ID: "f4", TraceID: "t4", Score: f64(5), Source: "user", Time: at(sec(150))},
	}
	if err := ins.InsertFeedback(ctx, fb); err != nil {
		t.Fatal(err)
	}
	score := func(trace, app, chain, ev, metric string, v float64, errMsg string, created time.Time) schemas.Score {
		return schemas.Score{TraceID: trace, SpanID: "s", App: app, Chain: chain, Evaluator: ev, EvaluatorVersion: "1",
			Metric: metric, Value: v, Error: errMsg, Created: created}
	}
	scores := []schemas.Score{
		score("t1", "shop", "rag", "judge", "quality", 4, "", at(sec(30))),
		score("t2", "shop", "rag", "judge", "quality", 2, "", at(sec(90))),
		score("t3", "shop", "rag", "judge", "quality", 0, "timeout", at(sec(95))),
		score("t4", "bank", "bot", "judge", "quality", 5, "", at(sec(150))),
		score("t1", "shop", "rag", "guard", "refusal", 1, "", at(sec(30))),
	}
	if err := ins.InsertScores(ctx, scores); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ins.Conn())
	byTime := func(s []Sample) []Sample {
		sort.Slice(s, func(i, j int) bool { return s[i].Time.Before(s[j].Time) })
		return s
	}

	t.Run("FeedbackValues", func(t *testing.T) {
		// shop's traces t1–t3: f1 and f2 (f3 has no score).
		got, err := r.FeedbackValues(ctx, Selector{App: "shop", ComponentKind: "llm", From: base, To: at(sec(120))}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Sample{{at(sec(30)), 1}, {at(sec(90)), 0}}; !reflect.DeepEqual(byTime(got), want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		got, err = r.FeedbackValues(ctx, Selector{App: "bank", From: base, To: at(sec(120))}, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("bank before +120 s: %+v %v", got, err)
		}
	})
	t.Run("EvalScoreValues", func(t *testing.T) {
		got, err := r.EvalScoreValues(ctx, Selector{App: "shop", Chain: "rag", From: base, To: at(sec(120))}, "judge", "quality", 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Sample{{at(sec(30)), 4}, {at(sec(90)), 2}}; !reflect.DeepEqual(byTime(got), want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	// Replays: counted once by the statistics (FINAL).
	if err := ins.InsertFeedback(ctx, fb[:1]); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertScores(ctx, scores[:1]); err != nil {
		t.Fatal(err)
	}
	t.Run("FeedbackStats", func(t *testing.T) {
		got, err := r.FeedbackStats(ctx, Selector{}, Grouping{Interval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		want := []FeedbackStat{{base, 1, 1, 1}, {at(sec(60)), 2, 1, 0}, {at(sec(120)), 1, 1, 5}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		got, err = r.FeedbackStats(ctx, Selector{App: "shop"}, Grouping{})
		if want := []FeedbackStat{{Count: 3, Scored: 2, MeanScore: 0.5}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shop: got %+v, %v", got, err)
		}
		if _, err := r.FeedbackStats(ctx, Selector{}, Grouping{By: []Dimension{ByApp}}); err == nil {
			t.Error("feedback grouped by app")
		}
	})
	t.Run("ScoreStats", func(t *testing.T) {
		got, err := r.ScoreStats(ctx, Selector{}, Grouping{By: []Dimension{ByApp}})
		if err != nil {
			t.Fatal(err)
		}
		want := []ScoreStat{
			{Group: Group{App: "shop"}, Evaluator: "guard", Metric: "refusal", Scores: 1, Mean: 1, Min: 1, Max: 1},
			{Group: Group{App: "bank"}, Evaluator: "judge", Metric: "quality", Scores: 1, Mean: 5, Min: 5, Max: 5},
			{Group: Group{App: "shop"}, Evaluator: "judge", Metric: "quality", Scores: 2, Errors: 1, Mean: 3, Min: 2, Max: 4},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		got, err = r.ScoreStats(ctx, Selector{App: "shop", From: at(sec(90))}, Grouping{Interval: time.Minute})
		if err != nil || len(got) != 1 || got[0].Time != at(sec(60)) || got[0].Scores != 1 || got[0].Errors != 1 || got[0].Mean != 2 {
			t.Errorf("shop from +90 s: %+v %v", got, err)
		}
	})
	t.Run("AgreementPairs", func(t *testing.T) {
		got, err := r.AgreementPairs(ctx, Selector{}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		want := []AgreementGroup{
			{Evaluator: "guard", Metric: "refusal", Pairs: []AgreementPair{{"t1", 1, 1}}},
			{Evaluator: "judge", Metric: "quality", Pairs: []AgreementPair{{"t1", 4, 1}, {"t2", 2, 0}, {"t4", 5, 5}}, NonBinary: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		got, err = r.AgreementPairs(ctx, Selector{App: "shop", From: at(sec(60))}, "judge", "quality")
		want = []AgreementGroup{{Evaluator: "judge", Metric: "quality", Pairs: []AgreementPair{{"t2", 2, 0}}}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shop, judge, from +60 s: %+v %v", got, err)
		}
	})
}

func insertResults(t *testing.T, ins *clickhouse.Inserter, rs []schemas.DetectorResult) {
	t.Helper()
	b, err := ins.Conn().PrepareBatch(t.Context(), "INSERT INTO detector_results ("+strings.Join(schemas.DetectorResultColumns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		drift := uint8(0)
		if r.Drift {
			drift = 1
		}
		if err := b.Append(r.Monitor, r.MonitorVersion, r.Tick, r.App, r.Chain, r.Feature, r.Detector, r.Kind, r.Status,
			r.Statistic, r.PValue, r.Threshold, drift, r.NRef, r.NCur, r.RefStart, r.RefEnd, r.CurStart, r.CurEnd,
			r.Reference, r.Params, r.DurationMS, r.Error, r.Worker, r.CreatedAt); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func insertAlerts(t *testing.T, ins *clickhouse.Inserter, evs []schemas.AlertEvent) {
	t.Helper()
	b, err := ins.Conn().PrepareBatch(t.Context(), "INSERT INTO alerts ("+strings.Join(schemas.AlertColumns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		var keys, vals []string
		for _, k := range []string{"alertname", "app", "chain", "monitor"} {
			keys, vals = append(keys, k), append(vals, e.Labels[k])
		}
		ann, _ := json.Marshal(e.Annotations)
		if err := b.Append(e.Time, e.Monitor, e.Tick, e.State, e.Fingerprint, keys, vals, string(ann)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func TestMonitorsAndAlerts(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	run := func(monitor, app string, tick time.Time, status string, drift bool, p *float64, created time.Time) schemas.DetectorResult {
		return schemas.DetectorResult{Monitor: monitor, MonitorVersion: "v1", Tick: tick, App: app, Chain: "rag", Feature: "output_length",
			Detector: "ks", Kind: "drift", Status: status, Statistic: 0.3, PValue: p, Threshold: 0.05, Drift: drift, NRef: 100, NCur: 90,
			RefStart: tick.Add(-2 * time.Hour), RefEnd: tick.Add(-time.Hour), CurStart: tick.Add(-time.Hour), CurEnd: tick,
			Reference: "window:trailing", Params: "{}", Worker: "w", CreatedAt: created}
	}
	m1 := []schemas.DetectorResult{
		run("m1", "shop", at(sec(60)), "ok", false, f64(0.5), at(sec(61))),
		run("m1", "shop", at(sec(120)), "ok", true, f64(0.01), at(sec(121))),
		run("m1", "shop", at(sec(180)), "insufficient_data", false, nil, at(sec(181))),
	}
	replay := run("m1", "shop", at(sec(120)), "ok", true, f64(0.01), at(sec(130)))
	insertResults(t, ins, append(m1, run("m2", "bank", at(sec(60)), "error", false, nil, at(sec(61)))))
	insertResults(t, ins, []schemas.DetectorResult{replay})
	r := NewReader(ins.Conn())

	t.Run("MonitorRuns", func(t *testing.T) {
		got, err := r.MonitorRuns(ctx, Selector{})
		if err != nil {
			t.Fatal(err)
		}
		want := []MonitorSummary{
			{Monitor: "m1", Runs: 3, DriftRuns: 1, InsufficientData: 1, LastTick: at(sec(180)), LastPValue: f64(0.01)},
			{Monitor: "m2", Runs: 1, Errors: 1, LastTick: at(sec(60))},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		got, err = r.MonitorRuns(ctx, Selector{App: "bank"})
		if err != nil || len(got) != 1 || got[0].Monitor != "m2" {
			t.Errorf("bank: %+v %v", got, err)
		}
		got, err = r.MonitorRuns(ctx, Selector{Status: "ok", To: at(sec(120))})
		if err != nil || len(got) != 1 || got[0].Runs != 1 || *got[0].LastPValue != 0.5 {
			t.Errorf("ok before +120 s: %+v %v", got, err)
		}
	})
	t.Run("DetectorResults", func(t *testing.T) {
		got, err := r.DetectorResults(ctx, Selector{}, "m1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := []schemas.DetectorResult{m1[2], replay}; !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		last, ok, err := r.LastRun(ctx, "m1")
		if err != nil || !ok || !last.Tick.Equal(at(sec(180))) || last.Drift {
			t.Errorf("last run of m1: %+v %v %v", last, ok, err)
		}
		if _, ok, err := r.LastRun(ctx, "nope"); ok || err != nil {
			t.Errorf("last run of nope: %v %v", ok, err)
		}
	})

	ev := func(fp, monitor, app string, tm time.Time, state string) schemas.AlertEvent {
		return schemas.AlertEvent{Time: tm, Monitor: monitor, Tick: tm, State: state, Fingerprint: fp,
			Labels:      map[string]string{"alertname": "Drift", "app": app, "chain": "rag", "monitor": monitor},
			Annotations: map[string]string{"summary": state + " " + app}}
	}
	insertAlerts(t, ins, []schemas.AlertEvent{
		ev("A", "m1", "shop", at(sec(120)), "firing"),
		ev("A", "m1", "shop", at(sec(180)), "firing"),
		ev("B", "m2", "bank", at(sec(60)), "firing"),
		ev("B", "m2", "bank", at(sec(120)), "resolved"),
		ev("C", "m3", "it's", at(sec(100)), "firing"),
	})
	t.Run("FiringAlerts", func(t *testing.T) {
		got, err := r.FiringAlerts(ctx, Selector{})
		if err != nil {
			t.Fatal(err)
		}
		want := []Alert{
			{Fingerprint: "A", Monitor: "m1", Labels: map[string]string{"alertname": "Drift", "app": "shop", "chain": "rag", "monitor": "m1"},
				Annotations: map[string]string{"summary": "firing shop"}, StartsAt: at(sec(120)), LastEvent: at(sec(180))},
			{Fingerprint: "C", Monitor: "m3", Labels: map[string]string{"alertname": "Drift", "app": "it's", "chain": "rag", "monitor": "m3"},
				Annotations: map[string]string{"summary": "firing it's"}, StartsAt: at(sec(100)), LastEvent: at(sec(100))},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		// As of +100 s: B was firing, C's event at exactly +100 s is not yet in.
		got, err = r.FiringAlerts(ctx, Selector{From: at(sec(90)), To: at(sec(100))})
		if err != nil || len(got) != 1 || got[0].Fingerprint != "B" {
			t.Errorf("as of +100 s: %+v %v", got, err)
		}
		got, err = r.FiringAlerts(ctx, Selector{App: "it's"})
		if err != nil || len(got) != 1 || got[0].Fingerprint != "C" {
			t.Errorf("app it's: %+v %v", got, err)
		}
	})
	t.Run("AlertHistory", func(t *testing.T) {
		got, err := r.AlertHistory(ctx, Selector{App: "bank"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].State != "resolved" || !got[0].Time.Equal(at(sec(120))) || got[1].State != "firing" ||
			got[1].Labels["monitor"] != "m2" || got[1].Annotations["summary"] != "firing bank" {
			t.Errorf("bank: %+v", got)
		}
		got, err = r.AlertHistory(ctx, Selector{From: at(sec(100))}, 2)
		if err != nil || len(got) != 2 || got[0].Fingerprint != "A" || !got[0].Time.Equal(at(sec(180))) || got[1].Fingerprint != "A" || got[1].State != "firing" {
			t.Errorf("newest two from +100 s: %+v %v", got, err)
		}
	})
	if q := RunsQueryText(`it's`); !strings.Contains(q, `monitor = 'it\'s'`) {
		t.Errorf("runs query text: %s", q)
	}
}
