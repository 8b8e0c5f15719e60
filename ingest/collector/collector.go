package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/internal/tlsfiles"
	"github.com/chainwatch/chainwatch/kafka"
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
//	POST /v1/traces    OTLP/HTTP, protobuf or JSON, optionally gzip, zstd or deflate;
//	                   invalid spans are left out and reported (partial success, answers.go)
//	POST /v1/logs      OTLP/HTTP logs, the same encodings; GenAI events among them (logs.go)
//	POST /v1/spans     the chainwatch JSON batch form ({"spans": [...]})
//	POST /v1/feedback  feedback, one object or {"feedback": [...]}
//	GET  /healthz      200 while the process runs
//
// and OTLP/gRPC's TraceService/Export and LogsService/Export on its own port.
type Collector struct {
	guard  interface{ Refusal() string } // nil: no retention guard
	cfg    Config
	topics kafka.Topics
	prod   Producer
	m      *Metrics
	log    *slog.Logger
	keys   []apiKey
	// inflight bounds the bytes of the requests being handled
	// (collector.max_inflight_bytes); see admission.go.
	inflight *inflight
	// rejectLog rate-limits the logging of rejections (answers.go).
	rejectLog rateLog

	mu       sync.Mutex
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpAddr net.Addr
	grpcAddr net.Addr
	extra    map[string]http.Handler

	coltracepb.UnimplementedTraceServiceServer
}

// New wires a collector; Start opens its ports.
func New(cfg Config, topics kafka.Topics, prod Producer, m *Metrics, log *slog.Logger) *Collector {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	c := &Collector{cfg: cfg, topics: topics, prod: prod, m: m, log: log, extra: map[string]http.Handler{},
		inflight: newInflight(cfg.MaxInflightBytes, m.InflightBytes)}
	for _, k := range cfg.APIKeys {
		if k := parseAPIKey(k); len(k.key) > 0 {
			c.keys = append(c.keys, k)
		}
	}
	return c
}

// Handle adds an extra HTTP route (e.g. /metrics) before Start.
func (c *Collector) Handle(pattern string, h http.Handler) { c.extra[pattern] = h }

// Handler is the collector's HTTP API.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", c.admitted(c.handleTraces))
	mux.HandleFunc("POST /v1/logs", c.admitted(c.handleLogs))
	mux.HandleFunc("POST /v1/spans", c.admitted(c.handleJSONSpans))
	mux.HandleFunc("POST /v1/feedback", c.admitted(c.handleFeedback))
	if _, ok := c.extra["GET /healthz"]; !ok { // Handle may replace it (the pipeline's names its components)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	}
	for p, h := range c.extra {
		mux.Handle(p, h)
	}
	return mux
}

// Start listens on the configured addresses and returns at once.
func (c *Collector) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var tlsCfg *tls.Config
	if c.cfg.TLS.Enabled() {
		rl, err := tlsfiles.New(c.cfg.TLS, 0, func(err error) { c.log.Error("collector TLS", "err", err) })
		if err != nil {
			return fmt.Errorf("collector.tls: %w", err)
		}
		tlsCfg = rl.TLSConfig()
	}
	hl, err := net.Listen("tcp", c.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on collector.http_addr %s: %w", c.cfg.HTTPAddr, err)
	}
	c.httpAddr = hl.Addr()
	if tlsCfg != nil {
		hl = tls.NewListener(hl, tlsCfg)
	}
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
		c.grpcSrv = c.newGRPCServer(tlsCfg)
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

// Content encodings of HTTP request bodies: OTLP/HTTP exporters send gzip
// (the OpenTelemetry SDKs' only option), zstd (the OpenTelemetry Collector's
// confighttp) or deflate.
const encodings = "gzip, zstd, deflate or none"

