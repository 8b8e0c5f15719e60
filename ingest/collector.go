package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

// Producer is what the collector needs of a Kafka client: franz-go's
// *kgo.Client. TryProduce fails at once with kgo.ErrMaxBuffered when the
// buffer is full, which the collector turns into 503.
type Producer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Collector receives traces and feedback over HTTP and gRPC and answers 2xx
// only once Kafka has acknowledged every record of the request.
//
// Endpoints (HTTP):
//
//	POST /v1/traces    OTLP/HTTP, protobuf or JSON, optionally gzip
//	POST /v1/spans     the chainwatch JSON batch form ({"spans": [...]})
//	POST /v1/feedback  feedback, one object or {"feedback": [...]}
//	GET  /healthz      200 while the process runs
//
// and OTLP/gRPC's TraceService/Export on its own port.
type Collector struct {
	cfg    CollectorConfig
	topics Topics
	prod   Producer
	m      *Metrics
	log    *slog.Logger
	keys   [][]byte

	mu       sync.Mutex
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpAddr net.Addr
	grpcAddr net.Addr
	extra    map[string]http.Handler

	coltracepb.UnimplementedTraceServiceServer
}

// NewCollector wires a collector; Start opens its ports.
func NewCollector(cfg CollectorConfig, topics Topics, prod Producer, m *Metrics, log *slog.Logger) *Collector {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	c := &Collector{cfg: cfg, topics: topics, prod: prod, m: m, log: log, extra: map[string]http.Handler{}}
	for _, k := range cfg.APIKeys {
		c.keys = append(c.keys, []byte(k))
	}
	return c
}

// Handle adds an extra HTTP route (e.g. /metrics) before Start.
func (c *Collector) Handle(pattern string, h http.Handler) { c.extra[pattern] = h }

// Handler is the collector's HTTP API.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", c.handleTraces)
	mux.HandleFunc("POST /v1/spans", c.handleJSONSpans)
	mux.HandleFunc("POST /v1/feedback", c.handleFeedback)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	for p, h := range c.extra {
		mux.Handle(p, h)
	}
	return mux
}

// Start listens on the configured addresses and returns at once.
func (c *Collector) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	hl, err := net.Listen("tcp", c.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on collector.http_addr %s: %w", c.cfg.HTTPAddr, err)
	}
	c.httpAddr = hl.Addr()
	c.httpSrv = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := c.httpSrv.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("collector http server stopped", "err", err)
		}
	}()
	if c.cfg.GRPCAddr != "off" {
		gl, err := net.Listen("tcp", c.cfg.GRPCAddr)
		if err != nil {
			hl.Close()
			return fmt.Errorf("listening on collector.grpc_addr %s: %w", c.cfg.GRPCAddr, err)
		}
		c.grpcAddr = gl.Addr()
		c.grpcSrv = grpc.NewServer(grpc.MaxRecvMsgSize(int(c.cfg.MaxBodyBytes)))
		coltracepb.RegisterTraceServiceServer(c.grpcSrv, c)
		go func() {
			if err := c.grpcSrv.Serve(gl); err != nil {
				c.log.Error("collector grpc server stopped", "err", err)
			}
		}()
	}
	return nil
}

// HTTPAddr is the bound HTTP address (useful with port 0).
func (c *Collector) HTTPAddr() string { return c.httpAddr.String() }

// GRPCAddr is the bound gRPC address, or "" when disabled.
func (c *Collector) GRPCAddr() string {
	if c.grpcAddr == nil {
		return ""
	}
	return c.grpcAddr.String()
}

// Shutdown stops accepting requests and waits for those in flight (each
// waits for its Kafka acks). Idempotent.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.httpSrv != nil {
		err = c.httpSrv.Shutdown(ctx)
		c.httpSrv = nil
	}
	if c.grpcSrv != nil {
		done := make(chan struct{})
		go func() { c.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			c.grpcSrv.Stop()
		}
		c.grpcSrv = nil
	}
	return err
}

// httpError is an answer to a request that was not stored.
type httpError struct {
	code   int
	reason string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, reasonBadRequest, fmt.Sprintf(format, args...)}
}

func (c *Collector) fail(w http.ResponseWriter, endpoint string, e *httpError) {
	c.m.Rejected.WithLabelValues(endpoint, e.reason).Inc()
	c.m.Requests.WithLabelValues(endpoint, strconv.Itoa(e.code)).Inc()
	if e.code == http.StatusServiceUnavailable || e.code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(DefaultRetryAfterSeconds))
	}
	if e.code >= 500 {
		c.log.Warn("collector request failed", "endpoint", endpoint, "status", e.code, "reason", e.reason, "err", e.msg)
	}
	http.Error(w, e.msg, e.code)
}

