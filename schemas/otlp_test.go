package schemas

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var updateGolden = flag.Bool("update-mapping", false, "rewrite schemas/testdata/dialects/*.golden.json from the current mapping")

// --- helpers ---------------------------------------------------------------

func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func iv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
func dv(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func bv(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func av(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}
func kvl(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}

// kvs builds attributes from key, value pairs; values may be string, int,
// float64, bool or *commonpb.AnyValue.
func kvs(pairs ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(pairs); i += 2 {
		var v *commonpb.AnyValue
		switch x := pairs[i+1].(type) {
		case string:
			v = sv(x)
		case int:
			v = iv(int64(x))
		case float64:
			v = dv(x)
		case bool:
			v = bv(x)
		case *commonpb.AnyValue:
			v = x
		default:
			panic("kvs: unsupported value")
		}
		out = append(out, &commonpb.KeyValue{Key: pairs[i].(string), Value: v})
	}
	return out
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testSpanID  = "00f067aa0ba902b7"
	testStart   = uint64(1760000000000000000)
)

func testSpan(attrs ...any) *tracepb.Span {
	return &tracepb.Span{
		TraceId:           mustHex(testTraceID),
		SpanId:            mustHex(testSpanID),
		Name:              "span",
		StartTimeUnixNano: testStart,
		EndTimeUnixNano:   testStart + 1500000000,
		Attributes:        kvs(attrs...),
	}
}

func event(name string, attrs ...any) *tracepb.Span_Event {
	return &tracepb.Span_Event{Name: name, TimeUnixNano: testStart + 1, Attributes: kvs(attrs...)}
}

func request(res []*commonpb.KeyValue, spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: res},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

func mapOne(t *testing.T, req *coltracepb.ExportTraceServiceRequest) Span {
	t.Helper()
	spans, err := AppendSpans(nil, req)
	if err != nil {
		t.Fatalf("AppendSpans: %v", err)
	}
	if len(spans) != 1 {
		t.Fatalf("AppendSpans returned %d spans, want 1", len(spans))
	}
	return spans[0]
}

// checkAttrs checks that each key of want is in got with that value, and
// each key of gone is absent.
func checkAttrs(t *testing.T, got map[string]string, want map[string]string, gone []string) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("attribute %q missing, want %q", k, v)
		} else if g != v {
			t.Errorf("attribute %q = %q, want %q", k, g, v)
		}
	}
	for _, k := range gone {
		if v, ok := got[k]; ok {
			t.Errorf("attribute %q = %q should have been consumed", k, v)
		}
	}
}

// otlpJSONRequest reads an OTLP/JSON request as the OTLP specification
// writes it: ids in hex (protojson alone would read them as base64).
func otlpJSONRequest(t *testing.T, data []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var fix func(any)
	fix = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					x[k] = base64.StdEncoding.EncodeToString(mustHex(s))
					continue
				}
				fix(e)
			}
		case []any:
			for _, e := range x {
				fix(e)
			}
		}
	}
	fix(doc)
	fixed, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := protojson.Unmarshal(fixed, req); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	return req
}

func spanNamed(t *testing.T, spans []Span, name string) Span {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span named %q", name)
	return Span{}
}

// --- dialects ----------------------------------------------------------------

type spanWant struct {
	name  string // span to check
	check func(t *testing.T, s Span)
	attrs map[string]string
	gone  []string
}

