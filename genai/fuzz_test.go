package genai

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

// The fuzz targets of genai's decoders: a spans-topic record
// (AppendSpanRecord, which maps through AppendSpans) and the chainwatch JSON
// form (DecodeJSONBatch). Each asserts properties of what it decodes, not
// only that nothing panics; FuzzMessages (jscan_test.go) covers the message
// attributes' JSON. `make fuzz` runs each for $(FUZZTIME).

// fixtureRequests reads the dialect fixtures (OTLP/JSON as real
// instrumentations send it) as requests.
func fixtureRequests(tb testing.TB) []*coltracepb.ExportTraceServiceRequest {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "dialects", "*.otlp.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures under testdata/dialects (%v)", err)
	}
	var out []*coltracepb.ExportTraceServiceRequest
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			tb.Fatal(err)
		}
		var fix func(any)
		fix = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if s, ok := e.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
						id, err := hex.DecodeString(s)
						if err != nil {
							tb.Fatalf("%s: %s %q: %v", p, k, s, err)
						}
						x[k] = base64.StdEncoding.EncodeToString(id)
						continue
					}
					fix(e)
				}
			case []any:
				for _, e := range x {
					fix(e)
				}
			}
		}
		fix(doc)
		fixed, err := json.Marshal(doc)
		if err != nil {
			tb.Fatal(err)
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := protojson.Unmarshal(fixed, req); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, req)
	}
	return out
}

var (
	lowerHex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	lowerHex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// checkStorable fails t unless s passes the structural checks every stored
// span passes: ids in lower-case hex, end not before start, times in UTC.
func checkStorable(t *testing.T, i int, s *schemas.Span) {
	t.Helper()
	if !lowerHex32.MatchString(s.TraceID) || !lowerHex16.MatchString(s.SpanID) ||
		(s.ParentSpanID != "" && !lowerHex16.MatchString(s.ParentSpanID)) {
		t.Fatalf("span %d has ids %q/%q/%q", i, s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if s.EndTime.Before(s.StartTime) {
		t.Fatalf("span %d ends (%v) before it starts (%v)", i, s.EndTime, s.StartTime)
	}
	if s.StartTime.Location() != time.UTC || s.EndTime.Location() != time.UTC {
		t.Fatalf("span %d has times outside UTC: %v, %v", i, s.StartTime, s.EndTime)
	}
	if s.InputTokens < 0 || s.OutputTokens < 0 {
		t.Fatalf("span %d has negative token counts %d/%d", i, s.InputTokens, s.OutputTokens)
	}
}

// FuzzAppendSpanRecord fuzzes the writer's decoder of a spans-topic record:
//   - on error it returns dst unchanged (same length, same spans) and a
//     *RecordError whose reason is "decode" exactly when proto.Unmarshal
//     refuses the value, "invalid" otherwise, and an invalid record's error
//     names its spans (resource_spans[i].scope_spans[j].spans[k]);
//   - on success it appends one span per span of the request, each
//     storable (lower-case hex ids, end not before start, UTC times), after
//     dst's spans, which it leaves alone;
//   - it is deterministic, and mapping a span does not depend on the other
//     spans of the record: the request split into one record per span maps
//     to the same spans.
func FuzzAppendSpanRecord(f *testing.F) {
	for _, req := range fixtureRequests(f) {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		bad := proto.Clone(req).(*coltracepb.ExportTraceServiceRequest)
		bad.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId = []byte{1, 2, 3}
		bb, _ := proto.Marshal(bad)
		f.Add(bb)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	prefix := []schemas.Span{{TraceID: "already-there", Name: "prefix"}}
	f.Fuzz(func(t *testing.T, value []byte) {
		dst := slices.Clone(prefix)
		got, err := AppendSpanRecord(dst, value)
		req := &coltracepb.ExportTraceServiceRequest{}
		uerr := proto.Unmarshal(value, req)
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("error is a %T, not a *RecordError: %v", err, err)
			}
			if !reflect.DeepEqual(got, prefix) {
				t.Fatalf("error (%v) but dst changed: %+v", err, got)
			}
			if (uerr != nil) != (re.Reason == ReasonDecode) {
				t.Fatalf("reason %q, but proto.Unmarshal says %v", re.Reason, uerr)
			}
			if re.Reason == ReasonInvalid {
				for _, line := range strings.Split(re.Msg, "\n") {
					if !strings.HasPrefix(line, "resource_spans[") && !strings.HasSuffix(line, " more spans with errors") {
						t.Fatalf("invalid-record error line names no span: %q", line)
					}
				}
			}
			return
		}
		if uerr != nil {
			t.Fatalf("accepted a value proto.Unmarshal refuses (%v)", uerr)
		}
		if !reflect.DeepEqual(got[:len(prefix)], prefix) {
			t.Fatalf("dst's spans changed: %+v", got[:len(prefix)])
		}
		spans := got[len(prefix):]
		var one []*coltracepb.ExportTraceServiceRequest
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					rs1 := proto.Clone(rs).(*tracepb.ResourceSpans)
					ss1 := proto.Clone(ss).(*tracepb.ScopeSpans)
					ss1.Spans = []*tracepb.Span{sp}
					rs1.ScopeSpans = []*tracepb.ScopeSpans{ss1}
					one = append(one, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{rs1}})
				}
			}
		}
		if len(spans) != len(one) {
			t.Fatalf("%d spans mapped from a request of %d", len(spans), len(one))
		}
		for i := range spans {
			checkStorable(t, i, &spans[i])
		}
		again, err := AppendSpanRecord(nil, value)
		if err != nil || len(again) != len(spans) || len(spans) > 0 && !reflect.DeepEqual(again, spans) {
			t.Fatalf("decoding twice differs (%v)", err)
		}
		for i, r := range one {
			alone, err := AppendSpans(nil, r)
			if err != nil || len(alone) != 1 {
				t.Fatalf("span %d alone: %d spans, %v", i, len(alone), err)
			}
			if !reflect.DeepEqual(alone[0], spans[i]) {
				aj, _ := json.MarshalIndent(alone[0], "", " ")
				sj, _ := json.MarshalIndent(spans[i], "", " ")
				t.Fatalf("span %d maps differently alone\nalone:      %s\nin request: %s", i, aj, sj)
			}
		}
	})
}

