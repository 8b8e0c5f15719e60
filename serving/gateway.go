// Package serving is chainwatch's serving gateway: an OpenAI-compatible API
// (POST /v1/chat/completions with server-sent-event streaming passed
// through chunk by chunk, POST /v1/embeddings, GET /v1/models) in front of
// model routes — weighted replicas of OpenAI-compatible upstreams, remote
// or local model-server processes it supervises — and versioned chains
// (serving/chains). Every call is traced (a root span, child spans for
// rendering, retrieval, each upstream attempt and each guard) and the trace
// produced to the spans topic without ever slowing the call. API keys are
// stored as hashes, each with the chains and routes it may call, request
// and token limits and a budget.
//
// Retries and fallbacks happen only before the first byte reaches the
// client; after it, an upstream failure is an explicit SSE error event and
// a failed span (never a silent 200 without [DONE]).
package serving

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// ChainPrefix starts a model name that names a chain: "chain:NAME",
// "chain:NAME@VERSION" or "chain:NAME@LABEL".
const ChainPrefix = "chain:"

// Response headers the gateway adds.
const (
	HeaderOverhead = "X-Chainwatch-Overhead-Ms" // the gateway's own time before the answer's first byte
	HeaderTraceID  = "X-Chainwatch-Trace-Id"
	HeaderRoute    = "X-Chainwatch-Route"
	HeaderReplica  = "X-Chainwatch-Replica"
	HeaderChain    = "X-Chainwatch-Chain-Version"
)

// defaultCompletionEstimate is the completion tokens a limit reserves for
// a request that sets no max_tokens.
const defaultCompletionEstimate = 256

// ChainSource finds chains for the gateway.
type ChainSource interface {
	// Resolve returns the chain NAME at ref (a version, hash or label; ""
	// the default label), the label it came through ("" for a version)
	// and whether it is a canary pick.
	Resolve(ctx context.Context, name, ref string) (c *chains.Chain, label string, canary bool, err error)
	// Names lists the chains it can serve, for /v1/models.
	Names() []string
}

// state is what a config builds; a reload swaps it whole.
type state struct {
	cfg    Config
	routes map[string]*route
	keys   *keyring
	cancel context.CancelFunc
}

// Gateway is the HTTP handler. Safe for concurrent use.
type Gateway struct {
	st      atomic.Pointer[state]
	chains  ChainSource
	export  Exporter
	m       *Metrics
	log     *slog.Logger
	hc      *http.Client
	tok     *tokenize.Tokenizer
	procs   *Processes
	mux     *http.ServeMux
	rngMu   sync.Mutex
	rng     *rand.Rand
	started time.Time
}

// Options are the gateway's collaborators; nil ones are left out (no
// chains, spans discarded, metrics unregistered, slog.Default()).
type Options struct {
	Chains    ChainSource
	Exporter  Exporter
	Metrics   *Metrics
	Log       *slog.Logger
	Processes *Processes
	// HTTPClient calls the upstreams (default: a client with a tuned
	// transport and no overall timeout; attempts bound themselves).
	HTTPClient *http.Client
}

// New builds a gateway for cfg (validated by the caller or here).
func New(cfg Config, o Options) (*Gateway, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := tokenize.New(cfg.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	g := &Gateway{chains: o.Chains, export: o.Exporter, m: o.Metrics, log: o.Log, hc: o.HTTPClient, tok: tok,
		procs: o.Processes, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), started: time.Now()}
	if g.export == nil {
		g.export = ExporterFunc(func([]*tracepb.Span) {})
	}
	if g.m == nil {
		g.m = NewMetrics(nil)
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 4096
		tr.MaxIdleConnsPerHost = 1024
		tr.ResponseHeaderTimeout = 0
		g.hc = &http.Client{Transport: tr}
	}
	if g.procs != nil {
		if err := g.procs.Reconcile(cfg); err != nil {
			return nil, fmt.Errorf("starting model processes: %w", err)
		}
	}
	g.install(cfg)
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("POST /v1/chat/completions", g.chat)
	g.mux.HandleFunc("POST /v1/embeddings", g.embeddings)
	g.mux.HandleFunc("GET /v1/models", g.models)
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "not_found", fmt.Sprintf("no endpoint %s %s (the gateway serves POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models)", r.Method, r.URL.Path))
	})
	return g, nil
}

// install builds and swaps in the state for cfg, stopping the old one's
// health checks; keys keep their usage across it.
func (g *Gateway) install(cfg Config) {
	old := g.st.Load()
	var oldKeys *keyring
	if old != nil {
		oldKeys = old.keys
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &state{cfg: cfg, routes: map[string]*route{}, keys: newKeyring(cfg.Keys, oldKeys), cancel: cancel}
	for _, rc := range cfg.Routes {
		rt := newRoute(rc)
		if g.procs != nil {
			g.procs.attach(rt)
		}
		st.routes[rc.Name] = rt
		go rt.healthLoop(ctx, g.hc, func(r *replica, ok bool) {
			g.log.Info("replica health changed", "replica", r.id(), "healthy", ok)
			g.m.replicaUp.WithLabelValues(r.route, r.id()).Set(b2f(ok))
		})
	}
	g.st.Store(st)
	if old != nil {
		old.cancel()
	}
}

// Reload swaps in cfg when it is valid; otherwise the running config stays
// and the error says why.
func (g *Gateway) Reload(cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		g.m.reloads.WithLabelValues("rejected").Inc()
		return fmt.Errorf("keeping the running serving config: %w", err)
	}
	if g.procs != nil {
		if err := g.procs.Reconcile(cfg); err != nil {
			g.m.reloads.WithLabelValues("rejected").Inc()
			return fmt.Errorf("keeping the running serving config: %w", err)
		}
	}
	g.install(cfg)
	g.m.reloads.WithLabelValues("applied").Inc()
	return nil
}

// Config is the running config.
func (g *Gateway) Config() Config { return g.st.Load().cfg }

// Close stops the health checks.
func (g *Gateway) Close() {
	if st := g.st.Load(); st != nil {
		st.cancel()
	}
}

// ServeHTTP serves the API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

