package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
)

// fakeProducer acks or fails every record with err, and keeps what it acked.
type fakeProducer struct {
	mu   sync.Mutex
	err  error
	recs []*kgo.Record
}

func (f *fakeProducer) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	err := f.err
	if err == nil {
		f.recs = append(f.recs, r)
	}
	f.mu.Unlock()
	promise(r, err)
}

func newTestCollector(t *testing.T, prod Producer, keys ...string) (*Collector, *httptest.Server) {
	t.Helper()
	c := New(Config{MaxBodyBytes: 1 << 20, APIKeys: keys}, kafka.Config{}.WithDefaults().Topics, prod, NewMetrics(nil), nil)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return c, srv
}

func post(t *testing.T, url, ctype string, body []byte, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), resp.Header
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestCollectorAcceptsAndSplitsByTrace(t *testing.T) {
	prod := &fakeProducer{}
	_, srv := newTestCollector(t, prod)
	req := ingesttest.Request(1, 5, 3)
	pb, _ := proto.Marshal(req)
	js, _ := protojson.Marshal(req) // base64 ids: not OTLP/JSON; rewritten below
	otlpJSON := hexifyIDs(t, js)

	for _, tc := range []struct {
		name, ctype string
		body        []byte
		hdr         []string
	}{
		{"protobuf", "application/x-protobuf", pb, nil},
		{"protobuf gzip", "application/x-protobuf", gz(pb), []string{"Content-Encoding", "gzip"}},
		{"json", "application/json", otlpJSON, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prod.recs = nil
			code, body, _ := post(t, srv.URL+"/v1/traces", tc.ctype, tc.body, tc.hdr...)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if len(prod.recs) != 5 {
				t.Fatalf("produced %d records, want one per trace (5)", len(prod.recs))
			}
			for _, r := range prod.recs {
				var got coltracepb.ExportTraceServiceRequest
				if err := proto.Unmarshal(r.Value, &got); err != nil {
					t.Fatal(err)
				}
				spans := got.ResourceSpans[0].ScopeSpans[0].Spans
				if len(spans) != 3 {
					t.Fatalf("record holds %d spans, want 3", len(spans))
				}
				for _, sp := range spans {
					if hex.EncodeToString(sp.TraceId) != string(r.Key) {
						t.Fatalf("span of trace %x in record keyed %s", sp.TraceId, r.Key)
					}
				}
				if got.ResourceSpans[0].Resource == nil || len(got.ResourceSpans[0].Resource.Attributes) == 0 {
					t.Fatal("resource lost in the split")
				}
			}
		})
	}
}

// hexifyIDs turns protobuf-JSON (base64 ids) into OTLP/JSON (hex ids).
func hexifyIDs(t *testing.T, js []byte) []byte {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(js, &req); err != nil {
		t.Fatal(err)
	}
	s := string(js)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				for _, id := range [][]byte{sp.TraceId, sp.SpanId, sp.ParentSpanId} {
					if len(id) > 0 {
						b64 := strings.Trim(string(mustJSON(id)), `"`)
						s = strings.ReplaceAll(s, `"`+b64+`"`, `"`+hex.EncodeToString(id)+`"`)
					}
				}
			}
		}
	}
	return []byte(s)
}

func mustJSON(b []byte) []byte { return []byte(`"` + base64.StdEncoding.EncodeToString(b) + `"`) }

