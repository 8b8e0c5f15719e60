package collector

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// kafkaCollector is a collector producing to a kfake cluster through a
// real franz-go client, and what reads the spans topic back.
type kafkaCollector struct {
	c       *Collector
	m       *Metrics
	topic   string
	brokers []string
}

func newKafkaCollector(t *testing.T) *kafkaCollector {
	t.Helper()
	_, brokers := kafkatest.NewCluster(t)
	kcfg := kafka.Config{Brokers: brokers, Partitions: 1, Compression: "none", ProduceTimeout: 5 * time.Second}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kafka.ProducerOpts(kcfg)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	c, m := startCollector(t, Config{}.WithKafka(kcfg), prod)
	return &kafkaCollector{c: c, m: m, topic: kcfg.Topics.Spans, brokers: brokers}
}

// spansInKafka reads the spans topic from the start until it has want
// spans, and returns them by span id (hex) → trace id (hex), checking
// that each record holds only its key's trace.
func (k *kafkaCollector) spansInKafka(t *testing.T, want int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.ConsumeTopics(k.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]string{}
	for len(got) < want {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("found %d spans in Kafka, want %d", len(got), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(r.Value, &req); err != nil {
				t.Fatalf("record of trace %s: %v", r.Key, err)
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					for _, sp := range ss.Spans {
						if tid := hex.EncodeToString(sp.TraceId); tid != string(r.Key) {
							t.Fatalf("record keyed %s holds a span of trace %s", r.Key, tid)
						}
						if field, reason := genai.CheckSpanFields(sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano); field != "" {
							t.Fatalf("an invalid span reached Kafka: %s: %s", field, reason)
						}
						got[hex.EncodeToString(sp.SpanId)] = string(r.Key)
					}
				}
			}
		})
	}
	// Nothing more than want: one more poll finds nothing new.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	cons.PollFetches(ctx2).EachRecord(func(r *kgo.Record) { t.Fatalf("an extra record in Kafka: %s", r.Key) })
	return got
}

