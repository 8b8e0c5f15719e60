package evaluators

import "context"

// ChatClient is the judge's view of a chat model: one OpenAI-style chat
// completion per call. evaluators/openai implements it over HTTP with
// timeouts, retries and a concurrency limit; tests may use openaitest's server
// through that client.
type ChatClient interface {
	Chat(ctx context.Context, req ChatRequest) (ChatResponse, error)
}

// ChatClientFunc adapts a function to ChatClient.
type ChatClientFunc func(ctx context.Context, req ChatRequest) (ChatResponse, error)

// Chat calls f.
func (f ChatClientFunc) Chat(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	return f(ctx, req)
}

var _ ChatClient = ChatClientFunc(nil)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// ChatRequest is a chat-completions request.
type ChatRequest struct {
	Model       string
	Messages    []Message
	Temperature float64
	MaxTokens   int // 0: the server's default
	// JSONMode asks for response_format {"type": "json_object"}; not every
	// OpenAI-compatible server supports it, so judges leave it off unless
	// configured.
	JSONMode bool
}

// ChatResponse is the first choice of a chat completion and its usage.
type ChatResponse struct {
	Model   string // the model that answered, as the server reports it
	Content string
	Usage   Usage
}

// Usage is the token accounting of one completion, from the API's usage field.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Embedder turns texts into vectors, one per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}
