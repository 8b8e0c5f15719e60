// Package evaltest is an OpenAI-compatible chat-completions test server for
// judge tests, importable by any package's tests. It answers like the real
// API (the chat.completion object with choices and usage, errors as
// {"error": {...}}) with scripted replies: verdicts, malformed content, slow
// answers for timeouts, 429s with Retry-After, 5xx and broken bodies. It
// records every request and registers its shutdown with tb.Cleanup.
//
//	srv := evaltest.NewServer(t)
//	srv.Enqueue(evaltest.RateLimited("1"), evaltest.Verdict(4, "correct"))
//	client, _ := openai.New(openai.Config{BaseURL: srv.URL, ...})
package evaltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultModel is the model the server reports when a reply names none and
// the request named none.
const DefaultModel = "evaltest-judge"

// DefaultContent is what the server answers when no reply is queued and no
// responder is set: a valid pointwise verdict.
const DefaultContent = `{"score": 3, "reasoning": "evaltest default verdict"}`

// Reply is one scripted answer.
type Reply struct {
	// Content is the assistant message's content (status 200).
	Content string
	// Status is the HTTP status; 0 means 200. Non-200 statuses answer an
	// OpenAI-style error object.
	Status int
	// Header is added to the response (e.g. Retry-After, retry-after-ms).
	Header map[string]string
	// Delay holds the answer back; the handler gives up early when the
	// client does (its context is cancelled) or the server closes.
	Delay time.Duration
	// Body, when set, is written verbatim instead of a completion object
	// (a broken API response rather than a malformed verdict).
	Body string
	// PromptTokens and CompletionTokens are reported in usage; 0 estimates
	// them at about four characters a token.
	PromptTokens, CompletionTokens int
	// Model is the model reported; empty echoes the request's.
	Model string
}

// Answer replies content with status 200.
func Answer(content string) Reply { return Reply{Content: content} }

// Verdict replies a valid pointwise verdict {"score": score, "reasoning": reasoning}.
func Verdict(score int, reasoning string) Reply {
	b, _ := json.Marshal(map[string]any{"score": score, "reasoning": reasoning})
	return Reply{Content: string(b)}
}

// PairVerdict replies a valid pairwise verdict; winner is "1", "2" or "tie".
func PairVerdict(winner, reasoning string) Reply {
	b, _ := json.Marshal(map[string]any{"winner": winner, "reasoning": reasoning})
	return Reply{Content: string(b)}
}

// RateLimited replies 429 with the given Retry-After header value (seconds
// or an HTTP date; empty sends none).
func RateLimited(retryAfter string) Reply {
	r := Reply{Status: http.StatusTooManyRequests}
	if retryAfter != "" {
		r.Header = map[string]string{"Retry-After": retryAfter}
	}
	return r
}

// ServerError replies status (5xx) with an error object.
func ServerError(status int) Reply { return Reply{Status: status} }

// Slow replies content after d.
func Slow(d time.Duration, content string) Reply { return Reply{Content: content, Delay: d} }

// Message is one chat message of a recorded request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one request the server received.
type Request struct {
	Model          string          `json:"model"`
	Messages       []Message       `json:"messages"`
	Temperature    *float64        `json:"temperature"`
	MaxTokens      int             `json:"max_tokens"`
	ResponseFormat json.RawMessage `json:"response_format"`
	Header         http.Header     `json:"-"`
	Received       time.Time       `json:"-"`
}

// Prompt is the content of every message, joined by newlines.
func (r Request) Prompt() string {
	parts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// Responder computes a reply from a request when none is queued.
type Responder func(Request) Reply

// Opt configures a Server.
type Opt func(*Server)

// WithResponder answers with r whenever the queue is empty.
func WithResponder(r Responder) Opt { return func(s *Server) { s.responder = r } }

// WithAPIKey makes the server answer 401 unless the request carries
// "Authorization: Bearer key".
func WithAPIKey(key string) Opt { return func(s *Server) { s.apiKey = key } }

// Server is the test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API root to configure clients with, ending in "/v1".
	URL string

	srv     *httptest.Server
	closing chan struct{}
	apiKey  string

	mu          sync.Mutex
	queue       []Reply
	responder   Responder
	requests    []Request
	inFlight    int
	maxInFlight int
}

// NewServer starts a server and registers its shutdown with tb.Cleanup.
func NewServer(tb testing.TB, opts ...Opt) *Server {
	tb.Helper()
	s := &Server{closing: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown path "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/v1"
	tb.Cleanup(func() {
		close(s.closing)
		s.srv.Close()
	})
	return s
}

// Enqueue appends replies, answered in order, one per request.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// SetResponder replaces the responder used when the queue is empty.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// Count is the number of chat-completion requests received so far,
// rejected and failed ones included.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Requests returns a copy of the requests received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Pending is the number of queued replies not yet used.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// MaxInFlight is the largest number of requests the server was handling at
// once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "reading body: "+err.Error())
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parsing body: "+err.Error())
		return
	}
	req.Header = r.Header.Clone()
	req.Received = time.Now()

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	var reply Reply
	switch {
	case len(s.queue) > 0:
		reply, s.queue = s.queue[0], s.queue[1:]
	case s.responder != nil:
		reply = s.responder(req)
	default:
		reply = Answer(DefaultContent)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "'messages' must contain at least one message")
		return
	}
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	if reply.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(cmp(reply.Status, http.StatusOK))
		io.WriteString(w, reply.Body)
		return
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		typ, msg := "server_error", "The server had an error while processing your request."
		if reply.Status == http.StatusTooManyRequests {
			typ, msg = "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."
		}
		writeError(w, reply.Status, typ, msg)
		return
	}
	model := reply.Model
	if model == "" {
		model = cmpStr(req.Model, DefaultModel)
	}
	pt, ct := reply.PromptTokens, reply.CompletionTokens
	if pt == 0 {
		pt = len(req.Prompt())/4 + 1
	}
	if ct == 0 {
		ct = len(reply.Content)/4 + 1
	}
	s.mu.Lock()
	id := len(s.requests)
	s.mu.Unlock()
	resp := map[string]any{
		"id":      fmt.Sprintf("chatcmpl-evaltest-%d", id),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   model,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": reply.Content},
			"finish_reason": "stop",
		}},
		"usage": map[string]int{"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": typ,
	}})
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func cmpStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
