// Precedence between dialects and between span, scope and resource, and
// template ids.

package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/chainwatch/chainwatch/schemas"
)

func TestAppendSpansPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		res   []any
		span  []any
		want  func(s schemas.Span) (got, want any)
		attrs map[string]string
		gone  []string
	}{
		{
			name: "app: chainwatch.app on the span beats the resource",
			res:  []any{schemas.AttrApp, "res-app", "service.name", "svc"},
			span: []any{schemas.AttrApp, "span-app"},
			want: func(s schemas.Span) (any, any) { return s.App, "span-app" },
			// chainwatch.app on the resource is shadowed by the span's (same key).
			attrs: map[string]string{"service.name": "svc"},
			gone:  []string{schemas.AttrApp},
		},
		{
			name:  "app: chainwatch.app on the resource beats service.name",
			res:   []any{schemas.AttrApp, "res-app", "service.name", "svc"},
			want:  func(s schemas.Span) (any, any) { return s.App, "res-app" },
			attrs: map[string]string{"service.name": "svc"},
		},
		{
			name: "app: service.name when nothing else",
			res:  []any{"service.name", "svc"},
			want: func(s schemas.Span) (any, any) { return s.App, "svc" },
			gone: []string{"service.name"},
		},
		{
			name:  "environment: chainwatch > deployment.environment.name > deployment.environment",
			res:   []any{"deployment.environment.name", "prod", "deployment.environment", "production"},
			span:  []any{schemas.AttrEnvironment, "canary"},
			want:  func(s schemas.Span) (any, any) { return s.Environment, "canary" },
			attrs: map[string]string{"deployment.environment.name": "prod", "deployment.environment": "production"},
		},
		{
			name: "environment: equal lower-precedence values are consumed",
			res:  []any{"deployment.environment.name", "prod", "deployment.environment", "prod"},
			want: func(s schemas.Span) (any, any) { return s.Environment, "prod" },
			gone: []string{"deployment.environment.name", "deployment.environment"},
		},
		{
			name:  "chain name: chainwatch beats traceloop.workflow.name",
			span:  []any{schemas.AttrChainName, "rag", "traceloop.workflow.name", "rag_flow"},
			want:  func(s schemas.Span) (any, any) { return s.ChainName, "rag" },
			attrs: map[string]string{"traceloop.workflow.name": "rag_flow"},
		},
		{
			name: "chain version: traceloop.entity.version only on a workflow span",
			span: []any{"traceloop.span.kind", "task", "traceloop.entity.version", 4},
			want: func(s schemas.Span) (any, any) { return s.ChainVersion, "" },
		},
		{
			name:  "component name: chainwatch first",
			span:  []any{schemas.AttrComponentName, "retriever-a", "gen_ai.tool.name", "search", "gen_ai.agent.name", "bot", "traceloop.entity.name", "x"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentName, "retriever-a" },
			attrs: map[string]string{"gen_ai.tool.name": "search", "gen_ai.agent.name": "bot", "traceloop.entity.name": "x"},
		},
		{
			name: "component name: tool name before agent name before entity name",
			span: []any{"gen_ai.agent.name", "bot", "traceloop.entity.name", "x", "gen_ai.tool.name", "search"},
			want: func(s schemas.Span) (any, any) { return s.ComponentName, "search" },
		},
		{
			name: "component name: entity name before the span name",
			span: []any{"traceloop.entity.name", "x"},
			want: func(s schemas.Span) (any, any) { return s.ComponentName, "x" },
		},
		{
			name: "component name: the span name at last",
			want: func(s schemas.Span) (any, any) { return s.ComponentName, "span" },
		},
		{
			name:  "kind: chainwatch beats openinference",
			span:  []any{schemas.AttrComponentKind, "retriever", "openinference.span.kind", "LLM"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindRetriever },
			attrs: map[string]string{"openinference.span.kind": "LLM"},
			gone:  []string{schemas.AttrComponentKind},
		},
		{
			name:  "kind: an unknown chainwatch kind is authoritative: unknown, and kept",
			span:  []any{schemas.AttrComponentKind, "planner", "openinference.span.kind", "TOOL"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindUnknown },
			attrs: map[string]string{schemas.AttrComponentKind: "planner", "openinference.span.kind": "TOOL"},
		},
		{
			name:  "kind: openinference beats traceloop.span.kind",
			span:  []any{"openinference.span.kind", "RERANKER", "traceloop.span.kind", "task"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindReranker },
			attrs: map[string]string{"traceloop.span.kind": "task"},
		},
		{
			name:  "kind: traceloop.span.kind beats gen_ai.operation.name, and stays",
			span:  []any{"traceloop.span.kind", "workflow", "gen_ai.operation.name", "chat"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindChain },
			attrs: map[string]string{"traceloop.span.kind": "workflow"},
		},
		{
			name: "kind: gen_ai.operation.name embeddings",
			span: []any{"gen_ai.operation.name", "embeddings", "llm.request.type", "chat"},
			want: func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindEmbedding },
		},
		{
			name: "kind: gen_ai.operation.name create_agent",
			span: []any{"gen_ai.operation.name", "create_agent"},
			want: func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindAgent },
		},
		{
			name: "kind: llm.request.type embedding at last; it also names the operation",
			span: []any{"llm.request.type", "embedding"},
			want: func(s schemas.Span) (any, any) {
				return [2]any{s.ComponentKind, s.Operation}, [2]any{schemas.KindEmbedding, "embeddings"}
			},
			attrs: map[string]string{"llm.request.type": "embedding"},
		},
		{
			name:  "kind: openinference values outside ours are kept",
			span:  []any{"openinference.span.kind", "PROMPT"},
			want:  func(s schemas.Span) (any, any) { return s.ComponentKind, schemas.KindUnknown },
			attrs: map[string]string{"openinference.span.kind": "PROMPT"},
		},
		{
			name:  "provider: gen_ai.provider.name > gen_ai.system > llm.provider > llm.system",
			span:  []any{"llm.system", "openai", "llm.provider", "azure", "gen_ai.system", "az.ai.openai", "gen_ai.provider.name", "azure.ai.openai"},
			want:  func(s schemas.Span) (any, any) { return s.Provider, "azure.ai.openai" },
			attrs: map[string]string{"gen_ai.system": "az.ai.openai", "llm.provider": "azure", "llm.system": "openai"},
		},
		{
			name: "provider: llm.system at last",
			span: []any{"llm.system", "anthropic"},
			want: func(s schemas.Span) (any, any) { return s.Provider, "anthropic" },
		},
		{
			name: "models: llm.invocation_parameters' model is the requested one, llm.model_name the returned one",
			span: []any{"llm.model_name", "gpt-4o-2024-08-06", "llm.invocation_parameters", `{"temperature": 0, "model": "gpt-4o"}`},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"gpt-4o", "gpt-4o-2024-08-06"}
			},
			attrs: map[string]string{"llm.invocation_parameters": `{"temperature": 0, "model": "gpt-4o"}`},
			gone:  []string{"llm.model_name"},
		},
		{
			name: "models: LangChain's model_name in llm.invocation_parameters; gen_ai.request.model beats both",
			span: []any{"llm.invocation_parameters", `{"model_name": "m-ip"}`, "llm.model_name", "m-ret"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"m-ip", "m-ret"}
			},
		},
		{
			name: "models: gen_ai.request.model beats llm.invocation_parameters",
			span: []any{"gen_ai.request.model", "req", "llm.invocation_parameters", `{"model": "ip"}`},
			want: func(s schemas.Span) (any, any) { return s.ModelRequested, "req" },
		},
		{
			name: "models: malformed llm.invocation_parameters names no model",
			span: []any{"llm.invocation_parameters", `{"model": "x"`, "llm.model_name", "ret"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"ret", "ret"}
			},
			attrs: map[string]string{"llm.invocation_parameters": `{"model": "x"`},
		},
		{
			name: "models: embedding.model_name names an embedding span's model",
			span: []any{"openinference.span.kind", "EMBEDDING", "embedding.model_name", "text-embedding-3-small"},
			want: func(s schemas.Span) (any, any) {
				return [3]string{string(s.ComponentKind), s.ModelRequested, s.ModelReturned},
					[3]string{"embedding", "text-embedding-3-small", "text-embedding-3-small"}
			},
			gone: []string{"embedding.model_name"},
		},
		{
			name: "kind: invoke_workflow is a chain, apply_guardrail a guardrail",
			span: []any{"gen_ai.operation.name", "invoke_workflow"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{string(s.ComponentKind), string(KindFromOperation("apply_guardrail"))}, [2]string{"chain", "guardrail"}
			},
		},
		{
			name: "system instructions: plain text feeds chainwatch.input.system",
			span: []any{schemas.AttrGenAISystemInstructions, "Be brief.", "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.InputText, s.SystemInstructions}, [2]string{"hi", "Be brief."}
			},
			gone: []string{schemas.AttrGenAISystemInstructions},
		},
		{
			name: "models: llm.model_name fills both when nothing else",
			span: []any{"llm.model_name", "gpt-4o"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"gpt-4o", "gpt-4o"}
			},
			gone: []string{"llm.model_name"},
		},
		{
			name: "models: gen_ai.request.model beats llm.model_name, which still names the returned model",
			span: []any{"gen_ai.request.model", "gpt-4o", "llm.model_name", "gpt-4o-2024-08-06"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"gpt-4o", "gpt-4o-2024-08-06"}
			},
			gone: []string{"llm.model_name"},
		},
		{
			name: "models: gen_ai.response.model beats llm.model_name",
			span: []any{"gen_ai.request.model", "a", "gen_ai.response.model", "b", "llm.model_name", "c"},
			want: func(s schemas.Span) (any, any) {
				return [2]string{s.ModelRequested, s.ModelReturned}, [2]string{"a", "b"}
			},
			attrs: map[string]string{"llm.model_name": "c"},
		},
		{
			name:  "template: chainwatch id beats traceloop.prompt.key and the template hash",
			span:  []any{schemas.AttrPromptTemplateID, "greet", "traceloop.prompt.key", "greeting", "llm.prompt_template.template", "Hi {name}"},
			want:  func(s schemas.Span) (any, any) { return s.PromptTemplateID, "greet" },
			attrs: map[string]string{"traceloop.prompt.key": "greeting", "llm.prompt_template.template": "Hi {name}"},
		},
		{
			name: "template: the id derived from the template text",
			span: []any{"llm.prompt_template.template", "Hi {name}", "llm.prompt_template.variables", `{"name":"Bo"}`},
			want: func(s schemas.Span) (any, any) {
				sum := sha256Hex("Hi {name}")
				return s.PromptTemplateID, "tmpl-" + sum[:12]
			},
			attrs: map[string]string{"llm.prompt_template.template": "Hi {name}", "llm.prompt_template.variables": `{"name":"Bo"}`},
		},
		{
			name:  "template version: chainwatch > openinference > traceloop",
			span:  []any{"traceloop.prompt.version", 2, "llm.prompt_template.version", "v3", schemas.AttrPromptTemplateVersion, "v4"},
			want:  func(s schemas.Span) (any, any) { return s.PromptTemplateVersion, "v4" },
			attrs: map[string]string{"traceloop.prompt.version": "2", "llm.prompt_template.version": "v3"},
		},
		{
			name:  "tokens: input_tokens > prompt_tokens > llm.token_count.prompt",
			span:  []any{"llm.token_count.prompt", 10, "gen_ai.usage.prompt_tokens", 11, "gen_ai.usage.input_tokens", 12},
			want:  func(s schemas.Span) (any, any) { return s.InputTokens, int64(12) },
			attrs: map[string]string{"llm.token_count.prompt": "10", "gen_ai.usage.prompt_tokens": "11"},
		},
		{
			name: "tokens: output_tokens > completion_tokens > llm.token_count.completion, equal ones consumed",
			span: []any{"llm.token_count.completion", 5, "gen_ai.usage.completion_tokens", "5", "gen_ai.usage.output_tokens", 5.0},
			want: func(s schemas.Span) (any, any) { return s.OutputTokens, int64(5) },
			gone: []string{"llm.token_count.completion", "gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"},
		},
		{
			name:  "session: chainwatch > session.id > gen_ai.conversation.id",
			span:  []any{"gen_ai.conversation.id", "c", "session.id", "s", schemas.AttrSessionID, "cw"},
			want:  func(s schemas.Span) (any, any) { return s.SessionID, "cw" },
			attrs: map[string]string{"gen_ai.conversation.id": "c", "session.id": "s"},
		},
		{
			name: "session: gen_ai.conversation.id at last",
			span: []any{"gen_ai.conversation.id", "c"},
			want: func(s schemas.Span) (any, any) { return s.SessionID, "c" },
		},
		{
			name:  "user: chainwatch > user.id > enduser.id",
			span:  []any{"enduser.id", "e", "user.id", "u"},
			want:  func(s schemas.Span) (any, any) { return s.UserID, "u" },
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
			want:  func(s schemas.Span) (any, any) { return s.InputText, "A" },
			attrs: map[string]string{"gen_ai.prompt.0.content": "B", "input.value": "C"},
			gone:  []string{"llm.input_messages.0.message.content", "gen_ai.input.messages"},
		},
		{
			name:  "text: output.value when nothing else",
			span:  []any{"output.value", "done", "output.mime_type", "text/plain"},
			want:  func(s schemas.Span) (any, any) { return s.OutputText, "done" },
			attrs: map[string]string{"output.mime_type": "text/plain"},
		},
		{
			name: "an empty value does not win",
			span: []any{schemas.AttrChainName, "", "traceloop.workflow.name", "flow"},
			want: func(s schemas.Span) (any, any) { return s.ChainName, "flow" },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mapOne(t, request(kvs(tc.res...), testSpan(tc.span...)))
			got, want := tc.want(s)
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
			checkAttrs(t, withColumns(s), tc.attrs, tc.gone)
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
