package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/chainwatch/chainwatch/ingest"
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

var _ ingest.Consumer = (*fakeConsumer)(nil)

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

var topics = ingest.Topics{Spans: "spans", Scores: "scores", Feedback: "feedback", DeadLetter: "dlq"}

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
	recs, _, err := ingest.SplitByTrace(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}, topics.Spans)
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
