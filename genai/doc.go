// Package genai maps what GenAI instrumentations send onto schemas.Span
// rows: OTLP trace requests in every dialect (OpenTelemetry GenAI semconv old
// and new, OpenLLMetry, OpenInference, chainwatch's own attributes) through
// AppendSpans, their structural checks through ValidateOTLP, and the
// chainwatch JSON form through DecodeJSONBatch and JSONBatch.ToOTLP. The
// rules and the precedence between dialects are written down in MAPPING.md
// beside this file; keep the two in step.
//
// genai imports schemas for the record types and attribute names; schemas
// never imports genai.
package genai
