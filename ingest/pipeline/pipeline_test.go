package pipeline_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// traces builds n single-span traces with unique ids from seed.
func traces(seed uint64, n int) *coltracepb.ExportTraceServiceRequest {
	rng := rand.New(rand.NewPCG(seed, 7))
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for i := 0; i < n; i++ {
		tid, sid := make([]byte, 16), make([]byte, 8)
		binary.BigEndian.PutUint64(tid, rng.Uint64()|1)
		binary.BigEndian.PutUint64(tid[8:], rng.Uint64())
		binary.BigEndian.PutUint64(sid, rng.Uint64()|1)
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId: tid, SpanId: sid, Name: "llm",
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(120 * time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				kv("gen_ai.operation.name", "chat"), kv("gen_ai.request.model", "m1"),
				kv("gen_ai.prompt.0.role", "user"), kv("gen_ai.prompt.0.content", fmt.Sprintf("prompt %d", i)),
				kv("gen_ai.completion.0.content", fmt.Sprintf("completion %d", i)),
				kv("chainwatch.chain.name", "qa"), kv("custom.key", "kept"),
			},
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "e2e")}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

func startPipeline(t *testing.T, o pipeline.Options) *pipeline.Pipeline {
	t.Helper()
	if len(o.ClickHouse.Addr) == 0 {
		addr, db := chtest.Database(t)
		o.ClickHouse.Addr, o.ClickHouse.Database = []string{addr}, db
	}
	o.Collector.HTTPAddr = "127.0.0.1:0"
	if o.Collector.GRPCAddr == "" {
		o.Collector.GRPCAddr = "off"
	}
	if o.Writer.Batch.MaxWait == 0 {
		o.Writer.Batch.MaxWait = 200 * time.Millisecond
	}
	o.Writer.Retry.Initial, o.Writer.Retry.Max = 50*time.Millisecond, 500*time.Millisecond
	o.Kafka.Partitions = 4
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

func send(t testing.TB, url string, req *coltracepb.ExportTraceServiceRequest) int {
	body, _ := proto.Marshal(req)
	resp, err := http.Post(url+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func count(t testing.TB, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitCount polls until q returns want (or fails after d).
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
	t.Fatalf("%s: got %d, want %d after %s", q, got, want, d)
}

func TestEndToEnd(t *testing.T) {
	p := startPipeline(t, pipeline.Options{})
	url := "http://" + p.Collector.HTTPAddr()
	req := traces(1, 200)
	if code := send(t, url, req); code != 200 {
		t.Fatalf("status %d", code)
	}
	fb := `{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":4,"comment":"good"},{"trace_id":"0102030405060708090a0b0c0d0e0f10","label":"thumbs_up"}]}`
	resp, err := http.Post(url+"/v1/feedback", "application/json", strings.NewReader(fb))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feedback: %v %v", err, resp.Status)
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 200, 20*time.Second)
	waitCount(t, p.Conn, "SELECT count() FROM feedback FINAL", 2, 20*time.Second)
	var app, chain, model, in, out, custom string
	row := p.Conn.QueryRow(context.Background(), `SELECT app, chain_name, model_requested, input_text, output_text,
		attr_values[indexOf(attr_keys, 'custom.key')] FROM spans WHERE input_text = 'prompt 7'`)
	if err := row.Scan(&app, &chain, &model, &in, &out, &custom); err != nil {
		t.Fatal(err)
	}
	if app != "e2e" || chain != "qa" || model != "m1" || out != "completion 7" || custom != "kept" {
		t.Fatalf("stored span: app=%q chain=%q model=%q in=%q out=%q custom=%q", app, chain, model, in, out, custom)
	}
	// A replay of the same request must not double-count.
	if code := send(t, url, req); code != 200 {
		t.Fatalf("replay status %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(p.Metrics.Writer.RowsWritten.WithLabelValues("spans")) < 400 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := testutil.ToFloat64(p.Metrics.Writer.RowsWritten.WithLabelValues("spans")); n != 400 {
		t.Fatalf("rows written %v, want the replay written again (400)", n)
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 200, 5*time.Second)
	if n := count(t, p.Conn, "SELECT uniqExact(trace_id, span_id) FROM spans"); n != 200 {
		t.Fatalf("uniqExact = %d", n)
	}
	resp, err = http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{
		`chainwatch_collector_received_total{endpoint="traces"} 400`, `chainwatch_collector_received_total{endpoint="feedback"} 2`,
		"chainwatch_collector_produce_seconds_bucket", "chainwatch_writer_consumer_lag", "chainwatch_writer_batch_rows_bucket",
		"chainwatch_writer_insert_seconds_bucket", `chainwatch_writer_rows_written_total{table="spans"} 400`,
	} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// A writer that dies after inserting a batch but before committing it leaves
// the batch to its successor: nothing lost, nothing visible twice. With one
// insert at a time the first writer stored part of the spans; with two, a
// second batch may have been stored beside the first (committed by
// neither) before the death, and is delivered again too.
func TestWriterKilledMidBatch(t *testing.T) {
	for _, inserts := range []int{1, 2} {
		t.Run(fmt.Sprintf("inserts_%d", inserts), func(t *testing.T) { writerKilledMidBatch(t, inserts) })
	}
}

func writerKilledMidBatch(t *testing.T, inserts int) {
	p := startPipeline(t, pipeline.Options{NoWriter: true})
	url := "http://" + p.Collector.HTTPAddr()
	for i := 0; i < 5; i++ {
		if code := send(t, url, traces(uint64(10+i), 100)); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	store, err := clickhouse.NewInserter(context.Background(), p.Conn)
	if err != nil {
		t.Fatal(err)
	}
	newWriter := func() *writer.Writer {
		cl, err := kgo.NewClient(kafka.ConsumerOpts(p.Kafka, "kill-test", p.Kafka.Topics.Spans, p.Kafka.Topics.Feedback)...)
		if err != nil {
			t.Fatal(err)
		}
		return writer.New(writer.Config{Inserts: inserts, Batch: writer.BatchConfig{MaxRows: 150, MaxWait: 100 * time.Millisecond}}, p.Kafka.Topics, cl, store, writer.NewMetrics(nil), nil)
	}
	w1 := newWriter()
	w1.SetAfterInsert(func() bool { return true }) // dies after its first insert
	w1.Start(context.Background())
	select {
	case <-w1.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("first writer never inserted")
	}
	inserted := count(t, p.Conn, "SELECT count() FROM spans")
	if inserted == 0 || inserts == 1 && inserted == 500 {
		t.Fatalf("first writer inserted %d rows; want a partial batch", inserted)
	}
	w2 := newWriter()
	w2.Start(context.Background())
	defer w2.Shutdown(context.Background())
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 500, 30*time.Second)
	if raw := count(t, p.Conn, "SELECT count() FROM spans"); raw <= 500 {
		t.Logf("raw rows %d: the replayed batch merged already", raw)
	}
	if n := count(t, p.Conn, "SELECT count() FROM (SELECT trace_id, span_id FROM spans FINAL GROUP BY trace_id, span_id HAVING count() > 1)"); n != 0 {
		t.Fatalf("%d spans visible twice through FINAL", n)
	}
}

// ClickHouse killed under load: the collector keeps accepting (Kafka holds
// the records), the writer retries without committing, and once ClickHouse
// is back every span arrives.
func TestClickHouseOutageUnderLoad(t *testing.T) {
	srv := chtest.StartPrivate(t)
	p := startPipeline(t, pipeline.Options{ClickHouse: clickhouse.Config{Addr: []string{srv.Addr()}, Database: "outage"}})
	url := "http://" + p.Collector.HTTPAddr()
	adm := kadm.NewClient(mustClient(t, p.Kafka.Brokers))
	committed := func() int64 {
		offs, err := adm.FetchOffsets(context.Background(), writer.DefaultGroup)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	var sent atomic.Int64
	load := func(from, to int) {
		for i := from; i < to; i++ {
			if code := send(t, url, traces(uint64(1000+i), 50)); code != 200 {
				t.Errorf("batch %d: status %d", i, code)
				return
			}
			sent.Add(50)
			time.Sleep(20 * time.Millisecond)
		}
	}
	load(0, 10)
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 500, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	before := committed()

	srv.Kill()
	load(10, 30) // accepted while ClickHouse is down
	time.Sleep(time.Second)
	if after := committed(); after != before {
		t.Fatalf("offsets moved from %d to %d while ClickHouse was down", before, after)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv2, err := srv.Restart(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.Stop)
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", uint64(sent.Load()), 60*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for committed() == before && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if committed() == before {
		t.Fatal("offsets never committed after ClickHouse came back")
	}
	if n := testutil.ToFloat64(p.Metrics.Writer.InsertErrors.WithLabelValues("spans", "retryable")); n == 0 {
		t.Fatal("no retryable insert error counted during the outage")
	}
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Kafka unreachable: the collector answers 503, never 2xx.
func TestKafkaUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cl, err := kgo.NewClient(kafka.ProducerOpts(kafka.Config{Brokers: []string{dead}, ProduceTimeout: time.Second})...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := collector.New(collector.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "off"}, kafka.Config{}.WithDefaults().Topics, cl, collector.NewMetrics(nil), nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	start := time.Now()
	body, _ := proto.Marshal(traces(1, 3))
	resp, err := http.Post("http://"+c.HTTPAddr()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(msg), "Kafka") {
		t.Fatalf("got %d %q (Retry-After %q), want 503 naming Kafka", resp.StatusCode, msg, resp.Header.Get("Retry-After"))
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("took %s to give up", d)
	}
}

// A poison record is dead-lettered with its reason; the pipeline goes on.
func TestPoisonRecordIsDeadLettered(t *testing.T) {
	p := startPipeline(t, pipeline.Options{})
	cl := mustClient(t, p.Kafka.Brokers)
	ctx := context.Background()
	bad := traces(5, 1)
	bad.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = []byte{1, 2} // structurally invalid
	badPB, _ := proto.Marshal(bad)
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: p.Kafka.Topics.Spans, Key: []byte("poison"), Value: []byte("\xff\xffnot protobuf")},
		&kgo.Record{Topic: p.Kafka.Topics.Spans, Key: []byte("invalid"), Value: badPB},
		&kgo.Record{Topic: p.Kafka.Topics.Feedback, Key: []byte("fb"), Value: []byte("{not json")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if code := send(t, "http://"+p.Collector.HTTPAddr(), traces(6, 50)); code != 200 {
		t.Fatalf("status %d", code)
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 50, 20*time.Second)

	dl, err := kgo.NewClient(kgo.SeedBrokers(p.Kafka.Brokers...), kgo.ConsumeTopics(p.Kafka.Topics.DeadLetter), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	reasons := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for len(reasons) < 3 && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := dl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == writer.HeaderDLQReason {
					reasons[string(r.Key)] = string(h.Value)
				}
			}
		})
	}
	want := map[string]string{"poison": "decode", "invalid": "span_id", "fb": "decoding feedback"}
	for k, sub := range want {
		if !strings.Contains(reasons[k], sub) {
			t.Errorf("dead letter %q: reason %q, want it to mention %q", k, reasons[k], sub)
		}
	}
	if n := testutil.ToFloat64(p.Metrics.Writer.DeadLetters.WithLabelValues(p.Kafka.Topics.Spans, "decode")); n != 1 {
		t.Errorf("dead_letters{decode} = %v, want 1", n)
	}
}

// Several writers share the partitions; every span lands once.
func TestSeveralWriters(t *testing.T) {
	p := startPipeline(t, pipeline.Options{Writers: 3})
	url := "http://" + p.Collector.HTTPAddr()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if code := send(t, url, traces(uint64(100*i+j), 40)); code != 200 {
					t.Errorf("status %d", code)
				}
			}
		}(i)
	}
	wg.Wait()
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 800, 30*time.Second)
}

// BenchmarkEndToEnd posts 200-span OTLP requests through collector → kfake
// → writer → ClickHouse and waits until every span is visible; it reports
// spans/s. `chainwatch bench ingest` is the fuller, concurrent version.
func BenchmarkEndToEnd(b *testing.B) {
	addr, db := chtest.Database(b)
	p, err := pipeline.Start(context.Background(), pipeline.Options{
		ClickHouse: clickhouse.Config{Addr: []string{addr}, Database: db},
		Collector:  collector.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "off"},
		Writer:     writer.Config{Batch: writer.BatchConfig{MaxWait: 100 * time.Millisecond}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	url := "http://" + p.Collector.HTTPAddr()
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		n++
		if code := send(b, url, traces(uint64(n), 200)); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
	waitCount(b, p.Conn, "SELECT count() FROM spans", uint64(200*n), 2*time.Minute)
	b.ReportMetric(float64(200*n)/time.Since(start).Seconds(), "spans/s")
}