func (g *Gateway) models(w http.ResponseWriter, r *http.Request) {
	st := g.st.Load()
	if _, apiErr := g.authenticate(st, r); apiErr != nil {
		apiErr.write(w)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	var out []model
	names := make([]string, 0, len(st.routes))
	for n := range st.routes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, model{ID: n, Object: "model", Created: g.started.Unix(), OwnedBy: "chainwatch"})
	}
	if g.chains != nil {
		for _, n := range g.chains.Names() {
			out = append(out, model{ID: ChainPrefix + n, Object: "model", Created: g.started.Unix(), OwnedBy: "chainwatch"})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": out})
}

// apiError is an answer in OpenAI's error shape.
type apiError struct {
	status     int
	typ, code  string
	msg        string
	retryAfter string
}

func (e *apiError) Error() string { return e.msg }

func (e *apiError) write(w http.ResponseWriter) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeError(w, e.status, e.typ, e.code, e.msg)
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
	w.Write(append(b, '\n'))
}

func badRequest(code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, msg: fmt.Sprintf(format, a...)}
}

// authenticate finds the caller's key; with no keys configured every
// caller is let in (nil key).
func (g *Gateway) authenticate(st *state, r *http.Request) (*key, *apiError) {
	if len(st.keys.byHash) == 0 {
		return nil, nil
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		g.m.rejections.WithLabelValues("no_key").Inc()
		return nil, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "missing_api_key",
			msg: "no API key: send it as \"Authorization: Bearer KEY\""}
	}
	k := st.keys.lookup(strings.TrimSpace(tok))
	if k == nil {
		g.m.rejections.WithLabelValues("bad_key").Inc()
		return nil, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
			msg: "the API key is not known to this gateway"}
	}
	return k, nil
}

// call is one request's progress, shared by the chat and embeddings paths.
type call struct {
	start    time.Time
	tr       *trace
	key      *key
	estimate int64
	// upstreamWait sums the time spent waiting for upstreams before the
	// first byte: the gateway's overhead is the rest.
	upstreamWait time.Duration
	usage        usage
	// content says whether messages go on the spans, and how much.
	content    bool
	maxContent int
	clientMsgs []chains.Message
	chain      string
	route      string
	replica    *replica
	status     int
}

type usage struct {
	prompt, completion int
	source             string // "upstream" or "bpe"
}

// finish settles the key's reservation, closes the root span and hands
// the trace to the exporter.
func (g *Gateway) finish(c *call, errMsg string) {
	now := time.Now()
	if c.key != nil {
		c.key.lim.settle(now, c.estimate, int64(c.usage.prompt+c.usage.completion))
	}
	root := c.tr.root
	if c.usage.source != "" {
		root.int(schemas.AttrGenAIUsageInputTokens, int64(c.usage.prompt))
		root.int(schemas.AttrGenAIUsageOutputTokens, int64(c.usage.completion))
		root.str(attrUsageSource, c.usage.source)
	}
	root.end(now, errMsg)
	c.tr.mu.Lock()
	spans := c.tr.spans
	c.tr.mu.Unlock()
	g.export.Export(spans)
	code := strconv.Itoa(c.status)
	rep := ""
	if c.replica != nil {
		rep = c.replica.id()
	}
	g.m.requests.WithLabelValues(c.chain, c.route, code).Inc()
	g.m.latency.WithLabelValues(c.chain, c.route, rep).Observe(now.Sub(c.start).Seconds())
	if c.usage.source != "" {
		g.m.tokens.WithLabelValues(c.route, "input", c.usage.source).Add(float64(c.usage.prompt))
		g.m.tokens.WithLabelValues(c.route, "output", c.usage.source).Add(float64(c.usage.completion))
	}
}

// fail answers e before anything was sent and ends the call.
func (g *Gateway) fail(w http.ResponseWriter, c *call, e *apiError) {
	c.status = e.status
	c.tr.root.str(attrErrorType, e.code)
	w.Header().Set(HeaderTraceID, hex.EncodeToString(c.tr.id))
	e.write(w)
	g.finish(c, e.msg)
}

// chatRequest is what the gateway reads of a chat request; the rest of the
// body passes through untouched.
type chatRequest struct {
	// raw is the body as received; it is sent upstream unchanged when
	// nothing in it needs rewriting (same model name, no chain, usage
	// asked for on a stream already): unknown fields, key order and
	// number spellings all pass as they came.
	raw      []byte
	modified bool
	// body is raw's members, decoded on first use (fields): only a
	// request that is rewritten needs them.
	body         map[string]json.RawMessage
	hasVariables bool
	model        string
	stream       bool
	includeUsage bool // the client asked for usage on the stream
	messages     []chains.Message
	variables    map[string]string
	maxTokens    int
	// embedTokens counts an embeddings request's input tokens (BPE).
	embedTokens func() int64
}

// fields is the body's members, decoded from raw on first use.
func (req *chatRequest) fields() map[string]json.RawMessage {
	if req.body == nil {
		json.Unmarshal(req.raw, &req.body) // raw is a valid object: parseChat checked
		if req.body == nil {
			req.body = map[string]json.RawMessage{}
		}
	}
	return req.body
}

