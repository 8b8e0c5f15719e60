package collector

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/schemas"
)

const (
	fbTrace  = "0102030405060708090a0b0c0d0e0f10"
	rangeMsg = " is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"
)

// fbItem is one feedback object with a trace id and extra fields.
func fbItem(extra string) string {
	s := `{"trace_id":"` + fbTrace + `","score":1`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func fbList(items ...string) string { return `{"feedback":[` + strings.Join(items, ",") + `]}` }

// Feedback times outside what every ClickHouse stores exactly are refused,
// naming the item; the range's ends are accepted and kept exact.
func TestDecodeFeedbackTimes(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"1960 in a list", fbList(fbItem(""), fbItem(`"time":"1960-01-01T00:00:00Z"`)), "feedback[1].time: 1960-01-01T00:00:00Z" + rangeMsg},
		{"2200 in a list", fbList(fbItem(""), fbItem(""), fbItem(`"time":"2200-01-01T00:00:00Z"`)), "feedback[2].time: 2200-01-01T00:00:00Z" + rangeMsg},
		{"1960 alone", fbItem(`"time":"1960-01-01T00:00:00Z"`), "feedback[0].time: 1960-01-01T00:00:00Z" + rangeMsg},
		{"1ns after the range", fbItem(`"time":"2106-02-07T06:28:15.000000001Z"`), "feedback[0].time: 2106-02-07T06:28:15.000000001Z" + rangeMsg},
		{"1ns before the range", fbItem(`"time":"1969-12-31T23:59:59.999999999Z"`), "feedback[0].time: 1969-12-31T23:59:59.999999999Z" + rangeMsg},
		{"not a time", fbItem(`"time":"yesterday"`), `feedback[0].time: must be an RFC 3339 time, got "yesterday"`},
		{"a number", fbList(fbItem(`"time":1760000000`)), "feedback[0].time: must be an RFC 3339 time string, got number 1760000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := DecodeFeedback([]byte(tc.body), now)
			if err == nil {
				t.Fatalf("no error; time %v", items[0].Time)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n %q, want\n %q", err, tc.want)
			}
		})
	}
	for _, ts := range []string{"1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z", "2106-02-07T07:28:15+01:00"} {
		items, err := DecodeFeedback([]byte(fbItem(`"time":"`+ts+`"`)), now)
		if err != nil {
			t.Errorf("%s: %v", ts, err)
			continue
		}
		want, _ := time.Parse(time.RFC3339, ts)
		if !items[0].Time.Equal(want) {
			t.Errorf("%s: decoded as %v", ts, items[0].Time)
		}
	}
	if items, err := DecodeFeedback([]byte(fbItem(`"time":null`)), now); err != nil || !items[0].Time.Equal(now) {
		t.Errorf("a null time is now: %v %v", items, err)
	}
}

// Decoding errors of a feedback list name the item and the field.
func TestDecodeFeedbackNamesTheItem(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"string score, third item", fbList(fbItem(""), fbItem(""), `{"trace_id":"`+fbTrace+`","score":"5"}`),
			`feedback[2].score: expected a number, got string "5"`},
		{"string score alone", `{"trace_id":"` + fbTrace + `","score":"5"}`, `feedback[0].score: expected a number, got string "5"`},
		{"label a number", fbList(fbItem(`"label":7`)), "feedback[0].label: expected a string, got number 7"},
		{"comment an object", fbList(fbItem(""), fbItem(`"comment":{"a":1}`)), "feedback[1].comment: expected a string, got an object"},
		{"score a boolean, key in another case", fbList(`{"trace_id":"` + fbTrace + `","Score":true}`), "feedback[0].score: expected a number, got boolean true"},
		{"long value cut", fbList(fbItem(`"user_id":12345678901234567890123456789012345678901234567890`)),
			"feedback[0].user_id: expected a string, got number 1234567890123456789012345678901234567890…"},
		{"item not an object", fbList(fbItem(""), `7`), "feedback[1]: must be a JSON object, got number 7"},
		{"list not an array", `{"feedback":{"trace_id":"x"}}`, "feedback: must be a JSON array of feedback objects, got an object"},
		{"empty list", `{"feedback":[]}`, "feedback: the list is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeFeedback([]byte(tc.body), time.Now())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n %v, want\n %q", err, tc.want)
			}
		})
	}
}

