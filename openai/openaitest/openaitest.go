// Package openaitest is an OpenAI-compatible test server for any package's
// tests: POST /v1/chat/completions (streamed as server-sent events when
// asked: at a fixed chunk rate, with or without the usage chunk, breaking
// mid-stream on cue), POST /v1/embeddings and GET /v1/models, answering like
// the real API (through the openai package's wire types) and playing
// scripted faults — 429 with Retry-After, 5xx, slow answers, broken bodies,
// a missing index, a wrong dimension. Embeddings are deterministic
// (Vector); chat answers come from a script, a Responder or a default
// verdict. Each endpoint counts its requests and the most in flight; the
// server registers its shutdown with tb.Cleanup.
//
//	srv := openaitest.NewServer(t, openaitest.WithDim(8))
//	srv.Embeddings.Enqueue(openaitest.RateLimited("1"), openaitest.ServerError(500))
//	srv.Chat.Enqueue(openaitest.Verdict(4, "correct"))
//	c, _ := openai.New(srv.URL)
package openaitest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/openai"
)

// Defaults of the server's answers.
const (
	// DefaultDim is the dimension of the vectors when WithDim is not given.
	DefaultDim = 16
	// DefaultModel is the model a chat answer reports when neither the
	// reply nor the request names one.
	DefaultModel = "openaitest-judge"
	// DefaultContent is the chat answer when no reply is queued and no
	// responder is set: a valid pointwise verdict.
	DefaultContent = `{"score": 3, "reasoning": "openaitest default verdict"}`
)

// Vector is the server's embedding of text in dim dimensions: unit-length,
// a pure function of (text, dim), exactly representable as float32 (so a
// JSON round trip returns it bit for bit).
func Vector(text string, dim int) []float32 {
	seed := sha256.Sum256([]byte(text))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:16])))
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		norm += float64(v[i]) * float64(v[i])
	}
	if norm > 0 {
		s := 1 / math.Sqrt(norm)
		for i := range v {
			v[i] = float32(float64(v[i]) * s)
		}
	}
	return v
}

// Reply is a scripted answer to one request, taken from its endpoint's
// queue in the order Enqueue added it. The zero Reply answers normally.
type Reply struct {
	// Status, when not 0 or 200, answers that status with an OpenAI-style
	// error object (or Body).
	Status int
	// Header is added to the response (e.g. Retry-After, retry-after-ms).
	Header map[string]string
	// Delay holds the answer back; the handler gives up early when the
	// client does or the server closes.
	Delay time.Duration
	// Body, when set, is written verbatim instead of the normal answer.
	Body string

	// Content is the chat answer's message content.
	Content string
	// PromptTokens and CompletionTokens are the chat answer's usage; 0
	// estimates them at about four characters a token.
	PromptTokens, CompletionTokens int
	// Model is the model a chat answer reports; empty echoes the request's.
	Model string

	// Streaming (a request with "stream": true) answers Content as
	// server-sent events, one chunk per element of Chunks (empty: Content
	// split after each space), ChunkInterval apart — a fixed token rate.
	Chunks        []string
	ChunkInterval time.Duration
	// FailAfter, when > 0, breaks the connection after that many content
	// chunks: a mid-stream upstream failure, no [DONE].
	FailAfter int
	// NoUsage leaves the usage chunk out even when the request asked for
	// it (stream_options.include_usage), as some servers do.
	NoUsage bool

	// Omit lists input indices left out of an embeddings answer.
	Omit []int
	// Dim, when > 0, answers vectors of that dimension instead.
	Dim int
}

// OK answers normally (a placeholder in a script).
func OK() Reply { return Reply{} }

// Answer is a chat answer with content.
func Answer(content string) Reply { return Reply{Content: content} }

// Verdict is a chat answer with a valid pointwise verdict
// {"score": score, "reasoning": reasoning}.
func Verdict(score int, reasoning string) Reply {
	b, _ := json.Marshal(map[string]any{"score": score, "reasoning": reasoning})
	return Reply{Content: string(b)}
}

// PairVerdict is a chat answer with a valid pairwise verdict; winner is
// "1", "2" or "tie".
func PairVerdict(winner, reasoning string) Reply {
	b, _ := json.Marshal(map[string]any{"winner": winner, "reasoning": reasoning})
	return Reply{Content: string(b)}
}

// RateLimited answers 429 with the given Retry-After value (seconds or an
// HTTP date; empty sends none).
func RateLimited(retryAfter string) Reply {
	r := Reply{Status: http.StatusTooManyRequests}
	if retryAfter != "" {
		r.Header = map[string]string{"Retry-After": retryAfter}
	}
	return r
}