func TestAppendSpansDialects(t *testing.T) {
	weatherIn := "What's the weather in Paris?"
	weatherOut := "It's rainy and 57°F in Paris.\nTake an \"umbrella\"."
	semconvChat := spanWant{
		name: "chat gpt-4o",
		check: func(t *testing.T, s Span) {
			want := Span{
				App: "weather-bot", Environment: "prod", ChainName: "weather", ChainVersion: "v3",
				ComponentName: "chat gpt-4o", ComponentKind: KindLLM, Operation: "chat", Provider: "openai",
				ModelRequested: "gpt-4o", ModelReturned: "gpt-4o-2024-08-06",
				InputText: weatherIn, OutputText: weatherOut, InputTokens: 97, OutputTokens: 52,
				Status: StatusUnset, SessionID: "conv-42", ParentSpanID: "eee19b7ec3c1b174",
			}
			compareColumns(t, s, want)
		},
		attrs: map[string]string{
			AttrInputSystem:                  "Answer briefly.",
			"gen_ai.request.temperature":     "0.2",
			"gen_ai.request.max_tokens":      "512",
			"gen_ai.response.finish_reasons": `["stop"]`,
			"gen_ai.response.id":             "chatcmpl-123",
			AttrSpanKind:                     "client",
			"server.address":                 "api.openai.com",
		},
		gone: []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.usage.input_tokens",
			"gen_ai.request.model", "service.name", AttrChainName, AttrOutputParts, AttrMappingWarning},
	}
	checkParts := func(t *testing.T, s Span) {
		var parts []map[string]any
		if err := json.Unmarshal([]byte(s.Attributes[AttrInputParts]), &parts); err != nil {
			t.Fatalf("%s = %q: %v", AttrInputParts, s.Attributes[AttrInputParts], err)
		}
		if len(parts) != 2 || parts[0]["type"] != "tool_call" || parts[1]["type"] != "tool_call_response" ||
			parts[1]["response"] != "rainy, 57°F" {
			t.Errorf("input parts = %v, want the tool_call and its tool_call_response", parts)
		}
	}

	tests := []struct {
		file  string
		count int
		wants []spanWant
	}{
		{
			file:  "semconv_messages_json",
			count: 3,
			wants: []spanWant{
				semconvChat,
				{name: "chat gpt-4o", check: checkParts},
				{
					name: "invoke_agent weather-agent",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "weather-bot", Environment: "prod", ChainName: "weather", ChainVersion: "v3",
							ComponentName: "weather-agent", ComponentKind: KindAgent, Operation: "invoke_agent",
							Provider: "openai", Status: StatusError, ErrorMessage: "upstream timeout after 2s",
							SessionID: "conv-42",
						})
						var ev map[string]string
						if err := json.Unmarshal([]byte(s.Attributes["event.exception"]), &ev); err != nil || ev["exception.type"] != "TimeoutError" {
							t.Errorf("event.exception = %q (%v), want the exception event's attributes", s.Attributes["event.exception"], err)
						}
					},
					attrs: map[string]string{"gen_ai.agent.id": "asst_5", AttrScopeName: "opentelemetry.instrumentation.openai_v2",
						AttrScopeVersion: "2.1b0", "telemetry.sdk.language": "python"},
					gone: []string{"gen_ai.agent.name", "gen_ai.operation.name", AttrSpanKind},
				},
				{
					name: "execute_tool get_weather",
					check: func(t *testing.T, s Span) {
						if s.ComponentName != "get_weather" || s.ComponentKind != KindTool {
							t.Errorf("component = %q/%q, want get_weather/tool", s.ComponentName, s.ComponentKind)
						}
					},
					// The agent name lost to the tool name and disagrees with it: kept.
					attrs: map[string]string{"gen_ai.agent.name": "weather-agent", "gen_ai.tool.call.id": "call_1"},
				},
			},
		},
		{
			file:  "semconv_messages_structured",
			count: 1,
			wants: []spanWant{
				semconvChat,
				{name: "chat gpt-4o", check: checkParts, attrs: map[string]string{
					AttrGenAISystemInstructions: `[{"type":"text","content":"You are a weather bot."}]`,
					AttrScopeName:               "chainwatch-test",
				}},
			},
		},
		{
			file:  "semconv_events",
			count: 1,
			wants: []spanWant{{
				name: "chat gpt-3.5-turbo",
				check: func(t *testing.T, s Span) {
					compareColumns(t, s, Span{
						App: "calc-bot", Environment: "staging", ComponentName: "chat gpt-3.5-turbo",
						ComponentKind: KindLLM, Operation: "chat", Provider: "openai",
						ModelRequested: "gpt-3.5-turbo", ModelReturned: "gpt-3.5-turbo-0125",
						InputText: "What is 2+2?\nAnd in words?", OutputText: "Four.",
						InputTokens: 41, OutputTokens: 7, Status: StatusUnset,
					})
					var parts []map[string]any
					if err := json.Unmarshal([]byte(s.Attributes[AttrInputParts]), &parts); err != nil {
						t.Fatal(err)
					}
					if len(parts) != 2 || parts[0]["id"] != "call_9" || parts[1]["type"] != "tool_call_response" || parts[1]["response"] != "4" {
						t.Errorf("input parts = %v, want the tool call and the tool's response", parts)
					}
				},
				attrs: map[string]string{
					AttrInputSystem:                  "You are terse.",
					"event.retry":                    `{"attempt":1}`,
					"gen_ai.response.finish_reasons": `["stop"]`,
					"gen_ai.openai.request.seed":     "7",
				},
				gone: []string{"event.gen_ai.user.message", "event.gen_ai.choice", "event.gen_ai.system.message",
					"gen_ai.system", "deployment.environment"},
			}},
		},
		{
			file:  "semconv_content_events",
			count: 1,
			wants: []spanWant{{
				name: "anthropic.messages",
				check: func(t *testing.T, s Span) {
					compareColumns(t, s, Span{
						App: "haiku", ComponentName: "anthropic.messages", Provider: "anthropic",
						ModelRequested: "claude-3-haiku-20240307",
						InputText:      "Write a haiku about rain.",
						OutputText:     "Soft rain on tin roofs\nthe gutters hum a low song\nnight drinks the city",
						InputTokens:    12, OutputTokens: 17, Status: StatusUnset,
					})
				},
				gone: []string{"event.gen_ai.content.prompt", "event.gen_ai.content.completion", "gen_ai.usage.output_tokens"},
			}},
		},
		{
			file:  "openllmetry",
			count: 3,
			wants: []spanWant{
				{
					name: "support_flow.workflow",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow", ChainVersion: "2",
							ComponentName: "support_flow", ComponentKind: KindChain, Status: StatusUnset,
							InputText:  `{"args": ["my order is late"], "kwargs": {}}`,
							OutputText: `"Sorry about that! Your order ships tomorrow."`,
						})
					},
					attrs: map[string]string{"traceloop.span.kind": "workflow", "traceloop.association.properties.customer_id": "c-77"},
					gone:  []string{"traceloop.workflow.name", "traceloop.entity.name", "traceloop.entity.input", "traceloop.entity.version"},
				},
				{
					name: "classify.task",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow",
							ComponentName: "classify", ComponentKind: KindChain, Status: StatusUnset,
						})
					},
				},
				{
					name: "openai.chat",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow",
							ComponentName: "openai.chat", ComponentKind: KindLLM, Operation: "chat", Provider: "OpenAI",
							ModelRequested: "gpt-4o-mini", ModelReturned: "gpt-4o-mini-2024-07-18",
							PromptTemplateID: "support-greeting", PromptTemplateVersion: "3",
							InputText: "my order is late", OutputText: "Sorry about that! Your order ships tomorrow.",
							InputTokens: 31, OutputTokens: 12, Status: StatusUnset,
						})
					},
					attrs: map[string]string{
						AttrInputSystem:                     "You are a support agent for ACME.",
						"gen_ai.completion.0.finish_reason": "stop",
						"llm.usage.total_tokens":            "43",
						"llm.request.type":                  "chat",
						"llm.is_streaming":                  "false",
						"traceloop.prompt.template":         "You are a support agent for {company}.",
					},
					gone: []string{"gen_ai.prompt.0.content", "gen_ai.prompt.1.content", "gen_ai.prompt.1.role",
						"gen_ai.completion.0.content", "gen_ai.completion.0.role", "gen_ai.usage.prompt_tokens",
						"traceloop.prompt.key", "traceloop.prompt.version"},
				},
			},
		},
		{
			file:  "openinference",
			count: 3,
			wants: []spanWant{
				{
					name: "query",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "vision-qa", ComponentName: "query", ComponentKind: KindChain, Status: StatusUnset,
							InputText: "Describe this image", OutputText: "A cat sleeping on a red sofa.",
							SessionID: "sess-1", UserID: "u-9",
						})
					},
					attrs: map[string]string{"metadata": `{"tenant": "acme"}`, "openinference.project.name": "default"},
					gone:  []string{"openinference.span.kind", "input.value", "session.id", "user.id"},
				},
				{
					name: "retrieve",
					check: func(t *testing.T, s Span) {
						if s.ComponentKind != KindRetriever || s.InputText != "Describe this image" {
							t.Errorf("kind %q input %q, want retriever / the query", s.ComponentKind, s.InputText)
						}
					},
					attrs: map[string]string{"retrieval.documents.0.document.content": "Cats sleep 16 hours a day.",
						"retrieval.documents.0.document.score": "0.82"},
				},
				{
					name: "ChatCompletion",
					check: func(t *testing.T, s Span) {
						compareColumns(t, s, Span{
							App: "vision-qa", ComponentName: "ChatCompletion", ComponentKind: KindLLM, Provider: "openai",
							ModelRequested: "gpt-4o", ModelReturned: "gpt-4o",
							PromptTemplateID: TemplateID("Describe {subject}"), PromptTemplateVersion: "v7",
							InputText: "Describe this image", OutputText: "A cat sleeping on a red sofa.",
							InputTokens: 1210, OutputTokens: 9, Status: StatusUnset, SessionID: "sess-1", UserID: "u-9",
						})
						if !strings.HasPrefix(s.PromptTemplateID, "tmpl-") || len(s.PromptTemplateID) != 17 {
							t.Errorf("template id %q, want tmpl- and 12 hex digits", s.PromptTemplateID)
						}
						if !strings.HasPrefix(s.Attributes["input.value"], `{"model": "gpt-4o"`) {
							t.Errorf("input.value (the raw request, which disagrees with the messages) should be kept, got %q", s.Attributes["input.value"])
						}
					},
					attrs: map[string]string{
						AttrInputSystem:                 "You describe images.",
						"llm.prompt_template.template":  "Describe {subject}",
						"llm.prompt_template.variables": `{"subject": "this image"}`,
						"input.mime_type":               "application/json",
						"llm.token_count.total":         "1219",
						"llm.input_messages.1.message.contents.1.message_content.type":            "image",
						"llm.input_messages.1.message.contents.1.message_content.image.image.url": "https://example.com/cat.png",
					},
					gone: []string{"llm.model_name", "llm.provider", "llm.system", "output.value",
						"llm.input_messages.1.message.contents.0.message_content.text",
						"llm.input_messages.1.message.contents.0.message_content.type",
						"llm.output_messages.0.message.content", "llm.prompt_template.version", "llm.token_count.prompt"},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "dialects", tc.file+".otlp.json"))
			if err != nil {
				t.Fatal(err)
			}
			spans, err := AppendSpans(nil, otlpJSONRequest(t, data))
			if err != nil {
				t.Fatalf("AppendSpans: %v", err)
			}
			if len(spans) != tc.count {
				t.Fatalf("got %d spans, want %d", len(spans), tc.count)
			}
			for _, w := range tc.wants {
				s := spanNamed(t, spans, w.name)
				if w.check != nil {
					w.check(t, s)
				}
				checkAttrs(t, s.Attributes, w.attrs, w.gone)
			}
			checkGolden(t, filepath.Join("testdata", "dialects", tc.file+".golden.json"), spans)
		})
	}
}

// compareColumns compares every column but the ids, name, times and
// attributes (which the callers check themselves), ignoring want's empty
// ParentSpanID.
func compareColumns(t *testing.T, got, want Span) {
	t.Helper()
	got.Attributes, want.Attributes = nil, nil
	got.TraceID, got.SpanID, got.Name = "", "", ""
	got.StartTime, got.EndTime = time.Time{}, time.Time{}
	if want.ParentSpanID == "" {
		got.ParentSpanID = ""
	}
	if !spanEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("columns differ\n got: %s\nwant: %s", gj, wj)
	}
}

