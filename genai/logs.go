package genai

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

// OTLP logs: GenAI events sent as log records (OTEP 4430; the OpenTelemetry
// contrib OpenAI instrumentation for JavaScript sends all message content
// this way) and every other log record.
//
// A GenAI message event is read exactly as the same event on its span
// would be (the span-event rules of MAPPING.md): the record becomes one
// event of a span with the record's trace and span id, the body's fields
// (a kvlist) or the body itself (as "body") beside the record's attributes,
// and the span mapping renders the text it adds to the input or the
// output. gen_ai.client.inference.operation.details carries the newest
// conventions' content attributes (gen_ai.input.messages, …) and is read
// as those attributes on the span. Readers join the rendered texts to the
// span (query's merged view): a span's own content wins; where it has none,
// its events' texts, in time order, joined with "\n".

// EventOperationDetails is the newest conventions' single event with a
// call's whole content.
const EventOperationDetails = "gen_ai.client.inference.operation.details"

// LogError names an invalid log record by its indices in the request.
type LogError struct {
	Resource, Scope, Record int
	Field, Reason           string
}

func (e *LogError) Error() string {
	return fmt.Sprintf("resource_logs[%d].scope_logs[%d].log_records[%d]: %s: %s", e.Resource, e.Scope, e.Record, e.Field, e.Reason)
}

// CheckLogFields is the structural check of one log record: ids empty or
// well formed (a span id needs a trace id), times storable. It returns the
// failing field and why, or "", "".
func CheckLogFields(traceID, spanID []byte, t, observed uint64) (field, reason string) {
	switch n := len(traceID); {
	case n != 0 && n != 16:
		return "trace_id", "must be empty or 16 bytes, got " + strconv.Itoa(n)
	case n == 16 && allZero(traceID):
		return "trace_id", "must not be all zero"
	}
	switch n := len(spanID); {
	case n != 0 && n != 8:
		return "span_id", "must be empty or 8 bytes, got " + strconv.Itoa(n)
	case n == 8 && allZero(spanID):
		return "span_id", "must not be all zero"
	case n == 8 && len(traceID) == 0:
		return "span_id", "a span id needs a trace id"
	}
	if t != 0 {
		if r := schemas.CheckStorableUnixNano(t); r != "" {
			return "time_unix_nano", r
		}
	}
	if observed != 0 {
		if r := schemas.CheckStorableUnixNano(observed); r != "" {
			return "observed_time_unix_nano", r
		}
	}
	return "", ""
}

// ValidateLogs returns the invalid records of req by index (nil when all
// are valid).
func ValidateLogs(req *collogspb.ExportLogsServiceRequest) map[[3]int]*LogError {
	var bad map[[3]int]*LogError
	for ri, rl := range req.ResourceLogs {
		for si, sl := range rl.GetScopeLogs() {
			for li, lr := range sl.GetLogRecords() {
				if f, r := CheckLogFields(lr.GetTraceId(), lr.GetSpanId(), lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano()); f != "" {
					if bad == nil {
						bad = map[[3]int]*LogError{}
					}
					bad[[3]int{ri, si, li}] = &LogError{ri, si, li, f, r}
				}
			}
		}
	}
	return bad
}

// DropLogs returns req without the records in bad (req itself when bad is
// empty; otherwise a copy sharing the records).
func DropLogs(req *collogspb.ExportLogsServiceRequest, bad map[[3]int]*LogError) *collogspb.ExportLogsServiceRequest {
	if len(bad) == 0 {
		return req
	}
	out := &collogspb.ExportLogsServiceRequest{}
	for ri, rl := range req.ResourceLogs {
		nrl := &logspb.ResourceLogs{Resource: rl.GetResource(), SchemaUrl: rl.GetSchemaUrl()}
		for si, sl := range rl.GetScopeLogs() {
			nsl := &logspb.ScopeLogs{Scope: sl.GetScope(), SchemaUrl: sl.GetSchemaUrl()}
			for li, lr := range sl.GetLogRecords() {
				if bad[[3]int{ri, si, li}] == nil {
					nsl.LogRecords = append(nsl.LogRecords, lr)
				}
			}
			if len(nsl.LogRecords) > 0 {
				nrl.ScopeLogs = append(nrl.ScopeLogs, nsl)
			}
		}
		if len(nrl.ScopeLogs) > 0 {
			out.ResourceLogs = append(out.ResourceLogs, nrl)
		}
	}
	return out
}