// parseChat reads what the gateway needs of a chat request. A JSON
// object's members are found by a scan (exact keys, the last of a
// repeated key winning, as decoding into a map gives them) and only the
// needed ones decoded; anything else is read by parseChatMap.
func parseChat(raw []byte) (*chatRequest, *apiError) {
	i := skipSpace(raw, 0)
	if !validJSON(raw) || raw[i] != '{' {
		return parseChatMap(raw)
	}
	req := &chatRequest{raw: raw}
	var model, stream, streamOpts, msgs, vars, maxCompletion, maxTokens []byte
	members(raw, i, func(key, val []byte) bool {
		k := key[1 : len(key)-1]
		if bytes.IndexByte(k, '\\') >= 0 {
			var s string
			json.Unmarshal(key, &s)
			k = []byte(s)
		}
		switch string(k) {
		case "model":
			model = val
		case "stream":
			stream = val
		case "stream_options":
			streamOpts = val
		case "messages":
			msgs = val
		case "variables":
			vars = val
		case "max_completion_tokens":
			maxCompletion = val
		case "max_tokens":
			maxTokens = val
		}
		return true
	})
	if model == nil || decodeString(model, &req.model) != nil || req.model == "" {
		return nil, badRequest("missing_model", "\"model\" must be a non-empty string naming a route or a chain (chain:NAME)")
	}
	if stream != nil {
		switch string(stream) {
		case "true":
			req.stream = true
		case "false":
		default:
			if json.Unmarshal(stream, &req.stream) != nil {
				return nil, badRequest("invalid_stream", "\"stream\" must be true or false")
			}
		}
	}
	if streamOpts != nil {
		iu, ok := includeUsage(streamOpts)
		if !ok {
			var o struct {
				IncludeUsage bool `json:"include_usage"`
			}
			if json.Unmarshal(streamOpts, &o) != nil {
				return nil, badRequest("invalid_stream_options", "\"stream_options\" must be an object")
			}
			iu = o.IncludeUsage
		}
		req.includeUsage = iu
	}
	if msgs != nil {
		ms, ok := scanMessages(msgs)
		if !ok {
			var dec []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			}
			if err := json.Unmarshal(msgs, &dec); err != nil {
				return nil, badRequest("invalid_messages", "\"messages\" must be an array of {role, content}: %v", err)
			}
			ms = nil
			if len(dec) > 0 {
				ms = make([]chains.Message, 0, len(dec))
			}
			for _, m := range dec {
				ms = append(ms, chains.Message{Role: m.Role, Content: contentText(m.Content)})
			}
		}
		req.messages = ms
		for i, m := range ms {
			if m.Role == "" {
				return nil, badRequest("invalid_messages", "messages[%d].role is required", i)
			}
		}
	}
	if vars != nil {
		req.hasVariables = true
		if err := json.Unmarshal(vars, &req.variables); err != nil {
			return nil, badRequest("invalid_variables", "\"variables\" must be an object of strings: %v", err)
		}
	}
	for _, v := range [][]byte{maxCompletion, maxTokens} {
		if v != nil {
			json.Unmarshal(v, &req.maxTokens)
		}
	}
	return req, nil
}

// decodeString decodes a JSON string as json.Unmarshal does, without it
// for the plain ones.
func decodeString(v []byte, dst *string) error {
	if isString(v) && len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		if s := v[1 : len(v)-1]; utf8.Valid(s) {
			*dst = string(s)
			return nil
		}
	}
	return json.Unmarshal(v, dst)
}

// includeUsage reads stream_options.include_usage as decoding into
// struct{IncludeUsage bool} would; ok false when it leaves that to
// encoding/json.
func includeUsage(v []byte) (iu, ok bool) {
	if isNull(v) {
		return false, true
	}
	if v[0] != '{' {
		return false, false
	}
	seen := false
	ok = members(v, 0, func(key, val []byte) bool {
		if !plainKey(key) {
			return false
		}
		if string(key[1:len(key)-1]) != "include_usage" {
			return true
		}
		if seen {
			return false
		}
		seen = true
		switch string(val) {
		case "true":
			iu = true
		case "false", "null":
		default:
			return false
		}
		return true
	})
	return iu, ok
}

// parseChatMap reads a chat request by decoding its members into a map:
// parseChat's path for a body that is not a JSON object (and the
// reference its scan is tested against).
func parseChatMap(raw []byte) (*chatRequest, *apiError) {
	req := &chatRequest{raw: raw}
	if err := json.Unmarshal(raw, &req.body); err != nil {
		return nil, badRequest("invalid_json", "the body is not a JSON object: %v", err)
	}
	if m, ok := req.body["model"]; !ok || json.Unmarshal(m, &req.model) != nil || req.model == "" {
		return nil, badRequest("missing_model", "\"model\" must be a non-empty string naming a route or a chain (chain:NAME)")
	}
	if s, ok := req.body["stream"]; ok && json.Unmarshal(s, &req.stream) != nil {
		return nil, badRequest("invalid_stream", "\"stream\" must be true or false")
	}
	if so, ok := req.body["stream_options"]; ok {
		var o struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if json.Unmarshal(so, &o) != nil {
			return nil, badRequest("invalid_stream_options", "\"stream_options\" must be an object")
		}
		req.includeUsage = o.IncludeUsage
	}
	if ms, ok := req.body["messages"]; ok {
		var msgs []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(ms, &msgs); err != nil {
			return nil, badRequest("invalid_messages", "\"messages\" must be an array of {role, content}: %v", err)
		}
		for i, m := range msgs {
			req.messages = append(req.messages, chains.Message{Role: m.Role, Content: contentText(m.Content)})
			if m.Role == "" {
				return nil, badRequest("invalid_messages", "messages[%d].role is required", i)
			}
		}
	}
	if vs, ok := req.body["variables"]; ok {
		req.hasVariables = true
		if err := json.Unmarshal(vs, &req.variables); err != nil {
			return nil, badRequest("invalid_variables", "\"variables\" must be an object of strings: %v", err)
		}
	}
	for _, k := range []string{"max_completion_tokens", "max_tokens"} {
		if v, ok := req.body[k]; ok {
			json.Unmarshal(v, &req.maxTokens)
		}
	}
	return req, nil
}

// contentText is a message content's text: a string, or the text parts of
// an array of parts.
func contentText(raw json.RawMessage) string {
	var s string
	if isString(raw) && decodeString(raw, &s) == nil {
		return s
	}
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

// promptTokens estimates a chat prompt's tokens with the BPE tokenizer as
// OpenAI's cookbook counts chat messages: 3 per message plus its role and
// content, plus 3 priming the answer.
func (g *Gateway) promptTokens(msgs []chains.Message) int {
	n := 3
	for _, m := range msgs {
		n += 3 + g.tok.Count(m.Role) + g.tok.Count(m.Content)
	}
	return n
}

func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, st *state) ([]byte, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, st.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "body_too_large",
				msg: fmt.Sprintf("the body is larger than max_body_bytes (%d)", st.cfg.MaxBodyBytes)}
		}
		return nil, badRequest("unreadable_body", "reading the body: %v", err)
	}
	return body, nil
}

