package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// fakeConsumer hands out its records once, fails the first produceFails
// produce calls, and logs produce and commit events in order.
type fakeConsumer struct {
	mu           sync.Mutex
	pending      []*kgo.Record
	produceFails int
	produced     []*kgo.Record
	events       []string
	committed    chan []*kgo.Record
}

var _ kafka.Consumer = (*fakeConsumer)(nil)

func (f *fakeConsumer) PollRecords(ctx context.Context, _ int) kgo.Fetches {
	f.mu.Lock()
	recs := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(recs) == 0 {
		<-ctx.Done()
		return nil
	}
	return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: recs[0].Topic, Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs, HighWatermark: recs[len(recs)-1].Offset + 1}}}}}}
}

func (f *fakeConsumer) AllowRebalance() {}
func (f *fakeConsumer) Close()          {}

func (f *fakeConsumer) CommitRecords(_ context.Context, rs ...*kgo.Record) error {
	f.mu.Lock()
	f.events = append(f.events, "commit")
	f.mu.Unlock()
	f.committed <- rs
	return nil
}

func (f *fakeConsumer) ProduceSync(_ context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i].Record = r
	}
	if f.produceFails > 0 {
		f.produceFails--
		f.events = append(f.events, "produce_failed")
		out[0].Err = errors.New("not enough replicas")
		return out
	}
	f.events = append(f.events, "produced")
	f.produced = append(f.produced, rs...)
	return out
}

var topics = kafka.Topics{Spans: "spans", Scores: "scores", Feedback: "feedback", DeadLetter: "dlq"}

// spanRecord is one trace record with one llm span per output.
func spanRecord(t *testing.T, offset int64, outputs ...string) *kgo.Record {
	t.Helper()
	kv := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	tid := []byte(fmt.Sprintf("trace%011d", offset))
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for i, out := range outputs {
		ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: tid, SpanId: []byte(fmt.Sprintf("span%04d", i)), Name: "chat",
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{kv("chainwatch.app", "a"), kv("chainwatch.component.kind", "llm"),
				kv("gen_ai.prompt.0.content", "q"), kv("gen_ai.completion.0.content", out)}})
	}
	recs, _, err := kafka.SplitByTrace(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}, topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Offset = offset
	return recs[0]
}

func runFake(t *testing.T, f *fakeConsumer, cfg runner.Config, opts ...runner.Opt) (*runner.Runner, []*kgo.Record) {
	t.Helper()
	f.committed = make(chan []*kgo.Record, 1)
	r, err := runner.New(cfg, topics, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	defer r.Shutdown(context.Background())
	select {
	case c := <-f.committed:
		return r, c
	case <-time.After(10 * time.Second):
		t.Fatal("nothing committed")
	}
	return nil, nil
}

// Offsets are committed only after every score was acknowledged: produce
// failures are retried and the commit waits for them.
func TestCommitOnlyAfterScoresAcknowledged(t *testing.T) {
	f := &fakeConsumer{pending: []*kgo.Record{spanRecord(t, 41, "mail me at a.b@example.com"), spanRecord(t, 42, "fine")}, produceFails: 2}
	cfg := runner.DefaultConfig()
	cfg.Sample.Rate = 1
	cfg.Guards = []string{"pii"}
	cfg.Batch.MaxWait = 50 * time.Millisecond
	cfg.Retry.Initial, cfg.Retry.Max = time.Millisecond, 5*time.Millisecond
	m := runner.NewMetrics(nil)
	_, committed := runFake(t, f, cfg, runner.WithMetrics(m))
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.events) != "[produce_failed produce_failed produced commit]" {
		t.Errorf("events %v, want two failed produces, one success, then the commit", f.events)
	}
	if len(committed) != 1 || committed[0].Offset != 42 {
		t.Errorf("committed %v, want the batch's last record (offset 42)", committed)
	}
	if len(f.produced) != 2 {
		t.Fatalf("produced %d scores, want 2", len(f.produced))
	}
	var s schemas.Score
	if err := json.Unmarshal(f.produced[0].Value, &s); err != nil || s.Metric != "pii_leak" || s.Value != 1 || string(f.produced[0].Key) != s.TraceID {
		t.Errorf("first score %+v (key %s), err %v", s, f.produced[0].Key, err)
	}
	if got := testutil.ToFloat64(m.ProduceErrors); got != 2 {
		t.Errorf("produce errors = %v, want 2", got)
	}
}

