package genai

import (
	"github.com/chainwatch/chainwatch/schemas"
)

// Dead-letter reasons of records that cannot be decoded (the bounded
// label values of chainwatch_writer_dead_letters_total).
const (
	ReasonDecode  = "decode"
	ReasonInvalid = "invalid"
)

// RecordError says why a record cannot be decoded: Reason is the bounded
// dead-letter label ("decode" or "invalid").
type RecordError struct {
	Reason string
	Msg    string
}

func (e *RecordError) Error() string { return e.Reason + ": " + e.Msg }

// AppendSpanRecord decodes the value of one spans-topic record (an OTLP
// ExportTraceServiceRequest in protobuf, as the collector and the
// OpenTelemetry Collector's Kafka exporter write it) and appends its spans
// to dst. On error it returns dst unchanged and a *RecordError. The writer
// and `chainwatch evaluator` both decode through it.
func AppendSpanRecord(dst []schemas.Span, value []byte) ([]schemas.Span, error) {
	spans, _, err := AppendRecord(dst, nil, value)
	return spans, err
}
