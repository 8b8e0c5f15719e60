// The OTLP mapping over each dialect's golden files and over what the
// OpenTelemetry SDK sends.

package genai

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
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
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestAppendSpansDialects(t *testing.T) {
	weatherIn := "What's the weather in Paris?"
	weatherOut := "It's rainy and 57°F in Paris.\nTake an \"umbrella\"."
	semconvChat := spanWant{
		name: "chat gpt-4o",
		check: func(t *testing.T, s schemas.Span) {
			want := schemas.Span{
				App: "weather-bot", Environment: "prod", ChainName: "weather", ChainVersion: "v3",
				ComponentName: "chat gpt-4o", ComponentKind: schemas.KindLLM, Operation: "chat", Provider: "openai",
				ModelRequested: "gpt-4o", ModelReturned: "gpt-4o-2024-08-06",
				InputText: weatherIn, OutputText: weatherOut, InputTokens: 97, OutputTokens: 52,
				Status: schemas.StatusUnset, SessionID: "conv-42", ParentSpanID: "eee19b7ec3c1b174",
			}
			compareColumns(t, s, want)
		},
		attrs: map[string]string{
			// gen_ai.system_instructions, then the system message.
			schemas.AttrInputSystem:          "You are a weather bot.\nAnswer briefly.",
			"gen_ai.request.temperature":     "0.2",
			"gen_ai.request.max_tokens":      "512",
			"gen_ai.response.finish_reasons": `["stop"]`,
			"gen_ai.response.id":             "chatcmpl-123",
			schemas.AttrSpanKind:             "client",
			"server.address":                 "api.openai.com",
		},
		gone: []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.usage.input_tokens", schemas.AttrGenAISystemInstructions,
			"gen_ai.request.model", "service.name", schemas.AttrChainName, schemas.AttrOutputParts, schemas.AttrMappingWarning},
	}
	checkParts := func(t *testing.T, s schemas.Span) {
		var parts []map[string]any
		if err := json.Unmarshal([]byte(s.Attributes[schemas.AttrInputParts]), &parts); err != nil {
			t.Fatalf("%s = %q: %v", schemas.AttrInputParts, s.Attributes[schemas.AttrInputParts], err)
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
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "weather-bot", Environment: "prod", ChainName: "weather", ChainVersion: "v3",
							ComponentName: "weather-agent", ComponentKind: schemas.KindAgent, Operation: "invoke_agent",
							Provider: "openai", Status: schemas.StatusError, ErrorMessage: "upstream timeout after 2s",
							SessionID: "conv-42",
						})
						var ev map[string]string
						if err := json.Unmarshal([]byte(s.Attributes["event.exception"]), &ev); err != nil || ev["exception.type"] != "TimeoutError" {
							t.Errorf("event.exception = %q (%v), want the exception event's attributes", s.Attributes["event.exception"], err)
						}
					},
					attrs: map[string]string{"gen_ai.agent.id": "asst_5", schemas.AttrScopeName: "opentelemetry.instrumentation.openai_v2",
						schemas.AttrScopeVersion: "2.1b0", "telemetry.sdk.language": "python"},
					gone: []string{"gen_ai.agent.name", "gen_ai.operation.name", schemas.AttrSpanKind},
				},
				{
					name: "execute_tool get_weather",
					check: func(t *testing.T, s schemas.Span) {
						if s.ComponentName != "get_weather" || s.ComponentKind != schemas.KindTool {
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
					schemas.AttrScopeName: "chainwatch-test",
				}},
			},
		},
		{
			file:  "semconv_events",
			count: 1,
			wants: []spanWant{{
				name: "chat gpt-3.5-turbo",
				check: func(t *testing.T, s schemas.Span) {
					compareColumns(t, s, schemas.Span{
						App: "calc-bot", Environment: "staging", ComponentName: "chat gpt-3.5-turbo",
						ComponentKind: schemas.KindLLM, Operation: "chat", Provider: "openai",
						ModelRequested: "gpt-3.5-turbo", ModelReturned: "gpt-3.5-turbo-0125",
						InputText: "What is 2+2?\nAnd in words?", OutputText: "Four.",
						InputTokens: 41, OutputTokens: 7, Status: schemas.StatusUnset,
					})
					var parts []map[string]any
					if err := json.Unmarshal([]byte(s.Attributes[schemas.AttrInputParts]), &parts); err != nil {
						t.Fatal(err)
					}
					if len(parts) != 2 || parts[0]["id"] != "call_9" || parts[1]["type"] != "tool_call_response" || parts[1]["response"] != "4" {
						t.Errorf("input parts = %v, want the tool call and the tool's response", parts)
					}
				},
				attrs: map[string]string{
					schemas.AttrInputSystem:          "You are terse.",
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
				check: func(t *testing.T, s schemas.Span) {
					compareColumns(t, s, schemas.Span{
						App: "haiku", ComponentName: "anthropic.messages", Provider: "anthropic",
						ModelRequested: "claude-3-haiku-20240307",
						InputText:      "Write a haiku about rain.",
						OutputText:     "Soft rain on tin roofs\nthe gutters hum a low song\nnight drinks the city",
						InputTokens:    12, OutputTokens: 17, Status: schemas.StatusUnset,
					})
				},
				gone: []string{"event.gen_ai.content.prompt", "event.gen_ai.content.completion", "gen_ai.usage.output_tokens"},
			}},
		},
		{
			file:  "openllmetry",
			count: 5,
			wants: []spanWant{
				{
					name: "support_flow.workflow",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow", ChainVersion: "2",
							ComponentName: "support_flow", ComponentKind: schemas.KindChain, Status: schemas.StatusUnset,
							InputText:  `{"args": ["my order is late"], "kwargs": {}}`,
							OutputText: `"Sorry about that! Your order ships tomorrow."`,
						})
					},
					attrs: map[string]string{"traceloop.span.kind": "workflow", "traceloop.association.properties.customer_id": "c-77"},
					gone:  []string{"traceloop.workflow.name", "traceloop.entity.name", "traceloop.entity.input", "traceloop.entity.version"},
				},
				{
					name: "classify.task",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow",
							ComponentName: "classify", ComponentKind: schemas.KindChain, Status: schemas.StatusUnset,
						})
					},
				},
				{
					name: "openai.chat",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "support-desk", Environment: "prod", ChainName: "support_flow",
							ComponentName: "openai.chat", ComponentKind: schemas.KindLLM, Operation: "chat", Provider: "OpenAI",
							ModelRequested: "gpt-4o-mini", ModelReturned: "gpt-4o-mini-2024-07-18",
							PromptTemplateID: "support-greeting", PromptTemplateVersion: "3",
							InputText: "my order is late", OutputText: "Sorry about that! Your order ships tomorrow.",
							InputTokens: 31, OutputTokens: 12, Status: schemas.StatusUnset,
						})
					},
					attrs: map[string]string{
						schemas.AttrInputSystem:             "You are a support agent for ACME.",
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
				{
					// An answer that is only a tool call: content "null" is no
					// content; the call is the text and a tool_call part.
					name: "openai.chat tool call",
					check: func(t *testing.T, s schemas.Span) {
						if s.InputText != "Where is order 42?" || s.OutputText != `tool_call track_order({"order_id": 42})` {
							t.Errorf("texts = %q / %q, want the question and the rendered tool call", s.InputText, s.OutputText)
						}
					},
					attrs: map[string]string{
						schemas.AttrOutputParts:             `[{"type":"tool_call","id":"call_42","name":"track_order","arguments":{"order_id": 42}}]`,
						"gen_ai.completion.0.finish_reason": "tool_calls",
					},
					gone: []string{"gen_ai.completion.0.content", "gen_ai.completion.0.tool_calls.0.id",
						"gen_ai.completion.0.tool_calls.0.name", "gen_ai.completion.0.tool_calls.0.arguments"},
				},
				{
					// The next turn: the assistant's "null" adds no word null to
					// the input; its tool call and the tool's answer are parts.
					name: "openai.chat after tool",
					check: func(t *testing.T, s schemas.Span) {
						if s.InputText != "Where is order 42?" || s.OutputText != "Order 42 has shipped and arrives tomorrow." {
							t.Errorf("texts = %q / %q", s.InputText, s.OutputText)
						}
					},
					attrs: map[string]string{
						schemas.AttrInputParts: `[{"type":"tool_call","id":"call_42","name":"track_order","arguments":{"order_id": 42}},` +
							`{"type":"tool_call_response","id":"call_42","response":"shipped, arrives tomorrow"}]`,
					},
					gone: []string{"gen_ai.prompt.1.content", "gen_ai.prompt.1.tool_calls.0.name", "gen_ai.prompt.2.tool_call_id"},
				},
			},
		},
		{
			file:  "openinference",
			count: 6,
			wants: []spanWant{
				{
					name: "query",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "vision-qa", ComponentName: "query", ComponentKind: schemas.KindChain, Status: schemas.StatusUnset,
							InputText: "Describe this image", OutputText: "A cat sleeping on a red sofa.",
							SessionID: "sess-1", UserID: "u-9",
						})
					},
					attrs: map[string]string{"metadata": `{"tenant": "acme"}`, "openinference.project.name": "default"},
					gone:  []string{"openinference.span.kind", "input.value", "session.id", "user.id"},
				},
				{
					name: "retrieve",
					check: func(t *testing.T, s schemas.Span) {
						if s.ComponentKind != schemas.KindRetriever || s.InputText != "Describe this image" {
							t.Errorf("kind %q input %q, want retriever / the query", s.ComponentKind, s.InputText)
						}
					},
					attrs: map[string]string{"retrieval.documents.0.document.content": "Cats sleep 16 hours a day.",
						"retrieval.documents.0.document.score": "0.82"},
				},
				{
					name: "ChatCompletion",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "vision-qa", ComponentName: "ChatCompletion", ComponentKind: schemas.KindLLM, Provider: "openai", Operation: "chat",
							ModelRequested: "gpt-4o", ModelReturned: "gpt-4o",
							PromptTemplateID: TemplateID("Describe {subject}"), PromptTemplateVersion: "v7",
							InputText: "Describe this image", OutputText: "A cat sleeping on a red sofa.",
							InputTokens: 1210, OutputTokens: 9, Status: schemas.StatusUnset, SessionID: "sess-1", UserID: "u-9",
						})
						if !strings.HasPrefix(s.PromptTemplateID, "tmpl-") || len(s.PromptTemplateID) != 17 {
							t.Errorf("template id %q, want tmpl- and 12 hex digits", s.PromptTemplateID)
						}
						if !strings.HasPrefix(s.Attributes["input.value"], `{"model": "gpt-4o"`) {
							t.Errorf("input.value (the raw request, which disagrees with the messages) should be kept, got %q", s.Attributes["input.value"])
						}
					},
					attrs: map[string]string{
						schemas.AttrInputSystem:         "You describe images.",
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
				{
					// Only a tool call: the requested model from
					// llm.invocation_parameters, the returned one from
					// llm.model_name; the rendered call, not output.value's raw
					// provider JSON, is the output text (output.value stays).
					name: "ChatCompletion tool call",
					check: func(t *testing.T, s schemas.Span) {
						compareColumns(t, s, schemas.Span{
							App: "vision-qa", ComponentName: "ChatCompletion tool call", ComponentKind: schemas.KindLLM, Operation: "chat",
							Provider: "openai", ModelRequested: "gpt-4o-mini", ModelReturned: "gpt-4o-mini-2024-07-18",
							InputText: "What's the weather in Paris?", OutputText: `tool_call get_weather({"city": "Paris"})`,
							InputTokens: 80, OutputTokens: 17, Status: schemas.StatusUnset,
							ToolDefinitions: `[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]`,
						})
						if !strings.HasPrefix(s.Attributes["output.value"], `{"id": "chatcmpl-7"`) {
							t.Errorf("output.value (raw provider JSON) should stay an attribute, got %q", s.Attributes["output.value"])
						}
					},
					attrs: map[string]string{
						schemas.AttrOutputParts:     `[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city": "Paris"}}]`,
						"llm.invocation_parameters": `{"model": "gpt-4o-mini", "tool_choice": "auto"}`,
					},
					gone: []string{"llm.model_name", "llm.output_messages.0.message.tool_calls.0.tool_call.id",
						"llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
						"llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"},
				},
				{
					// Tool calls and results on input messages become parts.
					name: "ChatCompletion after tool",
					check: func(t *testing.T, s schemas.Span) {
						if s.InputText != "What's the weather in Paris?" || s.OutputText != "It's rainy in Paris." {
							t.Errorf("texts = %q / %q", s.InputText, s.OutputText)
						}
					},
					attrs: map[string]string{
						schemas.AttrInputParts: `[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city": "Paris"}},` +
							`{"type":"tool_call_response","id":"call_1","response":"rainy, 57°F"}]`,
					},
					gone: []string{"llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments",
						"llm.input_messages.2.message.tool_call_id", "llm.input_messages.2.message.content"},
				},
				{
					name: "CreateEmbeddingResponse",
					check: func(t *testing.T, s schemas.Span) {
						if s.ComponentKind != schemas.KindEmbedding || s.ModelRequested != "text-embedding-3-small" || s.ModelReturned != "text-embedding-3-small" {
							t.Errorf("kind/models = %q %q %q, want embedding and embedding.model_name in both", s.ComponentKind, s.ModelRequested, s.ModelReturned)
						}
					},
					gone: []string{"embedding.model_name"},
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
				checkAttrs(t, withColumns(s), w.attrs, w.gone)
			}
			checkGolden(t, filepath.Join("testdata", "dialects", tc.file+".golden.json"), spans)
		})
	}
}