// A spent judge budget records nothing (and says so in the metrics); the
// deterministic guards still score.
func TestBudgetExhaustedRecordsNothing(t *testing.T) {
	f := &fakeConsumer{pending: []*kgo.Record{spanRecord(t, 1, "one answer", "another answer", "a third answer")}}
	cfg := runner.DefaultConfig()
	cfg.Sample.Rate = 1
	cfg.Guards = []string{"refusal"}
	cfg.Concurrency = 1
	cfg.Batch.MaxWait = 50 * time.Millisecond
	cfg.Judge.Model, cfg.Judge.TokensPerHour, cfg.Judge.CacheSize = "j", 1000, 0
	chat := evaluators.ChatClientFunc(func(context.Context, evaluators.ChatRequest) (evaluators.ChatResponse, error) {
		return evaluators.ChatResponse{Content: `{"score": 5, "reasoning": "ok"}`, Usage: evaluators.Usage{PromptTokens: 900, CompletionTokens: 100}}, nil
	})
	m := runner.NewMetrics(nil)
	runFake(t, f, cfg, runner.WithChatClient(chat), runner.WithMetrics(m))
	f.mu.Lock()
	defer f.mu.Unlock()
	byEval := map[string]int{}
	for _, r := range f.produced {
		var s schemas.Score
		json.Unmarshal(r.Value, &s)
		byEval[s.Evaluator]++
	}
	if byEval["judge_pointwise"] != 1 || byEval["guard_refusal"] != 3 {
		t.Errorf("scores by evaluator %v, want 1 judge (then the budget is spent) and 3 refusal", byEval)
	}
	if got := testutil.ToFloat64(m.Evaluations.WithLabelValues("judge_pointwise", runner.OutcomeBudgetExhausted)); got != 2 {
		t.Errorf("budget_exhausted evaluations = %v, want 2", got)
	}
}

// embedFunc adapts a function to evaluators.Embedder.
type embedFunc func(ctx context.Context, texts []string) ([][]float32, error)

func (f embedFunc) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f(ctx, texts)
}

// TestSchemaGuardAndEmbeddingCosineWiring: json_schema_file makes the json
// guard check a schema; embedding_cosine needs an embedder and uses it.
func TestSchemaGuardAndEmbeddingCosineWiring(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "answer.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","required":["answer"],"properties":{"answer":{"type":"string"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := runner.DefaultConfig()
	cfg.Guards, cfg.JSONSchemaFile, cfg.ReferenceMetrics = []string{"json"}, schema, []string{"embedding_cosine"}
	if _, err := runner.New(cfg, topics, &fakeConsumer{}); err == nil || !strings.Contains(err.Error(), "embedding_cosine needs an embedder") {
		t.Fatalf("embedding_cosine without an embedder: %v", err)
	}
	emb := embedFunc(func(_ context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, s := range texts {
			out[i] = []float32{float32(len(s)), 1}
		}
		return out, nil
	})
	r, err := runner.New(cfg, topics, &fakeConsumer{}, runner.WithEmbedder(emb, "fake"))
	if err != nil {
		t.Fatal(err)
	}
	always, withRef := r.Evaluators()
	if len(always) != 1 || len(withRef) != 1 || withRef[0].Name() != "embedding_cosine" {
		t.Fatalf("evaluators: %v / %v", always, withRef)
	}
	for out, want := range map[string]float64{`{"answer":"yes"}`: 1, `{"answer":3}`: 0} {
		res, err := always[0].Evaluate(t.Context(), evaluators.Input{Output: out})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range res {
			if x.Metric == "json_schema_valid" && x.Value != want {
				t.Errorf("%s: json_schema_valid %v, want %v (%s)", out, x.Value, want, x.Reasoning)
			}
		}
	}
	res, err := withRef[0].Evaluate(t.Context(), evaluators.Input{Output: "abc", Reference: "abc"})
	if err != nil || len(res) != 1 || res[0].Value < 0.999 {
		t.Fatalf("cosine of identical texts: %+v %v", res, err)
	}
	cfg.Guards = []string{"pii"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "json_schema_file") {
		t.Fatalf("json_schema_file without the json guard: %v", err)
	}
	cfg.Guards, cfg.JSONSchemaFile = []string{"json"}, filepath.Join(t.TempDir(), "missing.json")
	if _, err := runner.New(cfg, topics, &fakeConsumer{}, runner.WithEmbedder(emb, "fake")); err == nil || !strings.Contains(err.Error(), "evaluator.json_schema_file") {
		t.Fatalf("missing schema file: %v", err)
	}
}
