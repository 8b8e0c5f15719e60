package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/schemas"
)

// This file decodes the collector's JSON bodies: feedback and OTLP/JSON
// (the chainwatch span form is genai.DecodeJSONBatch). Every error names
// the item and field at fault. Text must be valid UTF-8: encoding/json would
// store U+FFFD in place of invalid bytes and escaped lone surrogates, so
// schemas.CheckJSONText refuses them first, as the protobuf path does.

// DecodeFeedback parses and checks a feedback body: one object, or
// {"feedback": [...]}. Each item needs a trace id (32 hex digits) and a
// score or a label; a time, when given, is an RFC 3339 time inside the
// storable range (schemas.CheckStorableTime); a missing time is now; a
// missing id is derived from the content (so a client's retry of the same
// feedback is stored once). Errors name the item, also for a single object
// (feedback[0]), and the field: feedback[2].score: expected a number, got
// string "5".
func DecodeFeedback(body []byte, now time.Time) ([]schemas.Feedback, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: send a feedback object or {\"feedback\": [...]}")
	}
	if err := schemas.CheckJSONDepth(body, schemas.MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("decoding feedback JSON: %v", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return nil, fmt.Errorf("decoding feedback JSON: %v", schemas.JSONSyntaxError(err))
	}
	var items []schemas.Feedback
	if rawList, ok := probe["feedback"]; ok {
		if terr := schemas.CheckJSONText(body); terr != nil { // offsets in the body as sent
			return nil, terr
		}
		var list []json.RawMessage
		if err := json.Unmarshal(rawList, &list); err != nil {
			return nil, fmt.Errorf("feedback: must be a JSON array of feedback objects, got %s", schemas.DescribeJSON(rawList))
		}
		if len(list) == 0 {
			return nil, errors.New("feedback: the list is empty")
		}
		items = make([]schemas.Feedback, len(list))
		for i, raw := range list {
			if err := decodeFeedbackItem(raw, &items[i]); err != nil {
				return nil, fmt.Errorf("feedback[%d]%v", i, err)
			}
		}
	} else {
		if terr := schemas.CheckJSONText(body); terr != nil { // offsets in the body as sent
			terr.Path = append([]schemas.JSONPathElem{{Key: "feedback", Index: -1}, {Index: 0}}, terr.Path...)
			return nil, terr
		}
		items = make([]schemas.Feedback, 1)
		if err := decodeFeedbackItem(trimmed, &items[0]); err != nil {
			return nil, fmt.Errorf("feedback[0]%v", err)
		}
	}
	for i := range items {
		f := &items[i]
		where := fmt.Sprintf("feedback[%d]", i)
		f.TraceID = strings.ToLower(f.TraceID)
		f.SpanID = strings.ToLower(f.SpanID)
		if !isHex(f.TraceID, 32) {
			return nil, fmt.Errorf("%s.trace_id: must be 32 hex digits, got %q", where, f.TraceID)
		}
		if f.SpanID != "" && !isHex(f.SpanID, 16) {
			return nil, fmt.Errorf("%s.span_id: must be 16 hex digits, got %q", where, f.SpanID)
		}
		if f.Score == nil && f.Label == "" {
			return nil, fmt.Errorf("%s: needs a score or a label", where)
		}
		if f.Score != nil && (math.IsNaN(*f.Score) || math.IsInf(*f.Score, 0)) {
			return nil, fmt.Errorf("%s.score: must be a finite number", where)
		}
		if len(f.Comment) > 64<<10 {
			return nil, fmt.Errorf("%s.comment: longer than 64 KiB", where)
		}
		if f.Source == "" {
			f.Source = "user"
		}
		gaveTime := !f.Time.IsZero()
		if !gaveTime {
			f.Time = now.UTC()
		}
		// Checked also when defaulted: a clock outside the range is as
		// unstorable as a client's time.
		if r := schemas.CheckStorableTime(f.Time); r != "" {
			return nil, fmt.Errorf("%s.time: %s", where, r)
		}
		if f.ID == "" {
			h := sha256.New()
			fmt.Fprintf(h, "%s|%s|%s|%s|%s|%s", f.TraceID, f.SpanID, f.UserID, f.Source, f.Label, f.Comment)
			if f.Score != nil {
				fmt.Fprintf(h, "|%g", *f.Score)
			}
			if gaveTime {
				fmt.Fprintf(h, "|%d", f.Time.UnixNano())
			}
			f.ID = "fb-" + hex.EncodeToString(h.Sum(nil))[:24]
		}
	}
	return items, nil
}

// feedbackIn shadows Feedback's time, so that a malformed time is reported
// with its field name.
type feedbackIn struct {
	*schemas.Feedback
	Time json.RawMessage `json:"time"`
}