func spanEqual(a, b Span) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return bytes.Equal(aj, bj)
}

func checkGolden(t *testing.T, path string, spans []Span) {
	t.Helper()
	got, err := json.MarshalIndent(spans, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./schemas/ -update-mapping to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mapping differs from %s (run go test ./schemas/ -update-mapping and review the diff):\n%s", path, got)
	}
}

// --- the real OpenTelemetry Go SDK -------------------------------------------

// TestAppendSpansFromOTelSDK emits spans with the OpenTelemetry Go SDK and its
// OTLP/HTTP exporter, captures the protobuf the exporter sends, and maps it.
func TestAppendSpansFromOTelSDK(t *testing.T) {
	bodies := make(chan []byte, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		body, err := io.ReadAll(rd)
		if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		bodies <- body
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	}))
	defer srv.Close()

	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"),
		otlptracehttp.WithInsecure(),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "sdk-app"),
			attribute.String("deployment.environment.name", "test"),
			attribute.String(AttrChainVersion, "2025-10-01"),
		)))
	tr := tp.Tracer("chainwatch/schemas_test", trace.WithInstrumentationVersion("0.1.0"))

	inMsgs := `[{"role":"system","parts":[{"type":"text","content":"Be kind."}]},` +
		`{"role":"user","parts":[{"type":"text","content":"Translate \"bonjour\" to English.\nOne word."}]}]`
	outMsgs := `[{"role":"assistant","parts":[{"type":"text","content":"Hello."}],"finish_reason":"stop"}]`

	ctx, root := tr.Start(ctx, "invoke_agent translator", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.agent.name", "translator"),
		attribute.String(AttrChainName, "translate"),
		attribute.String(AttrSessionID, "s-1"),
		attribute.String(AttrUserID, "alice"),
	))
	_, chat := tr.Start(ctx, "chat gpt-4o-mini", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.String("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
		attribute.Float64("gen_ai.request.temperature", 0),
		attribute.Int("gen_ai.usage.input_tokens", 21),
		attribute.Int("gen_ai.usage.output_tokens", 2),
		attribute.String("gen_ai.input.messages", inMsgs),
		attribute.String("gen_ai.output.messages", outMsgs),
		attribute.String(AttrPromptTemplateID, "translate-v1"),
		attribute.String(AttrPromptTemplateVersion, "4"),
		attribute.Bool("cache.hit", false),
		attribute.Int64Slice("shard.ids", []int64{3, 5}),
	))
	chat.End()
	_, legacy := tr.Start(ctx, "chat legacy", trace.WithAttributes(
		attribute.String("gen_ai.system", "openai"),
		attribute.String("gen_ai.request.model", "gpt-3.5-turbo"),
		attribute.String("gen_ai.usage.prompt_tokens", "13"),
		attribute.Float64("gen_ai.usage.completion_tokens", 4),
	))
	legacy.AddEvent("gen_ai.user.message", trace.WithAttributes(attribute.String("content", "Say hi")))
	legacy.AddEvent("gen_ai.choice", trace.WithAttributes(
		attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
		attribute.String("message", `{"role":"assistant","content":"Hi!"}`)))
	legacy.End()
	_, indexed := tr.Start(ctx, "openai.chat", trace.WithAttributes(
		attribute.String("llm.request.type", "chat"),
		attribute.String("gen_ai.prompt.0.role", "user"),
		attribute.String("gen_ai.prompt.0.content", "Count to three."),
		attribute.String("gen_ai.completion.0.role", "assistant"),
		attribute.String("gen_ai.completion.0.content", "One, two, three."),
		attribute.String("traceloop.workflow.name", "counting"),
	))
	indexed.End()
	root.RecordError(errors.New("translation service unavailable"))
	root.SetStatus(codes.Error, "")
	root.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(bodies)

	var spans []Span
	for body := range bodies {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Fatal(err)
		}
		if err := ValidateOTLP(req); err != nil {
			t.Fatalf("ValidateOTLP: %v", err)
		}
		if spans, err = AppendSpans(spans, req); err != nil {
			t.Fatalf("AppendSpans: %v", err)
		}
	}
	if len(spans) != 4 {
		t.Fatalf("got %d spans from the SDK, want 4", len(spans))
	}

	rootSpan := spanNamed(t, spans, "invoke_agent translator")
	chatSpan := spanNamed(t, spans, "chat gpt-4o-mini")
	if chatSpan.ParentSpanID != rootSpan.SpanID || chatSpan.TraceID != rootSpan.TraceID || rootSpan.ParentSpanID != "" {
		t.Errorf("lineage: root %s/%s parent %q, chat %s parent %s", rootSpan.TraceID, rootSpan.SpanID, rootSpan.ParentSpanID, chatSpan.TraceID, chatSpan.ParentSpanID)
	}
	if len(chatSpan.TraceID) != 32 || strings.ToLower(chatSpan.TraceID) != chatSpan.TraceID {
		t.Errorf("trace id %q, want 32 lower-case hex digits", chatSpan.TraceID)
	}
	if chatSpan.StartTime.Location() != time.UTC || chatSpan.EndTime.Before(chatSpan.StartTime) || chatSpan.StartTime.IsZero() {
		t.Errorf("times %v – %v", chatSpan.StartTime, chatSpan.EndTime)
	}
	compareColumns(t, rootSpan, Span{
		App: "sdk-app", Environment: "test", ChainName: "translate", ChainVersion: "2025-10-01",
		ComponentName: "translator", ComponentKind: KindAgent, Operation: "invoke_agent",
		Status: StatusError, ErrorMessage: "translation service unavailable", SessionID: "s-1", UserID: "alice",
	})
	compareColumns(t, chatSpan, Span{
		App: "sdk-app", Environment: "test", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "chat gpt-4o-mini", ComponentKind: KindLLM, Operation: "chat", Provider: "openai",
		ModelRequested: "gpt-4o-mini", ModelReturned: "gpt-4o-mini-2024-07-18",
		PromptTemplateID: "translate-v1", PromptTemplateVersion: "4",
		InputText: "Translate \"bonjour\" to English.\nOne word.", OutputText: "Hello.",
		InputTokens: 21, OutputTokens: 2, Status: StatusUnset,
	})
	checkAttrs(t, chatSpan.Attributes, map[string]string{
		AttrInputSystem:                  "Be kind.",
		"gen_ai.response.finish_reasons": `["stop"]`,
		"gen_ai.request.temperature":     "0",
		"cache.hit":                      "false",
		"shard.ids":                      "[3,5]",
		AttrScopeName:                    "chainwatch/schemas_test",
		AttrScopeVersion:                 "0.1.0",
		AttrSpanKind:                     "client",
	}, []string{"service.name", "gen_ai.input.messages", AttrPromptTemplateID, AttrChainVersion})

	legacySpan := spanNamed(t, spans, "chat legacy")
	compareColumns(t, legacySpan, Span{
		App: "sdk-app", Environment: "test", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "chat legacy", Provider: "openai", ModelRequested: "gpt-3.5-turbo",
		InputText: "Say hi", OutputText: "Hi!", InputTokens: 13, OutputTokens: 4, Status: StatusUnset,
	})
	indexedSpan := spanNamed(t, spans, "openai.chat")
	compareColumns(t, indexedSpan, Span{
		App: "sdk-app", Environment: "test", ChainName: "counting", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "openai.chat", ComponentKind: KindLLM, Operation: "chat",
		InputText: "Count to three.", OutputText: "One, two, three.", Status: StatusUnset,
	})
}

// --- precedence ----------------------------------------------------------------

func TestAppendSpansPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		res   []any
		span  []any
		want  func(s Span) (got, want any)
		attrs map[string]string
		gone  []string
	}{
		{
			name: "app: chainwatch.app on the span beats the resource",
			res:  []any{AttrApp, "res-app", "service.name", "svc"},
			span: []any{AttrApp, "span-app"},
			want: func(s Span) (any, any) { return s.App, "span-app" },
			// chainwatch.app on the resource is shadowed by the span's (same key).
			attrs: map[string]string{"service.name": "svc"},
			gone:  []string{AttrApp},
		},
		{
			name:  "app: chainwatch.app on the resource beats service.name",
			res:   []any{AttrApp, "res-app", "service.name", "svc"},
			want:  func(s Span) (any, any) { return s.App, "res-app" },
			attrs: map[string]string{"service.name": "svc"},
		},
		{
			name: "app: service.name when nothing else",
			res:  []any{"service.name", "svc"},
			want: func(s Span) (any, any) { return s.App, "svc" },
			gone: []string{"service.name"},
		},
		{
			name:  "environment: chainwatch > deployment.environment.name > deployment.environment",
			res:   []any{"deployment.environment.name", "prod", "deployment.environment", "production"},
			span:  []any{AttrEnvironment, "canary"},
			want:  func(s Span) (any, any) { return s.Environment, "canary" },
			attrs: map[string]string{"deployment.environment.name": "prod", "deployment.environment": "production"},
		},
		{
			name: "environment: equal lower-precedence values are consumed",
			res:  []any{"deployment.environment.name", "prod", "deployment.environment", "prod"},
			want: func(s Span) (any, any) { return s.Environment, "prod" },
			gone: []string{"deployment.environment.name", "deployment.environment"},
		},
		{
			name:  "chain name: chainwatch beats traceloop.workflow.name",
			span:  []any{AttrChainName, "rag", "traceloop.workflow.name", "rag_flow"},
			want:  func(s Span) (any, any) { return s.ChainName, "rag" },
			attrs: map[string]string{"traceloop.workflow.name": "rag_flow"},
		},
		{
			name: "chain version: traceloop.entity.version only on a workflow span",
			span: []any{"traceloop.span.kind", "task", "traceloop.entity.version", 4},
			want: func(s Span) (any, any) { return s.ChainVersion, "" },
		},
		{
			name:  "component name: chainwatch first",
			span:  []any{AttrComponentName, "retriever-a", "gen_ai.tool.name", "search", "gen_ai.agent.name", "bot", "traceloop.entity.name", "x"},
			want:  func(s Span) (any, any) { return s.ComponentName, "retriever-a" },
			attrs: map[string]string{"gen_ai.tool.name": "search", "gen_ai.agent.name": "bot", "traceloop.entity.name": "x"},
		},
		{
			name: "component name: tool name before agent name before entity name",
			span: []any{"gen_ai.agent.name", "bot", "traceloop.entity.name", "x", "gen_ai.tool.name", "search"},
			want: func(s Span) (any, any) { return s.ComponentName, "search" },
		},
		{
			name: "component name: entity name before the span name",
			span: []any{"traceloop.entity.name", "x"},
			want: func(s Span) (any, any) { return s.ComponentName, "x" },
		},
		{
			name: "component name: the span name at last",
			want: func(s Span) (any, any) { return s.ComponentName, "span" },
		},
		{
			name:  "kind: chainwatch beats openinference",
			span:  []any{AttrComponentKind, "retriever", "openinference.span.kind", "LLM"},
			want:  func(s Span) (any, any) { return s.ComponentKind, KindRetriever },
			attrs: map[string]string{"openinference.span.kind": "LLM"},
			gone:  []string{AttrComponentKind},
		},
		{
			name:  "kind: an unknown chainwatch kind is authoritative: unknown, and kept",
			span:  []any{AttrComponentKind, "planner", "openinference.span.kind", "TOOL"},
			want:  func(s Span) (any, any) { return s.ComponentKind, KindUnknown },
			attrs: map[string]string{AttrComponentKind: "planner", "openinference.span.kind": "TOOL"},
		},
		{
			name:  "kind: openinference beats traceloop.span.kind",
			span:  []any{"openinference.span.kind", "RERANKER", "traceloop.span.kind", "task"},
			want:  func(s Span) (any, any) { return s.ComponentKind, KindReranker },
			attrs: map[string]string{"traceloop.span.kind": "task"},
		},
		{
			name:  "kind: traceloop.span.kind beats gen_ai.operation.name, and stays",
			span:  []any{"traceloop.span.kind", "workflow", "gen_ai.operation.name", "chat"},
			want:  func(s Span) (any, any) { return s.ComponentKind, KindChain },
			attrs: map[string]string{"traceloop.span.kind": "workflow"},
		},
		{
			name: "kind: gen_ai.operation.name embeddings",
			span: []any{"gen_ai.operation.name", "embeddings", "llm.request.type", "chat"},
			want: func(s Span) (any, any) { return s.ComponentKind, KindEmbedding },
		},
		{
			name: "kind: gen_ai.operation.name create_agent",
			span: []any{"gen_ai.operation.name", "create_agent"},
			want: func(s Span) (any, any) { return s.ComponentKind, KindAgent },
		},
		{
			name: "kind: llm.request.type embedding at last; it also names the operation",
			span: []any{"llm.request.type", "embedding"},
			want: func(s Span) (any, any) {
				return [2]any{s.ComponentKind, s.Operation}, [2]any{KindEmbedding, "embeddings"}
			},
			attrs: map[string]string{"llm.request.type": "embedding"},
		},
		{
			name:  "kind: openinference values outside ours are kept",
			span:  []any{"openinference.span.kind", "PROMPT"},
			want:  func(s Span) (any, any) { return s.ComponentKind, KindUnknown },
			attrs: map[string]string{"openinference.span.kind": "PROMPT"},
		},
		{
			name:  "provider: gen_ai.provider.name > gen_ai.system > llm.provider > llm.system",
			span:  []any{"llm.system", "openai", "llm.provider", "azure", "gen_ai.system", "az.ai.openai", "gen_ai.provider.name", "azure.ai.openai"},
			want:  func(s Span) (any, any) { return s.Provider, "azure.ai.openai" },
			attrs: map[string]string{"gen_ai.system": "az.ai.openai", "llm.provider": "azure", "llm.system": "openai"},
		},
		{
			name: "provider: llm.system at last",
			span: []any{"llm.system", "anthropic"},
			want: func(s Span) (any, any) { return s.Provider, "anthropic" },
		},
		{
			name: "models: llm.model_name fills both when nothing else",
			span: []any{"llm.model_name", "gpt-4o"},
			want: func(s Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"gpt-4o", "gpt-4o"}
			},
			gone: []string{"llm.model_name"},
		},
		{
			name: "models: gen_ai.request.model beats llm.model_name, which still names the returned model",
			span: []any{"gen_ai.request.model", "gpt-4o", "llm.model_name", "gpt-4o-2024-08-06"},
			want: func(s Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"gpt-4o", "gpt-4o-2024-08-06"}
			},
			gone: []string{"llm.model_name"},
		},
		{
			name:  "models: gen_ai.response.model beats llm.model_name",
			span:  []any{"gen_ai.request.model", "a", "gen_ai.response.model", "b", "llm.model_name", "c"},
			want:  func(s Span) (any, any) { return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"a", "b"} },
			attrs: map[string]string{"llm.model_name": "c"},
		},
		{
			name:  "template: chainwatch id beats traceloop.prompt.key and the template hash",
			span:  []any{AttrPromptTemplateID, "greet", "traceloop.prompt.key", "greeting", "llm.prompt_template.template", "Hi {name}"},
			want:  func(s Span) (any, any) { return s.PromptTemplateID, "greet" },
			attrs: map[string]string{"traceloop.prompt.key": "greeting", "llm.prompt_template.template": "Hi {name}"},
		},
		{
			name: "template: the id derived from the template text",
			span: []any{"llm.prompt_template.template", "Hi {name}", "llm.prompt_template.variables", `{"name":"Bo"}`},
			want: func(s Span) (any, any) {
				sum := sha256Hex("Hi {name}")
				return s.PromptTemplateID, "tmpl-" + sum[:12]
			},
			attrs: map[string]string{"llm.prompt_template.template": "Hi {name}", "llm.prompt_template.variables": `{"name":"Bo"}`},
		},
		{
			name:  "template version: chainwatch > openinference > traceloop",
			span:  []any{"traceloop.prompt.version", 2, "llm.prompt_template.version", "v3", AttrPromptTemplateVersion, "v4"},
			want:  func(s Span) (any, any) { return s.PromptTemplateVersion, "v4" },
			attrs: map[string]string{"traceloop.prompt.version": "2", "llm.prompt_template.version": "v3"},
		},
		{
			name:  "tokens: input_tokens > prompt_tokens > llm.token_count.prompt",
			span:  []any{"llm.token_count.prompt", 10, "gen_ai.usage.prompt_tokens", 11, "gen_ai.usage.input_tokens", 12},
			want:  func(s Span) (any, any) { return s.InputTokens, int64(12) },
			attrs: map[string]string{"llm.token_count.prompt": "10", "gen_ai.usage.prompt_tokens": "11"},
		},
		{
			name: "tokens: output_tokens > completion_tokens > llm.token_count.completion, equal ones consumed",
			span: []any{"llm.token_count.completion", 5, "gen_ai.usage.completion_tokens", "5", "gen_ai.usage.output_tokens", 5.0},
			want: func(s Span) (any, any) { return s.OutputTokens, int64(5) },
			gone: []string{"llm.token_count.completion", "gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"},
		},
		{
			name:  "session: chainwatch > session.id > gen_ai.conversation.id",
			span:  []any{"gen_ai.conversation.id", "c", "session.id", "s", AttrSessionID, "cw"},
			want:  func(s Span) (any, any) { return s.SessionID, "cw" },
			attrs: map[string]string{"gen_ai.conversation.id": "c", "session.id": "s"},
		},
		{
			name: "session: gen_ai.conversation.id at last",
			span: []any{"gen_ai.conversation.id", "c"},
			want: func(s Span) (any, any) { return s.SessionID, "c" },
		},
		{
			name:  "user: chainwatch > user.id > enduser.id",
			span:  []any{"enduser.id", "e", "user.id", "u"},
			want:  func(s Span) (any, any) { return s.UserID, "u" },
			attrs: map[string]string{"enduser.id": "e"},
		},
		{
			name: "text: gen_ai.input.messages beats the indexed and OpenInference forms; a disagreeing one stays",
			span: []any{
				"gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"A"}]}]`,
				"gen_ai.prompt.0.content", "B",
				"llm.input_messages.0.message.content", "A",
				"input.value", "C",
			},
			want:  func(s Span) (any, any) { return s.InputText, "A" },
			attrs: map[string]string{"gen_ai.prompt.0.content": "B", "input.value": "C"},
			gone:  []string{"llm.input_messages.0.message.content", "gen_ai.input.messages"},
		},
		{
			name:  "text: output.value when nothing else",
			span:  []any{"output.value", "done", "output.mime_type", "text/plain"},
			want:  func(s Span) (any, any) { return s.OutputText, "done" },
			attrs: map[string]string{"output.mime_type": "text/plain"},
		},
		{
			name: "an empty value does not win",
			span: []any{AttrChainName, "", "traceloop.workflow.name", "flow"},
			want: func(s Span) (any, any) { return s.ChainName, "flow" },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(kvs(tc.res...), testSpan(tc.span...)))
			got, want := tc.want(s)
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
			checkAttrs(t, s.Attributes, tc.attrs, tc.gone)
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTemplateID(t *testing.T) {
	if got := TemplateID("abc"); got != "tmpl-ba7816bf8f01" {
		t.Errorf("TemplateID(abc) = %q, want tmpl-ba7816bf8f01 (sha256 of abc starts ba7816bf8f01)", got)
	}
}

