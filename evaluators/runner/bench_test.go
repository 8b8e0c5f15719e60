package runner_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
)

// BenchmarkRunner measures the runner's throughput through an in-process
// broker (kfake): consume → decode → sample → evaluate → produce scores
// (acks=all) → commit, over 3000 simulated traces sampled at rate 1. Each
// iteration is a fresh consumer group reading the topic from the start;
// group joins cost every case alike. The judge answers instantly, so the
// judge case minus consume_only is the runner's own overhead per judged
// span: prompt rendering, verdict parsing, bookkeeping, score encoding and
// producing — everything but the judge model's latency.
//
//	go test ./evaluators/runner/ -run '^$' -bench Runner -benchtime 5x
func BenchmarkRunner(b *testing.B) {
	_, brokers := kafkatest.NewCluster(b, kfake.DefaultNumPartitions(4))
	kc := kafka.Config{Brokers: brokers, Partitions: 4, Compression: "none"}.WithDefaults()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		b.Fatal(err)
	}
	const nTraces = 3000
	tr := simulate.DefaultTraffic()
	g, err := simulate.NewGenerator(tr)
	if err != nil {
		b.Fatal(err)
	}
	traces := make([]*simulate.Trace, nTraces)
	now := time.Now()
	for i := range traces {
		traces[i] = g.Next(now, false)
	}
	recs, nSpans, err := kafka.SplitByTrace(g.Pack(traces), kc.Topics.Spans)
	if err != nil {
		b.Fatal(err)
	}
	judged := 0
	for _, r := range recs {
		spans, _ := genai.AppendSpanRecord(nil, r.Value)
		for _, s := range spans {
			if s.ComponentKind == schemas.KindLLM && s.OutputText != "" {
				judged++
			}
		}
	}
	prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	prod.Close()

	instant := evaluators.ChatClientFunc(func(context.Context, evaluators.ChatRequest) (evaluators.ChatResponse, error) {
		return evaluators.ChatResponse{Model: "instant", Content: `{"score": 4, "reasoning": "fine"}`,
			Usage: evaluators.Usage{PromptTokens: 400, CompletionTokens: 20}}, nil
	})
	jc := evaluators.DefaultJudgeConfig()
	jc.Model, jc.CacheSize, jc.TokensPerHour = "instant", 0, 0
	judge, err := evaluators.NewPointwiseJudge(instant, evaluators.QualityRubric, jc)
	if err != nil {
		b.Fatal(err)
	}
	guards := []evaluators.Evaluator{evaluators.NewPIIGuard(), evaluators.InjectionGuard{}, evaluators.RefusalGuard{}}
	var group atomic.Int64
	for _, bc := range []struct {
		name string
		evs  []evaluators.Evaluator
	}{
		{"consume_only", nil},
		{"guards", guards},
		{"judge_instant", []evaluators.Evaluator{judge}},
		{"guards_and_judge_instant", append(append([]evaluators.Evaluator{}, guards...), judge)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var elapsed time.Duration
			for b.Loop() {
				cfg := runner.DefaultConfig()
				cfg.Group = fmt.Sprintf("bench-%d", group.Add(1))
				cfg.Sample.Rate = 1
				cfg.ReferenceMetrics = nil
				cfg.Batch.MaxRecords, cfg.Batch.MaxWait = 500, 20*time.Millisecond
				cl, err := kgo.NewClient(kafka.ConsumerOpts(kc, cfg.Group, kc.Topics.Spans)...)
				if err != nil {
					b.Fatal(err)
				}
				m := runner.NewMetrics(nil)
				r, err := runner.New(cfg, kc.Topics, cl, runner.WithEvaluators(bc.evs...), runner.WithMetrics(m))
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				r.Start(ctx)
				want := float64(judged * len(bc.evs))
				for testutil.ToFloat64(m.SpansConsumed) < float64(nSpans) || testutil.ToFloat64(m.ScoresProduced) < want {
					time.Sleep(time.Millisecond)
				}
				if err := r.Shutdown(ctx); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(judged*b.N)/elapsed.Seconds(), "evaluated_spans/s")
			b.ReportMetric(float64(elapsed.Microseconds())/float64(judged*b.N), "µs/evaluated_span")
		})
	}
}