// ServerError answers status (e.g. 500, 503; any non-200 works) with an
// error object.
func ServerError(status int) Reply { return Reply{Status: status} }

// BadRequest answers 400 with message in an OpenAI-style error object.
func BadRequest(message string) Reply {
	return Reply{Status: http.StatusBadRequest, Body: errorBody(message, "invalid_request_error", "")}
}

// Slow answers normally after d (or not at all if the client gives up).
func Slow(d time.Duration) Reply { return Reply{Delay: d} }

// SlowAnswer is a chat answer with content after d.
func SlowAnswer(d time.Duration, content string) Reply { return Reply{Content: content, Delay: d} }

// Malformed answers 200 with a body that is not JSON.
func Malformed() Reply { return Reply{Body: `{"data": [{"index": 0, "embedding": [0.1, `} }

// MissingIndex answers embeddings without the vector of index i.
func MissingIndex(i int) Reply { return Reply{Omit: []int{i}} }

// WrongDim answers vectors of dim dimensions.
func WrongDim(dim int) Reply { return Reply{Dim: dim} }

// ChatRequest is one chat-completions request the server received.
type ChatRequest struct {
	openai.ChatCompletionRequest
	// Stream and IncludeUsage are the request's stream and
	// stream_options.include_usage.
	Stream       bool
	IncludeUsage bool
	// Raw is the request body as received.
	Raw      []byte
	Header   http.Header
	Received time.Time
}

// Prompt is the content of every message, joined by newlines.
func (r ChatRequest) Prompt() string {
	parts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// Responder computes a chat reply from a request when none is queued.
type Responder func(ChatRequest) Reply

// Option configures a Server.
type Option func(*Server)

// WithDim sets the dimension of the vectors (default DefaultDim).
func WithDim(dim int) Option { return func(s *Server) { s.dim = dim } }

// WithShuffle answers the embeddings data array in a random order (indices
// intact), as servers may.
func WithShuffle() Option { return func(s *Server) { s.shuffle = true } }

// WithAPIKey makes the server answer 401 unless the request carries
// "Authorization: Bearer key".
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithResponder answers chat requests with r whenever the chat queue is
// empty.
func WithResponder(r Responder) Option { return func(s *Server) { s.responder = r } }

// Endpoint is one path's script and counters. Safe for concurrent use.
type Endpoint struct {
	mu       sync.Mutex
	queue    []Reply
	count    int
	inFlight int
	maxIn    int
	auth     []string
}

// Enqueue scripts the answers to the endpoint's next requests, one each.
func (e *Endpoint) Enqueue(replies ...Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, replies...)
}

// Count is the number of requests received, rejected and faulted ones
// included (a body that is not JSON is not counted).
func (e *Endpoint) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// Pending is the number of queued replies not yet used.
func (e *Endpoint) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

// MaxInFlight is the most requests the endpoint was answering at once.
func (e *Endpoint) MaxInFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxIn
}

// Authorizations returns the Authorization header of every request.
func (e *Endpoint) Authorizations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.auth)
}

// begin counts a request and takes its reply (ok false: none queued).
func (e *Endpoint) begin(r *http.Request) (Reply, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	e.auth = append(e.auth, r.Header.Get("Authorization"))
	e.inFlight++
	e.maxIn = max(e.maxIn, e.inFlight)
	if len(e.queue) == 0 {
		return Reply{}, false
	}
	f := e.queue[0]
	e.queue = e.queue[1:]
	return f, true
}

func (e *Endpoint) end() {
	e.mu.Lock()
	e.inFlight--
	e.mu.Unlock()
}

func (e *Endpoint) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue, e.count, e.maxIn, e.auth = nil, 0, 0, nil
}

// Server is the test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL, ending in "/v1" as OpenAI's does: pass it
	// to openai.New or as a judge's base_url.
	URL string
	// Root is the server's root without "/v1" (an embeddings base_url may
	// be either).
	Root string
	// Chat is POST /v1/chat/completions; Embeddings is POST /v1/embeddings.
	Chat, Embeddings *Endpoint

	closing chan struct{}
	dim     int
	shuffle bool
	apiKey  string

	killOnce sync.Once
	hs       *httptest.Server

	mu        sync.Mutex
	responder Responder
	chatReqs  []ChatRequest
	streams   []string
	texts     int
	inputs    [][]string
}

