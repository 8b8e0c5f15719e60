package runner_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// startPipeline starts kfake, a test database, the topics, the schema and
// one writer (no collector): the writer lands spans and scores.
func startPipeline(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	addr, db := chtest.Database(t)
	o := pipeline.Options{NoCollector: true}
	o.ClickHouse.Addr, o.ClickHouse.Database = []string{addr}, db
	o.Kafka.Partitions = 4
	o.Writer.Batch.MaxWait = 100 * time.Millisecond
	o.Writer.Retry.Initial, o.Writer.Retry.Max = 50*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := pipeline.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Shutdown(sctx)
	})
	return p
}

// traffic generates n simulated traces and produces them to the spans topic
// as the collector does (one record per trace, key = trace id). mutate, when
// set, may change each trace's spans first. It returns the records.
func traffic(t *testing.T, p *pipeline.Pipeline, seed uint64, n int, mutate func(i int, tr *simulate.Trace)) []*kgo.Record {
	t.Helper()
	tr := simulate.DefaultTraffic()
	tr.Seed = seed
	g, err := simulate.NewGenerator(tr)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	traces := make([]*simulate.Trace, n)
	for i := range traces {
		traces[i] = g.Next(now.Add(time.Duration(i)*time.Millisecond), false)
		if mutate != nil {
			mutate(i, traces[i])
		}
	}
	recs, _, err := kafka.SplitByTrace(g.Pack(traces), p.Kafka.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka.ProducerOpts(p.Kafka)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// candidate is an evaluable span: (trace, span) of kind llm with output.
type candidate struct{ trace, span, app, chain string }

func candidates(t *testing.T, recs []*kgo.Record) []candidate {
	t.Helper()
	var out []candidate
	for _, r := range recs {
		spans, err := genai.AppendSpanRecord(nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			if s.ComponentKind == schemas.KindLLM && s.OutputText != "" {
				out = append(out, candidate{s.TraceID, s.SpanID, s.App, s.ChainName})
			}
		}
	}
	return out
}

func startRunner(t *testing.T, p *pipeline.Pipeline, cfg runner.Config, m *runner.Metrics, hook func() bool, opts ...runner.Opt) *runner.Runner {
	t.Helper()
	cl, err := kgo.NewClient(kafka.ConsumerOpts(p.Kafka, cfg.WithDefaults().Group, p.Kafka.Topics.Spans)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(cfg, p.Kafka.Topics, cl, append([]runner.Opt{runner.WithMetrics(m)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		r.SetAfterProduce(hook)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r.Shutdown(ctx)
	})
	return r
}

func count(t testing.TB, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func waitCount(t testing.TB, conn driver.Conn, q string, want uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got uint64
	for time.Now().Before(deadline) {
		if got = count(t, conn, q); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s = %d after %v, want %d", q, got, d, want)
}

// Simulated traffic → spans topic → runner (sampling 30 % of traces, guards)
// → scores topic → writer → eval_scores. The runner is killed after its
// third batch between producing scores and committing offsets, and a new
// one in the same group takes over: after FINAL every sampled span has
// exactly one row per guard metric, none is missing, and the number of
// sampled traces matches the rate within a binomial tolerance.
func TestEndToEndSampledScoresSurviveRestart(t *testing.T) {
	p := startPipeline(t)
	const nTraces, rate, overrideRate = 1500, 0.3, 0.8
	recs := traffic(t, p, 11, nTraces, nil)
	cands := candidates(t, recs)

	cfg := runner.DefaultConfig()
	cfg.Sample.Rate = rate
	cfg.Sample.Overrides = []runner.Override{{App: "docs-qa", Rate: overrideRate}}
	cfg.Batch.MaxRecords = 100
	cfg.Batch.MaxWait = 200 * time.Millisecond

	m1 := runner.NewMetrics(nil)
	var batches atomic.Int32
	r1 := startRunner(t, p, cfg, m1, func() bool { return batches.Add(1) == 3 })
	select {
	case <-r1.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the first runner did not reach its third batch")
	}
	m2 := runner.NewMetrics(nil)
	startRunner(t, p, cfg, m2, nil)

	// What must be there: every evaluable span of a sampled trace, once
	// per guard metric.
	sampler := runner.NewSampler(cfg.WithDefaults().Sample)
	want := map[string]bool{}
	traces := map[string]bool{}
	allTraces := map[string]string{} // trace → app
	for _, c := range cands {
		allTraces[c.trace] = c.app
		if sampler.Sampled(c.app, c.chain, c.trace) {
			traces[c.trace] = true
			for _, metric := range []string{"pii_leak", "prompt_injection", "refusal"} {
				want[c.trace+"/"+c.span+"/"+metric] = true
			}
		}
	}
	conn := p.Conn
	waitCount(t, conn, "SELECT count() FROM eval_scores FINAL", uint64(len(want)), 30*time.Second)

	rows, err := conn.Query(context.Background(), "SELECT trace_id, span_id, evaluator, metric, error, count() FROM eval_scores FINAL GROUP BY trace_id, span_id, evaluator, metric, error")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for rows.Next() {
		var tr, sp, ev, metric, errText string
		var n uint64
		if err := rows.Scan(&tr, &sp, &ev, &metric, &errText, &n); err != nil {
			t.Fatal(err)
		}
		k := tr + "/" + sp + "/" + metric
		if n != 1 || got[k] {
			t.Errorf("%s evaluated twice after FINAL", k)
		}
		if !want[k] {
			t.Errorf("%s scored but not sampled", k)
		}
		if errText != "" {
			t.Errorf("%s: guard failed: %s", k, errText)
		}
		got[k] = true
	}
	rows.Close()
	for k := range want {
		if !got[k] {
			t.Errorf("%s missing", k)
		}
	}

	// The restart re-evaluated the uncommitted third batch: more scores
	// were produced than rows survive FINAL.
	produced := testutil.ToFloat64(m1.ScoresProduced) + testutil.ToFloat64(m2.ScoresProduced)
	if produced <= float64(len(want)) {
		t.Errorf("produced %v scores for %d rows: the crashed batch was not re-evaluated", produced, len(want))
	}

	// Sampling: traces with an evaluable span, sampled at their app's
	// rate, within 4 binomial standard deviations.
	var summary []string
	for _, grp := range []struct {
		name string
		rate float64
		in   func(app string) bool
	}{
		{"docs-qa (override)", overrideRate, func(app string) bool { return app == "docs-qa" }},
		{"other apps", rate, func(app string) bool { return app != "docs-qa" }},
	} {
		var n, k float64
		for tr, app := range allTraces {
			if grp.in(app) {
				n++
				if traces[tr] {
					k++
				}
			}
		}
		sd := math.Sqrt(n * grp.rate * (1 - grp.rate))
		if n < 100 || math.Abs(k-n*grp.rate) > 4*sd {
			t.Errorf("%s: sampled %v of %v traces, want %.0f ± %.0f (4 sd)", grp.name, k, n, n*grp.rate, 4*sd)
		}
		summary = append(summary, fmt.Sprintf("%s: %v of %v sampled (expected %.0f, sd %.1f)", grp.name, k, n, n*grp.rate, sd))
	}
	t.Logf("%s; %d score rows, %v scores produced (re-evaluation after the crash included)", strings.Join(summary, "; "), len(want), produced)
}

// The judge path against the OpenAI-compatible test server: a third of the
// answers are malformed (parse retries off), which yields error rows with
// the reason, never values; spans carrying a reference attribute also get
// reference metrics, the others none.
func TestEndToEndJudgeMalformedAnswersAreErrors(t *testing.T) {
	p := startPipeline(t)
	var malformed, valid atomic.Int32
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(req openaitest.ChatRequest) openaitest.Reply {
		h := fnv.New32a()
		h.Write([]byte(req.Prompt()))
		if h.Sum32()%3 == 0 {
			malformed.Add(1)
			return openaitest.Answer("Score: 4 — a good answer.")
		}
		valid.Add(1)
		return openaitest.Verdict(int(h.Sum32()%5)+1, "fine")
	}))
	const nTraces = 200
	withRef := map[string]bool{}
	recs := traffic(t, p, 12, nTraces, func(i int, tr *simulate.Trace) {
		if i%2 == 0 {
			return
		}
		withRef[tr.TraceIDHex()] = true
		for _, sp := range tr.Spans {
			sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: runner.DefaultReferenceAttribute,
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "the reference answer"}}})
		}
	})
	cands := candidates(t, recs)

	cfg := runner.DefaultConfig()
	cfg.Sample.Rate = 1
	cfg.Guards = nil
	cfg.ReferenceMetrics = []string{"exact_match", "token_f1"}
	cfg.Judge.BaseURL, cfg.Judge.Model = srv.URL, "judge-test"
	cfg.Judge.ParseRetries, cfg.Judge.MaxRetries = 0, 0
	cfg.Judge.CacheSize = 0
	m := runner.NewMetrics(nil)
	startRunner(t, p, cfg, m, nil)

	nRef := 0
	for _, c := range cands {
		if withRef[c.trace] {
			nRef++
		}
	}
	conn := p.Conn
	waitCount(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'judge_pointwise'", uint64(len(cands)), 30*time.Second)
	waitCount(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator IN ('exact_match', 'token_f1')", uint64(2*nRef), 10*time.Second)

	errRows := count(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'judge_pointwise' AND error != ''")
	if errRows != uint64(malformed.Load()) || errRows == 0 {
		t.Errorf("%d judge error rows, want %d (the malformed answers)", errRows, malformed.Load())
	}
	if n := count(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'judge_pointwise' AND error != '' AND (value != 0 OR error NOT LIKE 'malformed_output: %')"); n != 0 {
		t.Errorf("%d judge error rows carry a value or another reason", n)
	}
	if n := count(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'judge_pointwise' AND error = '' AND (value < 1 OR value > 5 OR judge_model != 'judge-test' OR reasoning != 'fine')"); n != 0 {
		t.Errorf("%d valid judge rows out of the 1-5 scale or without their model and reasoning", n)
	}
	if got := testutil.ToFloat64(m.Evaluations.WithLabelValues("judge_pointwise", string(evaluators.ReasonMalformedOutput))); got != float64(malformed.Load()) {
		t.Errorf("evaluations{judge_pointwise, malformed_output} = %v, want %d", got, malformed.Load())
	}
	// The score series counts exactly the valid judge scores.
	validRows := count(t, conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'judge_pointwise' AND error = ''")
	var observed uint64
	ch := make(chan prometheus.Metric, 256)
	m.Scores.Collect(ch)
	close(ch)
	for pm := range ch {
		var d dto.Metric
		if err := pm.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "evaluator" && l.GetValue() == "judge_pointwise" {
				observed += d.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed != validRows || observed == 0 {
		t.Errorf("chainwatch_eval_score counted %d judge scores, the table has %d valid ones", observed, validRows)
	}
	// Reference metrics only where the span has a reference.
	q := fmt.Sprintf("SELECT count() FROM eval_scores FINAL WHERE evaluator = 'token_f1' AND trace_id NOT IN (%s)", quoteAll(withRef))
	if n := count(t, conn, q); n != 0 {
		t.Errorf("%d token_f1 rows for spans without a reference", n)
	}
	t.Logf("%d judged spans: %d malformed → error rows, %d valid; %d spans with a reference", len(cands), malformed.Load(), valid.Load(), nRef)
}

func quoteAll(set map[string]bool) string {
	var parts []string
	for k := range set {
		parts = append(parts, "'"+k+"'")
	}
	return strings.Join(parts, ", ")
}