// offsetOf is the byte offset of sub in s, for the expected messages.
func offsetOf(t *testing.T, s, sub string) string {
	t.Helper()
	i := strings.Index(s, sub)
	if i < 0 {
		t.Fatalf("%q not in %q", sub, s)
	}
	return strconv.Itoa(i)
}

// Invalid UTF-8 and escaped lone surrogates, which encoding/json would store
// as U+FFFD, are refused by every JSON decoder of the collector, naming the
// field.
func TestJSONDecodersRefuseInvalidText(t *testing.T) {
	t.Run("feedback", func(t *testing.T) {
		list := fbList(fbItem(""), fbItem("\"comment\":\"tr\xe8s bien\""))
		one := fbItem("\"label\":\"ok\",\"comment\":\"\\ud83d\"")
		for _, tc := range []struct{ body, want string }{
			{list, "feedback[1].comment: invalid UTF-8 at byte " + offsetOf(t, list, "\xe8")},
			{one, `feedback[0].comment: lone UTF-16 surrogate \ud83d at byte ` + offsetOf(t, one, `\ud83d`)},
		} {
			items, err := DecodeFeedback([]byte(tc.body), time.Now())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n %v, want\n %q; items %+v", err, tc.want, items)
			}
		}
	})
	t.Run("otlp json", func(t *testing.T) {
		body := otlpJSONSpan("caf\xe9", "1760000000000000000", "1760000001000000000")
		var req coltracepb.ExportTraceServiceRequest
		err := unmarshalOTLPJSON(body, &req)
		want := "resourceSpans[0].scopeSpans[0].spans[0].name: invalid UTF-8 at byte " + offsetOf(t, string(body), "\xe9")
		if err == nil || err.Error() != want {
			t.Errorf("error\n %v, want\n %q", err, want)
		}
		body = otlpJSONSpan(`chat \udc00`, "1760000000000000000", "1760000001000000000")
		if err := unmarshalOTLPJSON(body, &req); err == nil || !strings.HasPrefix(err.Error(), `resourceSpans[0].scopeSpans[0].spans[0].name: lone UTF-16 surrogate \udc00 at byte `) {
			t.Errorf("lone surrogate: %v", err)
		}
	})
	t.Run("chainwatch json", func(t *testing.T) {
		body := `{"spans":[` + jsonSpan("") + `,` + jsonSpan("\"input_text\":\"\xff\"") + `]}`
		_, err := genai.DecodeJSONBatch(strings.NewReader(body))
		want := "spans[1].input_text: invalid UTF-8 at byte " + offsetOf(t, body, "\xff")
		if err == nil || err.Error() != want {
			t.Errorf("error\n %v, want\n %q", err, want)
		}
	})
}

// jsonSpan is a /v1/spans span with extra fields.
func jsonSpan(extra string) string {
	s := `{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// otlpJSONSpan is an OTLP/JSON request of one span; name is written
// between quotes as it is (invalid bytes and escapes go through untouched).
func otlpJSONSpan(name, start, end string) []byte {
	return []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[` +
		`{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"` + name +
		`","startTimeUnixNano":"` + start + `","endTimeUnixNano":"` + end + `"}]}]}]}`)
}

