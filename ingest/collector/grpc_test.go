package collector

import (
	"context"
	"encoding/hex"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// Defect 9: a real OpenTelemetry exporter with gzip, as the OpenTelemetry
// Collector sends by default, reaches Kafka.
func TestGRPCOTelSDKGzipReachesKafka(t *testing.T) {
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

	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.GRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	want := map[string]bool{}
	tr := tp.Tracer("chainwatch-test")
	for i := 0; i < 3; i++ {
		_, sp := tr.Start(ctx, "chat")
		sp.End()
		want[sp.SpanContext().TraceID().String()] = true
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("exporting with gzip: %v", err)
	}
	if got := testutil.ToFloat64(m.Received.WithLabelValues("grpc")); got != 3 {
		t.Fatalf("collector received %v spans over gRPC, want 3", got)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kcfg.Topics.Spans), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("traces %v not found in Kafka", want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(r.Value, &req); err != nil {
				t.Fatalf("record of trace %s: %v", r.Key, err)
			}
			id := hex.EncodeToString(req.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)
			if id != string(r.Key) {
				t.Fatalf("record keyed %s holds trace %s", r.Key, id)
			}
			delete(want, id)
		})
	}
}

// The exporter test above cannot fail for want of gzip: otlptracegrpc
// registers it in the test binary itself. So check that the collector's
// package, as the chainwatch binary links it, registers every compression.
func TestCollectorPackageRegistersGRPCCompressions(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/chainwatch/chainwatch/ingest/collector").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, want := range []string{"google.golang.org/grpc/encoding/gzip", "github.com/klauspost/compress/zstd", "github.com/klauspost/compress/snappy"} {
		if !slices.Contains(deps, want) {
			t.Errorf("package ingest/collector does not link %s: a sender using it is refused before Export", want)
		}
	}
}

// The other compressions of the Go gRPC ecosystem, from a raw client.
func TestGRPCCompressions(t *testing.T) {
	prod := &fakeProducer{}
	c, _ := startCollector(t, Config{}, prod)
	for i, name := range []string{"gzip", "zstd", "snappy"} {
		t.Run(name, func(t *testing.T) {
			if encoding.GetCompressor(name) == nil {
				t.Fatalf("%s is not registered", name)
			}
			prod.mu.Lock()
			prod.recs = nil
			prod.mu.Unlock()
			// A large, compressible request: several stream blocks.
			req := bigTrace(uint64(40+i), 4, 1<<20)
			if _, err := grpcClient(t, c.GRPCAddr()).Export(context.Background(), req, grpc.UseCompressor(name)); err != nil {
				t.Fatalf("export with %s: %v", name, err)
			}
			prod.mu.Lock()
			defer prod.mu.Unlock()
			if len(prod.recs) != 1 {
				t.Fatalf("%d records produced, want 1", len(prod.recs))
			}
			var got coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(prod.recs[0].Value, &got); err != nil || !proto.Equal(&got, req) {
				t.Fatalf("record differs from the request sent (%v)", err)
			}
		})
	}
}

// legacyCompressor is a client-side compressor that is not registered (grpc's
// deprecated per-connection API), so the server does not know it.
type legacyCompressor struct{}

func (legacyCompressor) Do(w io.Writer, p []byte) error { _, err := w.Write(p); return err }
func (legacyCompressor) Type() string                   { return "x-unknown" }

// rawCodec sends bytes as they are, to deliver what no protobuf encoder
// would write.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Defects 9 and 10b: refusals grpc-go makes before Export are counted and
// logged like HTTP ones, and an undecodable message says where it broke.
func TestGRPCRefusalsBeforeExport(t *testing.T) {
	c, m := startCollector(t, Config{MaxBodyBytes: 1 << 20}, &fakeProducer{})
	ctx := context.Background()

	conn := grpcClient(t, c.GRPCAddr(), grpc.WithCompressor(legacyCompressor{}))
	if _, err := conn.Export(ctx, ingesttest.Request(50, 1, 1)); status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown compression: got %v, want Unimplemented", err)
	}
	ingesttest.Eventually(t, 5*time.Second, "the unknown compression counted as rejected (unsupported_media_type, 415)", func() bool {
		return testutil.ToFloat64(m.Rejected.WithLabelValues("grpc", reasonUnsupported)) == 1 &&
			testutil.ToFloat64(m.Requests.WithLabelValues("grpc", "415")) == 1
	})

	// A span whose name is cut short: the length says 50 bytes, 3 follow.
	good, _ := proto.Marshal(ingesttest.Request(51, 1, 1))
	bad := append(good[:len(good):len(good)], 0x0a, 0x05, 0x12, 0x03, 0x0a, 0x01, 0x32, 0x32, 0x01, 0x02)
	raw, err := grpc.NewClient(c.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var out []byte
	err = raw.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &bad, &out)
	st := status.Convert(err)
	if st.Code() != codes.Internal || !strings.Contains(st.Message(), "at byte") || !strings.Contains(st.Message(), "decoding OTLP protobuf") {
		t.Fatalf("undecodable message: got %v, want Internal naming the byte offset", err)
	}
	t.Logf("undecodable message answered: %s", st.Message())
	ingesttest.Eventually(t, 5*time.Second, "the undecodable message counted as rejected (decode)", func() bool {
		return testutil.ToFloat64(m.Rejected.WithLabelValues("grpc", reasonDecode)) == 1
	})

	// Export's own refusals are counted once, not again by the stats handler.
	big := bigTrace(52, 1, 2<<20)
	if _, err := grpcClient(t, c.GRPCAddr()).Export(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversize message: got %v, want ResourceExhausted", err)
	}
	ingesttest.Eventually(t, 5*time.Second, "the oversize message counted as rejected (too_large)", func() bool {
		return testutil.ToFloat64(m.Rejected.WithLabelValues("grpc", reasonTooLarge)) == 1
	})
}
