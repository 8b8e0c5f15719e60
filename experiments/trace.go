package experiments

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/schemas"
)

// SpanExporter takes the traces of experiment calls. KafkaSpans produces
// them to the spans topic, where the writer stores them like production
// traffic.
type SpanExporter interface {
	Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) error
}

// KafkaSpans produces OTLP requests to a spans topic, one record per trace
// (kafka.SplitByTrace), waiting for every acknowledgement.
type KafkaSpans struct {
	Client *kgo.Client
	Topic  string
}

var _ SpanExporter = (*KafkaSpans)(nil)

// Export produces req and returns the first produce error.
func (k *KafkaSpans) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) error {
	recs, _, err := kafka.SplitByTrace(req, k.Topic)
	if err != nil {
		return fmt.Errorf("splitting experiment spans: %w", err)
	}
	if err := k.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing experiment spans to %s: %w", k.Topic, err)
	}
	return nil
}

// call is what the trace of one item × repeat records.
type call struct {
	exp      *schemas.Experiment
	chain    *Chain
	row      schemas.DatasetRow
	repeat   int
	msgs     []openai.Message
	output   string
	model    string
	respID   string
	inTok    int
	outTok   int
	err      string
	start    time.Time
	end      time.Time
	traceID  [16]byte
	rootID   [8]byte
	llmID    [8]byte
	endpoint string
}

// ids derives the trace and span ids from the experiment id, row and repeat:
// a resumed or re-exported item keeps its trace id.
func (c *call) ids() {
	h := fnv64(c.exp.ID)
	binary.BigEndian.PutUint64(c.traceID[:8], h)
	binary.BigEndian.PutUint32(c.traceID[8:12], c.row.Row)
	binary.BigEndian.PutUint32(c.traceID[12:], uint32(c.repeat)|0x80000000)
	binary.BigEndian.PutUint64(c.rootID[:], h^uint64(c.row.Row)<<16^uint64(c.repeat)^1)
	binary.BigEndian.PutUint64(c.llmID[:], h^uint64(c.row.Row)<<16^uint64(c.repeat)^2)
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (c *call) traceHex() string { return hex.EncodeToString(c.traceID[:]) }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// spans renders the call as a chain span with one LLM client span under it,
// in the OpenTelemetry GenAI conventions and chainwatch's lineage
// attributes, each carrying chainwatch.experiment.id.
func (c *call) spans() *tracepb.ResourceSpans {
	lineage := func(component, kind string) []*commonpb.KeyValue {
		return []*commonpb.KeyValue{
			str(schemas.AttrApp, c.chain.Name),
			str(schemas.AttrEnvironment, "experiment"),
			str(schemas.AttrChainName, c.chain.Name),
			str(schemas.AttrChainVersion, c.chain.Version),
			str(schemas.AttrComponentName, component),
			str(schemas.AttrComponentKind, kind),
			str(schemas.AttrPromptTemplateID, templateID(c.chain)),
			str(schemas.AttrPromptTemplateVersion, c.chain.PromptVersion()),
			str(schemas.AttrExperimentID, c.exp.ID),
			num(schemas.AttrExperimentRow, int64(c.row.Row)),
			num(schemas.AttrExperimentRepeat, int64(c.repeat)),
			str(schemas.AttrDatasetName, c.exp.Dataset),
			num(schemas.AttrDatasetVersion, int64(c.exp.DatasetVersion)),
		}
	}
	status := &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	if c.err != "" {
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: c.err}
	}
	start, end := uint64(c.start.UnixNano()), uint64(c.end.UnixNano())
	root := &tracepb.Span{
		TraceId: c.traceID[:], SpanId: c.rootID[:], Name: "invoke_agent " + c.chain.Name,
		Kind: tracepb.Span_SPAN_KIND_INTERNAL, StartTimeUnixNano: start, EndTimeUnixNano: end, Status: status,
		Attributes: append(lineage(c.chain.Name, string(schemas.KindChain)),
			str("gen_ai.operation.name", "invoke_agent"),
			str("gen_ai.agent.name", c.chain.Name),
			str("gen_ai.request.model", c.chain.Model)),
	}
	var system, input []map[string]any
	for _, m := range c.msgs {
		msg := map[string]any{"role": m.Role, "parts": []map[string]string{{"type": "text", "content": m.Content}}}
		if m.Role == "system" || m.Role == "developer" {
			system = append(system, map[string]any{"type": "text", "content": m.Content})
		} else {
			input = append(input, msg)
		}
	}
	llmAttrs := append(lineage(c.chain.Name+"-llm", string(schemas.KindLLM)),
		str("gen_ai.operation.name", "chat"),
		str("gen_ai.request.model", c.chain.Model),
		str("server.address", c.endpoint),
		str("gen_ai.input.messages", mustJSON(input)))
	if len(system) > 0 {
		llmAttrs = append(llmAttrs, str("gen_ai.system_instructions", mustJSON(system)))
	}
	if c.chain.Temperature != nil {
		llmAttrs = append(llmAttrs, &commonpb.KeyValue{Key: "gen_ai.request.temperature",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: *c.chain.Temperature}}})
	}
	if c.err == "" {
		llmAttrs = append(llmAttrs,
			str("gen_ai.response.model", c.model),
			str("gen_ai.response.id", c.respID),
			num("gen_ai.usage.input_tokens", int64(c.inTok)),
			num("gen_ai.usage.output_tokens", int64(c.outTok)),
			str("gen_ai.output.messages", mustJSON([]map[string]any{{"role": "assistant",
				"parts": []map[string]string{{"type": "text", "content": c.output}}, "finish_reason": "stop"}})))
	} else {
		llmAttrs = append(llmAttrs, str("error.type", "chain_call"))
	}
	llm := &tracepb.Span{
		TraceId: c.traceID[:], SpanId: c.llmID[:], ParentSpanId: c.rootID[:], Name: "chat " + c.chain.Model,
		Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: start, EndTimeUnixNano: end, Status: status,
		Attributes: llmAttrs,
	}
	return &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			str("service.name", c.chain.Name), str(schemas.AttrApp, c.chain.Name), str(schemas.AttrExperimentID, c.exp.ID)}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "chainwatch/experiments", Version: "1"},
			Spans: []*tracepb.Span{root, llm},
		}},
	}
}

func templateID(c *Chain) string {
	if c.TemplateID != "" {
		return c.TemplateID
	}
	return c.Name
}