// CountLogs is the number of log records in req.
func CountLogs(req *collogspb.ExportLogsServiceRequest) int {
	n := 0
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

// AppendLogs maps every record of req to a schemas.LogRecord and every
// gen_ai.evaluation.result event with a trace id to a score. now stands in
// for a record with neither time nor observed time. An invalid record is
// skipped and reported in the returned error (at most the first ten).
//
// Attribute values, bodies and GenAI events are read through the wire view
// (wire.go) of each record's deterministic encoding, the one that also
// gives the record its id: one reader and one mapping for spans and logs.
func AppendLogs(dst []schemas.LogRecord, scores []schemas.Score, req *collogspb.ExportLogsServiceRequest, now time.Time) ([]schemas.LogRecord, []schemas.Score, error) {
	var errs SpanErrorList
	seq := uint32(0)
	ev := &eventRenderer{m: otlpMapper{oneEvent: true}}
	det := proto.MarshalOptions{Deterministic: true}
	var lv logView
	for ri, rl := range req.ResourceLogs {
		// Once per resource: its encoding for the records' ids, its
		// attributes as the records' "resource." keys.
		resBytes, _ := det.Marshal(rl.GetResource())
		res := resourceView(resBytes)
		app := ""
		for _, k := range []string{schemas.AttrApp, "service.name"} {
			if app == "" {
				app = attrString(res, k)
			}
		}
		resKVs := make([][2]string, len(res))
		for i, kv := range res {
			resKVs[i] = [2]string{"resource." + kv.key, anyString(kv.v)}
		}
		ev.setResource(res)
		for si, sl := range rl.GetScopeLogs() {
			ev.setScope(sl.GetScope())
			for li, lr := range sl.GetLogRecords() {
				if f, r := CheckLogFields(lr.TraceId, lr.SpanId, lr.TimeUnixNano, lr.ObservedTimeUnixNano); f != "" {
					errs.Add(&LogError{ri, si, li, f, r})
					continue
				}
				enc, _ := det.Marshal(lr)
				lv.read(enc)
				rec := schemas.LogRecord{
					App: app, SeverityNumber: int32(lr.SeverityNumber), SeverityText: lr.SeverityText,
					EventName: lr.EventName, ScopeName: sl.GetScope().GetName(),
				}
				if len(lr.TraceId) == 16 {
					rec.TraceID = hex.EncodeToString(lr.TraceId)
				}
				if len(lr.SpanId) == 8 {
					rec.SpanID = hex.EncodeToString(lr.SpanId)
				}
				if rec.App == "" {
					rec.App = attrString(lv.attrs, schemas.AttrApp)
				}
				if rec.EventName == "" {
					rec.EventName = attrString(lv.attrs, "event.name")
				}
				t := lr.TimeUnixNano
				if t == 0 {
					t = lr.ObservedTimeUnixNano
				}
				if t == 0 {
					t = uint64(now.UnixNano())
				}
				rec.Time = time.Unix(0, int64(t)).UTC()
				if lr.ObservedTimeUnixNano != 0 {
					rec.ObservedTime = time.Unix(0, int64(lr.ObservedTimeUnixNano)).UTC()
				}
				switch lv.body.typ {
				case vAbsent:
				case vString:
					rec.Body = lv.body.s
				default:
					rec.Body = string(appendAnyJSON(nil, lv.body))
				}
				if n := len(lv.attrs) + len(resKVs); n > 0 {
					rec.Attributes = make(map[string]string, n)
					for _, kv := range resKVs {
						rec.Attributes[kv[0]] = kv[1]
					}
					for _, kv := range lv.attrs {
						rec.Attributes[kv.key] = anyString(kv.v)
					}
				}
				rec.RecordID = recordID(resBytes, enc)
				rec.Seq = seq
				seq++
				attrs := lv.eventAttributes()
				if rec.SpanID != "" { // what the event adds to its span's texts
					rec.InputText, rec.OutputText, rec.SystemText = ev.texts(lr, attrs, rec.EventName, t)
				}
				if rec.EventName == EventEvaluationResult && rec.TraceID != "" {
					sp := schemas.Span{TraceID: rec.TraceID, SpanID: rec.SpanID, App: rec.App,
						ChainName: attrString(lv.attrs, schemas.AttrChainName), EndTime: rec.Time}
					if sc, ok := evaluationScore(attrs, &sp, t); ok {
						scores = append(scores, sc)
					}
				}
				dst = append(dst, rec)
			}
		}
	}
	return dst, scores, errs.Err()
}

// AppendLogRecord decodes one logs-topic record (an OTLP
// ExportLogsServiceRequest in protobuf, as the collector and the
// OpenTelemetry Collector's Kafka exporter write it) into its log records
// and evaluation scores. On error both are returned unchanged and the error
// is a *RecordError.
func AppendLogRecord(logs []schemas.LogRecord, scores []schemas.Score, value []byte, now time.Time) ([]schemas.LogRecord, []schemas.Score, error) {
	req := &collogspb.ExportLogsServiceRequest{}
	if err := proto.Unmarshal(value, req); err != nil {
		return logs, scores, &RecordError{ReasonDecode, fmt.Sprintf("decoding OTLP logs protobuf: %v", err)}
	}
	n, m := len(logs), len(scores)
	out, sc, err := AppendLogs(logs, scores, req, now)
	if err != nil {
		return out[:n], sc[:m], &RecordError{ReasonInvalid, err.Error()}
	}
	return out, sc, nil
}

// logView is what the mapping reads of one log record's encoding: its
// body and attributes.
type logView struct {
	body  wVal
	attrs []wKV
	ev    []wKV
}

// read reads the LogRecord encoding b (proto.Marshal's: canonical).
func (lv *logView) read(b []byte) {
	lv.body, lv.attrs = wVal{}, lv.attrs[:0]
	var f field
	for len(b) > 0 {
		if ok, skip := next(&b, &f, false); !ok {
			return
		} else if skip || f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case 5: // body
			lv.body, _ = readAny(f.b, 0, false)
		case 6: // attributes
			if kv, ok := readKV(f.b, 0, false); ok {
				lv.attrs = append(lv.attrs, kv)
			}
		}
	}
}