// readBody reads a size-limited, possibly compressed body (see encodings).
// Both the body as sent and its decompressed bytes are bounded by
// collector.max_body_bytes (413), and both are taken from admission.
func (c *Collector) readBody(r *http.Request) ([]byte, *httpError) {
	limit := c.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("request body of %d bytes exceeds collector.max_body_bytes (%d)", r.ContentLength, limit)}
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity", "gzip", "x-gzip", "zstd", "deflate":
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, reasonUnsupported, fmt.Sprintf("Content-Encoding %q is not supported; use %s", enc, encodings)}
	}
	// Admission (admission.go): the declared length is taken before
	// anything is read, a body of unknown length and decompressed bytes as
	// they are read.
	ctx, t := r.Context(), ticketFrom(r.Context())
	known := max(r.ContentLength, 0)
	if !t.acquire(ctx, known, admissionWait) {
		return nil, c.overloaded()
	}
	var rd io.Reader = &admittedReader{ctx: ctx, r: http.MaxBytesReader(nil, r.Body, limit), t: t, have: known}
	hint := known
	if enc != "" && enc != "identity" {
		zr, err := decompressor(enc, rd)
		if err != nil {
			return nil, c.bodyError(enc, err)
		}
		defer zr.Close()
		// The decompressed size is limited and admitted too.
		rd, hint = &admittedReader{ctx: ctx, r: io.LimitReader(zr, limit+1), t: t}, 0
	}
	body, err := readAll(rd, hint)
	t.recycle(body)
	if err != nil {
		return nil, c.bodyError(enc, err)
	}
	if int64(len(body)) > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("decompressed request body exceeds collector.max_body_bytes (%d)", limit)}
	}
	return body, nil
}

// bodyError is the answer to an error reading a body of encoding enc.
func (c *Collector) bodyError(enc string, err error) *httpError {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errInflightFull):
		return c.overloaded()
	case errors.As(err, &mbe):
		return &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("request body exceeds collector.max_body_bytes (%d)", c.cfg.MaxBodyBytes)}
	case enc != "" && enc != "identity":
		return badRequest("reading %s body: %v", enc, err)
	}
	return badRequest("reading request body: %v", err)
}

// decompressor reads r in encoding enc: gzip, zstd (the stream format, with
// the window bounded as over gRPC), or deflate, which HTTP defines as the
// zlib format (RFC 1950) but some clients send as raw deflate (RFC 1951):
// both are accepted, told apart by the zlib header.
func decompressor(enc string, r io.Reader) (io.ReadCloser, error) {
	switch enc {
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "zstd":
		zr, err := zstdCompressor{}.Decompress(r)
		if err != nil {
			return nil, err
		}
		return zr.(*zstdReader), nil
	}
	br := bufio.NewReaderSize(r, 512)
	if h, err := br.Peek(2); err == nil && isZlibHeader(h[0], h[1]) {
		return zlib.NewReader(br)
	} else if errors.Is(err, errInflightFull) {
		return nil, err
	}
	return flate.NewReader(br), nil
}