func (c *Collector) authorized(h func(string) string) bool {
	if len(c.keys) == 0 {
		return true
	}
	key := h("X-API-Key")
	if a := h("Authorization"); key == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = a[7:]
	}
	if key == "" {
		return false
	}
	ok := false
	for _, k := range c.keys {
		ok = subtle.ConstantTimeCompare(k, []byte(key)) == 1 || ok
	}
	return ok
}

// readBody reads a size-limited, possibly gzip-compressed body.
func (c *Collector) readBody(r *http.Request) ([]byte, *httpError) {
	limit := c.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("request body of %d bytes exceeds collector.max_body_bytes (%d)", r.ContentLength, limit)}
	}
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, badRequest("reading gzip body: %v", err)
		}
		defer zr.Close()
		rd = io.LimitReader(zr, limit+1) // the decompressed size is limited too
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, reasonUnsupported, fmt.Sprintf("Content-Encoding %q is not supported; use gzip or none", enc)}
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("request body exceeds collector.max_body_bytes (%d)", limit)}
		}
		return nil, badRequest("reading request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("decompressed request body exceeds collector.max_body_bytes (%d)", limit)}
	}
	return body, nil
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

// admit checks what every endpoint checks — the API key, the content type
// (one of types; "" accepts a missing header) and the body's size — and
// returns the body and its media type, or answers the error and returns
// ok false.
func (c *Collector) admit(w http.ResponseWriter, r *http.Request, ep string, types ...string) (body []byte, mt string, ok bool) {
	if !c.authorized(r.Header.Get) {
		c.fail(w, ep, &httpError{http.StatusUnauthorized, reasonUnauthorized, "missing or unknown API key: send Authorization: Bearer <key> or X-API-Key"})
		return nil, "", false
	}
	mt = mediaType(r)
	if !slices.Contains(types, mt) {
		c.fail(w, ep, &httpError{http.StatusUnsupportedMediaType, reasonUnsupported,
			fmt.Sprintf("Content-Type %q is not supported on %s; use %s", mt, r.URL.Path, strings.Join(slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "" }), " or "))})
		return nil, "", false
	}
	body, herr := c.readBody(r)
	if herr != nil {
		c.fail(w, ep, herr)
		return nil, "", false
	}
	return body, mt, true
}

func (c *Collector) handleTraces(w http.ResponseWriter, r *http.Request) {
	const ep = "traces"
	start := time.Now()
	body, mt, ok := c.admit(w, r, ep, "application/x-protobuf", "application/protobuf", "application/json")
	if !ok {
		return
	}
	isJSON := mt == "application/json"
	var (
		n    int
		herr *httpError
	)
	if isJSON {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := unmarshalOTLPJSON(body, req); err != nil {
			c.fail(w, ep, badRequest("decoding OTLP JSON: %v", err))
			return
		}
		n, herr = c.exportTraces(r.Context(), req)
	} else {
		n, herr = c.exportTracesWire(r.Context(), body) // no decoding: see otlpwire.go
	}
	if herr != nil {
		c.fail(w, ep, herr)
		return
	}
	c.ok(ep, n, start)
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(out)
}

func (c *Collector) ok(ep string, n int, start time.Time) {
	c.m.Requests.WithLabelValues(ep, "200").Inc()
	c.m.Received.WithLabelValues(ep).Add(float64(n))
	c.m.ProduceSeconds.WithLabelValues(ep).Observe(time.Since(start).Seconds())
}

func (c *Collector) handleJSONSpans(w http.ResponseWriter, r *http.Request) {
	const ep = "spans"
	start := time.Now()
	body, _, ok := c.admit(w, r, ep, "application/json", "")
	if !ok {
		return
	}
	batch, err := schemas.DecodeJSONBatch(bytes.NewReader(body))
	if err != nil {
		c.fail(w, ep, badRequest("%v", err))
		return
	}
	n, herr := c.exportTraces(r.Context(), batch.ToOTLP())
	if herr != nil {
		c.fail(w, ep, herr)
		return
	}
	c.ok(ep, n, start)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"accepted\":%d}\n", n)
}

