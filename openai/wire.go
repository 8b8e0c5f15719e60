package openai

import (
	"encoding/json"
	"errors"
)

// API paths, relative to the base URL (which ends in the version, "/v1").
const (
	PathChatCompletions = "/chat/completions"
	PathEmbeddings      = "/embeddings"
)

// The wire types below are the subset of the OpenAI API that chainwatch
// sends and reads, shared by the client and openaitest's server. Fields a
// caller does not set are left out of the JSON, so that servers apply their
// own defaults.

// Message is one chat message of a request.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// ResponseFormat is a chat request's response_format; Type "json_object"
// asks for JSON mode, "json_schema" for structured output with JSONSchema.
type ResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// ChatCompletionRequest is POST /v1/chat/completions's body.
type ChatCompletionRequest struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	// Temperature is sent when set (a judge sends 0 explicitly).
	Temperature    *float64        `json:"temperature,omitempty"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
}

// ChatCompletion is the answer to a chat-completions request.
type ChatCompletion struct {
	ID      string   `json:"id,omitempty"`
	Object  string   `json:"object,omitempty"` // "chat.completion"
	Created int64    `json:"created,omitempty"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one completion of a ChatCompletion.
type Choice struct {
	Index        int           `json:"index"`
	Message      ChoiceMessage `json:"message"`
	FinishReason string        `json:"finish_reason,omitempty"`
}

// ChoiceMessage is a completion's message; Content is null when the model
// answered with something else (a tool call, a refusal).
type ChoiceMessage struct {
	Role    string  `json:"role"`
	Content *string `json:"content"`
}

// Usage is a response's token accounting (embeddings report no
// completion tokens).
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens,omitempty"`
	TotalTokens      int `json:"total_tokens"`
}

// EmbeddingRequest is POST /v1/embeddings's body.
type EmbeddingRequest struct {
	Model string  `json:"model"`
	Input Strings `json:"input"`
	// Dimensions asks models that can shorten their output (OpenAI's
	// text-embedding-3, matryoshka models on vLLM) for that many.
	Dimensions int `json:"dimensions,omitempty"`
}

// Strings is an input that the API accepts as one string or an array of
// them; it always encodes as an array.
type Strings []string

// UnmarshalJSON accepts a string or an array of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var many []string
	if err := json.Unmarshal(b, &many); err == nil {
		*s = many
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return errors.New("input must be a string or an array of strings")
	}
	*s = Strings{one}
	return nil
}

// EmbeddingResponse is the answer to an embeddings request. Servers may
// answer Data in any order; Index says which input each vector is for.
type EmbeddingResponse struct {
	Object string      `json:"object,omitempty"` // "list"
	Model  string      `json:"model,omitempty"`
	Data   []Embedding `json:"data"`
	Usage  *Usage      `json:"usage,omitempty"`
}

// Embedding is one vector of an EmbeddingResponse; Index is nil when the
// server left it out (a broken answer).
type Embedding struct {
	Object    string    `json:"object,omitempty"` // "embedding"
	Index     *int      `json:"index"`
	Embedding []float32 `json:"embedding"`
}

// ErrorResponse is the body of an error answer: {"error": {...}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the API's description of an error. Code is a string on
// OpenAI, a number on some servers (vLLM), absent on others.
type ErrorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type,omitempty"`
	Param   json.RawMessage `json:"param,omitempty"`
	Code    json.RawMessage `json:"code,omitempty"`
}

// parseErrorBody reads the error bodies OpenAI-compatible servers send:
// OpenAI's {"error": {"message": …}}, vLLM's older top-level {"object":
// "error", "message": …} and Ollama's {"error": "…"}. ok is false when raw
// is none of them.
func parseErrorBody(raw []byte) (b ErrorBody, ok bool) {
	var env struct {
		Error json.RawMessage `json:"error"`
		ErrorBody
	}
	if json.Unmarshal(raw, &env) != nil {
		return ErrorBody{}, false
	}
	if len(env.Error) > 0 {
		var nested ErrorBody
		if json.Unmarshal(env.Error, &nested) == nil && nested.Message != "" {
			return nested, true
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil && s != "" {
			return ErrorBody{Message: s}, true
		}
	}
	if env.Message != "" {
		return env.ErrorBody, true
	}
	return ErrorBody{}, false
}
