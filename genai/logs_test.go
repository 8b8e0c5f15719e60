package genai

import (
	"errors"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

func lkvs(pairs ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, &commonpb.KeyValue{Key: pairs[i].(string), Value: anyOf(pairs[i+1])})
	}
	return out
}

func anyOf(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case int:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(x)}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case []*commonpb.KeyValue:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: x}}}
	case []any:
		arr := &commonpb.ArrayValue{}
		for _, e := range x {
			arr.Values = append(arr.Values, anyOf(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	}
	panic("anyOf")
}

var (
	logTrace = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	logSpan  = []byte{1, 1, 1, 1, 1, 1, 1, 1}
)

func logReq(recs ...*logspb.LogRecord) *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: lkvs("service.name", "support-bot")},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "@opentelemetry/instrumentation-openai"}, LogRecords: recs}},
	}}}
}

func logEvent(name string, t uint64, body *commonpb.AnyValue, attrs ...*commonpb.KeyValue) *logspb.LogRecord {
	return &logspb.LogRecord{TimeUnixNano: t, TraceId: logTrace, SpanId: logSpan, EventName: name, Body: body,
		Attributes: append(lkvs("gen_ai.system", "openai"), attrs...)}
}

// The shapes the OpenTelemetry contrib OpenAI instrumentation (JavaScript)
// sends: the message in the body, content as a string, the choice's
// message as a kvlist with tool calls.
func TestAppendLogsGenAIEvents(t *testing.T) {
	t0 := uint64(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC).UnixNano())
	toolCall := lkvs("id", "call_1", "type", "function", "function", anyOf(lkvs("name", "get_weather", "arguments", `{"city":"Paris"}`)).GetKvlistValue().Values)
	req := logReq(
		logEvent("gen_ai.system.message", t0, anyOf(lkvs("content", "You are terse."))),
		logEvent("gen_ai.user.message", t0, anyOf(lkvs("content", "Weather in Paris?"))),
		logEvent("gen_ai.assistant.message", t0, anyOf(lkvs("tool_calls", []any{toolCall}))),
		logEvent("gen_ai.choice", t0+1, anyOf(lkvs("index", 0, "finish_reason", "tool_calls",
			"message", lkvs("role", "assistant", "tool_calls", []any{toolCall})))),
		logEvent("gen_ai.choice", t0+2, anyOf(lkvs("index", 0, "finish_reason", "stop", "message", lkvs("role", "assistant", "content", "Sunny, 21°C.")))),
		&logspb.LogRecord{TimeUnixNano: t0, SeverityText: "INFO", Body: anyOf("plain application log")},
	)
	logs, scores, err := AppendLogs(nil, nil, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 6 || len(scores) != 0 {
		t.Fatalf("got %d logs, %d scores; want 6, 0", len(logs), len(scores))
	}
	want := []struct{ in, out string }{
		{"", ""}, // system text stays out of the input, as on a span
		{"Weather in Paris?", ""},
		{"", ""}, // an earlier turn that only called a tool: its call stays out of the input text
		{"", `tool_call get_weather({"city":"Paris"})`},
		{"", "Sunny, 21°C."},
		{"", ""},
	}
	for i, w := range want {
		if logs[i].InputText != w.in || logs[i].OutputText != w.out {
			t.Errorf("record %d (%s): in %q out %q; want %q %q", i, logs[i].EventName, logs[i].InputText, logs[i].OutputText, w.in, w.out)
		}
		if logs[i].App != "support-bot" || logs[i].RecordID == "" {
			t.Errorf("record %d: app %q id %q", i, logs[i].App, logs[i].RecordID)
		}
	}
	if logs[0].SystemText != "You are terse." || logs[1].SystemText != "" {
		t.Errorf("system texts %q %q", logs[0].SystemText, logs[1].SystemText)
	}
	if logs[0].TraceID != "0102030405060708090a0b0c0d0e0f10" || logs[0].SpanID != "0101010101010101" {
		t.Errorf("ids %s %s", logs[0].TraceID, logs[0].SpanID)
	}
	if logs[5].TraceID != "" || logs[5].Body != "plain application log" || logs[5].SeverityText != "INFO" {
		t.Errorf("plain log: %+v", logs[5])
	}
	if !strings.Contains(logs[4].Body, `"content":"Sunny, 21°C."`) {
		t.Errorf("kvlist body kept as JSON: %s", logs[4].Body)
	}
	for i, l := range logs {
		if l.Seq != uint32(i) {
			t.Errorf("record %d has seq %d", i, l.Seq)
		}
	}
	// The same record twice has one identity; another record another.
	again, _, _ := AppendLogs(nil, nil, logReq(proto.Clone(req.ResourceLogs[0].ScopeLogs[0].LogRecords[1]).(*logspb.LogRecord)), time.Now())
	if again[0].RecordID != logs[1].RecordID || logs[1].RecordID == logs[3].RecordID {
		t.Errorf("record ids: %s %s %s", again[0].RecordID, logs[1].RecordID, logs[2].RecordID)
	}
}