// --- text assembly -----------------------------------------------------------

func TestAppendSpansTextAssembly(t *testing.T) {
	tests := []struct {
		name       string
		span       *tracepb.Span
		in, out    string
		attrs      map[string]string
		gone       []string
		wantNoWarn bool
	}{
		{
			name: "several messages and parts join with newlines, in order; developer counts as system",
			span: testSpan("gen_ai.input.messages", `[
				{"parts":[{"type":"text","content":"sys one"}],"role":"system"},
				{"role":"developer","parts":[{"type":"text","content":"sys two"}]},
				{"role":"user","parts":[{"type":"text","content":"first"},{"type":"image","uri":"s3://x"},{"type":"text","content":"second"}]},
				{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"text","content":"reply"}]},
				{"role":"user","parts":[{"type":"text","content":"third \u00e9\ud83d\ude00"}]}]`),
			in: "first\nsecond\nreply\nthird é😀",
			attrs: map[string]string{
				AttrInputSystem: "sys one\nsys two",
				AttrInputParts:  `[{"type":"image","uri":"s3://x"},{"type":"reasoning","content":"hmm"}]`,
			},
			wantNoWarn: true,
		},
		{
			name: "OpenAI-shaped messages: content strings, content parts, tool_calls, tool results",
			span: testSpan("gen_ai.input.messages", `[{"content":"be brief","role":"system"},
				{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"u"}}]},
				{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c1","content":"42"}]`,
				"gen_ai.output.messages", `{"role":"assistant","content":"The answer is 42.","finish_reason":"stop"}`),
			in:  "look",
			out: "The answer is 42.",
			attrs: map[string]string{
				AttrInputSystem:                  "be brief",
				AttrInputParts:                   `[{"type":"image_url","image_url":{"url":"u"}},{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},{"type":"tool_call_response","id":"c1","response":"42"}]`,
				"gen_ai.response.finish_reasons": `["stop"]`,
			},
			wantNoWarn: true,
		},
		{
			name: "output parts: tool calls and several choices",
			span: testSpan("gen_ai.output.messages", av(
				kvl(kvs("role", "assistant", "parts", av(kvl(kvs("type", "text", "content", "one")...)), "finish_reason", "stop")...),
				kvl(kvs("role", "assistant", "parts", av(
					kvl(kvs("type", "tool_call", "id", "t1", "name", "lookup", "arguments", kvl(kvs("q", "x")...))...),
				), "finish_reason", "tool_calls")...),
				kvl(kvs("role", "assistant", "parts", av(kvl(kvs("type", "text", "content", "two")...)))...),
			)),
			out: "one\ntwo",
			attrs: map[string]string{
				AttrOutputParts:                  `[{"type":"tool_call","id":"t1","name":"lookup","arguments":{"q":"x"}}]`,
				"gen_ai.response.finish_reasons": `["stop","tool_calls"]`,
			},
			wantNoWarn: true,
		},
		{
			name: "finish_reasons already on the span are not overwritten",
			span: testSpan("gen_ai.response.finish_reasons", av(sv("length")),
				"gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"x"}],"finish_reason":"stop"}]`),
			out:   "x",
			attrs: map[string]string{"gen_ai.response.finish_reasons": `["length"]`},
		},
		{
			name: "an older message event can carry its body as JSON",
			span: func() *tracepb.Span {
				s := testSpan()
				s.Events = []*tracepb.Span_Event{
					event("gen_ai.user.message", "body", `{"content":"from body"}`),
					event("gen_ai.user.message", "content", kvl(kvs("type", "text", "text", "structured")...)),
					event("gen_ai.choice", "message", kvl(kvs("role", "assistant", "content", "structured answer")...), "finish_reason", "stop"),
					event("gen_ai.choice", "content", "second choice"),
				}
				return s
			}(),
			in:    "from body\nstructured",
			out:   "structured answer\nsecond choice",
			attrs: map[string]string{"gen_ai.response.finish_reasons": `["stop"]`},
			gone:  []string{"event.gen_ai.user.message", "event.gen_ai.choice"},
		},
		{
			name: "message events that lose to gen_ai.input.messages and disagree are kept as events",
			span: func() *tracepb.Span {
				s := testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"A"}]}]`)
				s.Events = []*tracepb.Span_Event{event("gen_ai.user.message", "content", "B"), event("gen_ai.user.message", "content", "C")}
				return s
			}(),
			in:    "A",
			attrs: map[string]string{"event.gen_ai.user.message": `[{"content":"B"},{"content":"C"}]`},
		},
		{
			name: "indexed keys out of order are read in index order; other sub-keys stay",
			span: testSpan(
				"gen_ai.prompt.10.content", "ten", "gen_ai.prompt.2.content", "two", "gen_ai.prompt.2.role", "user",
				"gen_ai.prompt.10.role", "user", "gen_ai.prompt.3.role", "tool", "gen_ai.prompt.3.content", "tool says",
				"gen_ai.prompt.3.tool_call_id", "c7",
				"gen_ai.completion.0.tool_calls.0.name", "f"),
			in: "two\nten",
			attrs: map[string]string{
				AttrInputParts:                          `[{"type":"tool_call_response","response":"tool says"}]`,
				"gen_ai.prompt.3.tool_call_id":          "c7",
				"gen_ai.completion.0.tool_calls.0.name": "f",
			},
			gone: []string{"gen_ai.prompt.10.content", "gen_ai.prompt.3.content", "gen_ai.prompt.3.role"},
		},
		{
			name: "OpenLLMetry multimodal content as a JSON array of typed parts",
			span: testSpan("gen_ai.prompt.0.role", "user",
				"gen_ai.prompt.0.content", `[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:..."}}]`,
				"gen_ai.prompt.1.content", `[{"not":"typed"}]`),
			in:    "what is this?\n[{\"not\":\"typed\"}]",
			attrs: map[string]string{AttrInputParts: `[{"type":"image_url","image_url":{"url":"data:..."}}]`},
		},
		{
			name: "a higher source with only a system prompt contributes it; the text comes from the next one",
			span: testSpan("gen_ai.input.messages", `[{"role":"system","parts":[{"type":"text","content":"be nice"}]}]`,
				"input.value", "question"),
			in:    "question",
			attrs: map[string]string{AttrInputSystem: "be nice"},
			gone:  []string{"gen_ai.input.messages", "input.value"},
		},
		{
			name:  "an empty indexed content yields nothing and stays",
			span:  testSpan("gen_ai.prompt.0.content", "", "input.value", "v"),
			in:    "v",
			attrs: map[string]string{"gen_ai.prompt.0.content": ""},
			gone:  []string{"input.value"},
		},
		{
			name: "legacy gen_ai.prompt attribute as plain text",
			span: testSpan("gen_ai.prompt", "user: hi", "gen_ai.completion", "[not json"),
			in:   "user: hi",
			out:  "[not json",
		},
		{
			name: "a plain string message and a non-object element",
			span: testSpan("gen_ai.input.messages", `["just text", 42]`),
			in:   "just text",
			attrs: map[string]string{
				AttrInputParts: `[42]`,
			},
			wantNoWarn: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.InputText != tc.in {
				t.Errorf("InputText = %q, want %q", s.InputText, tc.in)
			}
			if s.OutputText != tc.out {
				t.Errorf("OutputText = %q, want %q", s.OutputText, tc.out)
			}
			checkAttrs(t, s.Attributes, tc.attrs, tc.gone)
			if w, ok := s.Attributes[AttrMappingWarning]; ok && tc.wantNoWarn {
				t.Errorf("unexpected warning %q", w)
			}
			for _, k := range []string{AttrInputParts, AttrOutputParts, "gen_ai.response.finish_reasons"} {
				if v, ok := s.Attributes[k]; ok && !json.Valid([]byte(v)) {
					t.Errorf("%s is not valid JSON: %s", k, v)
				}
			}
		})
	}
}