// compareColumns compares every column but the ids, name, times and
// attributes (which the callers check themselves), ignoring want's empty
// ParentSpanID.
func compareColumns(t *testing.T, got, want schemas.Span) {
	t.Helper()
	got.Attributes, want.Attributes = nil, nil
	got.SystemInstructions = "" // checked with the attributes (withColumns)
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

func spanEqual(a, b schemas.Span) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return bytes.Equal(aj, bj)
}

func checkGolden(t *testing.T, path string, spans []schemas.Span) {
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
		t.Fatalf("%v (run go test ./genai/ -update-mapping to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mapping differs from %s (run go test ./genai/ -update-mapping and review the diff):\n%s", path, got)
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
			attribute.String(schemas.AttrChainVersion, "2025-10-01"),
		)))
	tr := tp.Tracer("chainwatch/schemas_test", trace.WithInstrumentationVersion("0.1.0"))

	inMsgs := `[{"role":"system","parts":[{"type":"text","content":"Be kind."}]},` +
		`{"role":"user","parts":[{"type":"text","content":"Translate \"bonjour\" to English.\nOne word."}]}]`
	outMsgs := `[{"role":"assistant","parts":[{"type":"text","content":"Hello."}],"finish_reason":"stop"}]`

	ctx, root := tr.Start(ctx, "invoke_agent translator", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.agent.name", "translator"),
		attribute.String(schemas.AttrChainName, "translate"),
		attribute.String(schemas.AttrSessionID, "s-1"),
		attribute.String(schemas.AttrUserID, "alice"),
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
		attribute.String(schemas.AttrPromptTemplateID, "translate-v1"),
		attribute.String(schemas.AttrPromptTemplateVersion, "4"),
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

	var spans []schemas.Span
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
	compareColumns(t, rootSpan, schemas.Span{
		App: "sdk-app", Environment: "test", ChainName: "translate", ChainVersion: "2025-10-01",
		ComponentName: "translator", ComponentKind: schemas.KindAgent, Operation: "invoke_agent",
		Status: schemas.StatusError, ErrorMessage: "translation service unavailable", SessionID: "s-1", UserID: "alice",
	})
	compareColumns(t, chatSpan, schemas.Span{
		App: "sdk-app", Environment: "test", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "chat gpt-4o-mini", ComponentKind: schemas.KindLLM, Operation: "chat", Provider: "openai",
		ModelRequested: "gpt-4o-mini", ModelReturned: "gpt-4o-mini-2024-07-18",
		PromptTemplateID: "translate-v1", PromptTemplateVersion: "4",
		InputText: "Translate \"bonjour\" to English.\nOne word.", OutputText: "Hello.",
		InputTokens: 21, OutputTokens: 2, Status: schemas.StatusUnset,
	})
	checkAttrs(t, withColumns(chatSpan), map[string]string{
		schemas.AttrInputSystem:          "Be kind.",
		"gen_ai.response.finish_reasons": `["stop"]`,
		"gen_ai.request.temperature":     "0",
		"cache.hit":                      "false",
		"shard.ids":                      "[3,5]",
		schemas.AttrScopeName:            "chainwatch/schemas_test",
		schemas.AttrScopeVersion:         "0.1.0",
		schemas.AttrSpanKind:             "client",
	}, []string{"service.name", "gen_ai.input.messages", schemas.AttrPromptTemplateID, schemas.AttrChainVersion})

	legacySpan := spanNamed(t, spans, "chat legacy")
	compareColumns(t, legacySpan, schemas.Span{
		App: "sdk-app", Environment: "test", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "chat legacy", Provider: "openai", ModelRequested: "gpt-3.5-turbo",
		InputText: "Say hi", OutputText: "Hi!", InputTokens: 13, OutputTokens: 4, Status: schemas.StatusUnset,
	})
	indexedSpan := spanNamed(t, spans, "openai.chat")
	compareColumns(t, indexedSpan, schemas.Span{
		App: "sdk-app", Environment: "test", ChainName: "counting", ChainVersion: "2025-10-01", ParentSpanID: rootSpan.SpanID,
		ComponentName: "openai.chat", ComponentKind: schemas.KindLLM, Operation: "chat",
		InputText: "Count to three.", OutputText: "One, two, three.", Status: schemas.StatusUnset,
	})
}