// admit checks the key's rights and limits for one call.
// The estimate is computed (BPE over the prompt) only for a key with a
// token limit or budget.
func (g *Gateway) admit(c *call, kind, name string, estimateFn func() int64) *apiError {
	if c.key == nil {
		return nil
	}
	var estimate int64
	if c.key.cfg.TPM > 0 || c.key.cfg.BudgetTokens > 0 {
		estimate = estimateFn()
	}
	if apiErr := g.allowed(c, kind, name); apiErr != nil {
		return apiErr
	}
	if rej := c.key.lim.admit(time.Now(), estimate); rej != nil {
		g.m.rejections.WithLabelValues(rej.reason).Inc()
		e := &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "rate_limit_exceeded",
			msg: fmt.Sprintf("key %q: %s", c.key.cfg.Name, rej.msg)}
		if rej.reason == "budget" {
			e.typ, e.code = "insufficient_quota", "budget_exceeded"
		} else {
			e.retryAfter = retryAfterSeconds(rej.retryAfter)
		}
		return e
	}
	c.estimate = estimate
	return nil
}

// allowed checks that the call's key may call kind ("chain" or "route")
// name.
func (g *Gateway) allowed(c *call, kind, name string) *apiError {
	if c.key == nil || c.key.allows(kind, name) {
		return nil
	}
	g.m.rejections.WithLabelValues("forbidden").Inc()
	return &apiError{status: http.StatusForbidden, typ: "permission_error", code: "forbidden",
		msg: fmt.Sprintf("key %q may not call %s %q", c.key.cfg.Name, kind, name)}
}

func (g *Gateway) chat(w http.ResponseWriter, r *http.Request) {
	st := g.st.Load()
	c := &call{start: time.Now(), route: "", status: 200}
	c.tr = newTrace("chat", c.start)
	root := c.tr.root
	var apiErr *apiError
	if c.key, apiErr = g.authenticate(st, r); apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	if c.key != nil {
		root.str(attrKey, c.key.cfg.Name)
	}
	raw, apiErr := g.readBody(w, r, st)
	if apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	req, apiErr := parseChat(raw)
	if apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	root.bool(attrRequestStream, req.stream)
	clientMsgs := req.messages
	// Rights first: a key may not make the gateway retrieve or render for
	// a chain it may not call.
	if c.key != nil {
		kind, name := "route", req.model
		if spec, ok := strings.CutPrefix(req.model, ChainPrefix); ok {
			kind = "chain"
			name, _, _ = strings.Cut(spec, "@")
		}
		if apiErr := g.allowed(c, kind, name); apiErr != nil {
			g.fail(w, c, apiErr)
			return
		}
	}
	var ch *chains.Chain
	routeName := req.model
	if strings.HasPrefix(req.model, ChainPrefix) {
		var apiErr *apiError
		ch, apiErr = g.prepareChain(r.Context(), c, req)
		if apiErr != nil {
			g.fail(w, c, apiErr)
			return
		}
		routeName = ch.Model
		c.chain = ch.Name
	} else {
		root.pb.Name = "chat " + req.model
		genAI(root, "chat", req.model, "")
	}
	rt := st.routes[routeName]
	c.route = routeName
	if rt == nil {
		g.fail(w, c, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
			msg: fmt.Sprintf("model %q: no route of that name (GET /v1/models lists the routes and chains)", routeName)})
		return
	}
	root.str(attrRoute, routeName)
	kind, name := "route", routeName
	if ch != nil {
		kind, name = "chain", ch.Name
	}
	if apiErr := g.admit(c, kind, name, func() int64 {
		maxTok := req.maxTokens
		if maxTok == 0 {
			maxTok = defaultCompletionEstimate
		}
		return int64(g.promptTokens(req.messages) + maxTok)
	}); apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	if ch != nil {
		if apiErr := g.inputGuards(c, ch, req); apiErr != nil {
			g.fail(w, c, apiErr)
			return
		}
	}
	if req.hasVariables {
		delete(req.fields(), "variables")
		req.modified = true
	}
	c.content, c.maxContent, c.clientMsgs = !st.cfg.OmitContent, st.cfg.MaxContentBytes, clientMsgs
	if req.stream {
		g.streamChat(w, r, c, st, rt, req, ch)
		return
	}
	g.unary(w, r, c, st, rt, req, ch, "chat")
}