// --- attributes kept -----------------------------------------------------------

func TestAppendSpansKeepsUnknownAttributes(t *testing.T) {
	sp := testSpan(
		"http.route", "/chat",
		"retries", 3,
		"ratio", 0.25,
		"flag", true,
		"tags", av(sv("a"), sv("b\"c")),
		"nested", kvl(kvs("k", 1, "l", av(bv(false)), "m", &commonpb.AnyValue{})...),
		"raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}},
		"shared", "from span",
		"empty", &commonpb.AnyValue{},
	)
	sp.Kind = tracepb.Span_SPAN_KIND_SERVER
	sp.Events = []*tracepb.Span_Event{
		event("retry", "attempt", 1),
		event("retry", "attempt", 2, "why", "429"),
		event("feedback", "score", 0.5),
		event("gen_ai.evaluation.result", "gen_ai.evaluation.name", "relevance", "gen_ai.evaluation.score.value", 0.9),
	}
	sp.Links = []*tracepb.Span_Link{{TraceId: mustHex(testTraceID), SpanId: mustHex("1111111111111111"), Attributes: kvs("link.kind", "follows")}}
	req := request(kvs("service.name", "svc", "host.name", "h1", "shared", "from resource", "process.pid", 42), sp)
	req.ResourceSpans[0].ScopeSpans[0].Scope = &commonpb.InstrumentationScope{Name: "lib", Version: "1.2", Attributes: kvs("scope.attr", "s", "shared", "from scope")}
	s := mapOne(t, req)
	checkAttrs(t, s.Attributes, map[string]string{
		"http.route":                     "/chat",
		"retries":                        "3",
		"ratio":                          "0.25",
		"flag":                           "true",
		"tags":                           `["a","b\"c"]`,
		"nested":                         `{"k":1,"l":[false],"m":null}`,
		"raw":                            "AAEC",
		"shared":                         "from span",
		"empty":                          "",
		"host.name":                      "h1",
		"process.pid":                    "42",
		"scope.attr":                     "s",
		AttrScopeName:                    "lib",
		AttrScopeVersion:                 "1.2",
		AttrSpanKind:                     "server",
		"event.retry":                    `[{"attempt":1},{"attempt":2,"why":"429"}]`,
		"event.feedback":                 `{"score":0.5}`,
		"event.gen_ai.evaluation.result": `{"gen_ai.evaluation.name":"relevance","gen_ai.evaluation.score.value":0.9}`,
		AttrLinks:                        `[{"trace_id":"` + testTraceID + `","span_id":"1111111111111111","attributes":{"link.kind":"follows"}}]`,
	}, []string{"service.name", AttrMappingWarning})
	if s.App != "svc" {
		t.Errorf("App = %q", s.App)
	}
}

func TestAppendSpansMalformedContent(t *testing.T) {
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	tests := []struct {
		name     string
		span     *tracepb.Span
		in, out  string
		warnings []string
	}{
		{
			name:     "input messages that are not JSON are kept raw as the text",
			span:     testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"cut off`),
			in:       `[{"role":"user","parts":[{"type":"text","content":"cut off`,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name: "both sides malformed: both warnings",
			span: testSpan("gen_ai.input.messages", "hello there", "gen_ai.output.messages", iv(7)),
			in:   "hello there",
			out:  "7",
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text",
				"gen_ai.output.messages: not an array of messages, kept raw as the text"},
		},
		{
			name:     "trailing garbage after valid JSON",
			span:     testSpan("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}] extra`),
			out:      `[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}] extra`,
			warnings: []string{"gen_ai.output.messages: not valid JSON, kept raw as the text"},
		},
		{
			name:     "nesting deeper than the reader follows",
			span:     testSpan("gen_ai.input.messages", deep),
			in:       deep,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name:     "bad escape",
			span:     testSpan("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"a\qb"}]}]`),
			in:       `[{"role":"user","parts":[{"type":"text","content":"a\qb"}]}]`,
			warnings: []string{"gen_ai.input.messages: not valid JSON, kept raw as the text"},
		},
		{
			name: "a message event with a non-string content",
			span: func() *tracepb.Span {
				s := testSpan()
				s.Events = []*tracepb.Span_Event{event("gen_ai.user.message", "content", 12), event("gen_ai.choice", "message", "not json")}
				return s
			}(),
			in:  "12",
			out: "not json",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.InputText != tc.in || s.OutputText != tc.out {
				t.Errorf("texts = %q / %q, want %q / %q", s.InputText, s.OutputText, tc.in, tc.out)
			}
			if got, want := s.Attributes[AttrMappingWarning], strings.Join(tc.warnings, "; "); got != want {
				t.Errorf("warning = %q, want %q", got, want)
			}
		})
	}
}

