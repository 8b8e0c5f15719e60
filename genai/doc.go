// Package genai maps what GenAI instrumentations send onto schemas.Span
// rows: OTLP trace requests in every dialect (OpenTelemetry GenAI semconv old
// and new, OpenLLMetry, OpenInference, chainwatch's own attributes) through
// AppendSpans, their structural checks through ValidateOTLP, and the
// chainwatch JSON form through DecodeJSONBatch and JSONBatch.ToOTLP. The
// rules and the precedence between dialects are written down in MAPPING.md
// beside this file; keep the two in step.
//
// There is one mapping, and it never reads the OTLP message types: it reads
// a flat view decoded straight from the protobuf encoding (wire.go). A
// spans-topic record (AppendRecord, AppendSpanRecord) is read as it came,
// falling back to proto.Unmarshal and its canonical re-encoding where the
// reader is unsure; AppendSpans encodes the request it is given; the logs
// path (AppendLogs) reads each record's deterministic encoding.
//
// genai imports schemas for the record types and attribute names; schemas
// never imports genai.
package genai