// prepareChain resolves the chain, renders its template (with retrieval)
// and rewrites the request: rendered messages first, then the request's.
func (g *Gateway) prepareChain(ctx context.Context, c *call, req *chatRequest) (*chains.Chain, *apiError) {
	root := c.tr.root
	if g.chains == nil {
		return nil, badRequest("chains_disabled", "model %q names a chain, but this gateway serves no chains (set chains.dir)", req.model)
	}
	spec := strings.TrimPrefix(req.model, ChainPrefix)
	name, ref, _ := strings.Cut(spec, "@")
	ch, label, canary, err := g.chains.Resolve(ctx, name, ref)
	if err != nil {
		if errors.Is(err, chains.ErrNotFound) {
			return nil, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "chain_not_found", msg: err.Error()}
		}
		return nil, &apiError{status: http.StatusServiceUnavailable, typ: "server_error", code: "chain_unavailable", msg: fmt.Sprintf("resolving chain %s: %v", spec, err)}
	}
	root.pb.Name = "chain " + ch.Name
	root.str(schemas.AttrChainName, ch.Name)
	root.str(schemas.AttrChainVersion, cmp(ch.Version, ch.Hash()))
	root.str(attrChainHash, ch.Hash())
	root.str(attrChainLabel, label)
	if label != "" {
		root.bool(attrChainCanary, canary)
	}
	root.str(schemas.AttrComponentKind, componentKindChain)
	root.str(schemas.AttrPromptTemplateID, ch.TemplateID())
	root.str(schemas.AttrPromptTemplateVersion, ch.Hash())
	vars := map[string]string{}
	for k, v := range req.variables {
		vars[k] = v
	}
	if _, ok := vars["input"]; !ok {
		for i := len(req.messages) - 1; i >= 0; i-- {
			if req.messages[i].Role == "user" {
				vars["input"] = req.messages[i].Content
				break
			}
		}
	}
	if rc := ch.Retrieval; rc != nil {
		v := cmp(rc.Variable, "context")
		if _, given := vars[v]; !given {
			docs, err := g.retrieve(ctx, c, rc, vars["input"])
			if err != nil {
				return nil, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "retrieval_failed", msg: fmt.Sprintf("chain %s: retrieval from %s failed: %v", ch.Name, rc.URL, err)}
			}
			vars[v] = strings.Join(docs, "\n\n")
		}
	}
	rs := c.tr.start("render "+ch.TemplateID(), root, time.Now())
	rs.str(schemas.AttrComponentKind, componentKindTemplate)
	rs.str(schemas.AttrPromptTemplateID, ch.TemplateID())
	rs.str(schemas.AttrPromptTemplateVersion, ch.Hash())
	msgs, err := ch.Render(vars)
	if err != nil {
		rs.end(time.Now(), err.Error())
		var mv *chains.MissingVariableError
		if errors.As(err, &mv) {
			return nil, &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "missing_variable", msg: err.Error()}
		}
		return nil, badRequest("template_error", "%v", err)
	}
	rs.end(time.Now(), "")
	if len(req.messages) > 0 && ch.Template.User != "" {
		// The template's user message stands for the request's last user
		// message (given to it as {{input}}); earlier turns are kept.
		last := len(req.messages) - 1
		if req.messages[last].Role == "user" {
			req.messages = req.messages[:last]
		}
	}
	msgs = append(msgs, req.messages...)
	req.messages = msgs
	req.modified = true
	mb, _ := json.Marshal(msgs)
	body := req.fields()
	body["messages"] = mb
	for k, v := range ch.Params {
		b, err := json.Marshal(v)
		if err == nil {
			body[k] = b
		}
	}
	if v, ok := ch.Params["max_tokens"]; ok {
		if f, ok := v.(int); ok {
			req.maxTokens = f
		}
	}
	return ch, nil
}