// exportTraces validates a request, splits it by trace id and produces one
// record per trace, waiting for every ack.
func (c *Collector) exportTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int, *httpError) {
	if err := schemas.ValidateOTLP(req); err != nil {
		return 0, badRequest("invalid span: %v", err)
	}
	recs, n, err := SplitByTrace(req, c.topics.Spans)
	if err != nil {
		return 0, badRequest("%v", err)
	}
	if n == 0 {
		return 0, nil
	}
	return n, c.produce(ctx, recs)
}

func (c *Collector) produce(ctx context.Context, recs []*kgo.Record) *httpError {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	wg.Add(len(recs))
	for _, rec := range recs {
		c.prod.TryProduce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr == nil {
		return nil
	}
	if errors.Is(firstErr, kgo.ErrMaxBuffered) {
		return &httpError{http.StatusServiceUnavailable, reasonBufferFull, "the collector's Kafka buffer is full; retry later"}
	}
	return &httpError{http.StatusServiceUnavailable, reasonUnavailable, fmt.Sprintf("Kafka did not acknowledge the records: %v; nothing of this request is guaranteed stored, retry later", firstErr)}
}

// SplitByTrace turns a request into one Kafka record per trace (key = trace
// id, value = an ExportTraceServiceRequest with only that trace's spans and
// their resource and scope), so a trace stays in order on one partition. It
// returns the number of spans.
func SplitByTrace(req *coltracepb.ExportTraceServiceRequest, topic string) ([]*kgo.Record, int, error) {
	type part struct {
		req     *coltracepb.ExportTraceServiceRequest
		lastRS  *tracepb.ResourceSpans
		lastSS  *tracepb.ScopeSpans
		srcRS   *tracepb.ResourceSpans
		srcSS   *tracepb.ScopeSpans
		spanCnt int
	}
	var order [][16]byte
	parts := map[[16]byte]*part{}
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				var key [16]byte
				copy(key[:], sp.TraceId)
				p := parts[key]
				if p == nil {
					p = &part{req: &coltracepb.ExportTraceServiceRequest{}}
					parts[key] = p
					order = append(order, key)
				}
				if p.srcRS != rs {
					p.lastRS = &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}
					p.req.ResourceSpans = append(p.req.ResourceSpans, p.lastRS)
					p.srcRS, p.srcSS = rs, nil
				}
				if p.srcSS != ss {
					p.lastSS = &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl}
					p.lastRS.ScopeSpans = append(p.lastRS.ScopeSpans, p.lastSS)
					p.srcSS = ss
				}
				p.lastSS.Spans = append(p.lastSS.Spans, sp)
				n++
			}
		}
	}
	recs := make([]*kgo.Record, 0, len(order))
	for _, key := range order {
		val, err := proto.Marshal(parts[key].req)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding trace %x: %w", key, err)
		}
		k := make([]byte, 32)
		hex.Encode(k, key[:])
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: val})
	}
	return recs, n, nil
}

func (c *Collector) handleFeedback(w http.ResponseWriter, r *http.Request) {
	const ep = "feedback"
	start := time.Now()
	body, _, ok := c.admit(w, r, ep, "application/json", "")
	if !ok {
		return
	}
	items, err := DecodeFeedback(body, time.Now())
	if err != nil {
		c.fail(w, ep, badRequest("%v", err))
		return
	}
	recs := make([]*kgo.Record, len(items))
	for i := range items {
		v, _ := json.Marshal(&items[i])
		recs[i] = &kgo.Record{Topic: c.topics.Feedback, Key: []byte(items[i].TraceID), Value: v}
	}
	if herr := c.produce(r.Context(), recs); herr != nil {
		c.fail(w, ep, herr)
		return
	}
	c.ok(ep, len(items), start)
	w.Header().Set("Content-Type", "application/json")
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	json.NewEncoder(w).Encode(map[string]any{"accepted": len(items), "ids": ids})
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Export is OTLP/gRPC's TraceService/Export.
func (c *Collector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	const ep = "grpc"
	start := time.Now()
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(strings.ToLower(k)); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if !c.authorized(get) {
		c.m.Rejected.WithLabelValues(ep, reasonUnauthorized).Inc()
		return nil, status.Error(codes.Unauthenticated, "missing or unknown API key: send metadata authorization: Bearer <key> or x-api-key")
	}
	n, herr := c.exportTraces(ctx, req)
	if herr != nil {
		c.m.Rejected.WithLabelValues(ep, herr.reason).Inc()
		code := codes.InvalidArgument
		if herr.code == http.StatusServiceUnavailable {
			code = codes.Unavailable
		}
		return nil, status.Error(code, herr.msg)
	}
	c.ok(ep, n, start)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}