func TestAppendLogsOperationDetailsAndEvaluation(t *testing.T) {
	t0 := uint64(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC).UnixNano())
	req := logReq(
		logEvent(EventOperationDetails, t0, nil, lkvs(
			"gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]`,
			"gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Hello!"}],"finish_reason":"stop"}]`)...),
		logEvent(EventEvaluationResult, t0+5, nil, lkvs(AttrEvaluationName, "relevance", AttrEvaluationValue, 0.75, AttrEvaluationLabel, "relevant",
			AttrEvaluationExplain, "on topic", "chainwatch.chain.name", "answer")...),
	)
	logs, scores, err := AppendLogs(nil, nil, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if logs[0].InputText != "Hi" || logs[0].OutputText != "Hello!" {
		t.Errorf("operation details: in %q out %q", logs[0].InputText, logs[0].OutputText)
	}
	if len(scores) != 1 {
		t.Fatalf("scores: %+v", scores)
	}
	s := scores[0]
	if s.Evaluator != "relevance" || s.Value != 0.75 || s.Label != "relevant" || s.Reasoning != "on topic" || s.App != "support-bot" ||
		s.Chain != "answer" || s.SpanID != "0101010101010101" || !s.Created.Equal(time.Unix(0, int64(t0+5))) {
		t.Errorf("score: %+v", s)
	}
}

func TestAppendLogsInvalidRecordsNamed(t *testing.T) {
	req := logReq(
		&logspb.LogRecord{TraceId: []byte{1, 2, 3}, Body: anyOf("x")},
		&logspb.LogRecord{SpanId: logSpan, Body: anyOf("y")},
		&logspb.LogRecord{TimeUnixNano: 1 << 63, Body: anyOf("z")},
		&logspb.LogRecord{Body: anyOf("fine")},
	)
	bad := ValidateLogs(req)
	if len(bad) != 3 {
		t.Fatalf("ValidateLogs: %v", bad)
	}
	logs, _, err := AppendLogs(nil, nil, req, time.Now())
	if len(logs) != 1 || logs[0].Body != "fine" || err == nil {
		t.Fatalf("logs %+v err %v", logs, err)
	}
	for _, want := range []string{"log_records[0]: trace_id: must be empty or 16 bytes, got 3", "log_records[1]: span_id: a span id needs a trace id", "log_records[2]: time_unix_nano"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := CountLogs(DropLogs(req, bad)); n != 1 {
		t.Errorf("DropLogs left %d", n)
	}
}

// FuzzAppendLogRecord fuzzes the writer's decoding of a logs-topic record:
// never a panic; an error is a *RecordError with its reason and leaves
// the slices as they were; otherwise one row per log record, ids
// well formed.
func FuzzAppendLogRecord(f *testing.F) {
	t0 := uint64(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC).UnixNano())
	for _, req := range []*collogspb.ExportLogsServiceRequest{
		logReq(logEvent("gen_ai.user.message", t0, anyOf(lkvs("content", "hi")))),
		logReq(logEvent(EventOperationDetails, t0, nil, lkvs("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]`)...)),
		logReq(logEvent(EventEvaluationResult, t0, nil, lkvs(AttrEvaluationName, "x", AttrEvaluationValue, 1.5)...)),
		logReq(&logspb.LogRecord{Body: anyOf("plain")}),
	} {
		b, _ := proto.Marshal(req)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x02, 0x0a})
	f.Fuzz(func(t *testing.T, value []byte) {
		logs, scores, err := AppendLogRecord(nil, nil, value, time.Unix(0, int64(t0)))
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) || (re.Reason != ReasonDecode && re.Reason != ReasonInvalid) || len(logs) != 0 || len(scores) != 0 {
				t.Fatalf("error %v with %d logs, %d scores", err, len(logs), len(scores))
			}
			return
		}
		req := &collogspb.ExportLogsServiceRequest{}
		proto.Unmarshal(value, req)
		if len(logs) != CountLogs(req) {
			t.Fatalf("%d rows for %d records", len(logs), CountLogs(req))
		}
		for _, l := range logs {
			if (l.TraceID != "" && len(l.TraceID) != 32) || (l.SpanID != "" && len(l.SpanID) != 16) || len(l.RecordID) != 16 || l.Time.IsZero() {
				t.Fatalf("row %+v", l)
			}
		}
		for _, s := range scores {
			if s.TraceID == "" || s.Evaluator == "" {
				t.Fatalf("score %+v", s)
			}
		}
	})
}
