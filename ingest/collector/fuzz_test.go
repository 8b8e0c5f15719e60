package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// The fuzz targets of the collector's decoders. Each asserts properties of
// what it decodes, not only that nothing panics. FuzzSplitByTraceWire
// (otlpwire_test.go) holds the wire splitter to the message path record by
// record; the targets here follow the records on to the writer's decoder,
// and cover OTLP/JSON and feedback. `make fuzz` runs each for $(FUZZTIME).

// dialectFixtures are the OTLP/JSON requests genai's dialect tests map:
// what real instrumentations send.
func dialectFixtures(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "genai", "testdata", "dialects", "*.otlp.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no OTLP/JSON fixtures under genai/testdata/dialects (%v)", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// otlpJSON encodes req as OTLP/JSON: protobuf JSON with the trace and span
// ids in hex, as the OTLP specification writes them.
func otlpJSON(tb testing.TB, req *coltracepb.ExportTraceServiceRequest) []byte {
	tb.Helper()
	b, err := protojson.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatal(err)
	}
	hexify := func(m map[string]any) {
		for _, k := range []string{"traceId", "spanId", "parentSpanId"} {
			if s, ok := m[k].(string); ok {
				id, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					tb.Fatalf("%s %q: %v", k, s, err)
				}
				m[k] = hex.EncodeToString(id)
			}
		}
	}
	for _, rs := range asList(doc["resourceSpans"]) {
		for _, ss := range asList(asMap(rs)["scopeSpans"]) {
			for _, sp := range asList(asMap(ss)["spans"]) {
				hexify(asMap(sp))
				for _, ln := range asList(asMap(sp)["links"]) {
					hexify(asMap(ln))
				}
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func asList(v any) []any         { l, _ := v.([]any); return l }
func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// protobufSeeds are OTLP protobuf bodies: the dialect fixtures, the wire
// splitter's generated requests (valid, with invalid spans, corrupted) and
// a few malformed ones.
func protobufSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, js := range dialectFixtures(tb) {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := unmarshalOTLPJSON(js, req); err != nil {
			tb.Fatal(err)
		}
		b, err := proto.Marshal(req)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b, b[:len(b)/2])
	}
	for seed := range uint64(12) {
		g := newGenReq(seed)
		body := g.body()
		out = append(out, body, corrupt(g.rng, body))
	}
	good, _ := proto.Marshal(ingesttest.Request(9, 3, 2))
	out = append(out, good, []byte{}, []byte{0xff, 0xff, 0xff}, []byte{0x0a, 0x02, 0x12, 0x00})
	return out
}

// groupByTrace orders spans as the records of kafka.SplitByTrace hold them:
// traces in order of their first span, each trace's spans in request order.
func groupByTrace(spans []schemas.Span) []schemas.Span {
	first := map[string]int{}
	for i, s := range spans {
		if _, ok := first[s.TraceID]; !ok {
			first[s.TraceID] = i
		}
	}
	out := slices.Clone(spans)
	slices.SortStableFunc(out, func(a, b schemas.Span) int { return first[a.TraceID] - first[b.TraceID] })
	return out
}

// FuzzOTLPProtobufRecords follows an OTLP/HTTP protobuf body from the
// collector's wire splitter to the writer's decoder (genai.AppendSpanRecord):
//   - the splitter and AppendSpanRecord on the whole body give the same
//     verdict, and agree on its kind (malformed protobuf is dead-lettered as
//     "decode", an invalid span as "invalid");
//   - an error comes without records or spans, leaves AppendSpanRecord's dst
//     as it was, and names where: a byte offset for malformed protobuf, the
//     span (resource_spans[i].scope_spans[j].spans[k]) for an invalid one;
//   - an accepted body's records each decode, hold only spans of the trace
//     they are keyed by, and together map to exactly the spans that mapping
//     the whole request gives: nothing lost, duplicated or mapped
//     differently because a trace was cut out of its request.
func FuzzOTLPProtobufRecords(f *testing.F) {
	for _, b := range protobufSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, n, werr := SplitByTraceWire(body, "spans")
		prefix := []schemas.Span{{TraceID: "already-there", Name: "prefix"}}
		whole, rerr := genai.AppendSpanRecord(slices.Clone(prefix), body)
		if (werr == nil) != (rerr == nil) {
			t.Fatalf("verdicts differ: SplitByTraceWire says %v, AppendSpanRecord says %v", werr, rerr)
		}
		if werr != nil {
			if recs != nil || n != 0 {
				t.Fatalf("an error (%v) with %d records of %d spans", werr, len(recs), n)
			}
			var re *genai.RecordError
			if !errors.As(rerr, &re) {
				t.Fatalf("AppendSpanRecord's error is a %T, not a *genai.RecordError: %v", rerr, rerr)
			}
			if !reflect.DeepEqual(whole, prefix) {
				t.Fatalf("AppendSpanRecord failed (%v) but changed dst: %+v", rerr, whole)
			}
			malformed := strings.HasPrefix(werr.Error(), "decoding OTLP protobuf: ")
			if malformed != (re.Reason == genai.ReasonDecode) {
				t.Fatalf("kinds differ: splitter %q, record reason %q (%v)", werr, re.Reason, re)
			}
			if malformed && !strings.Contains(werr.Error(), " at byte ") {
				t.Fatalf("malformed-body error names no byte offset: %v", werr)
			}
			if !malformed {
				for _, msg := range []string{werr.Error(), re.Msg} {
					for _, line := range strings.Split(msg, "\n") {
						if !strings.HasPrefix(line, "resource_spans[") && !strings.HasSuffix(line, " more spans with errors") {
							t.Fatalf("span error line names no span: %q", line)
						}
					}
				}
			}
			return
		}
		want := whole[len(prefix):]
		if n != len(want) {
			t.Fatalf("the splitter counts %d spans, mapping the request gives %d", n, len(want))
		}
		var got []schemas.Span
		for i, r := range recs {
			before := len(got)
			var err error
			got, err = genai.AppendSpanRecord(got, r.Value)
			if err != nil {
				t.Fatalf("record %d (%s) of an accepted body does not decode: %v", i, r.Key, err)
			}
			if len(got) == before {
				t.Fatalf("record %d (%s) holds no span", i, r.Key)
			}
			for _, s := range got[before:] {
				if s.TraceID != string(r.Key) {
					t.Fatalf("record %d keyed %s holds span %s of trace %s", i, r.Key, s.SpanID, s.TraceID)
				}
			}
		}
		if exp := groupByTrace(want); len(got) != len(exp) || len(got) > 0 && !reflect.DeepEqual(got, exp) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(exp, "", " ")
			t.Fatalf("the records map to other spans than the request\nrecords: %s\nrequest: %s", gj, wj)
		}
	})
}