// The OpenTelemetry Go SDK's own OTLP exporters, HTTP (protobuf, with gzip,
// and JSON) and gRPC with gzip: valid spans land in Kafka, and a batch holding spans the collector
// refuses is a partial success the exporter reports (an error "OTLP partial
// success: … (2 spans rejected)"), the others stored.
func TestOTelSDKExportersPartialSuccess(t *testing.T) {
	httpExp := func(opts ...otlptracehttp.Option) func(context.Context, *Collector) (sdktrace.SpanExporter, error) {
		return func(ctx context.Context, c *Collector) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, append([]otlptracehttp.Option{
				otlptracehttp.WithEndpointURL("http://" + c.HTTPAddr() + "/v1/traces"),
				otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
			}, opts...)...)
		}
	}
	for _, tc := range []struct {
		name, ep string
		newExp   func(context.Context, *Collector) (sdktrace.SpanExporter, error)
	}{
		{"http protobuf gzip", "traces", httpExp(otlptracehttp.WithCompression(otlptracehttp.GzipCompression))},
		{"http json", "traces", httpExp(otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))},
		{"http protobuf", "traces", httpExp()},
		{"grpc gzip", "grpc", func(ctx context.Context, c *Collector) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.GRPCAddr()), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKafkaCollector(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			exp, err := tc.newExp(ctx, k.c)
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(ctx)

			res := resource.NewSchemaless()
			stub := func(n byte, mod func(*tracetest.SpanStub)) tracetest.SpanStub {
				start := time.Now().Add(-time.Second)
				s := tracetest.SpanStub{
					Name: "chat",
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
						TraceID: trace.TraceID{1, n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
						SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, n},
					}),
					StartTime: start, EndTime: start.Add(100 * time.Millisecond),
					Resource: res, InstrumentationScope: instrumentation.Scope{Name: "chainwatch-test"},
				}
				if mod != nil {
					mod(&s)
				}
				return s
			}
			stubs := tracetest.SpanStubs{
				stub(1, nil),
				stub(2, func(s *tracetest.SpanStub) { s.EndTime = s.StartTime.Add(-time.Second) }), // ends before it starts
				stub(3, nil),
				stub(4, func(s *tracetest.SpanStub) { // an all-zero span id
					s.SpanContext = s.SpanContext.WithSpanID(trace.SpanID{})
				}),
				stub(5, nil),
			}
			err = exp.ExportSpans(ctx, stubs.Snapshots())
			if err == nil {
				t.Fatal("the exporter reported no partial success")
			}
			for _, want := range []string{"OTLP partial success", "(2 spans rejected)", "2 of 5 spans rejected",
				"resource_spans[0].scope_spans[0].spans[1]: end_time_unix_nano: must not be before start_time_unix_nano",
				"resource_spans[0].scope_spans[0].spans[3]: span_id: must not be all zero"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("exporter's error %q lacks %q", err, want)
				}
			}
			got := k.spansInKafka(t, 3)
			want := map[string]string{}
			for _, n := range []byte{1, 3, 5} {
				s := stub(n, nil)
				want[s.SpanContext.SpanID().String()] = s.SpanContext.TraceID().String()
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("spans in Kafka %v, want %v", got, want)
			}
			for reason, want := range map[string]float64{"invalid_end_time_unix_nano": 1, "invalid_span_id": 1, "invalid_trace_id": 0} {
				if got := testutil.ToFloat64(k.m.RejectedSpans.WithLabelValues(tc.ep, reason)); got != want {
					t.Errorf("rejected_spans_total{traces,%s} = %v, want %v", reason, got, want)
				}
			}
			if got := testutil.ToFloat64(k.m.Received.WithLabelValues(tc.ep)); got != 3 {
				t.Errorf("received_total{traces} = %v, want 3", got)
			}

			// A batch with no valid span: a 400 (InvalidArgument) whose
			// message the exporter shows.
			err = exp.ExportSpans(ctx, tracetest.SpanStubs{stub(6, func(s *tracetest.SpanStub) { s.EndTime = s.StartTime.Add(-time.Second) })}.Snapshots())
			if err == nil || !strings.Contains(err.Error(), "400") && !strings.Contains(err.Error(), "InvalidArgument") || !strings.Contains(err.Error(), "spans[0]: end_time_unix_nano") {
				t.Fatalf("all invalid: exporter says %v, want a 400 naming spans[0]'s end_time_unix_nano", err)
			}
		})
	}
}

