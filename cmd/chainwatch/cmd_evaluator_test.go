package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestEvaluatorConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"evaluator:\n  sample:\n    rate: 2\n", "evaluator.sample.rate must be in [0,1]"},
		{"evaluator:\n  guards: [pii, vibes]\n", "evaluator.guards"},
		{"evaluator:\n  judge:\n    base_url: http://127.0.0.1:1/v1\n", "evaluator.judge.model"},
		{"evaluator:\n  sampel:\n    rate: 0.5\n", "field sampel not found"},
	} {
		_, err := loadConfig(writeConfig(t, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error naming %s", tc.yaml, err, tc.want)
		}
	}
	cfg, err := loadConfig(writeConfig(t, "evaluator:\n  sample:\n    rate: 0.25\n    overrides:\n      - {app: support-bot, rate: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Evaluator; e.Sample.Rate != 0.25 || e.Group != "chainwatch-evaluator" || len(e.Guards) != 3 {
		t.Errorf("evaluator config = %+v", e)
	}
}

// startEvaluator wires a runner that turns a span record into score records
// on the scores topic.
func TestStartEvaluatorProducesScores(t *testing.T) {
	_, brokers := kafkatest.NewCluster(t)
	cfg, err := loadConfig(writeConfig(t, "evaluator:\n  sample:\n    rate: 1\n  batch:\n    max_wait: 100ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Partitions = 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := startEvaluator(ctx, cfg, prometheus.NewRegistry(), newLogger("error"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())

	kv := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	tid, sid := []byte("0123456789abcdef"), []byte("01234567")
	now := time.Now()
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "shop")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: tid, SpanId: sid, Name: "chat", StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{kv("gen_ai.operation.name", "chat"), kv("chainwatch.component.kind", "llm"),
				kv("gen_ai.prompt.0.content", "who do I write to?"), kv("gen_ai.completion.0.content", "Write to jane.doe@example.com.")},
		}}}},
	}}}
	recs, _, err := kafka.SplitByTrace(req, cfg.Kafka.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Kafka.Topics.Scores), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := map[string]schemas.Score{}
	for len(got) < 3 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var s schemas.Score
			if err := json.Unmarshal(r.Value, &s); err != nil {
				t.Fatal(err)
			}
			got[s.Metric] = s
		})
	}
	if s := got["pii_leak"]; s.Value != 1 || s.App != "shop" || s.TraceID != "30313233343536373839616263646566" || s.Error != "" {
		t.Errorf("pii_leak score = %+v (all: %v)", s, got)
	}
	if _, ok := got["refusal"]; !ok {
		t.Errorf("no refusal score: %v", got)
	}
}
