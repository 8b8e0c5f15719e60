package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/query"
)

// GenAI content sent as OTLP log records by the OpenTelemetry Go SDK (the
// shapes of the contrib OpenAI instrumentation: the message in the body,
// none on the span) is joined to its span whichever arrives first: here
// the logs of one call come first (over HTTP) and are stored, the writer
// is stopped, the span comes over gRPC (gzip) with the logs of a second
// call, a new writer stores them — and every reader sees the merged input
// and output. An evaluation result sent as a log lands in eval_scores;
// a plain log record is kept in the logs table.
func TestGenAILogsJoinTheirSpans(t *testing.T) {
	p := startPipeline(t, pipeline.Options{NoWriter: true, Collector: collectorOn("127.0.0.1:0")})
	ctx := context.Background()
	store, err := clickhouse.NewInserter(ctx, p.Conn)
	if err != nil {
		t.Fatal(err)
	}
	newWriter := func() *writer.Writer {
		cl, err := kgo.NewClient(kafka.ConsumerOpts(p.Kafka, "logs-test", p.Kafka.Topics.Spans, p.Kafka.Topics.Logs)...)
		if err != nil {
			t.Fatal(err)
		}
		w := writer.New(writer.Config{Batch: writer.BatchConfig{MaxWait: 100 * time.Millisecond}}, p.Kafka.Topics, cl, store, writer.NewMetrics(nil), nil)
		w.Start(ctx)
		return w
	}
	res := resource.NewSchemaless(attribute.String("service.name", "support-bot"))

	// Two calls' span contexts, made up front: the spans are exported later.
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res))
	tracer := tp.Tracer("openai")
	ctx1, call1 := tracer.Start(ctx, "chat gpt-4o-mini", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.Int("gen_ai.usage.input_tokens", 12), attribute.Int("gen_ai.usage.output_tokens", 5)))
	ctx2, call2 := tracer.Start(ctx, "chat gpt-4o-mini", trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat")))

	emit := func(lp *sdklog.LoggerProvider, ctx context.Context, event string, body attribute.Value, attrs ...attribute.KeyValue) {
		var r log.Record
		r.SetEventName(event)
		r.SetTimestamp(time.Now())
		r.SetBody(body)
		r.AddAttributes(append(attrs, attribute.String("gen_ai.system", "openai"))...)
		lp.Logger("@opentelemetry/instrumentation-openai").Emit(ctx, r)
	}
	msg := func(kvs ...attribute.KeyValue) attribute.Value { return attribute.MapValue(kvs...) }

	// 1. The first call's events over OTLP/HTTP, before its span exists anywhere.
	hexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL("http://"+p.Collector.HTTPAddr()+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	lp1 := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(hexp)))
	emit(lp1, ctx1, "gen_ai.system.message", msg(attribute.String("content", "Answer in one line.")))
	emit(lp1, ctx1, "gen_ai.user.message", msg(attribute.String("content", "How do I reset my password?")))
	emit(lp1, ctx1, "gen_ai.choice", msg(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
		attribute.Map("message", attribute.String("role", "assistant"), attribute.String("content", "Use the link on the sign-in page."))))
	emit(lp1, ctx1, "gen_ai.evaluation.result", attribute.Value{}, attribute.String("gen_ai.evaluation.name", "helpfulness"),
		attribute.Float64("gen_ai.evaluation.score.value", 0.9), attribute.String("gen_ai.evaluation.score.label", "helpful"))
	emit(lp1, ctx, "", attribute.StringValue("cache warmed"))
	if err := lp1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	w1 := newWriter()
	waitCount(t, p.Conn, "SELECT count() FROM logs", 5, 30*time.Second)
	if err := w1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// 2. With no writer running: both spans over OTLP/gRPC (gzip, the
	// Collector's default), then the second call's events, also over gRPC.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(p.Collector.GRPCAddr()), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	tp.RegisterSpanProcessor(sdktrace.NewSimpleSpanProcessor(texp))
	call1.End()
	call2.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	gexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(p.Collector.GRPCAddr()), otlploggrpc.WithInsecure(), otlploggrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	lp2 := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(gexp)))
	emit(lp2, ctx2, "gen_ai.user.message", msg(attribute.String("content", "And my username?")))
	emit(lp2, ctx2, "gen_ai.choice", msg(attribute.Int("index", 0), attribute.String("finish_reason", "tool_calls"),
		attribute.Map("message", attribute.String("role", "assistant"), attribute.Slice("tool_calls", attribute.MapValue(
			attribute.String("id", "call_7"), attribute.String("type", "function"),
			attribute.Map("function", attribute.String("name", "lookup_user"), attribute.String("arguments", `{"email":"a@b.c"}`)))))))
	if err := lp2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// 3. A new writer stores what waited in Kafka.
	w2 := newWriter()
	defer w2.Shutdown(ctx)
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", 2, 30*time.Second)
	waitCount(t, p.Conn, "SELECT count() FROM logs FINAL", 7, 30*time.Second)

	r := query.NewReader(p.Conn)
	now := time.Now()
	sel := query.Selector{App: "support-bot", From: now.Add(-time.Hour), To: now.Add(time.Minute)}
	ws, err := r.WindowSpans(ctx, sel, 10)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := r.Spans(ctx, sel, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	byID := map[string]query.SpanRow{}
	var row query.SpanRow
	for rows.Next(&row) {
		byID[row.SpanID] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		call1.SpanContext().SpanID().String(): {"How do I reset my password?", "Use the link on the sign-in page."},
		call2.SpanContext().SpanID().String(): {"And my username?", `tool_call lookup_user({"email":"a@b.c"})`},
	}
	if len(ws) != 2 || len(byID) != 2 {
		t.Fatalf("window %d spans, export %d spans; want 2", len(ws), len(byID))
	}
	for id, w := range want {
		got := byID[id]
		if got.InputText != w[0] || got.OutputText != w[1] {
			t.Errorf("span %s (export): input %q output %q; want %q %q", id, got.InputText, got.OutputText, w[0], w[1])
		}
		found := false
		for _, s := range ws {
			found = found || (s.Input == w[0] && s.Output == w[1])
		}
		if !found {
			t.Errorf("span %s: not in the monitor window as merged: %+v", id, ws)
		}
	}
	if got := byID[call1.SpanContext().SpanID().String()]; got.ModelRequested != "gpt-4o-mini" || got.InputTokens != 12 || got.OutputTokens != 5 {
		t.Errorf("span 1 columns: %+v", got.Span)
	}
	waitCount(t, p.Conn, "SELECT count() FROM eval_scores FINAL WHERE evaluator = 'helpfulness' AND value = 0.9 AND label = 'helpful' AND span_id = '"+call1.SpanContext().SpanID().String()+"'", 1, 10*time.Second)
	if n := count(t, p.Conn, "SELECT count() FROM logs WHERE body = 'cache warmed' AND trace_id = '' AND app = 'support-bot'"); n != 1 {
		t.Errorf("plain log record stored %d times", n)
	}
}