// eventAttributes is what a log record says as event attributes: the
// body's fields when it is a kvlist, else the body as "body", then the
// record's attributes. The slice is reused by the next record.
func (lv *logView) eventAttributes() []wKV {
	out := lv.ev[:0]
	switch lv.body.typ {
	case vKvlist:
		for kv := range kvRaw(lv.body.s).all() {
			out = append(out, kv)
		}
	case vAbsent, vEmpty:
	default:
		out = append(out, wKV{key: "body", v: lv.body})
	}
	out = append(out, lv.attrs...)
	lv.ev = out
	return out
}

// resourceView is the attributes of a Resource encoding (proto.Marshal's).
func resourceView(b []byte) []wKV {
	var out []wKV
	var f field
	for len(b) > 0 {
		if ok, skip := next(&b, &f, false); !ok {
			break
		} else if !skip && f.num == 1 && f.typ == protowire.BytesType {
			if kv, ok := readKV(f.b, 0, false); ok {
				out = append(out, kv)
			}
		}
	}
	return out
}

// texts renders what one GenAI event adds to its span's input and
// output text, through the span mapping: the record as the only event of
// a span (or, for operation details, as the span's attributes). attrs is
// the record's eventAttributes.
func (ev *eventRenderer) texts(lr *logspb.LogRecord, attrs []wKV, name string, t uint64) (in, out, sys string) {
	sp := &wSpan{traceID: lr.TraceId, spanID: lr.SpanId, name: name, start: t, end: t}
	switch {
	case name == EventOperationDetails:
		sp.attrs = attrs
	case classifyEvent(name) >= evSystem && classifyEvent(name) <= evContentCompletion:
		ev.events = append(ev.events[:0], wEvent{name: name, time: t, attrs: attrs})
		sp.events = ev.events
	default:
		return "", "", ""
	}
	if f, _ := CheckSpanFields(sp.traceID, sp.spanID, sp.parentID, sp.start, sp.end); f != "" {
		return "", "", ""
	}
	if ev.dirty { // the resource and scope are read once for their records
		ev.m.setResource(ev.res)
		ev.readScope()
		ev.dirty = false
	}
	var s schemas.Span
	ev.m.mapSpan(&s, sp)
	return s.InputText, s.OutputText, s.SystemInstructions
}

