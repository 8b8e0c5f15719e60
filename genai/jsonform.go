// The chainwatch JSON form for apps without OpenTelemetry: its decoder, its
// checks, and its encoding as an OTLP request.

package genai

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// JSONBatch is the chainwatch JSON form, for apps without OpenTelemetry:
// {"spans": [Span, …]} with Span's JSON field names and RFC 3339 times.
type JSONBatch struct {
	Spans []schemas.Span `json:"spans"`
}

// BatchError names a span of a JSON batch that cannot be accepted, and the
// field at fault.
type BatchError struct {
	Span   int    // index into spans
	Field  string // JSON field name, e.g. "trace_id" or "attributes.foo"
	Reason string
}

func (e *BatchError) Error() string {
	s := "spans[" + strconv.Itoa(e.Span) + "]"
	if e.Field != "" {
		s += "." + e.Field
	}
	return s + ": " + e.Reason
}

// DecodeJSONBatch reads one JSON batch from r. Unknown fields are allowed
// (clients may send more than chainwatch stores), but every span must carry
// a 32-hex-digit trace_id, a 16-hex-digit span_id, a start_time and an
// end_time not before it; parent_span_id is empty or 16 hex digits, status
// is empty, "unset", "ok" or "error", and token counts are not negative.
// Text must be valid UTF-8 without escaped lone surrogates (which
// encoding/json would silently turn into U+FFFD): a *BatchError names the
// field (spans[2].input_text: invalid UTF-8 at byte 17, the offset counted
// in the whole body).
// Span errors name the span and field (spans[3].trace_id: …): a *BatchError,
// or an errors.Join of up to ten of them; a body that is not one JSON object
// with a non-empty "spans" array gets a plain error.
//
// Accepted spans are normalized exactly as they will be stored: the batch
// is encoded with ToOTLP and mapped back with AppendSpans, so ids come back
// in lower case, times in UTC, an empty component_name becomes the span
// name, the component kind follows from the operation when not given, and
// attributes named like a mapped attribute (gen_ai.*, session.id, …) fill
// their column. Round-tripping the result through ToOTLP and AppendSpans
// therefore changes nothing.
func DecodeJSONBatch(r io.Reader) (*JSONBatch, error) {
	doc, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading chainwatch JSON batch: %w", err)
	}
	if err := schemas.CheckJSONDepth(doc, schemas.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("decoding chainwatch JSON batch: %w", err)
	}
	var raw struct {
		Spans []json.RawMessage `json:"spans"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decoding chainwatch JSON batch: %w", schemas.JSONSyntaxError(err))
	}
	if terr := schemas.CheckJSONText(doc); terr != nil {
		return nil, batchTextError(terr)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding chainwatch JSON batch: unexpected data after the batch object")
	}
	if len(raw.Spans) == 0 {
		return nil, errors.New("spans: must hold at least one span")
	}
	b := &JSONBatch{Spans: make([]schemas.Span, len(raw.Spans))}
	var errs SpanErrorList
	for i, m := range raw.Spans {
		if err := decodeJSONSpan(m, &b.Spans[i]); err != nil {
			err.Span = i
			errs.Add(err)
			continue
		}
		if err := checkJSONSpan(&b.Spans[i]); err != nil {
			err.Span = i
			errs.Add(err)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	for i := range b.Spans {
		normalizeJSONSpan(&b.Spans[i])
	}
	return b, nil
}

// batchTextError is a *BatchError where the bad text is inside a span
// (spans[2].input_text: invalid UTF-8 at byte 17), else the error itself.
func batchTextError(e *schemas.JSONTextError) error {
	p := e.Path
	if len(p) < 2 || p[0].Key != "spans" || p[1].Key != "" || p[1].Index < 0 {
		return e
	}
	reason := e.Reason + " at byte " + strconv.Itoa(e.Offset)
	if e.InKey {
		reason = "a key holds " + reason
	}
	return &BatchError{Span: p[1].Index, Field: schemas.FormatJSONPath(p[2:]), Reason: reason}
}

// jsonSpanIn shadows Span's times, so that a malformed time can be reported
// with its field name, and its attributes, so that numbers, booleans, arrays
// and objects are accepted and flattened as OTLP attributes are.
type jsonSpanIn struct {
	*schemas.Span
	StartTime  json.RawMessage            `json:"start_time"`
	EndTime    json.RawMessage            `json:"end_time"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

func decodeJSONSpan(m json.RawMessage, s *schemas.Span) *BatchError {
	in := jsonSpanIn{Span: s}
	// Unknown fields are refused by name: a misspelt field would otherwise
	// be dropped without a word (the form is chainwatch's own; OTLP/JSON
	// ignores unknown fields as its specification asks).
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name, _ := strconv.Unquote(f)
			return &BatchError{Field: name, Reason: "unknown field (the fields are those of schemas.Span; anything else goes in attributes)"}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return &BatchError{Reason: "must be a JSON object, got " + schemas.DescribeJSON(m)}
			}
			field := strings.TrimPrefix(te.Field, "Span.")
			return &BatchError{Field: field, Reason: "must be a JSON " + jsonKind(te.Type.Kind().String()) + ", got " + sentValue(m, field, te.Value)}
		}
		return &BatchError{Reason: err.Error()}
	}
	if len(in.Attributes) > 0 {
		s.Attributes = make(map[string]string, len(in.Attributes))
		for k, v := range in.Attributes {
			s.Attributes[k] = flattenJSONValue(v)
		}
	}
	var err *BatchError
	if s.StartTime, err = parseJSONTime("start_time", in.StartTime); err != nil {
		return err
	}
	if s.EndTime, err = parseJSONTime("end_time", in.EndTime); err != nil {
		return err
	}
	return nil
}