// isZlibHeader reports whether b0, b1 start a zlib stream: deflate method
// (8) with a window of at most 32 KiB, and a header checksum that divides
// by 31. A raw deflate stream starts so by chance with a probability of
// about 1/500; such a body fails to decode (400) rather than being misread.
func isZlibHeader(b0, b1 byte) bool {
	return b0&0x0f == 8 && b0>>4 <= 7 && (uint16(b0)<<8|uint16(b1))%31 == 0
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
	apps, authorized := c.keyFor(r.Header.Get)
	if !authorized {
		c.fail(w, r, ep, &httpError{http.StatusUnauthorized, reasonUnauthorized, "missing or unknown API key: send Authorization: Bearer <key> or X-API-Key"})
		return nil, "", false
	}
	*r = *r.WithContext(withScope(r.Context(), apps))
	mt = mediaType(r)
	if !slices.Contains(types, mt) {
		c.fail(w, r, ep, &httpError{http.StatusUnsupportedMediaType, reasonUnsupported,
			fmt.Sprintf("Content-Type %q is not supported on %s; use %s", mt, r.URL.Path, strings.Join(slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "" }), " or "))})
		return nil, "", false
	}
	body, herr := c.readBody(r)
	if herr != nil {
		c.fail(w, r, ep, herr)
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
		rej  spanRejects
		herr *httpError
	)
	if isJSON {
		req := &coltracepb.ExportTraceServiceRequest{}
		bad, err := decodeOTLPJSON(body, req)
		if err != nil {
			c.fail(w, r, ep, badRequest("decoding OTLP JSON: %v", err))
			return
		}
		n, rej, herr = c.exportTraces(r.Context(), ep, req, bad)
	} else if c.needsMessage(r.Context()) { // a scoped key, or redaction: see security.go
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			c.fail(w, r, ep, badRequest("decoding OTLP protobuf: %v", err))
			return
		}
		n, rej, herr = c.exportTraces(r.Context(), ep, req, nil)
	} else {
		n, rej, herr = c.exportTracesWire(r.Context(), ep, body) // no decoding: see otlpwire.go
	}
	if herr != nil {
		c.fail(w, r, ep, herr)
		return
	}
	c.ok(ep, n, start)
	resp := &coltracepb.ExportTraceServiceResponse{PartialSuccess: rej.partialSuccess(n)}
	mt = otlpResponseType(r)
	w.Header().Set("Content-Type", mt)
	if isJSON {
		out, _ := protojson.Marshal(resp)
		w.Write(out)
		return
	}
	out, _ := proto.Marshal(resp)
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
	batch, err := genai.DecodeJSONBatch(bytes.NewReader(body))
	if err != nil {
		c.fail(w, r, ep, badRequest("%v", err))
		return
	}
	// genai.DecodeJSONBatch refuses a batch with any invalid span: this
	// API stays whole-request (its answer has no partial success).
	n, rej, herr := c.exportTraces(r.Context(), ep, batch.ToOTLP(), nil)
	if herr != nil {
		c.fail(w, r, ep, herr)
		return
	}
	c.ok(ep, n, start)
	w.Header().Set("Content-Type", "application/json")
	if rej.n > 0 { // not expected (the decoder checks as much): said, never silent
		json.NewEncoder(w).Encode(map[string]any{"accepted": n, "rejected": rej.n, "error": rej.message(n)})
		return
	}
	fmt.Fprintf(w, "{\"accepted\":%d}\n", n)
}

// exportTraces stores the valid spans of a request (validSpans; bad: spans
// refused while decoding, see unmarshalOTLPJSON), split by trace id, one
// record per trace, waiting for every ack. It returns the number of spans
// stored and those rejected; a request with spans and none valid is a 400.
func (c *Collector) exportTraces(ctx context.Context, ep string, req *coltracepb.ExportTraceServiceRequest, bad map[[3]int]*genai.SpanError) (int, spanRejects, *httpError) {
	if herr := c.secureTraces(ctx, req); herr != nil {
		return 0, spanRejects{}, herr
	}
	req, rej := validSpans(req, bad)
	recs, n, err := kafka.SplitByTrace(req, c.topics.Spans)
	if err != nil {
		return 0, rej, badRequest("%v", err)
	}
	return c.produceValid(ctx, ep, recs, n, rej)
}

// produceValid produces the records of a request's n valid spans and
// counts the rejected ones once the answer is decided: a 400 when no span
// was valid, partial success when the others are stored.
func (c *Collector) produceValid(ctx context.Context, ep string, recs []*kgo.Record, n int, rej spanRejects) (int, spanRejects, *httpError) {
	if n == 0 && rej.n > 0 {
		c.countRejectedSpans(ep, rej, 0)
		return 0, rej, badRequest("invalid span: %v", rej.err)
	}
	if n == 0 {
		return 0, rej, nil
	}
	if herr := c.produce(ctx, recs); herr != nil {
		return 0, rej, herr // the client retries the whole request
	}
	c.countRejectedSpans(ep, rej, n)
	return n, rej, nil
}

// produceMargin is what a request may wait for Kafka beyond
// kafka.produce_timeout, franz-go's own delivery timeout, before it is
// answered 503 without the acks: franz-go does not enforce that timeout on
// records already sent when idempotence is on, so a frozen broker would
// otherwise hold the request until it comes back.
const produceMargin = time.Second

// recordOverhead bounds what Kafka's record-batch framing adds to a record's
// key and value (the batch header is 61 bytes, a record's varints and
// attributes a few more).
const recordOverhead = 128

// reasonTimeout is the Rejected reason of a request whose records Kafka did
// not acknowledge by its produce deadline.
const reasonTimeout = "kafka_timeout"

