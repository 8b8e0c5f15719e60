package collector

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chainwatch/chainwatch/genai"
)

// This file is how the collector answers: error bodies, the logging and
// counting of every rejection, and OTLP partial success.
//
// Error bodies. On /v1/traces and /v1/logs (OTLP/HTTP) an error is a google.rpc.Status
// in the request's encoding, as the OTLP specification asks: protobuf for
// application/x-protobuf (or application/protobuf) requests, JSON
// (protojson) for application/json ones; its code is the gRPC code the
// same refusal gets over gRPC, its message names what and where, and a 503
// or 429 carries a RetryInfo besides the Retry-After header. The
// chainwatch JSON endpoints (/v1/spans, /v1/feedback) answer
// {"error": "…"}, application/json: their clients are not OTLP exporters.
//
// Partial success. A request some of whose spans fail the structural
// checks (genai.CheckSpanFields) is stored without them and answered 2xx
// with partial_success: the number of rejected spans and an error_message
// naming the first ten (resource_spans[i].scope_spans[j].spans[k], the
// field and why) and how many more. Only when no span is valid is it a 400.
// A body that does not decode is refused whole: nothing in it can be
// trusted to be a span.

// Reasons, the bounded label values of RejectedSpans: "invalid_" and the
// field at fault.
var spanFields = [...]string{"trace_id", "span_id", "parent_span_id", "start_time_unix_nano", "end_time_unix_nano"}

const nSpanReasons = len(spanFields) + 1 // the last: any other field (links' ids in OTLP/JSON)

func spanReasonIndex(field string) int {
	for i, f := range spanFields {
		if f == field {
			return i
		}
	}
	return len(spanFields)
}

func spanReason(i int) string {
	if i < len(spanFields) {
		return "invalid_" + spanFields[i]
	}
	return "invalid_span"
}

// spanRejects are the spans of one request refused one by one.
type spanRejects struct {
	n       int   // spans rejected
	err     error // nil, or genai.SpanErrorList.Err(): the first ten and a count of the rest
	byField [nSpanReasons]int
}

// spanRejectList collects rejected spans.
type spanRejectList struct {
	errs    genai.SpanErrorList
	byField [nSpanReasons]int
}

func (l *spanRejectList) add(e *genai.SpanError) {
	l.errs.Add(e)
	l.byField[spanReasonIndex(e.Field)]++
}

func (l *spanRejectList) reset() {
	l.errs.Reset()
	l.byField = [nSpanReasons]int{}
}

// result copies the list out (it does not alias its memory).
func (l *spanRejectList) result() spanRejects {
	if l.errs.Len() == 0 {
		return spanRejects{}
	}
	return spanRejects{n: l.errs.Len(), err: l.errs.Err(), byField: l.byField}
}

// message is partial_success.error_message: one line, the first ten spans
// and "and N more spans with errors".
func (r spanRejects) message(accepted int) string {
	if r.n == 0 {
		return ""
	}
	return clip(strconv.Itoa(r.n)+" of "+strconv.Itoa(r.n+accepted)+" spans rejected, the others stored: "+
		strings.ReplaceAll(r.err.Error(), "\n", "; "), maxPartialMessage)
}

// maxPartialMessage bounds partial_success.error_message (ten span errors
// of a few hundred bytes at most each).
const maxPartialMessage = 4 << 10

func (r spanRejects) partialSuccess(accepted int) *coltracepb.ExportTracePartialSuccess {
	if r.n == 0 {
		return nil
	}
	return &coltracepb.ExportTracePartialSuccess{RejectedSpans: int64(r.n), ErrorMessage: r.message(accepted)}
}

// validSpans returns req without the spans that fail the structural checks
// (req itself when none does) and those it left out. bad names spans
// refused before decoding (OTLP/JSON ids that are not hex), by their
// indices, with their error. The spans and the resources and scopes are
// shared with req, so kafka.SplitByTrace makes the same records of the
// result as of a request holding only the valid spans.
func validSpans(req *coltracepb.ExportTraceServiceRequest, bad map[[3]int]*genai.SpanError) (*coltracepb.ExportTraceServiceRequest, spanRejects) {
	var rl spanRejectList
	check := func(ri, si, pi int, sp *tracepb.Span) bool {
		if e := bad[[3]int{ri, si, pi}]; e != nil {
			rl.add(e)
			return false
		}
		if field, reason := genai.CheckSpanFields(sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano); field != "" {
			rl.add(genai.NewSpanError(ri, si, pi, sp.SpanId, field, reason))
			return false
		}
		return true
	}
	for ri, rs := range req.GetResourceSpans() {
		for si, ss := range rs.GetScopeSpans() {
			for pi, sp := range ss.GetSpans() {
				if sp != nil {
					check(ri, si, pi, sp)
				}
			}
		}
	}
	if rl.errs.Len() == 0 {
		return req, spanRejects{}
	}
	rej := rl.result()
	rl.reset()
	out := &coltracepb.ExportTraceServiceRequest{}
	for ri, rs := range req.GetResourceSpans() {
		var keptRS *tracepb.ResourceSpans
		for si, ss := range rs.GetScopeSpans() {
			var keptSS *tracepb.ScopeSpans
			for pi, sp := range ss.GetSpans() {
				if sp == nil || !check(ri, si, pi, sp) {
					continue
				}
				if keptSS == nil {
					keptSS = &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl}
					if keptRS == nil {
						keptRS = &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}
						out.ResourceSpans = append(out.ResourceSpans, keptRS)
					}
					keptRS.ScopeSpans = append(keptRS.ScopeSpans, keptSS)
				}
				keptSS.Spans = append(keptSS.Spans, sp)
			}
		}
	}
	return out, rej
}

