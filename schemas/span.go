// Package schemas holds chainwatch's record types (span, feedback, score,
// result), their column lists and the ClickHouse DDL with its migrator. It is
// the leaf of the module: it imports nothing of ours. The OTLP GenAI mapping
// onto Span lives in package genai.
package schemas

import (
	"strings"
	"time"
)

// ComponentKind is what a span's component does inside a chain.
type ComponentKind string

// Component kinds. Anything an instrumentation library reports that does not
// map to one of these is stored as KindUnknown with the original value kept in
// the span's attributes.
const (
	KindUnknown   ComponentKind = ""
	KindLLM       ComponentKind = "llm"
	KindRetriever ComponentKind = "retriever"
	KindReranker  ComponentKind = "reranker"
	KindTool      ComponentKind = "tool"
	KindEmbedding ComponentKind = "embedding"
	KindGuardrail ComponentKind = "guardrail"
	KindChain     ComponentKind = "chain"
	KindAgent     ComponentKind = "agent"
	KindEvaluator ComponentKind = "evaluator"
)

var allKinds = [...]ComponentKind{KindLLM, KindRetriever, KindReranker, KindTool, KindEmbedding, KindGuardrail, KindChain, KindAgent, KindEvaluator}

// ParseComponentKind matches s case-insensitively against the component
// kinds (OpenInference's LLM, CHAIN, … included).
func ParseComponentKind(s string) (ComponentKind, bool) {
	for _, k := range allKinds {
		if strings.EqualFold(s, string(k)) {
			return k, true
		}
	}
	return KindUnknown, false
}

// Status of a span, following OTLP's status codes.
const (
	StatusUnset = "unset"
	StatusOK    = "ok"
	StatusError = "error"
)

// Span is one step of one run of an application's chain: one row of the
// ClickHouse spans table.
type Span struct {
	TraceID      string `json:"trace_id"`       // 32 lower-case hex digits
	SpanID       string `json:"span_id"`        // 16 lower-case hex digits
	ParentSpanID string `json:"parent_span_id"` // empty for a root span
	Name         string `json:"name"`

	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`

	// Lineage.
	App                   string        `json:"app"`
	Environment           string        `json:"environment"`
	ChainName             string        `json:"chain_name"`
	ChainVersion          string        `json:"chain_version"`
	ComponentName         string        `json:"component_name"`
	ComponentKind         ComponentKind `json:"component_kind"`
	PromptTemplateID      string        `json:"prompt_template_id"`
	PromptTemplateVersion string        `json:"prompt_template_version"`

	// Model.
	Operation      string `json:"operation"` // gen_ai.operation.name: chat, embeddings, execute_tool, …
	Provider       string `json:"provider"`  // gen_ai.provider.name (or the older gen_ai.system)
	ModelRequested string `json:"model_requested"`
	ModelReturned  string `json:"model_returned"`

	// Content and usage.
	InputText    string `json:"input_text"`
	OutputText   string `json:"output_text"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	// Of InputTokens, those read from / written to the provider's prompt
	// cache; of OutputTokens, those spent reasoning (current conventions).
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	ReasoningOutputTokens    int64 `json:"reasoning_output_tokens,omitempty"`
	// Stream: the answer was streamed; TimeToFirstChunkMS: from the request
	// to its first chunk (0 when not reported).
	Stream             bool    `json:"stream,omitempty"`
	TimeToFirstChunkMS float64 `json:"time_to_first_chunk_ms,omitempty"`

	// SystemInstructions is the system prompt: gen_ai.system_instructions'
	// text, then the system and developer messages' (kept out of
	// InputText). ToolDefinitions is gen_ai.tool.definitions as JSON (the
	// tools offered to the model). GuardrailResult is the
	// gen_ai.guardrail.result event of an apply_guardrail span, its
	// attributes as a JSON object (an array when there are several).
	SystemInstructions string `json:"system_instructions,omitempty"`
	ToolDefinitions    string `json:"tool_definitions,omitempty"`
	GuardrailResult    string `json:"guardrail_result,omitempty"`

	Status       string `json:"status"` // StatusUnset, StatusOK or StatusError
	ErrorMessage string `json:"error_message"`

	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`

	// Attributes holds every resource, scope and span attribute that no
	// column above took, flattened to strings (arrays and maps as JSON).
	// Nothing is dropped for an unknown key.
	Attributes map[string]string `json:"attributes"`
}

// Duration is the span's latency.
func (s *Span) Duration() time.Duration { return s.EndTime.Sub(s.StartTime) }

// Feedback is one end user's (or annotator's) judgement of a trace or span:
// one row of the ClickHouse feedback table.
type Feedback struct {
	// ID is the natural key: replays and client retries that carry the same
	// ID are stored once. The collector derives one from the content when
	// the client sends none.
	ID      string    `json:"id"`
	TraceID string    `json:"trace_id"`
	SpanID  string    `json:"span_id,omitempty"`
	Score   *float64  `json:"score,omitempty"` // thumbs as 0/1, ratings as given
	Label   string    `json:"label,omitempty"` // e.g. "thumbs_up", "wrong_answer"
	Comment string    `json:"comment,omitempty"`
	Source  string    `json:"source,omitempty"` // "user", "annotator", "api", …
	UserID  string    `json:"user_id,omitempty"`
	Time    time.Time `json:"time"`
}