// Every path refuses span times outside the storable range with a 400 (or
// InvalidArgument) naming the field, and accepts the range's ends.
func TestCollectorRefusesUnstorableTimes(t *testing.T) {
	const (
		nano2200 = uint64(7258118400) * 1e9
		startMsg = "start_time_unix_nano: 2200-01-01T00:00:00Z" + rangeMsg
		endMsg   = "end_time_unix_nano: 2200-01-01T00:00:00Z" + rangeMsg
	)
	otlpReq := func(start, end uint64) *coltracepb.ExportTraceServiceRequest {
		req := ingesttest.Request(11, 1, 2)
		sp := req.ResourceSpans[0].ScopeSpans[0].Spans[1]
		sp.StartTimeUnixNano, sp.EndTimeUnixNano = start, end
		return req
	}
	pb := func(req *coltracepb.ExportTraceServiceRequest) []byte {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otlpJSON := func(start, end string) []byte {
		return otlpJSONSpan("chat", start, end)
	}
	spansJSON := func(start, end string) []byte {
		return []byte(`{"spans":[` + jsonSpan("") + `,` + jsonSpan(`"start_time":"`+start+`","end_time":"`+end+`"`) + `]}`)
	}
	n2200 := strconv.FormatUint(nano2200, 10)
	maxNano := strconv.FormatUint(schemas.MaxStorableUnixNano, 10)
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
		want              int
		wantText          string
	}{
		// spans[0] is valid: stored, the answer's partial_success names spans[1].
		{"protobuf start 2200", "/v1/traces", "application/x-protobuf", pb(otlpReq(nano2200, nano2200)), 200, "spans[1]: " + startMsg},
		{"protobuf end 2200", "/v1/traces", "application/x-protobuf", pb(otlpReq(1760000000000000000, nano2200)), 200, "spans[1]: " + endMsg},
		{"protobuf at the max", "/v1/traces", "application/x-protobuf", pb(otlpReq(schemas.MaxStorableUnixNano, schemas.MaxStorableUnixNano)), 200, ""},
		{"protobuf at 1ns", "/v1/traces", "application/x-protobuf", pb(otlpReq(1, 2)), 200, ""},
		{"otlp json start 2200", "/v1/traces", "application/json", otlpJSON(n2200, n2200), 400, "spans[0]: " + startMsg},
		{"otlp json end 2200", "/v1/traces", "application/json", otlpJSON("1760000000000000000", n2200), 400, "spans[0]: " + endMsg},
		{"otlp json 1969", "/v1/traces", "application/json", otlpJSON("-1000000000", "1760000000000000000"), 400, "startTimeUnixNano"},
		{"otlp json at the max", "/v1/traces", "application/json", otlpJSON(maxNano, maxNano), 200, ""},
		{"spans start 2200", "/v1/spans", "application/json", spansJSON("2200-01-01T00:00:00Z", "2200-01-01T00:00:01Z"), 400, "spans[1].start_time: 2200-01-01T00:00:00Z" + rangeMsg},
		{"spans end 2200", "/v1/spans", "application/json", spansJSON("2025-10-09T08:53:20Z", "2200-01-01T00:00:00Z"), 400, "spans[1].end_time: 2200-01-01T00:00:00Z" + rangeMsg},
		{"spans start 1969", "/v1/spans", "application/json", spansJSON("1969-07-20T20:17:40Z", "2025-10-09T08:53:21Z"), 400, "spans[1].start_time: 1969-07-20T20:17:40Z" + rangeMsg},
		{"spans at the ends", "/v1/spans", "application/json", spansJSON("1970-01-01T00:00:00.000000001Z", "2106-02-07T06:28:15Z"), 200, ""},
		{"feedback 1960", "/v1/feedback", "application/json", []byte(fbList(fbItem(""), fbItem(`"time":"1960-01-01T00:00:00Z"`))), 400, "feedback[1].time: 1960-01-01T00:00:00Z" + rangeMsg},
		{"feedback 2200", "/v1/feedback", "application/json", []byte(fbItem(`"time":"2200-01-01T00:00:00Z"`)), 400, "feedback[0].time: 2200-01-01T00:00:00Z" + rangeMsg},
		{"feedback at the ends", "/v1/feedback", "application/json", []byte(fbList(fbItem(`"time":"1970-01-01T00:00:00Z"`), fbItem(`"time":"2106-02-07T06:28:15Z"`))), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prod := &fakeProducer{}
			_, srv := newTestCollector(t, prod)
			code, body, _ := post(t, srv.URL+tc.path, tc.ctype, tc.body)
			if code != tc.want || !strings.Contains(answerText(t, tc.path, tc.ctype, code, body), tc.wantText) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.want, tc.wantText)
			}
			if code != 200 && len(prod.recs) > 0 {
				t.Fatalf("rejected request still produced %d records", len(prod.recs))
			}
			if code == 200 && len(prod.recs) == 0 {
				t.Fatal("accepted request produced nothing")
			}
		})
	}
	t.Run("grpc", func(t *testing.T) {
		c, _ := newTestCollector(t, &fakeProducer{})
		resp, err := c.Export(context.Background(), otlpReq(nano2200, nano2200))
		if err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 1 || !strings.Contains(resp.GetPartialSuccess().GetErrorMessage(), "spans[1]: "+startMsg) {
			t.Fatalf("got %v, %v; want partial success naming start_time_unix_nano", resp, err)
		}
		req := otlpReq(nano2200, nano2200)
		req.ResourceSpans[0].ScopeSpans[0].Spans = req.ResourceSpans[0].ScopeSpans[0].Spans[1:]
		_, err = c.Export(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spans[0]: "+startMsg) {
			t.Fatalf("got %v, want InvalidArgument naming start_time_unix_nano", err)
		}
	})
}