// decodeFeedbackItem decodes one feedback object into f. Its error starts
// with the field (".score: …") or ": " when the item itself is at fault, for
// the caller to put the item's index before it.
func decodeFeedbackItem(raw json.RawMessage, f *schemas.Feedback) error {
	in := feedbackIn{Feedback: f}
	if err := json.Unmarshal(raw, &in); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return fmt.Errorf(": %v", err)
		}
		field := strings.TrimPrefix(te.Field, "Feedback.")
		if field == "" {
			return fmt.Errorf(": must be a JSON object, got %s", schemas.DescribeJSON(raw))
		}
		got := te.Value
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				if strings.EqualFold(k, field) {
					got = schemas.DescribeJSON(v)
					break
				}
			}
		}
		return fmt.Errorf(".%s: expected %s, got %s", field, expectedJSON(te.Type), got)
	}
	if len(in.Time) == 0 || string(in.Time) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(in.Time, &s) != nil {
		return fmt.Errorf(".time: must be an RFC 3339 time string, got %s", schemas.DescribeJSON(in.Time))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf(".time: must be an RFC 3339 time, got %q", s)
	}
	f.Time = t
	return nil
}

// expectedJSON names the JSON type that decodes into t: "a number", "a
// string", …
func expectedJSON(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// unmarshalOTLPJSON is decodeOTLPJSON refusing the whole request for an id
// that is not hex: its error names the first such span.
func unmarshalOTLPJSON(body []byte, req *coltracepb.ExportTraceServiceRequest) error {
	bad, err := decodeOTLPJSON(body, req)
	if err != nil || len(bad) == 0 {
		return err
	}
	first := slices.MinFunc(slices.Collect(maps.Keys(bad)), func(a, b [3]int) int { return slices.Compare(a[:], b[:]) })
	return bad[first]
}

// otlpShape is the nesting of an OTLP/JSON export request: resources,
// scopes, leaves (spans or log records), each key in its camelCase and
// snake_case forms, and the messages protojson reads them into.
type otlpShape struct {
	res, scope, leaf      [2]string
	resMsg, scopeMsg, msg func() proto.Message
}

var (
	tracesShape = &otlpShape{
		res: [2]string{"resourceSpans", "resource_spans"}, scope: [2]string{"scopeSpans", "scope_spans"}, leaf: [2]string{"spans", "spans"},
		resMsg:   func() proto.Message { return &tracepb.ResourceSpans{} },
		scopeMsg: func() proto.Message { return &tracepb.ScopeSpans{} },
		msg:      func() proto.Message { return &tracepb.Span{} },
	}
	logsShape = &otlpShape{
		res: [2]string{"resourceLogs", "resource_logs"}, scope: [2]string{"scopeLogs", "scope_logs"}, leaf: [2]string{"logRecords", "log_records"},
		resMsg:   func() proto.Message { return &logspb.ResourceLogs{} },
		scopeMsg: func() proto.Message { return &logspb.ScopeLogs{} },
		msg:      func() proto.Message { return &logspb.LogRecord{} },
	}
)

// walk calls f for every leaf of doc with its indices.
func (sh *otlpShape) walk(doc map[string]any, f func(i, j, k int, leaf map[string]any)) {
	for _, rk := range uniq(sh.res) {
		rss, _ := doc[rk].([]any)
		for i, rs := range rss {
			rsm, _ := rs.(map[string]any)
			for _, sk := range uniq(sh.scope) {
				sss, _ := rsm[sk].([]any)
				for j, ss := range sss {
					ssm, _ := ss.(map[string]any)
					for _, lk := range uniq(sh.leaf) {
						leaves, _ := ssm[lk].([]any)
						for k, l := range leaves {
							lm, _ := l.(map[string]any)
							f(i, j, k, lm)
						}
					}
				}
			}
		}
	}
}

func uniq(k [2]string) []string {
	if k[0] == k[1] {
		return k[:1]
	}
	return k[:]
}

// decodeOTLPJSON decodes OTLP/JSON traces, whose trace and span ids are hex
// strings (not protobuf JSON's base64): they are rewritten before protojson
// reads the message. A span with an id that is not hex (its own or a
// link's) is returned in bad, by its indices, for the collector to reject
// it alone (partial success); the id is dropped from the message. Text
// that is not valid UTF-8 is refused first, naming its JSON path
// (resourceSpans[0].scopeSpans[0].spans[3].name: invalid UTF-8 at byte
// 412).
func decodeOTLPJSON(body []byte, req *coltracepb.ExportTraceServiceRequest) (bad map[[3]int]*genai.SpanError, err error) {
	err = decodeOTLPJSONShape(body, tracesShape, req, func(i, j, k int, spm map[string]any) {
		field, reason := hexIDsToBase64(spm, "")
		links, _ := spm["links"].([]any)
		for l, ln := range links {
			lm, _ := ln.(map[string]any)
			if f, r := hexIDsToBase64(lm, "links["+strconv.Itoa(l)+"]."); f != "" && field == "" {
				field, reason = f, r
			}
		}
		if field != "" {
			if bad == nil {
				bad = map[[3]int]*genai.SpanError{}
			}
			bad[[3]int{i, j, k}] = genai.NewSpanError(i, j, k, spanIDOf(spm), field, reason)
		}
	})
	return bad, err
}

// decodeOTLPLogsJSON is decodeOTLPJSON for OTLP/JSON logs: a record with an
// id that is not hex is returned in bad.
func decodeOTLPLogsJSON(body []byte, req *collogspb.ExportLogsServiceRequest) (bad map[[3]int]*genai.LogError, err error) {
	err = decodeOTLPJSONShape(body, logsShape, req, func(i, j, k int, lm map[string]any) {
		if field, reason := hexIDsToBase64(lm, ""); field != "" {
			if bad == nil {
				bad = map[[3]int]*genai.LogError{}
			}
			bad[[3]int{i, j, k}] = &genai.LogError{Resource: i, Scope: j, Record: k, Field: field, Reason: reason}
		}
	})
	return bad, err
}

// decodeOTLPJSONShape reads one OTLP/JSON request of shape sh into req:
// one JSON value, valid UTF-8, fix run on every leaf before protojson
// reads the document; a refusal names the JSON path of the first part
// that fails.
func decodeOTLPJSONShape(body []byte, sh *otlpShape, req proto.Message, fix func(i, j, k int, leaf map[string]any)) error {
	if err := schemas.CheckJSONDepth(body, schemas.MaxJSONDepth); err != nil {
		return err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return schemas.JSONSyntaxError(err)
	}
	// One JSON value is the request: a second one would be dropped silently.
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return fmt.Errorf("unexpected data after the request's JSON object at byte %d", len(body)-len(rest))
	}
	if terr := schemas.CheckJSONText(body); terr != nil {
		return terr
	}
	sh.walk(doc, fix)
	fixed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, req); err != nil {
		// protojson's line:column is in the re-encoded document, not the
		// body as sent: name the JSON path of the first part that fails.
		return sh.locate(doc, err)
	}
	return nil
}

