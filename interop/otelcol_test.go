package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/kafka"
)

// The Collector is built once per test binary, into a temporary directory.
var (
	otelcolOnce sync.Once
	otelcolBin  string
	otelcolErr  error
)

// buildCollector builds interop/otelcol (its own Go module) with the go
// command that runs the tests, logging how long it took.
func buildCollector(t *testing.T) string {
	t.Helper()
	otelcolOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chainwatch-otelcol-")
		if err != nil {
			otelcolErr = err
			return
		}
		bin := filepath.Join(dir, "otelcol-chainwatch")
		goCmd := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			goCmd = "go"
		}
		cmd := exec.Command(goCmd, "build", "-buildvcs=false", "-o", bin, ".")
		cmd.Dir = repoDir(t, "otelcol")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			otelcolErr = fmt.Errorf("building the OpenTelemetry Collector (interop/otelcol): %v\n%s", err, out)
			return
		}
		t.Logf("built the OpenTelemetry Collector in %s", time.Since(start).Round(time.Second))
		otelcolBin = bin
	})
	if otelcolErr != nil {
		t.Fatal(otelcolErr)
	}
	return otelcolBin
}

// runCollector starts the Collector with an OTLP/gRPC receiver, the batch
// processor and the exporter given as YAML (named "x" in the traces
// pipeline). It returns the receiver's address and the process.
func runCollector(t *testing.T, exporter string) (string, *process) {
	t.Helper()
	recv, _, p := runCollectorWith(t, exporter, false)
	return recv, p
}