// The JSON endpoints answer invalid text with a 400 naming the field, as the
// protobuf path does, and produce nothing.
func TestCollectorRefusesInvalidUTF8(t *testing.T) {
	otlpBody := otlpJSONSpan("\xc3(", "1760000000000000000", "1760000001000000000")
	spansBody := `{"spans":[` + jsonSpan("") + `,` + jsonSpan("") + `,` + jsonSpan(`"input_text":"\ud800"`) + `]}`
	fbBody := fbList(fbItem(""), fbItem("\"comment\":\"\xff\xfe\""))
	for _, tc := range []struct {
		name, path string
		body       []byte
		wantText   string
	}{
		{"otlp json", "/v1/traces", otlpBody, "resourceSpans[0].scopeSpans[0].spans[0].name: invalid UTF-8 at byte " + offsetOf(t, string(otlpBody), "\xc3(")},
		{"chainwatch json", "/v1/spans", []byte(spansBody), `spans[2].input_text: lone UTF-16 surrogate \ud800 at byte ` + offsetOf(t, spansBody, `\ud800`)},
		{"feedback", "/v1/feedback", []byte(fbBody), "feedback[1].comment: invalid UTF-8 at byte " + offsetOf(t, fbBody, "\xff")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prod := &fakeProducer{}
			_, srv := newTestCollector(t, prod)
			code, body, _ := post(t, srv.URL+tc.path, "application/json", tc.body)
			if code != 400 || !strings.Contains(answerText(t, tc.path, "application/json", code, body), tc.wantText) {
				t.Fatalf("got %d %q, want 400 containing %q", code, body, tc.wantText)
			}
			if len(prod.recs) > 0 {
				t.Fatalf("rejected request still produced %d records", len(prod.recs))
			}
		})
	}
}

