// Package embedtest is an OpenAI-compatible /v1/embeddings test server for
// any package's tests. It answers like the real API ({"object": "list",
// "data": [{"index": i, "embedding": [...]}], "usage": {...}}) with
// deterministic vectors derived from each text (Vector), so equal texts get
// equal vectors across requests and servers, and it plays scripted faults:
// 429 with Retry-After, 5xx, slow answers, malformed JSON, a missing index,
// shuffled data, a wrong dimension. It counts requests and texts and
// registers its shutdown with tb.Cleanup.
//
//	srv := embedtest.NewServer(t, embedtest.WithDim(8))
//	srv.Enqueue(embedtest.RateLimited("1"), embedtest.ServerError(500))
//	e, _ := embedding.NewOpenAI(embedding.OpenAIConfig{BaseURL: srv.URL, Model: "m"})
package embedtest

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
	"sync"
	"testing"
	"time"
)

// DefaultDim is the dimension of the vectors when WithDim is not given.
const DefaultDim = 16

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

// Fault is a scripted answer to one request, taken from the queue in the
// order Enqueue added it; requests with an empty queue are answered
// normally.
type Fault struct {
	// Status, when not 0 or 200, answers that status with an OpenAI-style
	// error object (or Body).
	Status int
	// Header is added to the response (e.g. Retry-After).
	Header map[string]string
	// Delay holds the answer back; the handler gives up when the client
	// does.
	Delay time.Duration
	// Body, when set, is written verbatim instead of the normal answer.
	Body string
	// Omit lists indices left out of a 200 answer.
	Omit []int
	// Dim, when > 0, answers vectors of that dimension instead.
	Dim int
}

// OK answers normally (a placeholder in a script).
func OK() Fault { return Fault{} }

// RateLimited answers 429 with the given Retry-After value (seconds or an
// HTTP date; empty sends none).
func RateLimited(retryAfter string) Fault {
	f := Fault{Status: http.StatusTooManyRequests}
	if retryAfter != "" {
		f.Header = map[string]string{"Retry-After": retryAfter}
	}
	return f
}

// ServerError answers status (e.g. 500, 503) with an error object.
func ServerError(status int) Fault { return Fault{Status: status} }

// BadRequest answers 400 with message in an OpenAI-style error object.
func BadRequest(message string) Fault {
	return Fault{Status: http.StatusBadRequest, Body: errorBody(message, "invalid_request_error")}
}

// Slow answers normally after d (or not at all if the client gives up).
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// Malformed answers 200 with a body that is not JSON.
func Malformed() Fault { return Fault{Body: `{"data": [{"index": 0, "embedding": [0.1, `} }

// MissingIndex answers 200 without the vector of index i.
func MissingIndex(i int) Fault { return Fault{Omit: []int{i}} }

// WrongDim answers vectors of dim dimensions.
func WrongDim(dim int) Fault { return Fault{Dim: dim} }

// Option configures a Server.
type Option func(*Server)

// WithDim sets the dimension of the vectors (default DefaultDim).
func WithDim(dim int) Option { return func(s *Server) { s.dim = dim } }

// WithShuffle answers the data array in a random order (indices intact),
// as servers may.
func WithShuffle() Option { return func(s *Server) { s.shuffle = true } }

// WithAPIKey makes the server require "Authorization: Bearer key" (401
// otherwise).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// Server is the test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's root: pass it as the base URL.
	URL string

	dim     int
	shuffle bool
	apiKey  string

	mu       sync.Mutex
	queue    []Fault
	requests int
	texts    int
	inputs   [][]string
	inFlight int
	maxIn    int
	auth     []string
}

// NewServer starts a server, closed in tb.Cleanup.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{dim: DefaultDim}
	for _, o := range opts {
		o(s)
	}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Enqueue scripts the answers to the next requests, one fault each.
func (s *Server) Enqueue(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, faults...)
}

// Requests is the number of requests received to /v1/embeddings, faulted
// ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Texts is the number of texts received, over all requests.
func (s *Server) Texts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.texts
}

// Inputs returns the input of every request, in arrival order.
func (s *Server) Inputs() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.inputs...)
}

// MaxInFlight is the most requests the server was answering at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// Authorizations returns the Authorization header of every request.
func (s *Server) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// Reset zeroes the counters and drops the queued faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue, s.requests, s.texts, s.inputs, s.maxIn, s.auth = nil, 0, 0, nil, 0, nil
}

type request struct {
	Model      string          `json:"model"`
	Input      json.RawMessage `json:"input"`
	Dimensions int             `json:"dimensions"`
}

type datum struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/embeddings" {
		writeError(w, http.StatusNotFound, "no route "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	var req request
	var input []string
	if err := json.Unmarshal(raw, &req); err != nil {
		writeError(w, http.StatusBadRequest, "parsing body: "+err.Error())
		return
	}
	if err := json.Unmarshal(req.Input, &input); err != nil {
		var one string
		if json.Unmarshal(req.Input, &one) != nil {
			writeError(w, http.StatusBadRequest, "input must be a string or an array of strings")
			return
		}
		input = []string{one}
	}

	s.mu.Lock()
	s.requests++
	s.texts += len(input)
	s.inputs = append(s.inputs, input)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	f := Fault{}
	if len(s.queue) > 0 {
		f, s.queue = s.queue[0], s.queue[1:]
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, "invalid api key")
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "model is required")
		return
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.Status != 0 && f.Status != http.StatusOK {
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			io.WriteString(w, f.Body)
			return
		}
		writeError(w, f.Status, fmt.Sprintf("scripted status %d", f.Status))
		return
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, f.Body)
		return
	}
	dim := s.dim
	if req.Dimensions > 0 {
		dim = req.Dimensions
	}
	if f.Dim > 0 {
		dim = f.Dim
	}
	data := make([]datum, 0, len(input))
	tokens := 0
	for i, t := range input {
		tokens += (len(t) + 3) / 4
		if slices.Contains(f.Omit, i) {
			continue
		}
		data = append(data, datum{Object: "embedding", Index: i, Embedding: Vector(t, dim)})
	}
	if s.shuffle {
		rand.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"model":  req.Model,
		"data":   data,
		"usage":  map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

func errorBody(message, typ string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "code": nil}})
	return string(b)
}

func writeError(w http.ResponseWriter, status int, message string) {
	typ := "server_error"
	if status < 500 {
		typ = "invalid_request_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, errorBody(message, typ))
}