// runCollectorWith is runCollector, and with logs also an OTLP/HTTP
// receiver (its address second) and a logs pipeline to the same exporter.
func runCollectorWith(t *testing.T, exporter string, logs bool) (string, string, *process) {
	t.Helper()
	bin := buildCollector(t)
	recv, httpRecv := freeAddr(t), ""
	name := strings.SplitN(strings.TrimSpace(exporter), ":", 2)[0]
	httpYAML, logsYAML := "", ""
	if logs {
		httpRecv = freeAddr(t)
		httpYAML = fmt.Sprintf("      http:\n        endpoint: %s\n", httpRecv)
		logsYAML = fmt.Sprintf("    logs:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [%s]\n", name)
	}
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
%sprocessors:
  batch:
    timeout: 200ms
exporters:
  %s
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [%s]
%s`, recv, httpYAML, strings.ReplaceAll(strings.TrimSpace(exporter), "\n", "\n  "), name, logsYAML)
	path := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, bin, "--config", path)
	for _, addr := range []string{recv, httpRecv} {
		if addr == "" {
			continue
		}
		if err := waitListening(p, addr, 30*time.Second); err != nil {
			t.Fatalf("the Collector did not start: %v\nconfig:\n%s\nlog:\n%s", err, cfg, indent(p.out.String()))
		}
	}
	return recv, httpRecv, p
}

// Each test sends traces × spansPerTrace GenAI chat spans through the Go
// SDK; span (i, j) has texts and tokens of its own.
const (
	traces        = 12
	spansPerTrace = 3
)

func question(i, j int) string { return fmt.Sprintf("question %d.%d: what is %d×%d?", i, j, i, j) }
func answer(i, j int) string   { return fmt.Sprintf("answer %d.%d — %d (ünïcödé ✓)", i, j, i*j) }
func inTokens(i, j int) int    { return 100 + 10*i + j }
func outTokens(i, j int) int   { return 7 + i + 2*j }

// sendSDK sends the test's spans with the OpenTelemetry Go SDK over
// OTLP/gRPC to addr (a Collector's receiver) as service app, and returns
// the trace ids in order.
func sendSDK(t *testing.T, addr, app string) []trace.TraceID {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", app))))
	tr := tp.Tracer("chainwatch/interop")
	var ids []trace.TraceID
	for i := 0; i < traces; i++ {
		var root trace.Span
		rctx := ctx
		for j := 0; j < spansPerTrace; j++ {
			msgIn, _ := json.Marshal([]any{map[string]any{"role": "user", "parts": []any{map[string]any{"type": "text", "content": question(i, j)}}}})
			msgOut, _ := json.Marshal([]any{map[string]any{"role": "assistant", "parts": []any{map[string]any{"type": "text", "content": answer(i, j)}}, "finish_reason": "stop"}})
			_, s := tr.Start(rctx, fmt.Sprintf("chat m-%d", j), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
				attribute.String("gen_ai.operation.name", "chat"),
				attribute.String("gen_ai.provider.name", "openai"),
				attribute.String("gen_ai.request.model", fmt.Sprintf("m-%d", j)),
				attribute.String("gen_ai.response.model", fmt.Sprintf("m-%d-2026", j)),
				attribute.Int("gen_ai.usage.input_tokens", inTokens(i, j)),
				attribute.Int("gen_ai.usage.output_tokens", outTokens(i, j)),
				attribute.String("gen_ai.input.messages", string(msgIn)),
				attribute.String("gen_ai.output.messages", string(msgOut)),
			))
			if j == 0 {
				root, rctx = s, trace.ContextWithSpan(ctx, s)
				ids = append(ids, s.SpanContext().TraceID())
				continue
			}
			s.End()
		}
		root.End()
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tp.Shutdown(sctx); err != nil {
		t.Fatalf("SDK shutdown (export to the Collector): %v", err)
	}
	return ids
}

// checkSDKSpans waits for every span sendSDK sent (plus extra) and checks
// each one's texts, tokens, models and trace.
func checkSDKSpans(t *testing.T, p *pipeline.Pipeline, app string, ids []trace.TraceID, extra int, col *process) {
	t.Helper()
	waitSpans(t, p.Conn, app, uint64(traces*spansPerTrace+extra), 60*time.Second, func() {
		t.Logf("Collector log:\n%s", indent(tail(col.out.String(), 8000)))
	})
	byInput := map[string]row{}
	for _, r := range spans(t, p.Conn, app) {
		byInput[r.InputText] = r
	}
	for i := 0; i < traces; i++ {
		for j := 0; j < spansPerTrace; j++ {
			r, ok := byInput[question(i, j)]
			if !ok {
				t.Errorf("span %d.%d: no stored span has input_text %q", i, j, question(i, j))
				continue
			}
			if r.TraceID != ids[i].String() || r.OutputText != answer(i, j) ||
				r.InputTokens != int64(inTokens(i, j)) || r.OutputTokens != int64(outTokens(i, j)) ||
				r.ModelRequested != fmt.Sprintf("m-%d", j) || r.ModelReturned != fmt.Sprintf("m-%d-2026", j) ||
				r.Operation != "chat" || r.Provider != "openai" {
				t.Errorf("span %d.%d stored as\n%v\nwant trace %s, output %q, tokens %d/%d, model m-%d→m-%d-2026, chat, openai",
					i, j, r, ids[i], answer(i, j), inTokens(i, j), outTokens(i, j), j, j)
			}
		}
	}
}

// TestCollectorKafka: the Collector's Kafka exporter writes otlp_proto to
// chainwatch's spans topic; the writer stores every span. With
// partition_traces_by_id, the Collector's records and chainwatch's own
// collector's records of one trace share a partition, for either hasher
// when both sides name the same one (chainwatch's kafka.partitioner, the
// exporter's record_partitioner.sticky_key.hasher; sarama_compat is both
// defaults).
func TestCollectorKafka(t *testing.T) {
	needInterop(t)
	for _, tc := range []struct {
		name        string
		byID        bool
		partitioner string // chainwatch's kafka.partitioner
		hasherYAML  string // the exporter's record_partitioner, "" = its default
		mismatched  bool   // the two sides disagree: some trace must be split
	}{
		{name: "by_id/sarama_compat_defaults", byID: true, partitioner: kafka.PartitionerSaramaCompat},
		{name: "by_id/murmur2", byID: true, partitioner: kafka.PartitionerMurmur2,
			hasherYAML: "  record_partitioner:\n    sticky_key:\n      hasher: murmur2\n"},
		// What a user who sets only one side gets: traces split over
		// partitions (and the proof that the check above can fail).
		{name: "by_id/mismatched", byID: true, partitioner: kafka.PartitionerMurmur2, mismatched: true},
		{name: "unkeyed", byID: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPipeline(t, func(o *pipeline.Options) { o.Kafka.Partitioner = tc.partitioner })
			exporter := fmt.Sprintf("kafka:\n  brokers: [%q]\n  traces:\n    topic: %s\n    encoding: otlp_proto\n  partition_traces_by_id: %v\n%s",
				p.Kafka.Brokers[0], p.Kafka.Topics.Spans, tc.byID, tc.hasherYAML)
			recv, col := runCollector(t, exporter)
			app := "interop-kafka-" + strings.ReplaceAll(tc.name, "/", "-")
			ids := sendSDK(t, recv, app)
			if !tc.byID {
				checkSDKSpans(t, p, app, ids, 0, col)
				return
			}
			// One more span of each trace through chainwatch's own
			// collector: it must join the Collector's records' partition.
			send(t, "http://"+p.Collector.HTTPAddr(), ownSpans(app, ids))
			checkSDKSpans(t, p, app, ids, traces, col)
			checkPartitions(t, p, ids, tc.partitioner, tc.mismatched)
		})
	}
}

// ownSpans is one extra span per trace, as chainwatch's collector gets it.
func ownSpans(app string, ids []trace.TraceID) *coltracepb.ExportTraceServiceRequest {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for i, id := range ids {
		sid := make([]byte, 8)
		sid[0], sid[7] = 0xcc, byte(i+1)
		ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: id[:], SpanId: sid, Name: "direct",
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{str("gen_ai.operation.name", "chat"), str("gen_ai.prompt", fmt.Sprintf("direct %d", i))}})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", app)}}, ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
}

func send(t *testing.T, url string, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	body, _ := proto.Marshal(req)
	resp, err := httpPost(url+"/v1/traces", "application/x-protobuf", body)
	if err != nil {
		t.Fatal(err)
	}
	if resp != 200 {
		t.Fatalf("chainwatch collector answered %d", resp)
	}
}

// checkPartitions reads the spans topic: every trace's records (keyed by
// its id in hex, from both producers) sit on one partition — or, when the
// two sides' hashers are mismatched, some trace is split — and each trace
// has records from both (at least two). It also checks that the test can
// fail: the two hashers place some of these traces on different
// partitions.
func checkPartitions(t *testing.T, p *pipeline.Pipeline, ids []trace.TraceID, partitioner string, mismatched bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Kafka.Brokers...), kgo.ConsumeTopics(p.Kafka.Topics.Spans),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string]bool{}
	for _, id := range ids {
		want[id.String()] = true
	}
	parts := map[string]map[int32]int{}
	complete := func() bool {
		for k := range want {
			n := 0
			for _, c := range parts[k] {
				n += c
			}
			if n < 2 {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !complete() && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if parts[string(r.Key)] == nil {
				parts[string(r.Key)] = map[int32]int{}
			}
			parts[string(r.Key)][r.Partition]++
		})
	}
	split := 0
	for k := range want {
		if len(parts[k]) != 1 {
			split++
			if !mismatched {
				t.Errorf("trace %s: records on partitions %v, want one partition (partitioner %s)", k, parts[k], partitioner)
			}
		}
		n := 0
		for _, c := range parts[k] {
			n += c
		}
		if n < 2 {
			t.Errorf("trace %s: %d records, want ≥ 2 (the Collector's and chainwatch's)", k, n)
		}
	}
	for k := range parts {
		if !want[k] {
			t.Errorf("a record keyed %q: not one of the traces' ids (hex)", k)
		}
	}
	if mismatched && split == 0 {
		t.Errorf("partitioners mismatched, yet no trace was split over partitions: the check cannot tell")
	}
	differ := 0
	for k := range want {
		rec := &kgo.Record{Key: []byte(k)}
		a := kafka.Partitioner(kafka.PartitionerSaramaCompat).ForTopic(p.Kafka.Topics.Spans).Partition(rec, int(p.Kafka.Partitions))
		b := kafka.Partitioner(kafka.PartitionerMurmur2).ForTopic(p.Kafka.Topics.Spans).Partition(rec, int(p.Kafka.Partitions))
		if a != b {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("sarama_compat and murmur2 agree on all %d traces: the partition check could not fail", len(want))
	}
}

// TestCollectorOTLPgRPC: the Collector's otlp_grpc exporter to
// chainwatch's OTLP/gRPC endpoint with its default settings (compression
// gzip: otlpexporter's createDefaultConfig), and with the other
// compressions chainwatch accepts there.
func TestCollectorOTLPgRPC(t *testing.T) {
	needInterop(t)
	for _, compression := range []string{"default", "zstd", "snappy"} {
		t.Run(compression, func(t *testing.T) {
			p := startPipeline(t, nil)
			setting := ""
			if compression != "default" {
				setting = "  compression: " + compression + "\n"
			}
			recv, col := runCollector(t, fmt.Sprintf("otlp_grpc:\n  endpoint: %s\n  tls:\n    insecure: true\n%s", p.Collector.GRPCAddr(), setting))
			app := "interop-otlp-grpc-" + compression
			ids := sendSDK(t, recv, app)
			checkSDKSpans(t, p, app, ids, 0, col)
		})
	}
}

// TestCollectorOTLPHTTP: the Collector's otlp_http exporter with gzip,
// zstd and deflate to chainwatch's OTLP/HTTP endpoint; a recording proxy
// checks that the bodies really came compressed so.
func TestCollectorOTLPHTTP(t *testing.T) {
	needInterop(t)
	for _, compression := range []string{"gzip", "zstd", "deflate"} {
		t.Run(compression, func(t *testing.T) {
			p := startPipeline(t, nil)
			rec := newRecorder(t, "http://"+p.Collector.HTTPAddr(), false)
			recv, col := runCollector(t, fmt.Sprintf("otlp_http:\n  endpoint: %s\n  compression: %s\n", rec.URL, compression))
			app := "interop-otlp-http-" + compression
			ids := sendSDK(t, recv, app)
			checkSDKSpans(t, p, app, ids, 0, col)
			reqs := rec.requests()
			if len(reqs) == 0 {
				t.Fatal("the recorder saw no request")
			}
			for _, r := range reqs {
				if r.Path != "/v1/traces" || r.ContentEncoding != compression || r.ContentType != "application/x-protobuf" || r.Status != 200 {
					t.Errorf("request %+v: want POST /v1/traces, %s, application/x-protobuf, 200", r, compression)
				}
			}
		})
	}
}