// A span at the last storable instant is stored and read back exactly on
// the server at hand (DateTime on 18.16, DateTime64(6) from 20.3), and so
// is feedback at both ends of the range.
func TestCHStoresTheRangeEndsExactly(t *testing.T) {
	s := chtest.Inserter(t)
	ctx := context.Background()
	max := schemas.MaxStorableTime
	sp := schemas.Span{TraceID: "0102030405060708090a0b0c0d0e0f11", SpanID: "0102030405060709", Name: "edge", StartTime: max, EndTime: max, App: "a"}
	if err := s.InsertSpans(ctx, []schemas.Span{sp}); err != nil {
		t.Fatal(err)
	}
	var start, end time.Time
	var nano uint64
	var startSec, endSec uint32
	if err := s.Conn().QueryRow(ctx, `SELECT start_time, end_time, start_unix_nano, toUInt32(start_time), toUInt32(end_time) FROM spans`).Scan(&start, &end, &nano, &startSec, &endSec); err != nil {
		t.Fatal(err)
	}
	if !start.Equal(max) || !end.Equal(max) || nano != schemas.MaxStorableUnixNano || startSec != 4294967295 || endSec != 4294967295 {
		t.Errorf("stored %v .. %v, start_unix_nano %d, seconds %d .. %d; want %v", start, end, nano, startSec, endSec, max)
	}
	score := 1.0
	fb := []schemas.Feedback{
		{ID: "fb-min", TraceID: fbTrace, Score: &score, Source: "user", Time: schemas.MinStorableTime},
		{ID: "fb-max", TraceID: fbTrace, Score: &score, Source: "user", Time: max},
	}
	if err := s.InsertFeedback(ctx, fb); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Conn().Query(ctx, `SELECT id, time FROM feedback ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var tm time.Time
		if err := rows.Scan(&id, &tm); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+" "+tm.UTC().Format(time.RFC3339Nano))
	}
	if want := "fb-max " + max.Format(time.RFC3339Nano) + ",fb-min 1970-01-01T00:00:00Z"; strings.Join(got, ",") != want {
		t.Errorf("feedback stored as %v, want %s", got, want)
	}
}

// The offset counts from the start of the body, leading white space
// included.
func TestDecodeFeedbackTextOffsetInBody(t *testing.T) {
	body := "\n  " + fbItem("\"comment\":\"\xff\"")
	_, err := DecodeFeedback([]byte(body), time.Now())
	if want := "feedback[0].comment: invalid UTF-8 at byte " + offsetOf(t, body, "\xff"); err == nil || err.Error() != want {
		t.Errorf("error\n %v, want\n %q", err, want)
	}
}

// Decoded feedback survives the insert; a replayed batch is counted once.
func TestFeedbackRoundTripAndDedup(t *testing.T) {
	s := chtest.Inserter(t)
	ctx := context.Background()
	fb, err := DecodeFeedback([]byte(`{"feedback":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1},{"trace_id":"0102030405060708090a0b0c0d0e0f10","label":"wrong"}]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a replay
		if err := s.InsertFeedback(ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	var n, scored uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count(), count(score) FROM feedback FINAL").Scan(&n, &scored); err != nil {
		t.Fatal(err)
	}
	if n != 2 || scored != 1 {
		t.Fatalf("feedback FINAL: %d rows, %d scored; want 2 and 1", n, scored)
	}
}

// OTLP/JSON is one JSON value: data after it is refused with its offset,
// never a second request silently dropped (found by FuzzOTLPJSON).
func TestOTLPJSONRefusesTrailingData(t *testing.T) {
	for body, at := range map[string]string{
		`{"resourceSpans":[]} trailing garbage`:                     "byte 21",
		`{"resourceSpans":[]}{"resourceSpans":[{"scopeSpans":[]}]}`: "byte 20",
	} {
		req := &coltracepb.ExportTraceServiceRequest{}
		err := unmarshalOTLPJSON([]byte(body), req)
		if err == nil || !strings.Contains(err.Error(), "after the request's JSON object at "+at) {
			t.Errorf("%q: err = %v, want trailing data refused at %s", body, err, at)
		}
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := unmarshalOTLPJSON([]byte("{\"resourceSpans\":[]}\n\t "), req); err != nil {
		t.Errorf("trailing whitespace refused: %v", err)
	}
}

// An OTLP/JSON type error names the span by its JSON path in the body as
// sent, not a line and column of the document re-encoded for protojson
// (found by FuzzOTLPJSON).
func TestOTLPJSONTypeErrorNamesThePath(t *testing.T) {
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"ok","startTimeUnixNano":"1","endTimeUnixNano":"2"},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":5,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	err := unmarshalOTLPJSON([]byte(body), &coltracepb.ExportTraceServiceRequest{})
	if err == nil || !strings.HasPrefix(err.Error(), "resourceSpans[0].scopeSpans[0].spans[1]: ") || strings.Contains(err.Error(), "(line") || !strings.Contains(err.Error(), "name") {
		t.Fatalf("err = %v, want it to start with the span's path and carry no re-encoded position", err)
	}
	res := `{"resourceSpans":[{"resource":{"attributes":5},"scopeSpans":[]}]}`
	if err := unmarshalOTLPJSON([]byte(res), &coltracepb.ExportTraceServiceRequest{}); err == nil || !strings.HasPrefix(err.Error(), "resourceSpans[0]: ") {
		t.Fatalf("resource error = %v, want it to name resourceSpans[0]", err)
	}
}