// sentValue describes what the span object m holds under field (a
// top-level key, matched as encoding/json matches them), or kind when it
// can't be found.
func sentValue(m json.RawMessage, field, kind string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(m, &obj) == nil {
		if v, ok := obj[field]; ok {
			return schemas.DescribeJSON(v)
		}
		for k, v := range obj {
			if strings.EqualFold(k, field) {
				return schemas.DescribeJSON(v)
			}
		}
	}
	return kind
}

// flattenJSONValue turns an attribute value into its string form: a string
// as it is, null as "", anything else as its compact JSON.
func flattenJSONValue(v json.RawMessage) string {
	switch {
	case len(v) > 0 && v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	case string(v) == "null":
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int64", "int", "int32":
		return "integer"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	}
	return goKind
}

func parseJSONTime(field string, raw json.RawMessage) (time.Time, *BatchError) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, &BatchError{Field: field, Reason: "missing"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, &BatchError{Field: field, Reason: "must be an RFC 3339 time string, got " + string(raw)}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &BatchError{Field: field, Reason: "must be an RFC 3339 time, got " + strconv.Quote(s)}
	}
	return t, nil
}

func checkJSONSpan(s *schemas.Span) *BatchError {
	if r := checkHexID(s.TraceID, 32, false); r != "" {
		return &BatchError{Field: "trace_id", Reason: r}
	}
	if r := checkHexID(s.SpanID, 16, false); r != "" {
		return &BatchError{Field: "span_id", Reason: r}
	}
	if s.ParentSpanID != "" {
		if r := checkHexID(s.ParentSpanID, 16, true); r != "" {
			return &BatchError{Field: "parent_span_id", Reason: r + " (or empty for a root span)"}
		}
	}
	// The storable range (CheckStorableTime), less its first instant: a
	// start of 1970-01-01T00:00:00Z is OTLP's zero, an unset time.
	if r := schemas.CheckStorableTime(s.StartTime); r != "" {
		return &BatchError{Field: "start_time", Reason: r}
	}
	if s.StartTime.Equal(schemas.MinStorableTime) {
		return &BatchError{Field: "start_time", Reason: "must be after " + schemas.MinStorableTime.Format(time.RFC3339) + " (zero is OTLP's unset time)"}
	}
	if s.EndTime.Before(s.StartTime) {
		return &BatchError{Field: "end_time", Reason: "must not be before start_time"}
	}
	if r := schemas.CheckStorableTime(s.EndTime); r != "" {
		return &BatchError{Field: "end_time", Reason: r}
	}
	switch strings.ToLower(s.Status) {
	case "", schemas.StatusUnset, schemas.StatusOK, schemas.StatusError:
	default:
		return &BatchError{Field: "status", Reason: `must be "unset", "ok" or "error", got ` + strconv.Quote(s.Status)}
	}
	if s.InputTokens < 0 {
		return &BatchError{Field: "input_tokens", Reason: "must not be negative"}
	}
	if s.OutputTokens < 0 {
		return &BatchError{Field: "output_tokens", Reason: "must not be negative"}
	}
	return nil
}