// Raw requests on every transport and encoding: the valid spans of a
// request with invalid ones reach Kafka, the answer's partial_success
// counts and names the others, and the metric counts them by field.
func TestPartialSuccessOnEveryTransport(t *testing.T) {
	k := newKafkaCollector(t)
	gc := grpcClient(t, k.c.GRPCAddr())
	type sent struct {
		resp *coltracepb.ExportTraceServiceResponse
		code int
	}
	httpSend := func(ctype, enc string, compress func([]byte) []byte) func(*testing.T, *coltracepb.ExportTraceServiceRequest) sent {
		return func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) sent {
			var body []byte
			if ctype == "application/json" {
				js, _ := protojson.Marshal(req)
				body = hexifyIDs(t, js)
			} else {
				body, _ = proto.Marshal(req)
			}
			var hdr []string
			if compress != nil {
				body, hdr = compress(body), []string{"Content-Encoding", enc}
			}
			code, out, rh := post(t, "http://"+k.c.HTTPAddr()+"/v1/traces", ctype, body, hdr...)
			if rh.Get("Content-Type") != ctype {
				t.Fatalf("answer's Content-Type %q, want the request's %q", rh.Get("Content-Type"), ctype)
			}
			resp := &coltracepb.ExportTraceServiceResponse{}
			if code == 200 {
				if err := unmarshalAnswer(ctype, out, resp); err != nil {
					t.Fatalf("200 body %q: %v", out, err)
				}
			} else {
				resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{ErrorMessage: answerText(t, "/v1/traces", ctype, code, out)}
			}
			return sent{resp, code}
		}
	}
	grpcSend := func(compressor string) func(*testing.T, *coltracepb.ExportTraceServiceRequest) sent {
		return func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) sent {
			var opts []grpc.CallOption
			if compressor != "" {
				opts = append(opts, grpc.UseCompressor(compressor))
			}
			resp, err := gc.Export(context.Background(), req, opts...)
			if err != nil {
				st := status.Convert(err)
				if st.Code() != codes.InvalidArgument {
					t.Fatalf("gRPC: %v", err)
				}
				return sent{&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{ErrorMessage: st.Message()}}, 400}
			}
			return sent{resp, 200}
		}
	}
	wantSpans := map[string]string{}
	endpoints := map[string]float64{}
	for i, tc := range []struct {
		name, ep string
		send     func(*testing.T, *coltracepb.ExportTraceServiceRequest) sent
	}{
		{"protobuf", "traces", httpSend("application/x-protobuf", "", nil)},
		{"protobuf zstd", "traces", httpSend("application/x-protobuf", "zstd", zstdBytes)},
		{"protobuf deflate", "traces", httpSend("application/x-protobuf", "deflate", zlibBytes)},
		{"application/protobuf gzip", "traces", httpSend("application/protobuf", "gzip", gz)},
		{"json", "traces", httpSend("application/json", "", nil)},
		{"json zstd", "traces", httpSend("application/json", "zstd", zstdBytes)},
		{"grpc", "grpc", grpcSend("")},
		{"grpc zstd", "grpc", grpcSend("zstd")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 4 traces of 3 spans; spans 1 and 5 invalid, and all of the
			// third trace (6, 7, 8).
			req := ingesttest.Request(uint64(1000+i), 4, 3)
			sps := req.ResourceSpans[0].ScopeSpans[0].Spans
			sps[1].SpanId = nil
			sps[5].EndTimeUnixNano = sps[5].StartTimeUnixNano - 1
			for _, sp := range sps[6:9] {
				sp.TraceId = make([]byte, 16)
			}
			got := tc.send(t, req)
			ps := got.resp.GetPartialSuccess()
			if got.code != 200 || ps.GetRejectedSpans() != 5 {
				t.Fatalf("got %d, partial success %v; want 200 with 5 spans rejected", got.code, ps)
			}
			for _, want := range []string{"5 of 12 spans rejected",
				"resource_spans[0].scope_spans[0].spans[1]: span_id: must be 8 bytes, got 0",
				"resource_spans[0].scope_spans[0].spans[5]: end_time_unix_nano: must not be before start_time_unix_nano",
				"spans[8]: trace_id: must not be all zero"} {
				if !strings.Contains(ps.GetErrorMessage(), want) {
					t.Errorf("error_message %q lacks %q", ps.GetErrorMessage(), want)
				}
			}
			for j, sp := range sps {
				if j != 1 && j != 5 && (j < 6 || j > 8) {
					wantSpans[hex.EncodeToString(sp.SpanId)] = hex.EncodeToString(sp.TraceId)
				}
			}
			endpoints[tc.ep] += 5

			// No valid span: 400, nothing stored.
			bad := ingesttest.Request(uint64(2000+i), 1, 2)
			for _, sp := range bad.ResourceSpans[0].ScopeSpans[0].Spans {
				sp.StartTimeUnixNano = 0
			}
			got = tc.send(t, bad)
			if got.code != 400 || !strings.Contains(got.resp.GetPartialSuccess().GetErrorMessage(), "spans[1]: start_time_unix_nano: must not be zero") {
				t.Fatalf("all invalid: got %d %v, want 400 naming spans[1]", got.code, got.resp)
			}
			endpoints[tc.ep] += 2
		})
	}
	if got := k.spansInKafka(t, len(wantSpans)); !reflect.DeepEqual(got, wantSpans) {
		t.Fatalf("Kafka holds %d spans, want the %d valid ones", len(got), len(wantSpans))
	}
	for ep, want := range endpoints {
		var sum float64
		for i := range nSpanReasons {
			sum += testutil.ToFloat64(k.m.RejectedSpans.WithLabelValues(ep, spanReason(i)))
		}
		if sum != want {
			t.Errorf("rejected_spans_total{%s} sums to %v, want %v", ep, sum, want)
		}
	}
	if got := testutil.ToFloat64(k.m.RejectedSpans.WithLabelValues("grpc", "invalid_trace_id")); got != 6 {
		t.Errorf("rejected_spans_total{grpc,invalid_trace_id} = %v, want 6", got)
	}
}