// locatedErr matches an error that says where: a JSON path with an index
// (resourceSpans[0]…), a byte offset, or protojson's (line L:C).
var locatedErr = regexp.MustCompile(`\[\d+\]|at byte \d+|\(line \d+:\d+\)`)

// FuzzOTLPJSON fuzzes the collector's OTLP/JSON decoding (unmarshalOTLPJSON):
//   - an error about anything below the top level names where (a path, a
//     byte offset or a line and column); errors about the document as a
//     whole (not JSON, not an object) need not;
//   - an accepted request, encoded as protobuf, gets the same verdict and
//     span count from the wire splitter as the message path's validation
//     gives it: the two content types are one endpoint;
//   - an accepted request survives a round trip: encoded again as OTLP/JSON
//     (hex ids) and decoded, it is the same request.
func FuzzOTLPJSON(f *testing.F) {
	for _, b := range dialectFixtures(f) {
		f.Add(b)
	}
	for seed := range uint64(6) {
		f.Add(otlpJSON(f, ingesttest.Request(seed, 2, 2)))
	}
	for _, s := range []string{
		`{}`, `{"resourceSpans":[]}`, `[]`, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`,
		`{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708","name":"n","start_time_unix_nano":"1","end_time_unix_nano":"2"}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"\udc00"}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","startTimeUnixNano":"x"}]}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := &coltracepb.ExportTraceServiceRequest{}
		err := unmarshalOTLPJSON(body, req)
		if err != nil {
			var doc map[string]any
			if json.Unmarshal(body, &doc) == nil && !locatedErr.MatchString(err.Error()) {
				t.Fatalf("error names no location: %v", err)
			}
			return
		}
		pb, merr := proto.Marshal(req)
		if merr != nil {
			t.Fatalf("an accepted request does not encode: %v", merr)
		}
		_, n, werr := SplitByTraceWire(pb, "spans")
		verr := genai.ValidateOTLP(req)
		if (werr == nil) != (verr == nil) || (werr != nil && werr.Error() != verr.Error()) {
			t.Fatalf("verdicts differ: wire splitter %v, message path %v", werr, verr)
		}
		if werr == nil {
			count := 0
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					count += len(ss.Spans)
				}
			}
			if n != count {
				t.Fatalf("the splitter counts %d spans, the request holds %d", n, count)
			}
		}
		again := &coltracepb.ExportTraceServiceRequest{}
		if err := unmarshalOTLPJSON(otlpJSON(t, req), again); err != nil {
			t.Fatalf("the request encoded again as OTLP/JSON is refused: %v", err)
		}
		opts := proto.MarshalOptions{Deterministic: true}
		a, _ := opts.Marshal(req)
		b, _ := opts.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip changed the request\nfirst:  %v\nsecond: %v", req, again)
		}
	})
}

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// FuzzDecodeFeedback fuzzes DecodeFeedback:
//   - it returns items or an error, never both, and never zero items;
//   - an error names where: the item and field (feedback[2].score: …,
//     feedback: …), a byte offset for bad text, or says the body is empty
//     or not JSON;
//   - every accepted item has a 32-hex-digit lower-case trace id, an empty
//     or 16-hex-digit span id, a score or a label, a finite score, a source,
//     an id and a storable time;
//   - decoding is deterministic (the derived ids are stable), and the items
//     encoded again as {"feedback": [...]} decode to the same items.
func FuzzDecodeFeedback(f *testing.F) {
	for _, s := range []string{
		`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1}`,
		`{"trace_id":"0102030405060708090A0B0C0D0E0F10","span_id":"0102030405060708","label":"thumbs_up","comment":"ok","user_id":"u1","source":"api","time":"2025-10-09T08:53:20.5+02:00"}`,
		`{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1},{"trace_id":"0102030405060708090a0b0c0d0e0f10","label":"wrong","id":"mine"}]}`,
		`{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":"5"}]}`,
		`{"feedback":[]}`, `{"feedback":{}}`, `[]`, ``, `{"trace_id":1}`, `{"trace_id":"x","score":1}`,
		`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1,"time":"1500-01-01T00:00:00Z"}`,
		`{"trace_id":"0102030405060708090a0b0c0d0e0f10","label":"\udc00"}`,
		"{\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\",\"label\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2025, 10, 9, 8, 53, 20, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := DecodeFeedback(body, now)
		if err != nil {
			if items != nil {
				t.Fatalf("an error (%v) with %d items", err, len(items))
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "feedback[") && !strings.HasPrefix(msg, "feedback:") &&
				!strings.HasPrefix(msg, "empty body") && !strings.HasPrefix(msg, "decoding feedback JSON: ") &&
				!strings.Contains(msg, " at byte ") {
				t.Fatalf("error names no location: %v", err)
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no error and no items")
		}
		for i, it := range items {
			if !hex32.MatchString(it.TraceID) {
				t.Fatalf("item %d accepted with trace id %q", i, it.TraceID)
			}
			if it.SpanID != "" && !hex16.MatchString(it.SpanID) {
				t.Fatalf("item %d accepted with span id %q", i, it.SpanID)
			}
			if it.Score == nil && it.Label == "" {
				t.Fatalf("item %d accepted with neither score nor label", i)
			}
			if it.Score != nil && (math.IsNaN(*it.Score) || math.IsInf(*it.Score, 0)) {
				t.Fatalf("item %d accepted with score %v", i, *it.Score)
			}
			if it.ID == "" || it.Source == "" {
				t.Fatalf("item %d accepted without id or source: %+v", i, it)
			}
			if r := schemas.CheckStorableTime(it.Time); r != "" {
				t.Fatalf("item %d accepted with time %v: %s", i, it.Time, r)
			}
		}
		again, err := DecodeFeedback(body, now)
		if err != nil || !reflect.DeepEqual(again, items) {
			t.Fatalf("decoding twice differs: %+v then %+v (%v)", items, again, err)
		}
		enc, err := json.Marshal(map[string][]schemas.Feedback{"feedback": items})
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeFeedback(enc, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("the accepted items encoded again are refused: %v\n%s", err, enc)
		}
		if len(back) != len(items) {
			t.Fatalf("%d items came back, want %d", len(back), len(items))
		}
		for i := range items {
			a, b := items[i], back[i]
			if !a.Time.Equal(b.Time) {
				t.Fatalf("item %d: time %v came back as %v", i, a.Time, b.Time)
			}
			a.Time, b.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("item %d changed in a round trip:\n%+v\n%+v", i, a, b)
			}
		}
	})
}