func TestAppendSpansTokenForms(t *testing.T) {
	tests := []struct {
		name string
		v    *commonpb.AnyValue
		want int64
		kept bool
	}{
		{"int", iv(42), 42, false},
		{"double", dv(42), 42, false},
		{"double rounds", dv(41.6), 42, false},
		{"string", sv("42"), 42, false},
		{"string with spaces", sv(" 42 "), 42, false},
		{"string double", sv("42.0"), 42, false},
		{"negative is no count", iv(-1), 0, true},
		{"garbage is no count", sv("lots"), 0, true},
		{"NaN is no count", dv(nan()), 0, true},
	}
	t.Run("a value that is no count yields to a lower key, with a warning", func(t *testing.T) {
		s := mapOne(t, request(nil, testSpan("gen_ai.usage.input_tokens", "n/a", "llm.token_count.prompt", 9)))
		if s.InputTokens != 9 {
			t.Errorf("InputTokens = %d, want 9", s.InputTokens)
		}
		checkAttrs(t, s.Attributes, map[string]string{AttrMappingWarning: `gen_ai.usage.input_tokens: "n/a" is not a token count`},
			[]string{"gen_ai.usage.input_tokens", "llm.token_count.prompt"})
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, testSpan("gen_ai.usage.input_tokens", tc.v, "gen_ai.usage.completion_tokens", tc.v)))
			if s.InputTokens != tc.want || s.OutputTokens != tc.want {
				t.Errorf("tokens = %d/%d, want %d", s.InputTokens, s.OutputTokens, tc.want)
			}
			_, kept := s.Attributes["gen_ai.usage.input_tokens"]
			if kept != tc.kept {
				t.Errorf("attribute kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestAppendSpansStatus(t *testing.T) {
	withStatus := func(code tracepb.Status_StatusCode, msg string, attrs ...any) *tracepb.Span {
		s := testSpan(attrs...)
		s.Status = &tracepb.Status{Code: code, Message: msg}
		return s
	}
	withEvents := func(s *tracepb.Span, evs ...*tracepb.Span_Event) *tracepb.Span {
		s.Events = evs
		return s
	}
	tests := []struct {
		name        string
		span        *tracepb.Span
		status, msg string
	}{
		{"unset", testSpan(), StatusUnset, ""},
		{"ok", withStatus(tracepb.Status_STATUS_CODE_OK, ""), StatusOK, ""},
		{"error with message", withStatus(tracepb.Status_STATUS_CODE_ERROR, "rate limited",
			"error.type", "429"), StatusError, "rate limited"},
		{"error message from the exception event", withEvents(withStatus(tracepb.Status_STATUS_CODE_ERROR, "", "error.type", "Timeout"),
			event("exception", "exception.type", "Timeout"), event("exception", "exception.message", "took 30s")), StatusError, "took 30s"},
		{"error message from error.type", withStatus(tracepb.Status_STATUS_CODE_ERROR, "", "error.type", "Timeout"), StatusError, "Timeout"},
		{"exception without error status leaves the message empty", withEvents(testSpan(),
			event("exception", "exception.message", "handled")), StatusUnset, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(nil, tc.span))
			if s.Status != tc.status || s.ErrorMessage != tc.msg {
				t.Errorf("status = %q %q, want %q %q", s.Status, s.ErrorMessage, tc.status, tc.msg)
			}
		})
	}
}

// --- structural errors -----------------------------------------------------------

func TestAppendSpansStructuralErrors(t *testing.T) {
	mod := func(f func(*tracepb.Span)) *tracepb.Span {
		s := testSpan()
		f(s)
		return s
	}
	tests := []struct {
		name     string
		span     *tracepb.Span
		field    string
		msg      string
		wantSpan string
	}{
		{"short trace id", mod(func(s *tracepb.Span) { s.TraceId = []byte{1, 2, 3} }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must be 16 bytes, got 3", testSpanID},
		{"missing trace id", mod(func(s *tracepb.Span) { s.TraceId = nil }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must be 16 bytes, got 0", testSpanID},
		{"zero trace id", mod(func(s *tracepb.Span) { s.TraceId = make([]byte, 16) }), "trace_id",
			"resource_spans[0].scope_spans[1].spans[1]: trace_id: must not be all zero", testSpanID},
		{"long span id", mod(func(s *tracepb.Span) { s.SpanId = make([]byte, 9) }), "span_id",
			"resource_spans[0].scope_spans[1].spans[1]: span_id: must be 8 bytes, got 9", ""},
		{"zero span id", mod(func(s *tracepb.Span) { s.SpanId = make([]byte, 8) }), "span_id",
			"resource_spans[0].scope_spans[1].spans[1]: span_id: must not be all zero", ""},
		{"bad parent", mod(func(s *tracepb.Span) { s.ParentSpanId = []byte{1} }), "parent_span_id",
			"resource_spans[0].scope_spans[1].spans[1]: parent_span_id: must be empty or 8 bytes, got 1", testSpanID},
		{"no start", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = 0 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: must not be zero", testSpanID},
		{"end before start", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = s.StartTimeUnixNano - 1 }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: must not be before start_time_unix_nano (start 1760000000000000000, end 1759999999999999999)", testSpanID},
		{"start after 2262", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = 1 << 63; s.EndTimeUnixNano = 1 << 63 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2262-04-11T23:47:16.854775808Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"start in 2200", mod(func(s *tracepb.Span) { s.StartTimeUnixNano = unixNano2200; s.EndTimeUnixNano = unixNano2200 + 1 }), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"start 1ns after the range", mod(func(s *tracepb.Span) {
			s.StartTimeUnixNano = MaxStorableUnixNano + 1
			s.EndTimeUnixNano = MaxStorableUnixNano + 1
		}), "start_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: start_time_unix_nano: 2106-02-07T06:28:15.000000001Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"end in 2200", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = unixNano2200 }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
		{"end at the largest uint64", mod(func(s *tracepb.Span) { s.EndTimeUnixNano = ^uint64(0) }), "end_time_unix_nano",
			"resource_spans[0].scope_spans[1].spans[1]: end_time_unix_nano: 2554-07-21T23:34:33.709551615Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", testSpanID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := testSpan()
			req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{good}}, {Spans: []*tracepb.Span{good, tc.span, good}}},
			}}}
			for _, fn := range []struct {
				name string
				run  func() error
			}{
				{"ValidateOTLP", func() error { return ValidateOTLP(req) }},
				{"AppendSpans", func() error {
					spans, err := AppendSpans(nil, req)
					if len(spans) != 3 {
						t.Errorf("AppendSpans kept %d spans, want the 3 good ones", len(spans))
					}
					return err
				}},
			} {
				err := fn.run()
				if err == nil {
					t.Fatalf("%s: no error", fn.name)
				}
				if err.Error() != tc.msg {
					t.Errorf("%s: error\n %q, want\n %q", fn.name, err.Error(), tc.msg)
				}
				var se *SpanError
				if !errors.As(err, &se) {
					t.Fatalf("%s: %T is not a *SpanError", fn.name, err)
				}
				if se.Resource != 0 || se.Scope != 1 || se.Span != 1 || se.Field != tc.field || se.SpanID != tc.wantSpan {
					t.Errorf("%s: %+v", fn.name, *se)
				}
			}
		})
	}
}