// partial_success.error_message names at most ten spans and counts the
// rest; rejected_spans counts them all.
func TestPartialSuccessMessageIsBounded(t *testing.T) {
	prod := &fakeProducer{}
	c, srv := newTestCollector(t, prod)
	req := ingesttest.Request(77, 1, 26)
	for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans[1:] {
		sp.ParentSpanId = []byte{1, 2, 3}
	}
	body, _ := proto.Marshal(req)
	code, out, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body)
	resp := &coltracepb.ExportTraceServiceResponse{}
	if code != 200 || proto.Unmarshal([]byte(out), resp) != nil {
		t.Fatalf("got %d %q", code, out)
	}
	ps := resp.GetPartialSuccess()
	msg := ps.GetErrorMessage()
	if ps.GetRejectedSpans() != 25 || strings.Count(msg, "parent_span_id: must be empty or 8 bytes, got 3") != 10 ||
		!strings.HasSuffix(msg, "; and 15 more spans with errors") || len(msg) > 2048 || strings.Contains(msg, "\n") {
		t.Fatalf("partial success %d spans, message (%d bytes) %q", ps.GetRejectedSpans(), len(msg), msg)
	}
	if len(prod.recs) != 1 {
		t.Fatalf("%d records, want the valid span's one", len(prod.recs))
	}
	if got := testutil.ToFloat64(c.m.RejectedSpans.WithLabelValues("traces", "invalid_parent_span_id")); got != 25 {
		t.Fatalf("rejected_spans_total = %v, want 25", got)
	}
}

// Error bodies on /v1/traces are a google.rpc.Status in the request's
// encoding, with the gRPC code the same refusal gets over gRPC and, on
// 503, a RetryInfo besides Retry-After; the chainwatch endpoints answer
// {"error": …}.
func TestErrorBodies(t *testing.T) {
	good, _ := proto.Marshal(ingesttest.Request(5, 1, 1))
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
		prodErr           error
		code              int
		grpc              codes.Code
		retry             bool
	}{
		{"protobuf 400", "/v1/traces", "application/x-protobuf", []byte{0xff}, nil, 400, codes.InvalidArgument, false},
		{"json 400", "/v1/traces", "application/json", []byte(`{"resourceSpans":1}`), nil, 400, codes.InvalidArgument, false},
		{"protobuf 503", "/v1/traces", "application/x-protobuf", good, kgo.ErrMaxBuffered, 503, codes.Unavailable, true},
		{"415", "/v1/traces", "text/plain", good, nil, 415, codes.InvalidArgument, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newTestCollector(t, &fakeProducer{err: tc.prodErr})
			code, out, hdr := post(t, srv.URL+tc.path, tc.ctype, tc.body)
			wantType := tc.ctype
			if wantType == "text/plain" {
				wantType = "application/x-protobuf"
			}
			if code != tc.code || hdr.Get("Content-Type") != wantType {
				t.Fatalf("got %d %s, want %d %s", code, hdr.Get("Content-Type"), tc.code, wantType)
			}
			st := &spb.Status{}
			if err := unmarshalAnswer(wantType, out, st); err != nil {
				t.Fatalf("body %q is not a Status: %v", out, err)
			}
			if codes.Code(st.Code) != tc.grpc || st.Message == "" || (len(st.Details) > 0) != tc.retry || (hdr.Get("Retry-After") != "") != tc.retry {
				t.Fatalf("status %v, Retry-After %q", st, hdr.Get("Retry-After"))
			}
		})
	}
	_, srv := newTestCollector(t, &fakeProducer{})
	for _, path := range []string{"/v1/spans", "/v1/feedback"} {
		code, out, hdr := post(t, srv.URL+path, "application/json", []byte(`{`))
		if code != 400 || hdr.Get("Content-Type") != "application/json" || answerText(t, path, "application/json", code, out) == "" {
			t.Fatalf("%s: %d %s %q", path, code, hdr.Get("Content-Type"), out)
		}
	}
}

