package writer

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/schemas"
)

// poisonStore rejects, permanently, any insert holding a score of metric
// "poison", as ClickHouse rejects a row it cannot parse.
type poisonStore struct{ *clickhouse.Inserter }

func (p poisonStore) InsertScores(ctx context.Context, scores []schemas.Score) error {
	for _, s := range scores {
		if s.Metric == "poison" {
			return clickhouse.Permanent(errors.New("cannot parse poison"))
		}
	}
	return p.Inserter.InsertScores(ctx, scores)
}

// The writer subscribes to the scores topic on its own (its consumer was
// built for spans and feedback), lands valid scores in eval_scores and
// dead-letters the others with their reason: undecodable, invalid, and
// rejected permanently by the store (isolated row by row, the batch's good
// rows still stored).
func TestWriterLandsScoresAndDeadLettersBadOnes(t *testing.T) {
	chs := chtest.Inserter(t)
	store := poisonStore{chs}
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 2}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka.ConsumerOpts(kc, "w", kc.Topics.Spans, kc.Topics.Feedback)...)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	w := New(Config{Batch: BatchConfig{MaxWait: 100 * time.Millisecond}}, kc.Topics, cl, store, m, nil)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())

	good, _ := json.Marshal(schemas.Score{TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "0102030405060708", App: "a",
		Evaluator: "guard_pii", EvaluatorVersion: "1", Metric: "pii_leak", Value: 1, Created: time.Now()})
	poison, _ := json.Marshal(schemas.Score{TraceID: "0102030405060708090a0b0c0d0e0f11", Evaluator: "x", Metric: "poison", Created: time.Now()})
	noMetric, _ := json.Marshal(schemas.Score{TraceID: "0102030405060708090a0b0c0d0e0f10", Evaluator: "guard_pii"})
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kc.Topics.DeadLetter), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx,
		&kgo.Record{Topic: kc.Topics.Scores, Value: good},
		&kgo.Record{Topic: kc.Topics.Scores, Value: []byte("{not json")},
		&kgo.Record{Topic: kc.Topics.Scores, Value: noMetric},
		&kgo.Record{Topic: kc.Topics.Scores, Value: poison},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for len(reasons) < 3 && ctx.Err() == nil {
		prod.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == HeaderDLQReason {
					reasons = append(reasons, string(h.Value))
				}
			}
		})
	}
	sort.Strings(reasons)
	if len(reasons) != 3 || !strings.HasPrefix(reasons[0], "decode: decoding score JSON") || !strings.HasPrefix(reasons[1], "insert_permanent: cannot parse poison") ||
		!strings.HasPrefix(reasons[2], "invalid: score without") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	deadline := time.Now().Add(10 * time.Second)
	var n uint64
	for time.Now().Before(deadline) {
		if err := chs.Conn().QueryRow(ctx, "SELECT count() FROM eval_scores FINAL WHERE metric = 'pii_leak' AND value = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != 1 {
		t.Fatalf("eval_scores has %d rows, want 1", n)
	}
	if got := testutil.ToFloat64(m.RowsWritten.WithLabelValues("eval_scores")); got != 1 {
		t.Errorf("rows_written{table=eval_scores} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues(kc.Topics.Scores, reasonDecode)); got != 1 {
		t.Errorf("dead_letters{scores, decode} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.InsertErrors.WithLabelValues("eval_scores", "permanent")); got != 1 {
		t.Errorf("insert_errors{eval_scores, permanent} = %v, want 1", got)
	}
}

// An application's gen_ai.evaluation.result span event lands in
// eval_scores (evaluator = its name, value, label, explanation) with the
// span, through the spans topic.
func TestWriterLandsApplicationEvaluations(t *testing.T) {
	chs := chtest.Inserter(t)
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 1}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	startWriter(t, kc, Config{Group: "w", Batch: BatchConfig{MaxWait: 100 * time.Millisecond}}, chs, NewMetrics(nil))
	req := ingesttest.Request(7, 1, 1)
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	sp.Events = append(sp.Events, &tracepb.Span_Event{Name: genai.EventEvaluationResult, TimeUnixNano: sp.EndTimeUnixNano, Attributes: []*commonpb.KeyValue{
		ingesttest.StrAttr(genai.AttrEvaluationName, "relevance"),
		{Key: genai.AttrEvaluationValue, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.75}}},
		ingesttest.StrAttr(genai.AttrEvaluationLabel, "relevant"),
		ingesttest.StrAttr(genai.AttrEvaluationExplain, "answers the question"),
	}})
	recs, _, err := kafka.SplitByTrace(req, kc.Topics.Spans)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var value float64
	var label, reasoning, app string
	for {
		err := chs.Conn().QueryRow(ctx, "SELECT value, label, reasoning, app FROM eval_scores FINAL WHERE evaluator = 'relevance' AND metric = 'score'").Scan(&value, &label, &reasoning, &app)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no eval_scores row for the span's evaluation: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if value != 0.75 || label != "relevant" || reasoning != "answers the question" || app != "test-app" {
		t.Fatalf("row value %v label %q reasoning %q app %q", value, label, reasoning, app)
	}
}

// A batch handed back for reuse keeps no row of the batch before: a row's
// strings alias the fetched record, and a stale row beyond the slice's
// length would keep its whole fetch response in memory.
func TestBatchResetDropsRows(t *testing.T) {
	rec := &kgo.Record{Topic: "spans", Value: []byte("x")}
	b := &batch{last: map[int64]*kgo.Record{}}
	b.spans = append(b.spans, schemas.Span{TraceID: "t", InputText: "aliases a fetch response"})
	b.feedback = append(b.feedback, schemas.Feedback{ID: "f"})
	b.scores = append(b.scores, schemas.Score{TraceID: "t"})
	b.logs = append(b.logs, schemas.LogRecord{TraceID: "t"})
	b.dead = append(b.dead, rec)
	b.last[0] = rec
	b.reset()
	if b.rows() != 0 || len(b.dead) != 0 || len(b.last) != 0 {
		t.Fatalf("reset batch holds %d rows, %d dead letters, %d offsets", b.rows(), len(b.dead), len(b.last))
	}
	if !reflect.DeepEqual(b.spans[:1][0], schemas.Span{}) || !reflect.DeepEqual(b.feedback[:1][0], schemas.Feedback{}) ||
		!reflect.DeepEqual(b.scores[:1][0], schemas.Score{}) || !reflect.DeepEqual(b.logs[:1][0], schemas.LogRecord{}) || b.dead[:1][0] != nil {
		t.Fatalf("reset batch still references its old rows beyond their length: %+v %+v %+v %+v %v",
			b.spans[:1][0], b.feedback[:1][0], b.scores[:1][0], b.logs[:1][0], b.dead[:1][0])
	}
}