// retrieve posts the query to the chain's retrieval endpoint.
func (g *Gateway) retrieve(ctx context.Context, c *call, rc *chains.Retrieval, query string) ([]string, error) {
	s := c.tr.start("retrieval", c.tr.root, time.Now())
	s.str(schemas.AttrGenAIOperationName, "retrieval")
	s.str(schemas.AttrComponentKind, componentKindRetrieve)
	docs, err := func() ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]any{"query": query, "top_k": rc.TopK})
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, rc.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", "application/json")
		resp, err := g.hc.Do(hr)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		var out struct {
			Documents []string `json:"documents"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&out); err != nil {
			return nil, fmt.Errorf("parsing the answer: %w", err)
		}
		return out.Documents, nil
	}()
	if err != nil {
		s.end(time.Now(), err.Error())
		return nil, err
	}
	s.int(attrRetrievalDocs, int64(len(docs)))
	s.end(time.Now(), "")
	return docs, nil
}

// guardEval runs one guard and says whether it matched.
func guardEval(gd chains.Guard, in evaluators.Input) (bool, string) {
	var ev evaluators.Evaluator
	switch gd.Type {
	case chains.GuardInjection:
		ev = evaluators.InjectionGuard{}
	case chains.GuardPII:
		ev = evaluators.NewPIIGuard()
		if in.Output == "" {
			in.Output = in.Input // the PII guard reads Output
		}
	case chains.GuardRefusal:
		ev = evaluators.RefusalGuard{}
	default:
		return false, ""
	}
	res, err := ev.Evaluate(context.Background(), in)
	if err != nil || len(res) == 0 {
		return false, ""
	}
	return res[0].Value > 0, res[0].Reasoning
}

// inputGuards runs the chain's input guards on the rendered user message.
func (g *Gateway) inputGuards(c *call, ch *chains.Chain, req *chatRequest) *apiError {
	for _, gd := range ch.Guards.Input {
		idx := -1
		for i := len(req.messages) - 1; i >= 0; i-- {
			if req.messages[i].Role == "user" {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil
		}
		s := c.tr.start("guard "+gd.Type, c.tr.root, time.Now())
		s.str(schemas.AttrGenAIOperationName, "apply_guardrail")
		s.str(schemas.AttrComponentKind, componentKindGuard)
		s.str(attrGuardType, gd.Type)
		s.str(attrGuardAction, gd.Action)
		hit, why := guardEval(gd, evaluators.Input{Input: req.messages[idx].Content})
		result := "pass"
		if hit {
			switch gd.Action {
			case chains.ActionBlock:
				result = "blocked"
			case chains.ActionRedact:
				result = "redacted"
				req.messages[idx].Content = evaluators.RedactPII(req.messages[idx].Content)
				mb, _ := json.Marshal(req.messages)
				req.fields()["messages"] = mb
				req.modified = true
			default:
				result = "flagged"
			}
		}
		s.str(attrGuardResult, result)
		g.m.guards.WithLabelValues(gd.Type, result).Inc()
		if result == "blocked" {
			s.end(time.Now(), why)
			return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "blocked_by_guard",
				msg: fmt.Sprintf("chain %s: the input guard %q blocked the request: %s", ch.Name, gd.Type, why)}
		}
		s.end(time.Now(), "")
	}
	return nil
}

// upstreamBody is the request body for one route: the route's model name,
// and for streams stream_options.include_usage always on.
func upstreamBody(body map[string]json.RawMessage, model string, stream bool) []byte {
	set := []rawMember{{"model", schemas.AppendMarshalJSONString(nil, model)}}
	if stream {
		var so map[string]json.RawMessage
		if raw, ok := body["stream_options"]; ok {
			json.Unmarshal(raw, &so)
		}
		set = append(set, rawMember{"stream_options", appendObject(nil, so, rawMember{"include_usage", []byte("true")})})
	}
	return appendObject(make([]byte, 0, 64+bodySize(body)), body, set...)
}

func bodySize(body map[string]json.RawMessage) int {
	n := 0
	for k, v := range body {
		n += len(k) + len(v) + 4
	}
	return n
}

// attempt is one upstream try that produced an answer (status and
// headers read; for streams, the first event too).
type attempt struct {
	resp    *http.Response
	span    *span
	replica *replica
	route   *route
	cancel  context.CancelFunc
	timer   *time.Timer
	br      *bufio.Reader
	first   []byte // the first event of a stream
	body    []byte // a non-streamed 2xx answer, read whole
}

// errAttempt is a failed attempt's reason, bounded for metrics.
type errAttempt struct {
	reason     string
	err        error
	retryAfter string // an upstream 429's Retry-After
}

func (e *errAttempt) Error() string { return e.err.Error() }

// plan is the routes a call may use, in order: the route, then its
// fallbacks (each once).
func (st *state) plan(rt *route) []*route {
	out := []*route{rt}
	seen := map[string]bool{rt.cfg.Name: true}
	for _, f := range rt.cfg.Fallbacks {
		if r := st.routes[f]; r != nil && !seen[f] {
			seen[f] = true
			out = append(out, r)
		}
	}
	return out
}

// try runs attempts over the plan until one answers: a 2xx (for streams,
// with its first event read) or a client error (4xx other than 429), which
// another replica would answer alike. It returns the attempt, or the last
// failure as an apiError when none answered.
func (g *Gateway) try(ctx context.Context, c *call, st *state, rt *route, req *chatRequest, path string, stream bool) (*attempt, *apiError) {
	var last error
	n := 0
	for pi, r := range st.plan(rt) {
		if pi > 0 {
			g.m.fallbacks.WithLabelValues(rt.cfg.Name, r.cfg.Name).Inc()
		}
		reps := r.order(r.cfg.Retries+1, g.rand())
		if len(reps) == 0 {
			last = fmt.Errorf("route %s has no replica ready", r.cfg.Name)
			continue
		}
		var payload []byte
		if !req.modified && req.model == r.cfg.Model && (!stream || req.includeUsage) {
			payload = req.raw
		} else {
			payload = upstreamBody(req.fields(), r.cfg.Model, stream)
		}
		for ai, rep := range reps {
			if ai > 0 {
				g.m.retries.WithLabelValues(r.cfg.Name).Inc()
			}
			n++
			t0 := time.Now()
			a, err := g.attempt(ctx, c, r, rep, path, payload, stream, n, pi > 0)
			c.upstreamWait += time.Since(t0)
			if err == nil {
				return a, nil
			}
			last = err
			if ctx.Err() != nil {
				return nil, &apiError{status: 499, typ: "server_error", code: "client_closed", msg: "the client went away"}
			}
		}
	}
	msg := fmt.Sprintf("every upstream attempt failed (%d tried over route %s and its fallbacks); last: %v", n, rt.cfg.Name, last)
	var ea *errAttempt
	if errors.As(last, &ea) && ea.reason == "status_429" {
		// The upstreams are rate-limiting: say so, with their Retry-After,
		// rather than as a gateway failure.
		return nil, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "upstream_rate_limited", msg: msg, retryAfter: ea.retryAfter}
	}
	return nil, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_unavailable", msg: msg}
}

// attempt is one try against one replica; its span covers the attempt
// until the answer ends (closed by the caller on success).
func (g *Gateway) attempt(ctx context.Context, c *call, r *route, rep *replica, path string, payload []byte, stream bool, n int, fallback bool) (*attempt, error) {
	s := c.tr.startCap(r.chatName, c.tr.root, time.Now(), attemptAttrs)
	if path == "/embeddings" {
		s.pb.Name = "embeddings " + r.cfg.Model
		genAI(s, "embeddings", r.cfg.Model, r.cfg.Provider)
	} else {
		genAI(s, "chat", r.cfg.Model, r.cfg.Provider)
	}
	s.pb.Kind = tracepb.Span_SPAN_KIND_CLIENT
	s.str(schemas.AttrComponentKind, componentKindLLM)
	s.str(attrRoute, r.cfg.Name)
	s.str(attrReplica, rep.id())
	s.str(attrGPU, rep.gpus)
	s.str(attrServerAddress, rep.base)
	s.int(attrAttempt, int64(n))
	s.bool(attrFallback, fallback)
	s.bool(attrRequestStream, stream)
	actx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	timer := time.AfterFunc(r.cfg.Timeout, func() { timedOut.Store(true); cancel() })
	fail := func(reason string, err error) (*attempt, error) {
		timer.Stop()
		cancel()
		if timedOut.Load() {
			reason, err = "timeout", fmt.Errorf("replica %s: no answer within %v", rep.id(), r.cfg.Timeout)
		}
		s.str(attrErrorType, reason)
		s.end(time.Now(), err.Error())
		rep.inFlight.Add(-1)
		g.m.upstreamErrors.WithLabelValues(r.cfg.Name, rep.id(), reason).Inc()
		if reason == "transport" || reason == "timeout" {
			rep.healthy.Store(false) // the next health check may bring it back
			g.m.replicaUp.WithLabelValues(r.cfg.Name, rep.id()).Set(0)
		}
		return nil, &errAttempt{reason: reason, err: err}
	}
	rep.inFlight.Add(1)
	hr, err := http.NewRequestWithContext(actx, http.MethodPost, rep.base+path, bytes.NewReader(payload))
	if err != nil {
		return fail("request", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if stream {
		hr.Header.Set("Accept", "text/event-stream")
	}
	if rep.apiKey != "" {
		hr.Header.Set("Authorization", "Bearer "+rep.apiKey)
	}
	resp, err := g.hc.Do(hr)
	if err != nil {
		return fail("transport", fmt.Errorf("replica %s: %v", rep.id(), err))
	}
	s.int("http.response.status_code", int64(resp.StatusCode))
	a := &attempt{resp: resp, span: s, replica: rep, route: r, cancel: cancel, timer: timer}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		// (the rest of an error body is dropped with the connection)
		resp.Body.Close()
		_, err := fail("status_"+strconv.Itoa(resp.StatusCode), fmt.Errorf("replica %s answered %d: %s", rep.id(), resp.StatusCode, strings.TrimSpace(string(b))))
		if resp.StatusCode == http.StatusTooManyRequests {
			err.(*errAttempt).retryAfter = resp.Header.Get("Retry-After")
		}
		return nil, err
	}
	if stream && resp.StatusCode == http.StatusOK {
		a.br = bufio.NewReaderSize(resp.Body, 4<<10)
		ev, err := readEvent(a.br, make([]byte, 0, 512))
		if err != nil {
			resp.Body.Close()
			return fail("stream_start", fmt.Errorf("replica %s: the stream ended before its first event: %v", rep.id(), err))
		}
		a.first = ev
		timer.Stop()
	}
	if !stream && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Nothing has reached the client yet: a body that breaks off or
		// outlasts the attempt's timeout is a failed attempt, retried.
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
		if err != nil {
			resp.Body.Close()
			return fail("body", fmt.Errorf("replica %s: reading the answer: %v", rep.id(), err))
		}
		timer.Stop()
	}
	return a, nil
}

// maxUpstreamBody bounds a non-streamed upstream answer.
const maxUpstreamBody = 64 << 20

// done ends the attempt's span and frees its context.
func (a *attempt) done(errMsg string) {
	a.timer.Stop()
	a.resp.Body.Close()
	a.cancel()
	a.replica.inFlight.Add(-1)
	a.span.end(time.Now(), errMsg)
}

// messages puts a call's input and output on the attempt span a and the
// root span as GenAI content attributes (JSON arrays of messages), each
// cut at max_content_bytes: the attempt's input is the messages sent
// upstream, the root's the client's. Where the two are the same messages
// the JSON is built once.
func (g *Gateway) messages(c *call, a *span, in []chains.Message, out string) {
	ac := g.content(c, in, out)
	ac.put(a)
	if !sameMessages(in, c.clientMsgs) {
		ac = g.content(c, c.clientMsgs, out)
	}
	ac.put(c.tr.root)
}

// spanContent is a span's content attributes, with how many times the
// cut was flagged (once per message cut, once for a cut answer).
type spanContent struct {
	in, out string
	cutIn   int
	cutOut  bool
}

func (sc *spanContent) put(s *span) {
	for range sc.cutIn {
		s.bool("chainwatch.content.truncated", true)
	}
	if sc.cutOut {
		s.bool("chainwatch.content.truncated", true)
	}
	s.str(schemas.AttrGenAIInputMessages, sc.in)
	s.str(schemas.AttrGenAIOutputMessages, sc.out)
}

// content renders in and out as JSON arrays of {role, content}, exactly
// as json.Marshal does, the input cut to max_content_bytes in all.
func (g *Gateway) content(c *call, in []chains.Message, out string) *spanContent {
	sc := &spanContent{}
	n := 2
	for _, m := range in {
		n += len(m.Role) + min(len(m.Content), max(c.maxContent, 0)) + 32
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	budget := c.maxContent
	for i, m := range in {
		t := m.Content
		if len(t) > budget {
			sc.cutIn++
			t = strings.ToValidUTF8(t[:budget], "")
		}
		budget -= len(t)
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, m.Role, t)
	}
	sc.in = string(append(b, ']'))
	if len(out) > c.maxContent {
		sc.cutOut = true
		out = strings.ToValidUTF8(out[:c.maxContent], "")
	}
	b = append(b[:0], '[')
	b = appendMessage(b, "assistant", out)
	sc.out = string(append(b, ']'))
	return sc
}

func appendMessage(b []byte, role, content string) []byte {
	b = append(b, `{"role":`...)
	b = schemas.AppendMarshalJSONString(b, role)
	b = append(b, `,"content":`...)
	b = schemas.AppendMarshalJSONString(b, content)
	return append(b, '}')
}

// sameMessages says whether a and b are the same slice.
func sameMessages(a, b []chains.Message) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// headers sets the gateway's response headers (overhead last computed).
func (g *Gateway) headers(w http.ResponseWriter, c *call, a *attempt, ch *chains.Chain) {
	// The values share one backing array (the names are canonical: set
	// as Header.Set would).
	h := w.Header()
	vs := make([]string, 5)
	set := func(k, v string) {
		vs[0] = v
		h[k], vs = vs[:1:1], vs[1:]
	}
	set(HeaderTraceID, hex.EncodeToString(c.tr.id))
	set(HeaderRoute, a.route.cfg.Name)
	set(HeaderReplica, a.replica.id())
	if ch != nil {
		set(HeaderChain, ch.Name+"@"+ch.Hash())
	}
	over := time.Since(c.start) - c.upstreamWait
	set(HeaderOverhead, strconv.FormatFloat(float64(over.Microseconds())/1000, 'f', 3, 64))
	c.tr.root.float(attrOverheadMs, float64(over.Microseconds())/1000)
	g.m.overhead.Observe(over.Seconds())
}

// passError forwards an upstream's client error (4xx) as it came.
func (g *Gateway) passError(w http.ResponseWriter, c *call, a *attempt) {
	b, _ := io.ReadAll(io.LimitReader(a.resp.Body, 1<<20))
	for _, k := range []string{"Content-Type", "Retry-After"} {
		if v := a.resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	g.headers(w, c, a, nil)
	c.status = a.resp.StatusCode
	w.WriteHeader(a.resp.StatusCode)
	w.Write(b)
	msg := fmt.Sprintf("upstream answered %d: %s", a.resp.StatusCode, strings.TrimSpace(string(b)))
	a.done(msg)
	g.finish(c, msg)
}

// unary forwards a non-streamed answer (chat or embeddings).
func (g *Gateway) unary(w http.ResponseWriter, r *http.Request, c *call, st *state, rt *route, req *chatRequest, ch *chains.Chain, op string) {
	path := "/chat/completions"
	if op == "embeddings" {
		path = "/embeddings"
	}
	a, apiErr := g.try(r.Context(), c, st, rt, req, path, false)
	if apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	c.replica = a.replica
	if a.resp.StatusCode < 200 || a.resp.StatusCode > 299 {
		g.passError(w, c, a)
		return
	}
	body := a.body
	parsed := decodeAnswer(body)
	var out strings.Builder
	for _, chc := range parsed.Choices {
		if chc.Message.Content != nil {
			out.WriteString(*chc.Message.Content)
		}
	}
	switch {
	case parsed.Usage != nil:
		c.usage = usage{prompt: parsed.Usage.PromptTokens, completion: parsed.Usage.CompletionTokens, source: "upstream"}
	case op == "chat":
		c.usage = usage{prompt: g.promptTokens(req.messages), completion: g.tok.Count(out.String()), source: "bpe"}
	default:
		c.usage = usage{prompt: int(req.embedTokens()), source: "bpe"}
	}
	a.span.str(schemas.AttrGenAIResponseModel, parsed.Model)
	a.span.str(attrResponseID, parsed.ID)
	if c.usage.source != "" {
		a.span.int(schemas.AttrGenAIUsageInputTokens, int64(c.usage.prompt))
		a.span.int(schemas.AttrGenAIUsageOutputTokens, int64(c.usage.completion))
		a.span.str(attrUsageSource, c.usage.source)
	}
	a.done("")
	rewritten := false // the body re-encoded with a guard's redaction
	if ch != nil {
		text, apiErr := g.outputGuards(c, ch, out.String(), false)
		if apiErr != nil {
			g.fail(w, c, apiErr)
			return
		}
		if text != out.String() && len(parsed.Choices) == 1 {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				if chs, ok := m["choices"].([]any); ok && len(chs) == 1 {
					if c0, ok := chs[0].(map[string]any); ok {
						if msg, ok := c0["message"].(map[string]any); ok {
							msg["content"] = text
							body, _ = json.Marshal(m)
							rewritten = true
						}
					}
				}
			}
		}
	}
	c.tr.root.str(schemas.AttrGenAIResponseModel, parsed.Model)
	if c.content && op == "chat" {
		// Decoded as it was, the body's one answer is out already.
		final := out.String()
		if len(parsed.Choices) == 1 && rewritten {
			var m struct {
				Choices []struct {
					Message struct {
						Content string `json:"content"`
					} `json:"message"`
				} `json:"choices"`
			}
			if json.Unmarshal(body, &m) == nil && len(m.Choices) == 1 {
				final = m.Choices[0].Message.Content // after output guards
			}
		}
		// Both spans get the answer as the client got it (after a redacting
		// guard): what a guard took out is not stored either.
		g.messages(c, a.span, req.messages, final)
	}
	w.Header().Set("Content-Type", cmp(a.resp.Header.Get("Content-Type"), "application/json"))
	g.headers(w, c, a, ch)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(a.resp.StatusCode)
	w.Write(body)
	g.finish(c, "")
}

// outputGuards runs the chain's output guards; for a stream (sent already)
// they only flag. It returns the text to send (redacted) or a 502.
func (g *Gateway) outputGuards(c *call, ch *chains.Chain, text string, streamed bool) (string, *apiError) {
	for _, gd := range ch.Guards.Output {
		s := c.tr.start("guard "+gd.Type, c.tr.root, time.Now())
		s.str(schemas.AttrGenAIOperationName, "apply_guardrail")
		s.str(schemas.AttrComponentKind, componentKindGuard)
		s.str(attrGuardType, gd.Type)
		s.str(attrGuardAction, gd.Action)
		hit, why := guardEval(gd, evaluators.Input{Output: text})
		result := "pass"
		if hit {
			switch {
			case streamed:
				result = "flagged"
			case gd.Action == chains.ActionBlock:
				result = "blocked"
			case gd.Action == chains.ActionRedact:
				result = "redacted"
				text = evaluators.RedactPII(text)
			default:
				result = "flagged"
			}
		}
		s.str(attrGuardResult, result)
		g.m.guards.WithLabelValues(gd.Type, result).Inc()
		if result == "blocked" {
			s.end(time.Now(), why)
			return "", &apiError{status: http.StatusBadGateway, typ: "server_error", code: "blocked_by_guard",
				msg: fmt.Sprintf("chain %s: the output guard %q blocked the answer: %s", ch.Name, gd.Type, why)}
		}
		s.end(time.Now(), "")
	}
	return text, nil
}

func (g *Gateway) embeddings(w http.ResponseWriter, r *http.Request) {
	st := g.st.Load()
	c := &call{start: time.Now(), status: 200}
	c.tr = newTrace("embeddings", c.start)
	var apiErr *apiError
	if c.key, apiErr = g.authenticate(st, r); apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	raw, apiErr := g.readBody(w, r, st)
	if apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	req := &chatRequest{raw: raw}
	if err := json.Unmarshal(raw, &req.body); err != nil {
		g.fail(w, c, badRequest("invalid_json", "the body is not a JSON object: %v", err))
		return
	}
	if m, ok := req.body["model"]; !ok || json.Unmarshal(m, &req.model) != nil || req.model == "" {
		g.fail(w, c, badRequest("missing_model", "\"model\" must be a non-empty string naming a route"))
		return
	}
	var input struct {
		Input json.RawMessage `json:"input"`
	}
	json.Unmarshal(raw, &input)
	var texts []string
	if json.Unmarshal(input.Input, &texts) != nil {
		var one string
		json.Unmarshal(input.Input, &one)
		texts = []string{one}
	}
	req.embedTokens = func() int64 {
		var n int64
		for _, t := range texts {
			n += int64(g.tok.Count(t))
		}
		return n
	}
	c.tr.root.pb.Name = "embeddings " + req.model
	genAI(c.tr.root, "embeddings", req.model, "")
	rt := st.routes[req.model]
	c.route = req.model
	if rt == nil {
		g.fail(w, c, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
			msg: fmt.Sprintf("model %q: no route of that name (GET /v1/models lists them)", req.model)})
		return
	}
	c.tr.root.str(attrRoute, req.model)
	if apiErr := g.admit(c, "route", req.model, req.embedTokens); apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	g.unary(w, r, c, st, rt, req, nil, "embeddings")
}

func (g *Gateway) rand() *rand.Rand {
	g.rngMu.Lock()
	defer g.rngMu.Unlock()
	return rand.New(rand.NewPCG(g.rng.Uint64(), g.rng.Uint64()))
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