// The wire path and the message path agree on partial success: the same
// rejected spans in the same words, and records equal to kafka.SplitByTrace
// of the request without them.
func TestPartialSuccessWireMatchesMessagePath(t *testing.T) {
	partial := 0
	for seed := range uint64(1500) {
		body := newGenReq(seed).body()
		req := &coltracepb.ExportTraceServiceRequest{}
		if proto.Unmarshal(body, req) != nil {
			continue
		}
		recs, n, rej, _, err := splitTracesWire(body, "spans")
		if err != nil {
			t.Fatal(err)
		}
		valid, mrej := validSpans(req, nil)
		if rej.n != mrej.n || rej.byField != mrej.byField || fmt.Sprint(rej.err) != fmt.Sprint(mrej.err) {
			t.Fatalf("seed %d: wire rejects %d %v %v, message path %d %v %v", seed, rej.n, rej.byField, rej.err, mrej.n, mrej.byField, mrej.err)
		}
		if verr := genai.ValidateOTLP(req); fmt.Sprint(verr) != fmt.Sprint(rej.err) {
			t.Fatalf("seed %d: rejects %v, ValidateOTLP %v", seed, rej.err, verr)
		}
		want, wantN, werr := kafka.SplitByTrace(valid, "spans")
		if werr != nil || n != wantN || len(recs) != len(want) {
			t.Fatalf("seed %d: %d records of %d spans, want %d of %d (%v)", seed, len(recs), n, len(want), wantN, werr)
		}
		for i := range recs {
			got, exp := &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceRequest{}
			if err := errors.Join(proto.Unmarshal(recs[i].Value, got), proto.Unmarshal(want[i].Value, exp)); err != nil {
				t.Fatal(err)
			}
			if string(recs[i].Key) != string(want[i].Key) || !proto.Equal(got, exp) {
				t.Fatalf("seed %d: record %d differs:\nwire:    %v\nmessage: %v", seed, i, got, exp)
			}
		}
		if rej.n > 0 && n > 0 {
			partial++
		}
	}
	if partial < 50 {
		t.Fatalf("only %d generated requests were partial successes", partial)
	}
}

// OTLP/JSON: a span whose id is not hex is rejected alone, named with the
// field (a long value quoted clipped), the others stored.
func TestPartialSuccessJSONNonHexID(t *testing.T) {
	prod := &fakeProducer{}
	_, srv := newTestCollector(t, prod)
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"a","startTimeUnixNano":"1760000000000000000","endTimeUnixNano":"1760000001000000000"},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"01020304050607zz","name":"b","startTimeUnixNano":"1760000000000000000","endTimeUnixNano":"1760000001000000000"},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":"c","startTimeUnixNano":"1760000000000000000","endTimeUnixNano":"1760000001000000000",
		 "links":[{"traceId":"nothex","spanId":"0102030405060708"}]},
		{"traceId":"` + strings.Repeat("é", 100<<10) + `","spanId":"010203040506070a","name":"d","startTimeUnixNano":"1760000000000000000","endTimeUnixNano":"1760000001000000000"}]}]}]}`
	code, out, _ := post(t, srv.URL+"/v1/traces", "application/json", []byte(body))
	msg := answerText(t, "/v1/traces", "application/json", code, out)
	resp := &coltracepb.ExportTraceServiceResponse{}
	protojson.Unmarshal([]byte(out), resp)
	if code != 200 || resp.GetPartialSuccess().GetRejectedSpans() != 3 || len(msg) > 1024 ||
		!strings.Contains(msg, `spans[3]: trace_id: "`+strings.Repeat("é", 24)+`…" is not hex`) ||
		!strings.Contains(msg, `spans[1]: span_id: "01020304050607zz" is not hex`) ||
		!strings.Contains(msg, `spans[2]: links[0].trace_id: "nothex" is not hex`) {
		t.Fatalf("got %d %s", code, out)
	}
	if len(prod.recs) != 1 {
		t.Fatalf("%d records, want 1", len(prod.recs))
	}
	var got coltracepb.ExportTraceServiceRequest
	proto.Unmarshal(prod.recs[0].Value, &got)
	if sps := got.ResourceSpans[0].ScopeSpans[0].Spans; len(sps) != 1 || sps[0].Name != "a" {
		t.Fatalf("stored %v, want span a only", sps)
	}
}