func checkHexID(id string, digits int, zeroOK bool) string {
	switch {
	case id == "":
		return "missing"
	case len(id) != digits:
		return "must be " + strconv.Itoa(digits) + " hex digits, got " + strconv.Itoa(len(id)) + " characters"
	}
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '0':
		case c >= '1' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			zero = false
		default:
			return "must be " + strconv.Itoa(digits) + " hex digits, got " + strconv.Quote(id)
		}
	}
	if zero && !zeroOK {
		return "must not be all zero"
	}
	return ""
}

// normalizeJSONSpan makes s what storing it will make of it.
func normalizeJSONSpan(s *schemas.Span) {
	s.Status = strings.ToLower(s.Status)
	one := JSONBatch{Spans: []schemas.Span{*s}}
	if out, err := AppendSpans(nil, one.ToOTLP()); err == nil && len(out) == 1 {
		*s = out[0]
	}
}

// ToOTLP encodes the batch as an OTLP request, the form the collector puts
// on Kafka: one ResourceSpans per (app, environment) with service.name and
// deployment.environment.name (and chainwatch.app / chainwatch.environment,
// so that a span attribute cannot override them), spans carrying the lineage as chainwatch.*
// attributes and the rest as gen_ai.* attributes (input and output text as
// one-message gen_ai.input.messages / gen_ai.output.messages JSON, usage as
// gen_ai.usage.*), followed by the span's Attributes in key order. Where an
// Attributes key equals one a column is written under (or chainwatch.app /
// chainwatch.environment while App / Environment is set), the column wins
// and the attribute is left out.
func (b *JSONBatch) ToOTLP() *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	type resKey struct{ app, env string }
	scopes := make(map[resKey]*tracepb.ScopeSpans)
	for i := range b.Spans {
		s := &b.Spans[i]
		k := resKey{s.App, s.Environment}
		ss := scopes[k]
		if ss == nil {
			var attrs []*commonpb.KeyValue
			// chainwatch.app / chainwatch.environment beside service.name /
			// deployment.environment.name keep the columns authoritative
			// over a span attribute named service.name.
			if s.App != "" {
				attrs = append(attrs, stringKV(schemas.AttrServiceName, s.App), stringKV(schemas.AttrApp, s.App))
			}
			if s.Environment != "" {
				attrs = append(attrs, stringKV(schemas.AttrDeploymentEnvironment, s.Environment), stringKV(schemas.AttrEnvironment, s.Environment))
			}
			ss = &tracepb.ScopeSpans{}
			req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: attrs},
				ScopeSpans: []*tracepb.ScopeSpans{ss},
			})
			scopes[k] = ss
		}
		ss.Spans = append(ss.Spans, spanToOTLP(s))
	}
	return req
}

