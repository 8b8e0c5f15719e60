package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip, OTLP's MUST and the OpenTelemetry Collector's default
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The collector's OTLP/gRPC side: TraceService/Export, the compressions it
// accepts, and the accounting of every refusal, including those grpc-go
// answers before Export runs (an unknown compression, an undecodable or
// oversize message), which a stats handler sees.
//
// Compressions: gzip (grpc-go's), zstd and snappy (klauspost/compress, in
// the stream formats of github.com/mostynb/go-grpc-compression, which the
// OpenTelemetry Collector's exporters use).

// grpcMaxConcurrentStreams bounds the requests one gRPC connection may have
// in flight; more wait on the client side. grpc-go receives a whole message
// before any handler can refuse it, so this (× collector.max_body_bytes)
// bounds what one connection can make the collector hold beyond admission.
const grpcMaxConcurrentStreams = 16

func init() {
	encoding.RegisterCompressor(zstdCompressor{})
	encoding.RegisterCompressor(snappyCompressor{})
}

func (c *Collector) newGRPCServer(tlsCfg *tls.Config) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(c.cfg.MaxBodyBytes)),
		grpc.MaxConcurrentStreams(grpcMaxConcurrentStreams),
		grpc.StatsHandler(grpcStats{c}),
		grpc.ForceServerCodecV2(otlpCodec{encoding.GetCodecV2(grpcproto.Name)}),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	srv := grpc.NewServer(opts...)
	coltracepb.RegisterTraceServiceServer(srv, c)
	collogspb.RegisterLogsServiceServer(srv, logsServer{c: c})
	return srv
}

// Export is OTLP/gRPC's TraceService/Export.
func (c *Collector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	const ep = "grpc"
	start := time.Now()
	ctx, done, err := c.grpcAdmit(ctx, req)
	if err != nil {
		return nil, err
	}
	defer done()
	n, rej, herr := c.exportTraces(ctx, ep, req, nil)
	if herr != nil {
		return nil, c.grpcFail(herr)
	}
	c.ok(ep, n, start)
	return &coltracepb.ExportTraceServiceResponse{PartialSuccess: rej.partialSuccess(n)}, nil
}

// grpcAdmit is what every gRPC export checks first: the API key in the
// metadata and admission for the request's size. It marks the RPC as
// counted by the handler (not by the stats handler) and returns the
// context carrying the admission ticket and the func that releases it.
func (c *Collector) grpcAdmit(ctx context.Context, req proto.Message) (context.Context, func(), error) {
	if st, _ := ctx.Value(rpcStateKey{}).(*rpcState); st != nil {
		st.handled.Store(true) // counted here, not by the stats handler
	}
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(strings.ToLower(k)); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	apps, ok := c.keyFor(get)
	if !ok {
		return ctx, nil, c.grpcFail(&httpError{http.StatusUnauthorized, reasonUnauthorized, "missing or unknown API key: send metadata authorization: Bearer <key> or x-api-key"})
	}
	ctx = withScope(ctx, apps)
	t := c.inflight.newTicket()
	if !t.acquire(ctx, int64(proto.Size(req)), admissionWait) {
		t.done()
		return ctx, nil, c.grpcFail(c.overloaded())
	}
	return withTicket(ctx, t), t.done, nil
}

// grpcFail counts and logs a refusal as fail does for HTTP (the code label
// is the HTTP equivalent) and turns it into a gRPC status: 503 is
// Unavailable with a RetryInfo, which OTLP exporters honour; everything
// else the client cannot fix by retrying (413 included) is InvalidArgument,
// or Unauthenticated.
func (c *Collector) grpcFail(e *httpError) error {
	c.rejected("grpc", e.code, e.reason, e.msg)
	return status.FromProto(e.status()).Err()
}