// NewServer starts a server and registers its shutdown with tb.Cleanup.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{dim: DefaultDim, closing: make(chan struct{}), Chat: &Endpoint{}, Embeddings: &Endpoint{}}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"object": "list", "data": []map[string]any{{"id": DefaultModel, "object": "model", "owned_by": "openaitest"}}})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown path "+r.URL.Path)
	})
	hs := httptest.NewServer(mux)
	s.hs = hs
	s.Root = hs.URL
	s.URL = hs.URL + "/v1"
	tb.Cleanup(s.Kill)
	return s
}

// Kill stops the server at once, as a crashed replica: open streams end
// mid-answer, connections are closed, new ones are refused. Safe to call
// more than once.
func (s *Server) Kill() {
	s.killOnce.Do(func() {
		close(s.closing)
		s.hs.CloseClientConnections()
		s.hs.Close()
	})
}

// Streams returns the bytes of every streamed answer the server wrote, in
// the order the streams ended.
func (s *Server) Streams() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.streams)
}

// SetResponder replaces the responder used when the chat queue is empty.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// ChatRequests returns the chat requests received, in arrival order.
func (s *Server) ChatRequests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.chatReqs)
}

// Texts is the number of texts received for embedding, over all requests.
func (s *Server) Texts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.texts
}

// Inputs returns the input of every embeddings request, in arrival order.
func (s *Server) Inputs() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.inputs)
}

// Reset zeroes every counter and drops the queued replies.
func (s *Server) Reset() {
	s.Chat.reset()
	s.Embeddings.reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatReqs, s.texts, s.inputs, s.streams = nil, 0, nil, nil
}

// decode reads a JSON body into v, answering 400 when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "reading body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parsing body: "+err.Error())
		return false
	}
	return true
}