func TestErrorsAreBounded(t *testing.T) {
	var spans []*tracepb.Span
	for i := 0; i < 13; i++ {
		s := testSpan()
		s.TraceId = nil
		spans = append(spans, s)
	}
	spans = append(spans, testSpan())
	req := request(nil, spans...)
	err := ValidateOTLP(req)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 || lines[10] != "and 3 more spans with errors" || !strings.HasPrefix(lines[9], "resource_spans[0].scope_spans[0].spans[9]: ") {
		t.Errorf("error:\n%v", err)
	}
	got, err2 := AppendSpans(nil, req)
	if len(got) != 1 || err2 == nil || err2.Error() != err.Error() {
		t.Errorf("AppendSpans: %d spans, %v", len(got), err2)
	}
	if err := ValidateOTLP(request(nil, testSpan())); err != nil {
		t.Errorf("valid request: %v", err)
	}
	if got, err := AppendSpans(nil, nil); len(got) != 0 || err != nil {
		t.Errorf("nil request: %v %v", got, err)
	}
}

func TestAppendSpansIDsAndTimes(t *testing.T) {
	sp := testSpan()
	sp.TraceId = mustHex("ABCDEF0123456789ABCDEF0123456789")
	sp.ParentSpanId = make([]byte, 8) // all zero: a root span
	dst := []Span{{Name: "already there"}}
	dst, err := AppendSpans(dst, request(nil, sp))
	if err != nil {
		t.Fatal(err)
	}
	s := dst[1]
	if dst[0].Name != "already there" || s.TraceID != "abcdef0123456789abcdef0123456789" || s.SpanID != testSpanID || s.ParentSpanID != "" {
		t.Errorf("ids %q %q %q", s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if !s.StartTime.Equal(time.Unix(0, int64(testStart))) || s.StartTime.Location() != time.UTC || s.Duration() != 1500*time.Millisecond {
		t.Errorf("times %v %v", s.StartTime, s.Duration())
	}
}

// --- JSON reader -------------------------------------------------------------------

func TestJSONScanString(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"plain"`, "plain", true},
		{`"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f", true},
		{`"\u00e9\u4e2d\ud83d\ude00"`, "é中😀", true},
		{`"\ud83d alone"`, "\uFFFD alone", true},
		{`"\\"`, `\`, true},
		{`"a\\\"b"`, `a\"b`, true},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{`"open`, "", false},
		{`"ends in \"`, "", false},
	}
	for _, tc := range tests {
		p := jscan{s: tc.in}
		got, ok := p.str()
		if ok != tc.ok || (ok && got != tc.want) || (ok && p.i != len(tc.in)) {
			t.Errorf("str(%s) = %q, %v (at %d), want %q, %v", tc.in, got, ok, p.i, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]bool{
		`{"a":[1,-2.5e3,true,false,null,{"b":"c\"}"}]}`: true,
		`[]`: true, `{}`: true, ` [ 1 , 2 ] `: true,
		`[1,]`: false, `{"a":}`: false, `{"a" 1}`: false, `{,}`: false, `[1 2]`: false, `tru`: false, `-`: false, ``: false,
	} {
		p := jscan{s: in}
		ok := p.skip() && p.peek() == 0
		if ok != want {
			t.Errorf("skip(%s) = %v, want %v", in, ok, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		"q\"b\\n\n\t\x01": `"q\"b\\n\n\t\u0001"`,
		"é😀":              `"é😀"`,
		"bad\xffutf8":     `"bad\ufffdutf8"`,
	} {
		got := string(AppendJSONString(nil, in))
		if got != want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
}

// --- benchmark ----------------------------------------------------------------------

// benchRequest is a batch of n LLM spans as a semconv 1.37 instrumentation
// sends them: ~1 KB of message text each, a dozen other attributes.
func benchRequest(n int) *coltracepb.ExportTraceServiceRequest {
	para := "Our refund policy allows returns within 30 days of delivery. " +
		"Items must be unused and in their original packaging; \"final sale\" items are excluded.\n"
	user := strings.Repeat(para, 5)   // ~750 bytes
	answer := strings.Repeat(para, 2) // ~300 bytes
	in := string(AppendJSONString([]byte(`[{"role":"system","parts":[{"type":"text","content":"You are a helpful support agent."}]},{"role":"user","parts":[{"type":"text","content":`), user)) + `}]}]`
	out := string(AppendJSONString([]byte(`[{"role":"assistant","parts":[{"type":"text","content":`), answer)) + `}],"finish_reason":"stop"}]`
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
				AttrChainName, "support",
				AttrChainVersion, "v12",
				AttrPromptTemplateID, "support-answer",
				AttrPromptTemplateVersion, "3",
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

func BenchmarkAppendSpans(b *testing.B) {
	req := benchRequest(1000)
	size := proto.Size(req)
	b.Run("batch_1000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		var dst []Span
		for b.Loop() {
			var err error
			if dst, err = AppendSpans(dst[:0], req); err != nil || len(dst) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "spans/s")
	})
	// With proto.Unmarshal, as the writer does for each Kafka record.
	body, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unmarshal_and_map_1000", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		var dst []Span
		for b.Loop() {
			r := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(body, r); err != nil {
				b.Fatal(err)
			}
			if dst, err = AppendSpans(dst[:0], r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "spans/s")
	})
}

func TestAppendSpansToleratesNils(t *testing.T) {
	sp := testSpan("k", "v")
	sp.Attributes = append(sp.Attributes, nil, &commonpb.KeyValue{Key: "nil.value"}, &commonpb.KeyValue{Key: AttrChainName})
	sp.Events = []*tracepb.Span_Event{nil, {Name: "gen_ai.user.message"}, {Name: "gen_ai.choice", Attributes: []*commonpb.KeyValue{nil}}}
	sp.Links = []*tracepb.Span_Link{nil}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		nil,
		{ScopeSpans: []*tracepb.ScopeSpans{nil, {Scope: &commonpb.InstrumentationScope{Attributes: []*commonpb.KeyValue{nil}}, Spans: []*tracepb.Span{nil, sp}}}},
	}}
	if err := ValidateOTLP(req); err != nil {
		t.Fatal(err)
	}
	s := mapOne(t, req)
	checkAttrs(t, s.Attributes, map[string]string{"k": "v", "nil.value": ""}, []string{AttrChainName})
}

// FuzzMessages feeds arbitrary gen_ai.input.messages / output values through
// the mapping: it must not panic, and what it writes as JSON must be JSON.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`,
		`[{"parts":[{"type":"tool_call","id":"1","arguments":{"a":[1,2]}}],"role":"assistant","finish_reason":"stop"}]`,
		`{"role":"tool","tool_call_id":"x","content":"r\u00e9\ud83d\ude00"}`,
		`[{"role":"user","content":[{"type":"text","text":"a\"b"},{"type":"image_url"}]},"s",1,null]`,
		`[{"role":"system","content":"sys"}]`, `[{]`, `"\u12"`, `[1,]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msgs string) {
		s := mapOne(t, request(nil, testSpan("gen_ai.input.messages", msgs, "gen_ai.output.messages", msgs,
			"gen_ai.prompt.0.content", msgs, "gen_ai.completion", msgs)))
		for _, k := range []string{AttrInputParts, AttrOutputParts, AttrGenAIFinishReasons} {
			if v, ok := s.Attributes[k]; ok && !json.Valid([]byte(v)) {
				t.Errorf("%s is not JSON: %q", k, v)
			}
		}
		if s.InputText == "" && s.Attributes[AttrInputSystem] == "" && s.Attributes[AttrInputParts] == "" &&
			s.Attributes["gen_ai.input.messages"] == "" && msgs != "" && json.Valid([]byte(msgs)) && strings.Contains(msgs, "text") {
			// Nothing taken and nothing kept would be a silent loss.
			t.Errorf("input %q vanished: %+v", msgs, s.Attributes)
		}
	})
}
