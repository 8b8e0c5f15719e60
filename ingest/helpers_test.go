package ingest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// testRequest builds nTraces traces of spansPerTrace spans each (a root and
// its children), in one resource, with unique ids drawn from seed.
func testRequest(seed uint64, nTraces, spansPerTrace int) *coltracepb.ExportTraceServiceRequest {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for t := 0; t < nTraces; t++ {
		tid := make([]byte, 16)
		binary.BigEndian.PutUint64(tid, rng.Uint64()|1)
		binary.BigEndian.PutUint64(tid[8:], rng.Uint64())
		var root []byte
		for s := 0; s < spansPerTrace; s++ {
			sid := make([]byte, 8)
			binary.BigEndian.PutUint64(sid, rng.Uint64()|1)
			start := now.Add(-time.Duration(rng.IntN(1000)) * time.Millisecond)
			sp := &tracepb.Span{
				TraceId: tid, SpanId: sid, ParentSpanId: root, Name: "chat",
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Duration(50+rng.IntN(500)) * time.Millisecond).UnixNano()),
				Attributes: []*commonpb.KeyValue{
					strAttr("gen_ai.operation.name", "chat"),
					strAttr("gen_ai.request.model", "gpt-test"),
					strAttr("gen_ai.input.messages", fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"question %d.%d"}]}]`, t, s)),
					strAttr("gen_ai.output.messages", fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":"answer %d.%d"}]}]`, t, s)),
					intAttr("gen_ai.usage.input_tokens", 12),
					intAttr("gen_ai.usage.output_tokens", 30),
					strAttr("chainwatch.chain.name", "qa"),
					strAttr("chainwatch.chain.version", "v1"),
				},
			}
			if s == 0 {
				root = sid
			}
			ss.Spans = append(ss.Spans, sp)
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "test-app"), strAttr("deployment.environment.name", "test")}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}