// collectorOn is a collector config with gRPC on addr.
func collectorOn(grpcAddr string) collector.Config {
	return collector.Config{GRPCAddr: grpcAddr}
}

// With collector.redact_pii on, a span with an e-mail address and a card
// number lands redacted in the Kafka record and in ClickHouse: the
// original is stored nowhere.
func TestRedactedBeforeKafkaAndClickHouse(t *testing.T) {
	p := startPipeline(t, pipeline.Options{Collector: collector.Config{RedactPII: collector.RedactConfig{Apps: []string{"*"}}}})
	req := traces(77, 1)
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	secret := "I am jane.doe@example.com, card 4111 1111 1111 1111"
	sp.Attributes = append(sp.Attributes, kv("gen_ai.prompt", secret))
	sp.Name = "redaction"
	if code := send(t, "http://"+p.Collector.HTTPAddr(), req); code != 200 {
		t.Fatalf("status %d", code)
	}
	waitCount(t, p.Conn, "SELECT count() FROM spans WHERE name = 'redaction'", 1, 20*time.Second)
	var in string
	var keys, vals []string
	if err := p.Conn.QueryRow(context.Background(), "SELECT input_text, attr_keys, attr_values FROM spans WHERE name = 'redaction'").Scan(&in, &keys, &vals); err != nil {
		t.Fatal(err)
	}
	all := in + strings.Join(vals, " ")
	if strings.Contains(all, "jane.doe@example.com") || strings.Contains(all, "4111 1111 1111 1111") || !strings.Contains(all, "I am [EMAIL], card [CARD_NUMBER]") {
		t.Fatalf("stored: input %q, attributes %v", in, vals)
	}
	cl := mustClient(t, p.Kafka.Brokers)
	cl.AddConsumeTopics(p.Kafka.Topics.Spans)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found := false
	for !found && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if strings.Contains(string(r.Value), "redaction") {
				found = true
				if strings.Contains(string(r.Value), "jane.doe@example.com") || !strings.Contains(string(r.Value), "[EMAIL]") {
					t.Errorf("the Kafka record holds the original")
				}
			}
		})
	}
	if !found {
		t.Fatal("the span's Kafka record was not found")
	}
}
