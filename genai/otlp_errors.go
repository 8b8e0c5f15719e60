// Validation errors of the OTLP mapping: the structural span checks,
// SpanError and the bounded SpanErrorList.

package genai

import (
	"encoding/hex"
	"errors"
	"strconv"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// SpanError says why one span of an OTLP request cannot be stored.
type SpanError struct {
	Resource int    // index into resource_spans
	Scope    int    // index into that resource's scope_spans
	Span     int    // index into that scope's spans
	SpanID   string // the span's id in hex, when it has a well-formed one
	Field    string // OTLP field name: trace_id, span_id, parent_span_id, start_time_unix_nano, end_time_unix_nano
	Reason   string
}

func (e *SpanError) Error() string {
	return "resource_spans[" + strconv.Itoa(e.Resource) + "].scope_spans[" + strconv.Itoa(e.Scope) +
		"].spans[" + strconv.Itoa(e.Span) + "]: " + e.Field + ": " + e.Reason
}

// maxReportedErrors bounds how many span errors one request reports.
const maxReportedErrors = 10

// ValidateOTLP runs the structural checks AppendSpans applies to every span
// of req (ids, timestamps) without mapping anything. It returns nil, a single
// *SpanError, or an errors.Join of up to ten of them (plus a count of the
// rest), so a collector can answer 400 naming the spans. It reads the
// message types, not the wire view: it maps nothing, and its only rules are
// CheckSpanFields', which the wire path applies to the same fields.
func ValidateOTLP(req *coltracepb.ExportTraceServiceRequest) error {
	var errs SpanErrorList
	for ri, rs := range req.GetResourceSpans() {
		for si, ss := range rs.GetScopeSpans() {
			for pi, sp := range ss.GetSpans() {
				if sp == nil {
					continue
				}
				if field, reason := checkOTLPSpan(sp); field != "" {
					errs.Add(newSpanError(ri, si, pi, sp, field, reason))
				}
			}
		}
	}
	return errs.Err()
}

func checkOTLPSpan(sp *tracepb.Span) (field, reason string) {
	return CheckSpanFields(sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
}

// CheckSpanFields is the structural check of one span over its raw fields
// (ValidateOTLP's rules): it returns the failing field and why, or "", "".
// The collector's wire-level fast path calls it with fields read straight
// from the protobuf encoding.
func CheckSpanFields(traceID, spanID, parentID []byte, start, end uint64) (field, reason string) {
	switch n := len(traceID); {
	case n != 16:
		return "trace_id", "must be 16 bytes, got " + strconv.Itoa(n)
	case allZero(traceID):
		return "trace_id", "must not be all zero"
	}
	switch n := len(spanID); {
	case n != 8:
		return "span_id", "must be 8 bytes, got " + strconv.Itoa(n)
	case allZero(spanID):
		return "span_id", "must not be all zero"
	}
	if n := len(parentID); n != 0 && n != 8 {
		return "parent_span_id", "must be empty or 8 bytes, got " + strconv.Itoa(n)
	}
	// Times must be storable exactly on every supported server (see
	// MaxStorableUnixNano); zero is OTLP's unset time and has no meaning
	// as a start.
	if start == 0 {
		return "start_time_unix_nano", "must not be zero"
	}
	if r := schemas.CheckStorableUnixNano(start); r != "" {
		return "start_time_unix_nano", r
	}
	if end < start {
		return "end_time_unix_nano", "must not be before start_time_unix_nano (start " +
			strconv.FormatUint(start, 10) + ", end " + strconv.FormatUint(end, 10) + ")"
	}
	if r := schemas.CheckStorableUnixNano(end); r != "" {
		return "end_time_unix_nano", r
	}
	return "", ""
}

func newSpanError(ri, si, pi int, sp *tracepb.Span, field, reason string) *SpanError {
	return NewSpanError(ri, si, pi, sp.SpanId, field, reason)
}

// NewSpanError names a span by its indices (and its id when it has a good
// one) with the field that failed and why.
func NewSpanError(ri, si, pi int, spanID []byte, field, reason string) *SpanError {
	e := &SpanError{Resource: ri, Scope: si, Span: pi, Field: field, Reason: reason}
	if len(spanID) == 8 && !allZero(spanID) {
		e.SpanID = hex.EncodeToString(spanID)
	}
	return e
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// SpanErrorList collects up to ten span errors and counts the rest; Err
// reports them the way ValidateOTLP does. The zero value is ready to use;
// Reset keeps its memory for reuse.
type SpanErrorList struct {
	errs []error
	more int
}

// Add records one error.
func (l *SpanErrorList) Add(err error) {
	if len(l.errs) < maxReportedErrors {
		l.errs = append(l.errs, err)
		return
	}
	l.more++
}

// Len is the number of errors added.
func (l *SpanErrorList) Len() int { return len(l.errs) + l.more }

// Reset empties the list, keeping its memory.
func (l *SpanErrorList) Reset() {
	clear(l.errs)
	l.errs, l.more = l.errs[:0], 0
}

// Err is nil, the one error, or an errors.Join of the first ten and a line
// "and N more spans with errors". It does not alias the list's memory.
func (l *SpanErrorList) Err() error {
	switch {
	case len(l.errs) == 0:
		return nil
	case len(l.errs) == 1 && l.more == 0:
		return l.errs[0]
	}
	errs := append([]error(nil), l.errs...)
	if l.more > 0 {
		errs = append(errs, errors.New("and "+strconv.Itoa(l.more)+" more spans with errors"))
	}
	return errors.Join(errs...)
}