func TestCollectorRejections(t *testing.T) {
	good, _ := proto.Marshal(ingesttest.Request(2, 2, 2))
	badSpan := ingesttest.Request(3, 1, 2) // every span invalid: a 400 (one valid span would make it a partial success)
	badSpan.ResourceSpans[0].ScopeSpans[0].Spans[0].EndTimeUnixNano = 1
	badSpan.ResourceSpans[0].ScopeSpans[0].Spans[1].TraceId = []byte{1, 2, 3}
	badSpanPB, _ := proto.Marshal(badSpan)
	big := bytes.Repeat([]byte("x"), 2<<20)
	bomb := gz(append([]byte{0x0a}, bytes.Repeat([]byte{0}, 4<<20)...))

	cases := []struct {
		name     string
		path     string
		ctype    string
		body     []byte
		hdr      []string
		keys     []string
		prodErr  error
		want     int
		wantText string
	}{
		{"garbage protobuf", "/v1/traces", "application/x-protobuf", []byte{0xff, 0xff, 0xff}, nil, nil, nil, 400, "decoding OTLP protobuf"},
		{"garbage json", "/v1/traces", "application/json", []byte("{not json"), nil, nil, nil, 400, "decoding OTLP JSON"},
		{"json with non-hex id", "/v1/traces", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), nil, nil, nil, 400, `resource_spans[0].scope_spans[0].spans[0]: trace_id: "zz" is not hex`},
		{"invalid spans name the span and field", "/v1/traces", "application/x-protobuf", badSpanPB, nil, nil, nil, 400, "spans[1]: trace_id: must be 16 bytes, got 3"},
		{"wrong content type", "/v1/traces", "text/plain", good, nil, nil, nil, 415, "Content-Type"},
		{"unknown encoding", "/v1/traces", "application/x-protobuf", good, []string{"Content-Encoding", "br"}, nil, nil, 415, "Content-Encoding"},
		{"oversize body", "/v1/traces", "application/x-protobuf", big, nil, nil, nil, 413, "max_body_bytes"},
		{"gzip bomb", "/v1/traces", "application/x-protobuf", bomb, []string{"Content-Encoding", "gzip"}, nil, nil, 413, "decompressed"},
		{"missing api key", "/v1/traces", "application/x-protobuf", good, nil, []string{"secret-key-1"}, nil, 401, "API key"},
		{"wrong api key", "/v1/traces", "application/x-protobuf", good, []string{"Authorization", "Bearer nope-nope-nope"}, []string{"secret-key-1"}, nil, 401, "API key"},
		{"buffer full", "/v1/traces", "application/x-protobuf", good, nil, nil, kgo.ErrMaxBuffered, 503, "buffer is full"},
		{"kafka failing", "/v1/traces", "application/x-protobuf", good, nil, nil, context.DeadlineExceeded, 503, "Kafka did not acknowledge"},
		{"json spans: bad trace id", "/v1/spans", "application/json", []byte(`{"spans":[{"trace_id":"xyz","span_id":"0102030405060708","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z"}]}`), nil, nil, nil, 400, "spans[0].trace_id"},
		{"feedback: no trace", "/v1/feedback", "application/json", []byte(`{"score":1}`), nil, nil, nil, 400, "feedback[0].trace_id"},
		{"feedback: no score or label", "/v1/feedback", "application/json", []byte(`{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10"}]}`), nil, nil, nil, 400, "needs a score or a label"},
		{"feedback: kafka failing", "/v1/feedback", "application/json", []byte(`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1}`), nil, nil, context.DeadlineExceeded, 503, "Kafka"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prod := &fakeProducer{err: tc.prodErr}
			_, srv := newTestCollector(t, prod, tc.keys...)
			code, body, hdr := post(t, srv.URL+tc.path, tc.ctype, tc.body, tc.hdr...)
			if code != tc.want || !strings.Contains(answerText(t, tc.path, tc.ctype, code, body), tc.wantText) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.want, tc.wantText)
			}
			if code == 503 && hdr.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if code >= 400 && len(prod.recs) > 0 {
				t.Fatalf("rejected request still produced %d records", len(prod.recs))
			}
		})
	}
}

func TestCollectorAPIKeyAccepted(t *testing.T) {
	prod := &fakeProducer{}
	_, srv := newTestCollector(t, prod, "secret-key-1", "secret-key-2")
	good, _ := proto.Marshal(ingesttest.Request(4, 1, 1))
	for _, h := range [][]string{{"Authorization", "Bearer secret-key-2"}, {"X-API-Key", "secret-key-1"}} {
		if code, body, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", good, h...); code != 200 {
			t.Fatalf("%v: %d %s", h, code, body)
		}
	}
}

func TestFeedbackIDsAreStable(t *testing.T) {
	body := []byte(`{"trace_id":"0102030405060708090A0B0C0D0E0F10","score":0,"label":"thumbs_down","user_id":"u1"}`)
	a, err := DecodeFeedback(body, time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DecodeFeedback(body, time.Unix(200, 0))
	if a[0].ID != b[0].ID || a[0].ID == "" {
		t.Fatalf("a retry of the same feedback got ids %q and %q", a[0].ID, b[0].ID)
	}
	if a[0].TraceID != "0102030405060708090a0b0c0d0e0f10" || a[0].Source != "user" || *a[0].Score != 0 {
		t.Fatalf("normalised feedback: %+v", a[0])
	}
	other, _ := DecodeFeedback([]byte(`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1,"user_id":"u1"}`), time.Unix(100, 0))
	if other[0].ID == a[0].ID {
		t.Fatal("different feedback got the same id")
	}
}

func TestGRPCExport(t *testing.T) {
	prod := &fakeProducer{}
	c := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", APIKeys: []string{"secret-key-1"}}, kafka.Config{}.WithDefaults().Topics, prod, NewMetrics(nil), nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(c.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := coltracepb.NewTraceServiceClient(conn)
	ctx := context.Background()
	if _, err := cl.Export(ctx, ingesttest.Request(5, 2, 2)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: got %v, want Unauthenticated", err)
	}
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer secret-key-1")
	if _, err := cl.Export(actx, ingesttest.Request(5, 2, 2)); err != nil {
		t.Fatal(err)
	}
	if len(prod.recs) != 2 {
		t.Fatalf("produced %d records, want 2", len(prod.recs))
	}
	bad := ingesttest.Request(6, 1, 1)
	bad.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = nil
	if _, err := cl.Export(actx, bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "span_id") {
		t.Fatalf("bad span: got %v, want InvalidArgument naming span_id", err)
	}
	prod.mu.Lock()
	prod.err = kgo.ErrMaxBuffered
	prod.mu.Unlock()
	if _, err := cl.Export(actx, ingesttest.Request(7, 1, 1)); status.Code(err) != codes.Unavailable {
		t.Fatalf("buffer full: got %v, want Unavailable", err)
	}
}
