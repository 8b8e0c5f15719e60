// The OTLP mapping's throughput benchmark.

package genai

import (
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

// benchRequest is a batch of n LLM spans as a semconv 1.37 instrumentation
// sends them: ~1 KB of message text each, a dozen other attributes.
func benchRequest(n int) *coltracepb.ExportTraceServiceRequest {
	para := "Our refund policy allows returns within 30 days of delivery. " +
		"Items must be unused and in their original packaging; \"final sale\" items are excluded.\n"
	user := strings.Repeat(para, 5)   // ~750 bytes
	answer := strings.Repeat(para, 2) // ~300 bytes
	in := string(schemas.AppendJSONString([]byte(`[{"role":"system","parts":[{"type":"text","content":"You are a helpful support agent."}]},{"role":"user","parts":[{"type":"text","content":`), user)) + `}]}]`
	out := string(schemas.AppendJSONString([]byte(`[{"role":"assistant","parts":[{"type":"text","content":`), answer)) + `}],"finish_reason":"stop"}]`
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		tid := make([]byte, 16)
		sid := make([]byte, 8)
		for j := range tid {
			tid[j] = byte(i*7 + j + 1)
		}
		for j := range sid {
			sid[j] = byte(i*3 + j + 1)
		}
		spans[i] = &tracepb.Span{
			TraceId: tid, SpanId: sid, ParentSpanId: tid[:8],
			Name: "chat gpt-4o", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: testStart + uint64(i)*1000, EndTimeUnixNano: testStart + uint64(i)*1000 + 900_000_000,
			Attributes: kvs(
				"gen_ai.operation.name", "chat",
				"gen_ai.provider.name", "openai",
				"gen_ai.request.model", "gpt-4o",
				"gen_ai.response.model", "gpt-4o-2024-08-06",
				"gen_ai.response.id", "chatcmpl-AbCdEf123",
				"gen_ai.request.temperature", 0.2,
				"gen_ai.request.max_tokens", 512,
				"gen_ai.usage.input_tokens", 187,
				"gen_ai.usage.output_tokens", 64,
				"gen_ai.conversation.id", "conv-1234",
				schemas.AttrChainName, "support",
				schemas.AttrChainVersion, "v12",
				schemas.AttrPromptTemplateID, "support-answer",
				schemas.AttrPromptTemplateVersion, "3",
				"gen_ai.input.messages", in,
				"gen_ai.output.messages", out,
			),
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
		}
	}
	req := request(kvs("service.name", "support-bot", "deployment.environment.name", "prod",
		"telemetry.sdk.language", "python", "telemetry.sdk.name", "opentelemetry", "telemetry.sdk.version", "1.37.0",
		"host.name", "pod-7f9c"), spans...)
	req.ResourceSpans[0].ScopeSpans[0].Scope = &commonpb.InstrumentationScope{Name: "opentelemetry.instrumentation.openai_v2", Version: "2.1b0"}
	return req
}

// BenchmarkAppendSpans measures, on the same 1,000 spans: AppendSpans of
// the request built in memory (each span encoded, then read and mapped);
// the writer's AppendRecord of the encoded request (the strict wire reader
// and the mapping); and what a record costs when the strict reader gives
// up (proto.Unmarshal, proto.Marshal, then the same reading and mapping).
func BenchmarkAppendSpans(b *testing.B) {
	req := benchRequest(1000)
	body, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("batch_1000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		var dst []schemas.Span
		for b.Loop() {
			var err error
			if dst, err = AppendSpans(dst[:0], req); err != nil || len(dst) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("canonical_1000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		var dst []schemas.Span
		for b.Loop() {
			r := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(body, r); err != nil {
				b.Fatal(err)
			}
			canon, err := proto.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			if dst, _, err = AppendRecord(dst[:0], nil, canon); err != nil || len(dst) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "spans/s")
	})
	// The writer's path.
	b.Run("decode_and_map_1000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		var dst []schemas.Span
		for b.Loop() {
			var err error
			if dst, _, err = AppendRecord(dst[:0], nil, body); err != nil || len(dst) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "spans/s")
	})
}