// countRejectedSpans counts and logs the spans a request had refused, once
// its answer is decided (stored partially, or a 400 when none was valid).
func (c *Collector) countRejectedSpans(ep string, rej spanRejects, accepted int) {
	if rej.n == 0 {
		return
	}
	for i, n := range rej.byField {
		if n > 0 {
			c.m.RejectedSpans.WithLabelValues(ep, spanReason(i)).Add(float64(n))
		}
	}
	lvl, quiet := c.rejectLog.level(time.Now())
	c.log.Log(context.Background(), lvl, "collector rejected invalid spans", "endpoint", ep,
		"rejected", rej.n, "stored", accepted, "err", strings.ReplaceAll(rej.err.Error(), "\n", "; "), "rejections_logged_at_debug_since", quiet)
}

// rejectLogEvery is how often a rejection (a 4xx answer, or spans refused
// by partial success) is logged at Info; the others in between are logged
// at Debug, and the next Info line says how many. A client sending bad data
// in a loop cannot flood the log, and every rejection is also counted
// (Rejected, RejectedSpans).
const rejectLogEvery = 10 * time.Second

type rateLog struct {
	mu    sync.Mutex
	next  time.Time
	quiet int
}

// level says at which level to log a rejection now, and how many were
// logged at Debug since the last at Info.
func (l *rateLog) level(now time.Time) (slog.Level, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.quiet++
		return slog.LevelDebug, 0
	}
	l.next = now.Add(rejectLogEvery)
	q := l.quiet
	l.quiet = 0
	return slog.LevelInfo, q
}

// rejected counts and logs a request answered with an error: 5xx at Warn
// (the collector or Kafka is at fault), 4xx and client cancellations (499)
// rate-limited (see rejectLogEvery).
func (c *Collector) rejected(ep string, code int, reason, msg string, attrs ...any) {
	c.m.Rejected.WithLabelValues(ep, reason).Inc()
	c.m.Requests.WithLabelValues(ep, strconv.Itoa(code)).Inc()
	attrs = append([]any{"endpoint", ep, "status", code, "reason", reason, "err", msg}, attrs...)
	if code >= 500 {
		c.log.Warn("collector request failed", attrs...)
		return
	}
	lvl, quiet := c.rejectLog.level(time.Now())
	if code == 499 {
		lvl = slog.LevelDebug
	}
	c.log.Log(context.Background(), lvl, "collector request rejected", append(attrs, "rejections_logged_at_debug_since", quiet)...)
}

// fail counts, logs and answers a refused HTTP request.
func (c *Collector) fail(w http.ResponseWriter, r *http.Request, ep string, e *httpError) {
	c.rejected(ep, e.code, e.reason, e.msg)
	if retryable(e.code) {
		w.Header().Set("Retry-After", strconv.Itoa(DefaultRetryAfterSeconds))
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ep != "traces" && ep != "logs" { // the OTLP endpoints answer google.rpc.Status
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.code)
		json.NewEncoder(w).Encode(map[string]string{"error": e.msg})
		return
	}
	st := e.status()
	var body []byte
	mt := otlpResponseType(r)
	if mt == "application/json" {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(e.code)
	w.Write(body)
}

// otlpResponseType is the Content-Type of an answer on /v1/traces: the
// request's own, application/x-protobuf when that is neither JSON nor
// protobuf (a 415).
func otlpResponseType(r *http.Request) string {
	switch mt := mediaType(r); mt {
	case "application/json", "application/protobuf":
		return mt
	}
	return "application/x-protobuf"
}

func retryable(code int) bool {
	return code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
}

// grpcCode is the gRPC code of a refusal answered code over HTTP: 503 and
// 429 are Unavailable (retried by OTLP exporters), 401 Unauthenticated, and
// everything else the client cannot fix by retrying (413 and 415 included)
// InvalidArgument, which exporters do not retry.
func grpcCode(code int) codes.Code {
	switch {
	case code == http.StatusUnauthorized:
		return codes.Unauthenticated
	case code == http.StatusForbidden:
		return codes.PermissionDenied
	case retryable(code):
		return codes.Unavailable
	}
	return codes.InvalidArgument
}

// status is e as a google.rpc.Status, with a RetryInfo when retryable.
func (e *httpError) status() *spb.Status {
	st := &spb.Status{Code: int32(grpcCode(e.code)), Message: e.msg}
	if retryable(e.code) {
		if d, err := anypb.New(&errdetails.RetryInfo{RetryDelay: durationpb.New(DefaultRetryAfterSeconds * time.Second)}); err == nil {
			st.Details = append(st.Details, d)
		}
	}
	return st
}