// eventRenderer renders GenAI events (texts) with one mapper for a whole
// request, setting its resource and scope only when a record of theirs
// is an event.
type eventRenderer struct {
	m      otlpMapper
	res    []wKV
	scope  *commonpb.InstrumentationScope
	dirty  bool
	events []wEvent
	r      wireReader
}

func (ev *eventRenderer) setResource(res []wKV) {
	ev.res, ev.scope, ev.dirty = res, nil, true
}

func (ev *eventRenderer) setScope(s *commonpb.InstrumentationScope) { ev.scope, ev.dirty = s, true }

// readScope gives the mapper the scope, read from its encoding.
func (ev *eventRenderer) readScope() {
	b, _ := proto.Marshal(ev.scope)
	ev.r.strict = false
	ev.r.scope = nil // the mapper's slots point into it: a new slice per scope
	ev.r.scopeFields(b)
	ev.m.setScope(ev.r.scopeName, ev.r.scopeVersion, ev.r.scope)
}

// recordID hashes what identifies a record's content: its resource and
// the record, each deterministically encoded.
func recordID(res, rec []byte) string {
	h := fnv.New64a()
	h.Write(res)
	h.Write(rec)
	var out [8]byte
	return hex.EncodeToString(h.Sum(out[:0]))
}

func attrString(kvs []wKV, key string) string {
	for _, kv := range kvs {
		if kv.key == key {
			return anyString(kv.v)
		}
	}
	return ""
}

// pbAttrString is attrString over attribute messages.
func pbAttrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return anyString(pbVal(kv.GetValue()))
		}
	}
	return ""
}

// SpanApp is the app a span is stored under (the App column's rule:
// chainwatch.app, else service.name, each looked up span > scope >
// resource), without mapping the span: what the collector checks an API
// key's apps against.
func SpanApp(res *resourcepb.Resource, scope *commonpb.InstrumentationScope, sp *tracepb.Span) string {
	for _, k := range []string{schemas.AttrApp, "service.name"} {
		for _, attrs := range [][]*commonpb.KeyValue{sp.GetAttributes(), scope.GetAttributes(), res.GetAttributes()} {
			if v := pbAttrString(attrs, k); v != "" {
				return v
			}
		}
	}
	return ""
}

// LogApp is the app a log record is stored under (AppendLogs' rule).
func LogApp(res *resourcepb.Resource, lr *logspb.LogRecord) string {
	for _, v := range []string{pbAttrString(res.GetAttributes(), schemas.AttrApp), pbAttrString(res.GetAttributes(), "service.name"), pbAttrString(lr.GetAttributes(), schemas.AttrApp)} {
		if v != "" {
			return v
		}
	}
	return ""
}