// grpcRefused counts and logs an RPC that ended in error without reaching
// Export: its code is mapped to the HTTP equivalent and a bounded reason.
func (c *Collector) grpcRefused(method string, err error) {
	const ep = "grpc"
	st := status.Convert(err)
	code, reason := http.StatusInternalServerError, "grpc_"+strings.ToLower(st.Code().String())
	switch st.Code() {
	case codes.Unimplemented: // "Decompressor is not installed", or an unknown method
		code, reason = http.StatusUnsupportedMediaType, reasonUnsupported
	case codes.Internal: // the codec could not decode the message
		code, reason = http.StatusBadRequest, reasonDecode
	case codes.ResourceExhausted: // over collector.max_body_bytes
		code, reason = http.StatusRequestEntityTooLarge, reasonTooLarge
	case codes.Canceled, codes.DeadlineExceeded:
		code, reason = 499, "canceled"
	}
	c.rejected(ep, code, reason, st.Message(), "method", method, "grpc_code", st.Code().String(), "before_export", true)
}

// grpcStats sees every RPC's end, including those grpc-go refuses before
// the handler runs.
type grpcStats struct{ c *Collector }

type rpcStateKey struct{}

type rpcState struct {
	method  string
	handled atomic.Bool // Export ran and counted the answer itself
}

var _ stats.Handler = grpcStats{}

func (h grpcStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcStateKey{}, &rpcState{method: info.FullMethodName})
}

func (h grpcStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || end.Error == nil {
		return
	}
	st, _ := ctx.Value(rpcStateKey{}).(*rpcState)
	if st == nil || st.handled.Load() {
		return
	}
	h.c.grpcRefused(st.method, end.Error)
}

func (grpcStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcStats) HandleConn(context.Context, stats.ConnStats)                       {}

// otlpCodec is grpc-go's protobuf codec, except that a request it cannot
// decode is walked again by the OTLP wire checker (otlpwire.go), whose error
// names the message, field and byte offset where the data went wrong.
// grpc-go answers it codes.Internal ("failed to unmarshal the received
// message: …"), counted as a decode refusal by grpcStats.
type otlpCodec struct{ encoding.CodecV2 }

func (c otlpCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	if _, ok := v.(*coltracepb.ExportTraceServiceRequest); ok {
		_, _, werr := SplitByTraceWire(data.Materialize(), "")
		if we := (*wireError)(nil); errors.As(werr, &we) {
			return we
		}
	}
	return err
}

// zstdCompressor is zstd in its stream format, with pooled coders.
type zstdCompressor struct{}

var zstdEncoders, zstdDecoders sync.Pool

// zstdMaxWindow bounds the memory a zstd frame can make a decoder allocate
// (klauspost's default allows 512 MiB); encoders use at most 8 MiB by
// default.
const zstdMaxWindow = 64 << 20

func (zstdCompressor) Name() string { return "zstd" }

func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	enc, _ := zstdEncoders.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		if enc, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1)); err != nil {
			return nil, err
		}
	} else {
		enc.Reset(w)
	}
	return &zstdWriter{enc}, nil
}

type zstdWriter struct{ *zstd.Encoder }

func (z *zstdWriter) Close() error {
	err := z.Encoder.Close()
	zstdEncoders.Put(z.Encoder)
	return err
}

func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	dec, _ := zstdDecoders.Get().(*zstd.Decoder)
	if dec == nil {
		var err error
		if dec, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow)); err != nil {
			return nil, err
		}
	} else if err := dec.Reset(r); err != nil {
		zstdDecoders.Put(dec)
		return nil, err
	}
	return &zstdReader{dec: dec}, nil
}

// zstdReader returns its decoder to the pool when grpc-go closes it.
type zstdReader struct{ dec *zstd.Decoder }

func (z *zstdReader) Read(p []byte) (int, error) { return z.dec.Read(p) }

func (z *zstdReader) Close() error {
	if z.dec != nil {
		zstdDecoders.Put(z.dec)
		z.dec = nil
	}
	return nil
}

// snappyCompressor is snappy's framed stream format.
type snappyCompressor struct{}

func (snappyCompressor) Name() string { return "snappy" }

func (snappyCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	return snappy.NewBufferedWriter(w), nil
}

func (snappyCompressor) Decompress(r io.Reader) (io.Reader, error) {
	return snappy.NewReader(r), nil
}