// FuzzOTLPLogsJSON fuzzes the /v1/logs JSON path: decodeOTLPLogsJSON never
// panics; an error on a JSON object names a location; an accepted request
// is split into records that hold exactly its valid log records, each
// record's key its trace id, and genai maps each valid record to a row
// with well-formed ids.
func FuzzOTLPLogsJSON(f *testing.F) {
	f.Add([]byte(logsJSON))
	for _, s := range []string{
		`{}`, `{"resourceLogs":[]}`, `[]`, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}`,
		`{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708","event_name":"gen_ai.choice","body":{"kvlistValue":{"values":[{"key":"message","value":{"stringValue":"{\"content\":\"x\"}"}}]}}}]}]}]}`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\udc00"}}]}]}]}`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"99999999999999999999"}]}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := &collogspb.ExportLogsServiceRequest{}
		bad, err := decodeOTLPLogsJSON(body, req)
		if err != nil {
			var doc map[string]any
			if json.Unmarshal(body, &doc) == nil && !locatedErr.MatchString(err.Error()) && !strings.Contains(err.Error(), "resourceLogs") {
				t.Fatalf("error names no location: %v", err)
			}
			return
		}
		for k, e := range genai.ValidateLogs(req) {
			if bad == nil {
				bad = map[[3]int]*genai.LogError{}
			}
			bad[k] = e
		}
		valid := genai.DropLogs(req, bad)
		recs, n, err := kafka.SplitLogsByTrace(valid, "logs")
		if err != nil {
			t.Fatal(err)
		}
		if n != genai.CountLogs(req)-len(bad) {
			t.Fatalf("split %d records of %d with %d bad", n, genai.CountLogs(req), len(bad))
		}
		rows := 0
		for _, r := range recs {
			logs, _, err := genai.AppendLogRecord(nil, nil, r.Value, time.Now())
			if err != nil {
				t.Fatalf("a valid record does not map: %v", err)
			}
			for _, l := range logs {
				if l.TraceID != string(r.Key) || (l.TraceID != "" && !hex32.MatchString(l.TraceID)) || (l.SpanID != "" && !hex16.MatchString(l.SpanID)) || l.RecordID == "" {
					t.Fatalf("row %+v under key %q", l, r.Key)
				}
			}
			rows += len(logs)
		}
		if rows != n {
			t.Fatalf("%d rows of %d records", rows, n)
		}
	})
}