func spanToOTLP(s *schemas.Span) *tracepb.Span {
	sp := &tracepb.Span{
		TraceId:           decodeHexID(s.TraceID),
		SpanId:            decodeHexID(s.SpanID),
		ParentSpanId:      decodeHexID(s.ParentSpanID),
		Name:              s.Name,
		Kind:              tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano: unixNano(s.StartTime),
		EndTimeUnixNano:   unixNano(s.EndTime),
	}
	switch strings.ToLower(s.Status) {
	case schemas.StatusError:
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: s.ErrorMessage}
	case schemas.StatusOK:
		sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK, Message: s.ErrorMessage}
	default:
		if s.ErrorMessage != "" {
			sp.Status = &tracepb.Status{Message: s.ErrorMessage}
		}
	}
	attrs := make([]*commonpb.KeyValue, 0, 20+len(s.Attributes))
	str := func(k, v string) {
		if v != "" {
			attrs = append(attrs, stringKV(k, v))
		}
	}
	str(schemas.AttrChainName, s.ChainName)
	str(schemas.AttrChainVersion, s.ChainVersion)
	str(schemas.AttrComponentName, s.ComponentName)
	str(schemas.AttrComponentKind, string(s.ComponentKind))
	str(schemas.AttrPromptTemplateID, s.PromptTemplateID)
	str(schemas.AttrPromptTemplateVersion, s.PromptTemplateVersion)
	str(schemas.AttrGenAIOperationName, s.Operation)
	str(schemas.AttrGenAIProviderName, s.Provider)
	str(schemas.AttrGenAIRequestModel, s.ModelRequested)
	str(schemas.AttrGenAIResponseModel, s.ModelReturned)
	if s.InputText != "" {
		str(schemas.AttrGenAIInputMessages, oneMessageJSON("user", s.InputText))
	}
	if s.OutputText != "" {
		str(schemas.AttrGenAIOutputMessages, oneMessageJSON("assistant", s.OutputText))
	}
	if s.InputTokens != 0 {
		attrs = append(attrs, intKV(schemas.AttrGenAIUsageInputTokens, s.InputTokens))
	}
	if s.OutputTokens != 0 {
		attrs = append(attrs, intKV(schemas.AttrGenAIUsageOutputTokens, s.OutputTokens))
	}
	for _, kv := range []struct {
		k string
		v int64
	}{{schemas.AttrGenAIUsageCacheReadInputTokens, s.CacheReadInputTokens}, {schemas.AttrGenAIUsageCacheCreationInputTokens, s.CacheCreationInputTokens}, {schemas.AttrGenAIUsageReasoningOutputTokens, s.ReasoningOutputTokens}} {
		if kv.v != 0 {
			attrs = append(attrs, intKV(kv.k, kv.v))
		}
	}
	if s.Stream {
		attrs = append(attrs, &commonpb.KeyValue{Key: schemas.AttrGenAIRequestStream, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}})
	}
	if s.TimeToFirstChunkMS > 0 {
		attrs = append(attrs, &commonpb.KeyValue{Key: schemas.AttrGenAIResponseTimeToFirstChunk, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: s.TimeToFirstChunkMS / 1000}}})
	}
	str(schemas.AttrGenAISystemInstructions, s.SystemInstructions)
	str(schemas.AttrGenAIToolDefinitions, s.ToolDefinitions)
	str(schemas.AttrSessionID, s.SessionID)
	str(schemas.AttrUserID, s.UserID)
	columns := attrs
	keys := make([]string, 0, len(s.Attributes))
	for k := range s.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case slices.ContainsFunc(columns, func(kv *commonpb.KeyValue) bool { return kv.Key == k }):
			continue // the column wins
		case s.App != "" && k == schemas.AttrApp:
			continue // would override the resource's
		case s.Environment != "" && k == schemas.AttrEnvironment:
			continue
		}
		attrs = append(attrs, stringKV(k, s.Attributes[k]))
	}
	sp.Attributes = attrs
	return sp
}

// oneMessageJSON is a semconv messages array holding one text message.
func oneMessageJSON(role, text string) string {
	b := make([]byte, 0, len(text)+64)
	b = append(b, `[{"role":"`...)
	b = append(b, role...)
	b = append(b, `","parts":[{"type":"text","content":`...)
	b = schemas.AppendJSONString(b, text)
	b = append(b, "}]}]"...)
	return string(b)
}

func stringKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intKV(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func decodeHexID(s string) []byte {
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func unixNano(t time.Time) uint64 {
	if schemas.CheckStorableTime(t) != "" {
		return 0
	}
	return uint64(t.UnixNano())
}