// sortedJSON is spans as a sorted list of their JSON encodings: a multiset
// to compare where only the order may differ (ToOTLP groups by resource).
func sortedJSON(t *testing.T, spans []schemas.Span) []string {
	t.Helper()
	out := make([]string, len(spans))
	for i := range spans {
		b, err := json.Marshal(spans[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}

// FuzzDecodeJSONBatch fuzzes the chainwatch JSON span form:
//   - it returns a batch or an error, never both;
//   - every error names where: each span error (*BatchError) its span and
//     field, bad text its path and byte offset, and the rest say what about
//     the document is wrong ("decoding chainwatch JSON batch: …", "spans: …");
//   - every accepted span is storable (lower-case hex ids, end not before
//     start, UTC times, known status, no negative token count);
//   - as documented, the batch is normalized as it will be stored: through
//     ToOTLP and AppendSpans, and through the protobuf record the writer
//     decodes (AppendSpanRecord), it comes back unchanged;
//   - decoding is idempotent: the accepted batch encoded as JSON decodes to
//     itself.
func FuzzDecodeJSONBatch(f *testing.F) {
	goldens, _ := filepath.Glob(filepath.Join("testdata", "dialects", "*.golden.json"))
	for _, p := range goldens {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(`{"spans":` + string(b) + `}`)
	}
	for _, s := range []string{
		`{"spans":[{"trace_id":"0102030405060708090A0B0C0D0E0F10","span_id":"0102030405060708","name":"n","start_time":"2025-10-09T08:53:20+02:00","end_time":"2025-10-09T08:53:21.5+02:00","attributes":{"gen_ai.request.model":"m","n":1,"b":true,"a":[1,"x"],"o":{"k":null}}}]}`,
		`{"spans":[]}`, `{"spans":[{}]}`, `[]`, ``, `{"spans":[{"trace_id":1}]} x`,
		`{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708","start_time":"x","end_time":"2025-10-09T08:53:21Z"}]}`,
		`{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z","input_text":"\udc00","status":"error","input_tokens":-1}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		b, err := DecodeJSONBatch(strings.NewReader(body))
		if (b == nil) == (err == nil) {
			t.Fatalf("batch %v and error %v", b, err)
		}
		if err != nil {
			leaves := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				leaves = j.Unwrap()
			}
			for _, e := range leaves {
				var be *BatchError
				var te *schemas.JSONTextError
				msg := e.Error()
				switch {
				case errors.As(e, &be), errors.As(e, &te):
				case strings.HasPrefix(msg, "decoding chainwatch JSON batch: "), strings.HasPrefix(msg, "spans: "),
					strings.HasPrefix(msg, "and ") && strings.HasSuffix(msg, " more spans with errors"):
				default:
					t.Fatalf("error names no location: %q", msg)
				}
			}
			return
		}
		for i := range b.Spans {
			s := &b.Spans[i]
			checkStorable(t, i, s)
			if s.Status != schemas.StatusUnset && s.Status != schemas.StatusOK && s.Status != schemas.StatusError {
				t.Fatalf("span %d accepted with status %q", i, s.Status)
			}
		}
		want := sortedJSON(t, b.Spans)
		back, err := AppendSpans(nil, b.ToOTLP())
		if err != nil {
			t.Fatalf("AppendSpans(ToOTLP) refuses an accepted batch: %v", err)
		}
		if got := sortedJSON(t, back); !slices.Equal(got, want) {
			t.Fatalf("ToOTLP and AppendSpans changed the batch\n got: %v\nwant: %v", got, want)
		}
		rec, err := proto.Marshal(b.ToOTLP())
		if err != nil {
			t.Fatal(err)
		}
		fromRec, err := AppendSpanRecord(nil, rec)
		if err != nil {
			t.Fatalf("the batch's record does not decode: %v", err)
		}
		if got := sortedJSON(t, fromRec); !slices.Equal(got, want) {
			t.Fatalf("the batch's record decodes to other spans\n got: %v\nwant: %v", got, want)
		}
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := DecodeJSONBatch(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("the accepted batch encoded again is refused: %v\n%s", err, enc)
		}
		if got := sortedJSON(t, b2.Spans); !slices.Equal(got, want) {
			t.Fatalf("decoding the accepted batch again changes it\n got: %v\nwant: %v", got, want)
		}
	})
}
