package collector

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/kafka"
)

// OTLP logs: POST /v1/logs (protobuf or JSON, the same compressions as
// /v1/traces) and gRPC LogsService/Export. Log records go to the logs topic
// (kafka.topics.logs), one Kafka record per trace id, keyed by it as spans
// are; the writer lands every record in the logs table and a GenAI event's
// text beside it for readers to join to its span (genai/logs.go). Why a
// topic of their own: an OpenTelemetry Collector's Kafka exporter writes
// logs to a logs topic of its own (otlp_logs), so the writer reads what
// either collector sends the same way; and the spans topic stays one
// message type for every consumer of it (the evaluator samples it).
//
// A record with a malformed trace or span id, or a time outside the
// storable range, is left out and reported in partial_success
// (rejected_log_records, the first ten named as
// resource_logs[i].scope_logs[j].log_records[k]: field: why); a request
// none of whose records is valid is a 400.

func (c *Collector) handleLogs(w http.ResponseWriter, r *http.Request) {
	const ep = "logs"
	start := time.Now()
	body, mt, ok := c.admit(w, r, ep, "application/x-protobuf", "application/protobuf", "application/json")
	if !ok {
		return
	}
	isJSON := mt == "application/json"
	req := &collogspb.ExportLogsServiceRequest{}
	var bad map[[3]int]*genai.LogError
	if isJSON {
		var err error
		if bad, err = decodeOTLPLogsJSON(body, req); err != nil {
			c.fail(w, r, ep, badRequest("decoding OTLP JSON logs: %v", err))
			return
		}
	} else if err := proto.Unmarshal(body, req); err != nil {
		c.fail(w, r, ep, badRequest("decoding OTLP protobuf logs: %v", err))
		return
	}
	n, ps, herr := c.exportLogs(r.Context(), ep, req, bad)
	if herr != nil {
		c.fail(w, r, ep, herr)
		return
	}
	c.ok(ep, n, start)
	resp := &collogspb.ExportLogsServiceResponse{PartialSuccess: ps}
	w.Header().Set("Content-Type", otlpResponseType(r))
	var out []byte
	if isJSON {
		out, _ = protojson.Marshal(resp)
	} else {
		out, _ = proto.Marshal(resp)
	}
	w.Write(out)
}

// exportLogs stores the valid records of req (bad: records refused while
// decoding) on the logs topic and returns how many, with the partial
// success to answer; a request with records and none valid is a 400.
func (c *Collector) exportLogs(ctx context.Context, ep string, req *collogspb.ExportLogsServiceRequest, bad map[[3]int]*genai.LogError) (int, *collogspb.ExportLogsPartialSuccess, *httpError) {
	for k, e := range genai.ValidateLogs(req) {
		if bad == nil {
			bad = map[[3]int]*genai.LogError{}
		}
		if bad[k] == nil {
			bad[k] = e
		}
	}
	if herr := c.secureLogs(ctx, req); herr != nil {
		return 0, nil, herr
	}
	valid := genai.DropLogs(req, bad)
	recs, n, err := kafka.SplitLogsByTrace(valid, c.topics.Logs)
	if err != nil {
		return 0, nil, badRequest("%v", err)
	}
	var ps *collogspb.ExportLogsPartialSuccess
	var msg string
	if len(bad) > 0 {
		var l genai.SpanErrorList
		byReason := map[string]int{}
		keys := slices.Collect(maps.Keys(bad))
		slices.SortFunc(keys, func(a, b [3]int) int { return slices.Compare(a[:], b[:]) })
		for _, k := range keys {
			l.Add(bad[k])
			byReason["invalid_"+bad[k].Field]++
		}
		msg = clip(strconv.Itoa(len(bad))+" of "+strconv.Itoa(len(bad)+n)+" log records rejected, the others stored: "+strings.ReplaceAll(l.Err().Error(), "\n", "; "), maxPartialMessage)
		ps = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: int64(len(bad)), ErrorMessage: msg}
		defer func() {
			for reason, k := range byReason {
				c.m.RejectedLogs.WithLabelValues(ep, reason).Add(float64(k))
			}
			lvl, quiet := c.rejectLog.level(time.Now())
			c.log.Log(context.Background(), lvl, "collector rejected invalid log records", "endpoint", ep, "rejected", len(bad), "stored", n, "err", msg, "rejections_logged_at_debug_since", quiet)
		}()
	}
	if n == 0 && len(bad) > 0 {
		return 0, nil, badRequest("invalid log record: %s", msg)
	}
	if n == 0 {
		return 0, nil, nil
	}
	if herr := c.produce(ctx, recs); herr != nil {
		return 0, nil, herr
	}
	return n, ps, nil
}

// logsServer is OTLP/gRPC's LogsService on the collector's gRPC port.
type logsServer struct {
	c *Collector
	collogspb.UnimplementedLogsServiceServer
}

// Export is LogsService/Export.
func (s logsServer) Export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	const ep = "grpc_logs"
	c := s.c
	start := time.Now()
	ctx, done, err := c.grpcAdmit(ctx, req)
	if err != nil {
		return nil, err
	}
	defer done()
	n, ps, herr := c.exportLogs(ctx, ep, req, nil)
	if herr != nil {
		return nil, c.grpcFail(herr)
	}
	c.ok(ep, n, start)
	return &collogspb.ExportLogsServiceResponse{PartialSuccess: ps}, nil
}