// produce hands recs to Kafka and waits for every ack, at most
// kafka.produce_timeout + produceMargin. What can never fit (a record over
// kafka.max_record_bytes, a request over kafka.max_buffered_bytes) is
// answered 413 without producing. The promises that fire after the
// deadline only write to a buffered channel and release the request's
// admission ticket.
func (c *Collector) produce(ctx context.Context, recs []*kgo.Record) *httpError {
	if herr := c.fits(recs); herr != nil {
		return herr
	}
	if len(recs) == 0 {
		return nil
	}
	if c.guard != nil { // the writers near retention: see RetentionGuard
		if why := c.guard.Refusal(); why != "" {
			return &httpError{http.StatusServiceUnavailable, reasonBehind, why}
		}
	}
	t := ticketFrom(ctx)
	t.hold()
	results := make(chan error, len(recs))
	var left atomic.Int64
	left.Store(int64(len(recs)))
	for _, rec := range recs {
		c.prod.TryProduce(ctx, rec, func(_ *kgo.Record, err error) {
			results <- err
			if left.Add(-1) == 0 {
				t.done()
			}
		})
	}
	wait := c.cfg.ProduceTimeout + produceMargin
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var firstErr error
	for acked := 0; acked < len(recs); acked++ {
		select {
		case err := <-results:
			if err != nil && firstErr == nil {
				firstErr = err
			}
		case <-deadline.C:
			return &httpError{http.StatusServiceUnavailable, reasonTimeout, fmt.Sprintf(
				"Kafka did not acknowledge %d of the request's %d records within kafka.produce_timeout (%v) + %v; the collector gave up on them and they are not guaranteed stored (nothing of this request is), retry later",
				len(recs)-acked, len(recs), c.cfg.ProduceTimeout, produceMargin)}
		}
	}
	switch {
	case firstErr == nil:
		return nil
	case errors.Is(firstErr, kgo.ErrMaxBuffered):
		return &httpError{http.StatusServiceUnavailable, reasonBufferFull, "the collector's Kafka buffer is full; retry later"}
	case errors.Is(firstErr, kerr.MessageTooLarge), errors.Is(firstErr, kerr.RecordListTooLarge):
		return &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf(
			"Kafka refused a record of this request as too large (kafka.max_record_bytes is %d; the topic's max.message.bytes may be lower): %v; it can never be stored as sent", c.cfg.MaxRecordBytes, firstErr)}
	}
	return &httpError{http.StatusServiceUnavailable, reasonUnavailable, fmt.Sprintf("Kafka did not acknowledge the records: %v; nothing of this request is guaranteed stored, retry later", firstErr)}
}

// fits answers 413 for what Kafka could never take: a record (one trace's
// spans, or one feedback item) over kafka.max_record_bytes, or a request
// whose records together exceed kafka.max_buffered_bytes.
func (c *Collector) fits(recs []*kgo.Record) *httpError {
	total := 0
	for _, r := range recs {
		n := len(r.Key) + len(r.Value)
		if n+recordOverhead > c.cfg.MaxRecordBytes {
			return &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf(
				"trace %s: its spans make a Kafka record of %d bytes, more than kafka.max_record_bytes (%d) allows with framing; it can never be stored: send the trace's spans in smaller requests", r.Key, n, c.cfg.MaxRecordBytes)}
		}
		total += n
	}
	if total > c.cfg.MaxBufferedBytes {
		return &httpError{http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf(
			"the request makes %d Kafka records of %d bytes in all, more than kafka.max_buffered_bytes (%d); it can never be buffered: send fewer spans per request", len(recs), total, c.cfg.MaxBufferedBytes)}
	}
	return nil
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
		c.fail(w, r, ep, badRequest("%v", err))
		return
	}
	c.secureFeedback(items) // feedback names a trace, not an app: any valid key may send it
	recs := make([]*kgo.Record, len(items))
	for i := range items {
		v, _ := json.Marshal(&items[i])
		recs[i] = &kgo.Record{Topic: c.topics.Feedback, Key: []byte(items[i].TraceID), Value: v}
	}
	if herr := c.produce(r.Context(), recs); herr != nil {
		c.fail(w, r, ep, herr)
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
