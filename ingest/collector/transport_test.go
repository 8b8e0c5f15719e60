package collector

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	kflate "github.com/klauspost/compress/flate"
	kzlib "github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus/testutil"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
)

// Compressions as other senders write them: klauspost/compress (what the
// OpenTelemetry Collector's confighttp uses for zstd and deflate) and the
// standard library.
func zstdBytes(b []byte) []byte {
	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := kzlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func stdZlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func rawDeflateBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := kflate.NewWriter(&buf, kflate.DefaultCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func stdRawDeflateBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// OTLP/HTTP bodies in every Content-Encoding exporters send are accepted;
// a compression bomb in each is a 413 naming the decompressed size, and
// garbage in each a 400 naming the encoding.
func TestCollectorContentEncodings(t *testing.T) {
	req := ingesttest.Request(11, 3, 2)
	pb, _ := proto.Marshal(req)
	bomb := append([]byte{0x0a}, bytes.Repeat([]byte{0}, 4<<20)...) // 4 MiB of a 1 MiB limit
	for _, tc := range []struct {
		enc      string
		compress func([]byte) []byte
	}{
		{"gzip", gz},
		{"zstd", zstdBytes},
		{"deflate", zlibBytes},
		{"deflate", stdZlibBytes},
		{"deflate", rawDeflateBytes},
		{"deflate", stdRawDeflateBytes},
		{"x-gzip", gz},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			prod := &fakeProducer{}
			c, srv := newTestCollector(t, prod)
			code, body, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", tc.compress(pb), "Content-Encoding", tc.enc)
			if code != 200 || len(prod.recs) != 3 {
				t.Fatalf("got %d %q and %d records, want 200 and 3", code, body, len(prod.recs))
			}
			compressedBomb := tc.compress(bomb)
			if len(compressedBomb) > 64<<10 {
				t.Fatalf("bomb compressed to %d bytes", len(compressedBomb))
			}
			code, body, _ = post(t, srv.URL+"/v1/traces", "application/x-protobuf", compressedBomb, "Content-Encoding", tc.enc)
			if code != 413 || !strings.Contains(body, "decompressed") || !strings.Contains(body, "max_body_bytes") {
				t.Fatalf("bomb: got %d %q, want 413 naming the decompressed size", code, body)
			}
			// Admission counted the decompressed bytes, not the few sent.
			if _, peak := c.inflight.held(); peak < 1<<20 {
				t.Fatalf("admission peaked at %d bytes reading a %d-byte bomb; want the decompressed bytes (over 1 MiB) counted", peak, len(compressedBomb))
			}
			if now, _ := c.inflight.held(); now != 0 {
				t.Fatalf("%d in-flight bytes still held after the answers", now)
			}
			code, body, _ = post(t, srv.URL+"/v1/traces", "application/x-protobuf", []byte("\x78\x9cnot compressed at all"), "Content-Encoding", tc.enc)
			if code != 400 || !strings.Contains(body, "reading "+tc.enc+" body") {
				t.Fatalf("garbage: got %d %q, want 400 naming %s", code, body, tc.enc)
			}
			if len(prod.recs) != 3 {
				t.Fatalf("refused bodies produced records: %d", len(prod.recs))
			}
		})
	}
	prod := &fakeProducer{}
	_, srv := newTestCollector(t, prod)
	code, body, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", pb, "Content-Encoding", "br")
	if code != 415 || !strings.Contains(body, "zstd") {
		t.Fatalf("br: got %d %q, want 415 listing the encodings", code, body)
	}
}

// answerText is the message of an answer: a google.rpc.Status (protobuf or
// JSON, as the request) on /v1/traces' errors, partial_success'
// error_message on its 200s, {"error": …} on the chainwatch endpoints'
// errors. It fails the test when the body is not in that form.
func answerText(t *testing.T, path, ctype string, code int, body string) string {
	t.Helper()
	switch {
	case path != "/v1/traces" && code == 200:
		return body
	case path != "/v1/traces":
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Fatalf("%s answered %d with %q, not {\"error\": …}: %v", path, code, body, err)
		}
		return e.Error
	case code == 200:
		resp := &coltracepb.ExportTraceServiceResponse{}
		if err := unmarshalAnswer(ctype, body, resp); err != nil {
			t.Fatalf("200 body %q is not an ExportTraceServiceResponse in %s: %v", body, ctype, err)
		}
		return resp.GetPartialSuccess().GetErrorMessage()
	}
	st := &spb.Status{}
	if err := unmarshalAnswer(ctype, body, st); err != nil || st.Message == "" {
		t.Fatalf("%d body %q is not a google.rpc.Status in %s: %v", code, body, ctype, err)
	}
	return st.Message
}

func unmarshalAnswer(ctype, body string, m proto.Message) error {
	if ctype == "application/json" {
		return protojson.Unmarshal([]byte(body), m)
	}
	return proto.Unmarshal([]byte(body), m)
}

// Every rejection is counted with its reason and logged: the first at
// Info, the next ones within rejectLogEvery at Debug (a client looping on
// bad data cannot flood the log), and spans left out by partial success
// likewise.
func TestRejectionsLoggedAndCounted(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMetrics(nil)
	c := New(Config{MaxBodyBytes: 1 << 20}, kafka.Config{}.WithDefaults().Topics, &fakeProducer{}, m, logger)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	for range 3 {
		post(t, srv.URL+"/v1/traces", "application/x-protobuf", []byte{0xff})
	}
	post(t, srv.URL+"/v1/traces", "application/x-protobuf", []byte("x"), "Content-Encoding", "br")
	req := ingesttest.Request(9, 1, 2)
	req.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = nil
	pb, _ := proto.Marshal(req)
	post(t, srv.URL+"/v1/traces", "application/x-protobuf", pb)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d log lines, want one per rejection (5):\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		"level=INFO msg=\"collector request rejected\" endpoint=traces status=400 reason=bad_request",
		"level=DEBUG msg=\"collector request rejected\" endpoint=traces status=400 reason=bad_request",
		"level=DEBUG msg=\"collector request rejected\" endpoint=traces status=400 reason=bad_request",
		"level=DEBUG msg=\"collector request rejected\" endpoint=traces status=415 reason=unsupported_media_type",
		"level=DEBUG msg=\"collector rejected invalid spans\" endpoint=traces rejected=1 stored=1",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d %q lacks %q", i, lines[i], want)
		}
	}
	for reason, want := range map[string]float64{reasonBadRequest: 3, reasonUnsupported: 1} {
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("traces", reason)); got != want {
			t.Errorf("rejected_total{traces,%s} = %v, want %v", reason, got, want)
		}
	}
	if got := testutil.ToFloat64(m.RejectedSpans.WithLabelValues("traces", "invalid_span_id")); got != 1 {
		t.Errorf("rejected_spans_total{traces,invalid_span_id} = %v, want 1", got)
	}
	// After rejectLogEvery, Info again, saying how many went to Debug.
	c.rejectLog.mu.Lock()
	c.rejectLog.next = time.Now()
	c.rejectLog.mu.Unlock()
	buf.Reset()
	post(t, srv.URL+"/v1/traces", "application/x-protobuf", []byte{0xff})
	if !strings.Contains(buf.String(), "level=INFO") || !strings.Contains(buf.String(), "rejections_logged_at_debug_since=4") {
		t.Fatalf("after the interval: %s", buf.String())
	}
}