// locate finds, for an OTLP/JSON document protojson refused, the innermost
// resource / scope / leaf that fails on its own, and names it:
// "resourceSpans[0].scopeSpans[0].spans[3]: …".
func (sh *otlpShape) locate(doc map[string]any, whole error) error {
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	fails := func(v any, m proto.Message) (string, bool) {
		b, err := json.Marshal(v)
		if err != nil {
			return err.Error(), true
		}
		if err := opts.Unmarshal(b, m); err != nil {
			msg := err.Error()
			if i := strings.Index(msg, "(line "); i >= 0 { // protojson: "proto: (line L:C): why"
				if j := strings.Index(msg[i:], "): "); j >= 0 {
					msg = msg[i+j+3:] // drop the position in the re-encoded text
				}
			}
			return msg, true
		}
		return "", false
	}
	for _, rk := range uniq(sh.res) {
		rss, _ := doc[rk].([]any)
		for i, rs := range rss {
			path := fmt.Sprintf("%s[%d]", rk, i)
			msg, bad := fails(rs, sh.resMsg())
			if !bad {
				continue
			}
			rsm, _ := rs.(map[string]any)
			for _, sk := range uniq(sh.scope) {
				sss, _ := rsm[sk].([]any)
				for j, ss := range sss {
					sspath := fmt.Sprintf("%s.%s[%d]", path, sk, j)
					ssmsg, ssbad := fails(ss, sh.scopeMsg())
					if !ssbad {
						continue
					}
					ssm, _ := ss.(map[string]any)
					for _, lk := range uniq(sh.leaf) {
						leaves, _ := ssm[lk].([]any)
						for k, l := range leaves {
							if lmsg, lbad := fails(l, sh.msg()); lbad {
								return fmt.Errorf("%s.%s[%d]: %s", sspath, lk, k, lmsg)
							}
						}
					}
					return fmt.Errorf("%s: %s", sspath, ssmsg)
				}
			}
			return fmt.Errorf("%s: %s", path, msg)
		}
	}
	return whole
}

// hexIDsToBase64 rewrites m's hex ids in base64. An id that is not hex is
// deleted and the first such is returned: its OTLP field name (after
// prefix) and why.
func hexIDsToBase64(m map[string]any, prefix string) (field, reason string) {
	for _, key := range []string{"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"} {
		s, ok := m[key].(string)
		if !ok || s == "" {
			continue
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			delete(m, key)
			if field == "" {
				field, reason = prefix+otlpFieldName(key), fmt.Sprintf("%q is not hex", clip(s, 48))
			}
			continue
		}
		m[key] = base64.StdEncoding.EncodeToString(b)
	}
	return field, reason
}

// otlpFieldName is the protobuf name of an OTLP/JSON id key.
func otlpFieldName(key string) string {
	switch key {
	case "traceId", "trace_id":
		return "trace_id"
	case "spanId", "span_id":
		return "span_id"
	}
	return "parent_span_id"
}

// spanIDOf is the span id of a span already rewritten by hexIDsToBase64,
// or nil.
func spanIDOf(m map[string]any) []byte {
	for _, key := range []string{"spanId", "span_id"} {
		if s, ok := m[key].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(s)
			return b
		}
	}
	return nil
}

// clip shortens s to at most n bytes (whole runes) and marks the cut, so a
// message quoting what a client sent stays short.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
