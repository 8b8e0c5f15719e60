package pipeline_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
)

// The bad-input matrix: every kind of malformed, hostile or odd request
// on every endpoint, against the whole pipeline (collector, kfake, writer,
// ClickHouse 18.16). Each is answered with the status the OTLP
// specification (or the endpoint's contract) asks for and a message that
// names what is wrong and where; the process keeps serving; nothing
// invalid is stored; every valid span beside an invalid one is stored,
// once.
func TestBadInputMatrix(t *testing.T) {
	p := startPipeline(t, pipeline.Options{Collector: collector.Config{MaxBodyBytes: 4 << 20}})
	url := "http://" + p.Collector.HTTPAddr()
	now := time.Now()
	var seq uint64
	// span makes a valid span of a trace of its own, named name; its trace
	// id is what the checks below look for.
	span := func(name string, attrs ...*commonpb.KeyValue) *tracepb.Span {
		seq++
		tid := make([]byte, 16)
		copy(tid, fmt.Sprintf("bad-input-%06d", seq))
		return &tracepb.Span{TraceId: tid, SpanId: []byte(fmt.Sprintf("sp%06d", seq)), Name: name,
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
			Attributes: append([]*commonpb.KeyValue{kv("chainwatch.app", "badinput")}, attrs...)}
	}
	req := func(spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
		return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
	}
	pb := func(m proto.Message) []byte { b, _ := proto.Marshal(m); return b }
	js := func(m proto.Message) string { // OTLP/JSON: hex ids
		b, _ := protojson.Marshal(m)
		return hexIDs(string(b))
	}
	gzipOf := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	bomb := gzipOf(make([]byte, 512<<20)) // 512 MiB of zeros, ~0.5 MiB compressed
	valid := pb(req(span("ok")))
	manyAttrs := make([]*commonpb.KeyValue, 100_000)
	for i := range manyAttrs {
		manyAttrs[i] = kv(fmt.Sprintf("k%06d", i), "v")
	}
	deep := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	// proto.Marshal refuses invalid UTF-8: encode a placeholder of the
	// same length and swap the byte in.
	badUTF8 := span("bad \x01 name")
	badUTF8Body := bytes.Replace(pb(req(badUTF8)), []byte("bad \x01 name"), []byte("bad \xff name"), 1)
	// A protobuf string that is not UTF-8 makes the body undecodable by
	// proto3's rules (every protobuf library, the OpenTelemetry
	// Collector's receiver included, refuses it whole): a 400 naming the
	// field and byte, not a partial success.
	future, past := span("future"), span("zero start")
	future.StartTimeUnixNano, future.EndTimeUnixNano = uint64(1)<<63, uint64(1)<<63
	past.StartTimeUnixNano = 0
	shortID := span("short id")
	shortID.SpanId = []byte{1, 2, 3}
	dupA, dupB := span("dup"), span("dup")
	dupB.TraceId, dupB.SpanId = dupA.TraceId, dupA.SpanId

	type tc struct {
		name, path, ctype, enc string
		body                   []byte
		code                   int
		msg                    string // regexp the message must match
		stored                 []*tracepb.Span
		rejected               []*tracepb.Span
	}
	stored := func(s ...*tracepb.Span) []*tracepb.Span { return s }
	bigAttr, manyAttrSpan, nanSpan, okBeside := span("1 MB attribute", kv("big", strings.Repeat("x", 1<<20))), span("100k attributes", manyAttrs...), span("nan",
		&commonpb.KeyValue{Key: "score", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: nan()}}}), span("valid beside invalid")
	cases := []tc{
		{name: "empty protobuf", path: "/v1/traces", ctype: "application/x-protobuf", body: nil, code: 200},
		{name: "empty JSON", path: "/v1/traces", ctype: "application/json", body: nil, code: 400, msg: `decoding OTLP JSON: EOF`},
		{name: "truncated protobuf", path: "/v1/traces", ctype: "application/x-protobuf", body: valid[:len(valid)/2], code: 400, msg: `byte \d+`},
		{name: "random bytes", path: "/v1/traces", ctype: "application/x-protobuf", body: random, code: 400, msg: `(?i)byte \d+|invalid|cannot parse`},
		{name: "wrong content type", path: "/v1/traces", ctype: "text/plain", body: valid, code: 415, msg: `Content-Type "text/plain" is not supported on /v1/traces; use application/x-protobuf`},
		{name: "unknown content encoding", path: "/v1/traces", ctype: "application/x-protobuf", enc: "br", body: valid, code: 415, msg: `(?i)content-encoding.*br`},
		{name: "compression bomb", path: "/v1/traces", ctype: "application/x-protobuf", enc: "gzip", body: bomb, code: 413, msg: `4194304`},
		{name: "over the body limit", path: "/v1/traces", ctype: "application/x-protobuf", body: make([]byte, 5<<20), code: 413, msg: `4194304`},
		{name: "invalid UTF-8 in a protobuf string", path: "/v1/traces", ctype: "application/x-protobuf", body: badUTF8Body, code: 400, msg: `string field contains invalid UTF-8 \(opentelemetry.proto.trace.v1.Span.name at byte 3\d\)`, rejected: stored(badUTF8)},
		{name: "invalid UTF-8 in JSON", path: "/v1/traces", ctype: "application/json", body: []byte(strings.Replace(js(req(span("x"))), `"x"`, "\"\xff\"", 1)), code: 400, msg: `name: invalid UTF-8 at byte \d+`},
		{name: "1 MB attribute", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(bigAttr)), code: 200, stored: stored(bigAttr)},
		{name: "100k attributes", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(manyAttrSpan)), code: 200, stored: stored(manyAttrSpan)},
		{name: "10k-deep JSON", path: "/v1/traces", ctype: "application/json", body: []byte(deep), code: 400, msg: `JSON nested deeper than 256 levels at byte 1280`},
		{name: "NaN attribute", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(nanSpan)), code: 200, stored: stored(nanSpan)},
		{name: "NaN feedback score", path: "/v1/feedback", ctype: "application/json", body: []byte(`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":NaN}`), code: 400, msg: `byte \d+|score`},
		{name: "absurd timestamps beside a valid span", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(future, okBeside, past)), code: 200,
			msg: `2 of 3 spans rejected.*spans\[0\].*start_time_unix_nano.*outside the storable range.*spans\[2\].*start_time_unix_nano: must not be zero`, stored: stored(okBeside), rejected: stored(future, past)},
		{name: "malformed span id", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(shortID)), code: 400, msg: `spans\[0\]: span_id: must be 8 bytes, got 3`, rejected: stored(shortID)},
		{name: "malformed hex id in JSON", path: "/v1/traces", ctype: "application/json", body: []byte(strings.Replace(js(req(span("hexless"))), `"traceId":"`, `"traceId":"zz`, 1)), code: 400, msg: `spans\[0\]: trace_id: ".*" is not hex`},
		{name: "duplicate ids", path: "/v1/traces", ctype: "application/x-protobuf", body: pb(req(dupA, dupB)), code: 200, stored: stored(dupA)},
		{name: "unknown JSON fields are ignored", path: "/v1/traces", ctype: "application/json", body: []byte(strings.Replace(js(req(span("unknown"))), `{"resourceSpans"`, `{"futureField":{"x":[1]},"resourceSpans"`, 1)), code: 200},
		{name: "missing ids", path: "/v1/traces", ctype: "application/json", body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"no ids","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`), code: 400, msg: `spans\[0\]: trace_id: must be 16 bytes, got 0`},
		{name: "wrong types", path: "/v1/traces", ctype: "application/json", body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}`), code: 400, msg: `resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]`},
		{name: "chainwatch JSON: unknown field", path: "/v1/spans", ctype: "application/json", body: []byte(`{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","colour":"red"}]}`), code: 400, msg: `spans\[0\].*colour`},
		{name: "chainwatch JSON: wrong type", path: "/v1/spans", ctype: "application/json", body: []byte(`{"spans":[{"trace_id":5}]}`), code: 400, msg: `spans\[0\]\.trace_id`},
		{name: "logs: truncated", path: "/v1/logs", ctype: "application/x-protobuf", body: pb(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hello"}}}}}}}}})[:9], code: 400, msg: `decoding OTLP protobuf logs`},
		{name: "logs: random bytes", path: "/v1/logs", ctype: "application/x-protobuf", body: random, code: 400, msg: `decoding OTLP protobuf logs`},
		{name: "feedback: missing trace id", path: "/v1/feedback", ctype: "application/json", body: []byte(`{"score":1}`), code: 400, msg: `trace_id`},
		{name: "feedback: wrong type", path: "/v1/feedback", ctype: "application/json", body: []byte(`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":"high"}`), code: 400, msg: `score`},
	}
	var wantStored, wantAbsent []*tracepb.Span
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hreq, _ := http.NewRequest(http.MethodPost, url+c.path, bytes.NewReader(c.body))
			hreq.Header.Set("Content-Type", c.ctype)
			if c.enc != "" {
				hreq.Header.Set("Content-Encoding", c.enc)
			}
			resp, err := http.DefaultClient.Do(hreq)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			msg := answerMessage(resp.Header.Get("Content-Type"), body)
			if resp.StatusCode != c.code {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.code, msg)
			}
			if c.msg != "" && !regexp.MustCompile(c.msg).MatchString(msg) {
				t.Errorf("message %q does not match %q", msg, c.msg)
			}
		})
		wantStored = append(wantStored, c.stored...)
		wantAbsent = append(wantAbsent, c.rejected...)
	}
	// Still serving: a valid request after all of it is stored.
	last := span("after the matrix")
	if code := send(t, url, req(last)); code != 200 {
		t.Fatalf("valid request after the matrix: %d", code)
	}
	wantStored = append(wantStored, last)
	for _, s := range wantStored {
		waitCount(t, p.Conn, fmt.Sprintf("SELECT count() FROM spans FINAL WHERE trace_id = '%x' AND span_id = '%x'", s.TraceId, s.SpanId), 1, 30*time.Second)
	}
	for _, s := range wantAbsent {
		if n := count(t, p.Conn, fmt.Sprintf("SELECT count() FROM spans WHERE trace_id = '%x'", s.TraceId)); n != 0 {
			t.Errorf("rejected span %q stored %d times", s.Name, n)
		}
	}
	var attrLen, attrCount uint64
	if err := p.Conn.QueryRow(context.Background(), fmt.Sprintf("SELECT length(attr_values[indexOf(attr_keys, 'big')]), (SELECT length(attr_keys) FROM spans WHERE trace_id = '%x' LIMIT 1) FROM spans WHERE trace_id = '%x' LIMIT 1", manyAttrSpan.TraceId, bigAttr.TraceId)).Scan(&attrLen, &attrCount); err != nil {
		t.Fatal(err)
	}
	if attrLen != 1<<20 || attrCount != 100_000 {
		t.Errorf("the 1 MB attribute stored with %d bytes, the 100k attributes as %d", attrLen, attrCount)
	}
	// Only what the cases named as stored reached ClickHouse for this app.
	if n := count(t, p.Conn, "SELECT uniqExact(trace_id, span_id) FROM spans WHERE app = 'badinput'"); n != uint64(len(wantStored))+1 { // + "unknown JSON fields"
		t.Errorf("%d distinct spans stored for the matrix, want %d", n, len(wantStored)+1)
	}
}

func nan() float64 { var z float64; return z / z }

// answerMessage is the message of an error answer: a google.rpc.Status in
// protobuf or JSON, or {"error": …}; the body itself otherwise.
func answerMessage(ctype string, body []byte) string {
	var st spb.Status
	switch {
	case strings.HasPrefix(ctype, "application/x-protobuf") || strings.HasPrefix(ctype, "application/protobuf"):
		if proto.Unmarshal(body, &st) == nil && st.Message != "" {
			return st.Message
		}
		var ok coltracepb.ExportTraceServiceResponse
		if proto.Unmarshal(body, &ok) == nil && ok.PartialSuccess != nil {
			return ok.PartialSuccess.ErrorMessage
		}
	case strings.HasPrefix(ctype, "application/json"):
		if protojson.Unmarshal(body, &st) == nil && st.Message != "" {
			return st.Message
		}
	}
	return string(body)
}

// hexIDs rewrites protojson's base64 ids as OTLP/JSON's hex.
func hexIDs(s string) string {
	re := regexp.MustCompile(`"(traceId|spanId|parentSpanId)":"([^"]*)"`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		b, _ := decodeB64(sub[2])
		return fmt.Sprintf(`"%s":"%x"`, sub[1], b)
	})
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
