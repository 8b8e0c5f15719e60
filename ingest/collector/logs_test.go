package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const logsJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bot"}}]},
 "scopeLogs":[{"scope":{"name":"@opentelemetry/instrumentation-openai"},"logRecords":[
  {"timeUnixNano":"1765000000000000000","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0101010101010101","eventName":"gen_ai.user.message","body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hi"}}]}}},
  {"timeUnixNano":"1765000000000000001","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"zz","eventName":"gen_ai.choice","body":{"stringValue":"bad id"}},
  {"timeUnixNano":"1765000000000000002","traceId":"abcd","body":{"stringValue":"short trace id"}},
  {"body":{"stringValue":"a plain log, no trace"}},
  {"timeUnixNano":"1765000000000000003","traceId":"1111111111111111111111111111111f","body":{"stringValue":"another trace"}}
 ]}]}]}`

// /v1/logs takes OTLP/JSON (hex ids) and protobuf, stores the valid
// records on the logs topic one Kafka record per trace (the records with
// no trace in one more), and reports the rest in partial_success naming
// each record and field; a request with no valid record is a 400 whose body
// is a google.rpc.Status in the request's encoding.
func TestLogsEndpoint(t *testing.T) {
	prod := &fakeProducer{}
	c, srv := newTestCollector(t, prod)
	code, body, _ := post(t, srv.URL+"/v1/logs", "application/json", []byte(logsJSON))
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var resp collogspb.ExportLogsServiceResponse
	if err := protojson.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedLogRecords() != 2 ||
		!strings.Contains(ps.GetErrorMessage(), "2 of 5 log records rejected") ||
		!strings.Contains(ps.GetErrorMessage(), `resource_logs[0].scope_logs[0].log_records[1]: span_id: "zz" is not hex`) ||
		!strings.Contains(ps.GetErrorMessage(), "log_records[2]: trace_id: must be empty or 16 bytes, got 2") {
		t.Errorf("partial success: %v", ps)
	}
	if len(prod.recs) != 3 {
		t.Fatalf("%d Kafka records, want 3 (two traces, one without)", len(prod.recs))
	}
	keys := map[string]int{}
	for _, r := range prod.recs {
		if r.Topic != "chainwatch.logs" {
			t.Errorf("topic %s", r.Topic)
		}
		var req collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(r.Value, &req); err != nil {
			t.Fatal(err)
		}
		keys[string(r.Key)] = len(req.ResourceLogs[0].ScopeLogs[0].LogRecords)
	}
	if keys["0102030405060708090a0b0c0d0e0f10"] != 1 || keys["1111111111111111111111111111111f"] != 1 || keys[""] != 1 {
		t.Errorf("records by key %v", keys)
	}
	if got := testutil.ToFloat64(c.m.RejectedLogs.WithLabelValues("logs", "invalid_span_id")); got != 1 {
		t.Errorf("rejected_log_records_total{invalid_span_id} = %v", got)
	}

	// Protobuf, nothing valid: 400 with a protobuf Status.
	bad := &collogspb.ExportLogsServiceRequest{}
	if err := protojson.Unmarshal([]byte(strings.Replace(logsJSON, `"spanId":"zz"`, `"spanId":""`, 1)), bad); err != nil {
		t.Fatal(err)
	}
	bad.ResourceLogs[0].ScopeLogs[0].LogRecords = bad.ResourceLogs[0].ScopeLogs[0].LogRecords[2:3]
	pb, _ := proto.Marshal(bad)
	code, body, hdr := post(t, srv.URL+"/v1/logs", "application/x-protobuf", pb)
	var st spb.Status
	if code != 400 || hdr.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal([]byte(body), &st) != nil ||
		!strings.Contains(st.Message, "trace_id: must be empty or 16 bytes") {
		t.Errorf("all invalid: %d %s %v", code, hdr.Get("Content-Type"), st.Message)
	}
	// Undecodable protobuf: 400 naming the logs message.
	code, body, _ = post(t, srv.URL+"/v1/logs", "application/x-protobuf", []byte{0x0a, 0xff, 0xff})
	if code != 400 || proto.Unmarshal([]byte(body), &st) != nil || !strings.Contains(st.Message, "decoding OTLP protobuf logs") {
		t.Errorf("undecodable: %d %q", code, st.Message)
	}
	// JSON with a type error: the path of the record.
	code, body, _ = post(t, srv.URL+"/v1/logs", "application/json", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"ok"}},{"timeUnixNano":{"x":1}}]}]}]}`))
	if code != 400 || protojson.Unmarshal([]byte(body), &st) != nil || !strings.Contains(st.Message, "resourceLogs[0].scopeLogs[0].logRecords[1]") {
		t.Errorf("type error: %d %s", code, body)
	}
}