// prelude checks the key, holds the reply's delay and writes its headers
// and scripted status or body; false when it answered (or the client left).
func (s *Server) prelude(w http.ResponseWriter, r *http.Request, f Reply) bool {
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-s.closing:
			return false
		}
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
		return false
	case status == http.StatusTooManyRequests:
		writeError(w, status, "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.")
		return false
	case status >= 500:
		writeError(w, status, "server_error", "The server had an error while processing your request.")
		return false
	case status != http.StatusOK:
		writeError(w, status, "invalid_request_error", fmt.Sprintf("scripted status %d", status))
		return false
	}
	return true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req ChatRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "reading body: "+err.Error())
		return
	}
	var streamFields struct {
		Stream        bool `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &req.ChatCompletionRequest); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parsing body: "+err.Error())
		return
	}
	_ = json.Unmarshal(body, &streamFields)
	req.Raw = body
	req.Stream = streamFields.Stream
	req.IncludeUsage = streamFields.StreamOptions != nil && streamFields.StreamOptions.IncludeUsage
	req.Header = r.Header.Clone()
	req.Received = time.Now()
	reply, queued := s.Chat.begin(r)
	defer s.Chat.end()
	s.mu.Lock()
	s.chatReqs = append(s.chatReqs, req)
	id := len(s.chatReqs)
	if !queued {
		reply = Answer(DefaultContent)
		if s.responder != nil {
			reply = s.responder(req)
		}
	}
	s.mu.Unlock()

	if s.apiKey == "" || r.Header.Get("Authorization") == "Bearer "+s.apiKey {
		if len(req.Messages) == 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "'messages' must contain at least one message")
			return
		}
	}
	if !s.prelude(w, r, reply) {
		return
	}
	model := reply.Model
	if model == "" {
		model = cmp(req.Model, DefaultModel)
	}
	pt, ct := reply.PromptTokens, reply.CompletionTokens
	if pt == 0 {
		pt = len(req.Prompt())/4 + 1
	}
	if ct == 0 {
		ct = len(reply.Content)/4 + 1
	}
	content := reply.Content
	if req.Stream {
		s.stream(w, r, req, reply, fmt.Sprintf("chatcmpl-openaitest-%d", id), model, pt, ct)
		return
	}
	writeJSON(w, openai.ChatCompletion{
		ID:      fmt.Sprintf("chatcmpl-openaitest-%d", id),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   model,
		Choices: []openai.Choice{{Message: openai.ChoiceMessage{Role: "assistant", Content: &content}, FinishReason: "stop"}},
		Usage:   &openai.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct},
	})
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req openai.EmbeddingRequest
	if !decode(w, r, &req) {
		return
	}
	f, _ := s.Embeddings.begin(r)
	defer s.Embeddings.end()
	s.mu.Lock()
	s.texts += len(req.Input)
	s.inputs = append(s.inputs, req.Input)
	s.mu.Unlock()

	if !s.prelude(w, r, f) {
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "model is required")
		return
	}
	dim := s.dim
	if req.Dimensions > 0 {
		dim = req.Dimensions
	}
	if f.Dim > 0 {
		dim = f.Dim
	}
	data := make([]openai.Embedding, 0, len(req.Input))
	tokens := 0
	for i, t := range req.Input {
		tokens += (len(t) + 3) / 4
		if slices.Contains(f.Omit, i) {
			continue
		}
		data = append(data, openai.Embedding{Object: "embedding", Index: &i, Embedding: Vector(t, dim)})
	}
	if s.shuffle {
		rand.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	}
	writeJSON(w, openai.EmbeddingResponse{Object: "list", Model: req.Model, Data: data,
		Usage: &openai.Usage{PromptTokens: tokens, TotalTokens: tokens}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func errorBody(message, typ, code string) string {
	b := openai.ErrorBody{Message: message, Type: typ}
	if code != "" {
		b.Code, _ = json.Marshal(code)
	}
	out, _ := json.Marshal(openai.ErrorResponse{Error: b})
	return string(out)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, errorBody(msg, typ, typ))
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// stream answers reply as server-sent events in OpenAI's chunk format: a
// role chunk, one chunk per content piece, a finish chunk, the usage chunk
// when asked for, and [DONE].
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req ChatRequest, reply Reply, id, model string, pt, ct int) {
	chunks := reply.Chunks
	if len(chunks) == 0 {
		chunks = SplitWords(reply.Content)
	}
	if reply.CompletionTokens == 0 {
		ct = len(chunks)
	}
	created := time.Now().Unix()
	var written strings.Builder
	// record puts what was written, and tail, in Streams once: at [DONE],
	// at a FailAfter break, or when the handler returns otherwise.
	recorded := -1 // its index in s.streams once recorded
	record := func(tail string) {
		if recorded >= 0 {
			return
		}
		s.mu.Lock()
		recorded = len(s.streams)
		s.streams = append(s.streams, written.String()+tail)
		s.mu.Unlock()
	}
	defer record("")
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	event := func(v any) bool {
		b, _ := json.Marshal(v)
		line := "data: " + string(b) + "\n\n"
		if _, err := io.WriteString(w, line); err != nil {
			return false
		}
		written.WriteString(line)
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	type delta struct {
		Role    string  `json:"role,omitempty"`
		Content *string `json:"content,omitempty"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Delta        delta   `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	}
	type chunk struct {
		ID      string        `json:"id"`
		Object  string        `json:"object"`
		Created int64         `json:"created"`
		Model   string        `json:"model"`
		Choices []choice      `json:"choices"`
		Usage   *openai.Usage `json:"usage,omitempty"`
	}
	mk := func(cs ...choice) chunk {
		if cs == nil {
			cs = []choice{}
		}
		return chunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: cs}
	}
	empty := ""
	if !event(mk(choice{Delta: delta{Role: "assistant", Content: &empty}})) {
		return
	}
	for i, c := range chunks {
		if reply.ChunkInterval > 0 {
			t := time.NewTimer(reply.ChunkInterval)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.closing:
				t.Stop()
				return
			}
		}
		if reply.FailAfter > 0 && i == reply.FailAfter {
			// Break the connection: the client sees the body end without
			// [DONE] (an abrupt close, not a clean chunked end). Recorded
			// first, as [DONE] is below: a client that saw the break may
			// ask Streams before this handler's defer runs (TestStream
			// failed so once in `make test`, 2026-12-06).
			record("")
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		}
		c := c
		if !event(mk(choice{Delta: delta{Content: &c}})) {
			return
		}
	}
	stop := "stop"
	if !event(mk(choice{Delta: delta{}, FinishReason: &stop})) {
		return
	}
	if req.IncludeUsage && !reply.NoUsage {
		u := mk()
		u.Usage = &openai.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}
		if !event(u) {
			return
		}
	}
	// The whole stream is recorded before its last line goes out, so that
	// a client that has read [DONE] finds it in Streams (recorded after
	// the write, a test could ask Streams first and find nothing); the
	// record loses the line again if the write fails.
	line := "data: [DONE]\n\n"
	record(line)
	if _, err := io.WriteString(w, line); err != nil {
		s.mu.Lock()
		if recorded < len(s.streams) {
			s.streams[recorded] = written.String()
		}
		s.mu.Unlock()
		return
	}
	if fl != nil {
		fl.Flush()
	}
}

// SplitWords splits text after each space, keeping the spaces: the pieces
// join back to text.
func SplitWords(text string) []string {
	var out []string
	for text != "" {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = text[i+1:]
	}
	return out
}
