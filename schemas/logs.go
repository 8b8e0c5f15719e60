package schemas

import "time"

// LogRecord is one OTLP log record as the logs table keeps it: every log
// record the collector accepts lands here, GenAI events and other logs
// alike. A GenAI message event (gen_ai.user.message, …, gen_ai.choice,
// gen_ai.client.inference.operation.details) also carries the text it adds
// to its span's input or output, rendered by the same mapping as the span's
// own content (genai.AppendLogs); readers join it to the span by trace and
// span id (query: the merged view), so the order in which a span and its
// logs arrive does not matter.
type LogRecord struct {
	TraceID string `json:"trace_id"` // 32 lower-case hex digits, or empty
	SpanID  string `json:"span_id"`  // 16 lower-case hex digits, or empty
	// Time is the record's time_unix_nano, else its observed time, else
	// the time the collector received it.
	Time         time.Time `json:"time"`
	ObservedTime time.Time `json:"observed_time"`

	App            string `json:"app"` // chainwatch.app > service.name of the resource
	SeverityNumber int32  `json:"severity_number"`
	SeverityText   string `json:"severity_text"`
	// EventName is the record's event_name, else its event.name attribute.
	EventName string `json:"event_name"`
	ScopeName string `json:"scope_name"`
	// Body is a string body as sent, any other body as OTLP/JSON of its
	// value.
	Body string `json:"body"`
	// Attributes are the record's attributes (values as genai renders span
	// attributes: strings as sent, others as JSON), and the resource's under
	// a "resource." prefix.
	Attributes map[string]string `json:"attributes"`

	// InputText and OutputText are what a GenAI event adds to its span's
	// input and output text; empty for other records.
	InputText  string `json:"input_text,omitempty"`
	OutputText string `json:"output_text,omitempty"`
	// SystemText is what a system (or developer) message event adds to its
	// span's system instructions.
	SystemText string `json:"system_text,omitempty"`

	// RecordID identifies the record's content (a hash of time, ids, event
	// name, body and attributes): a record sent or delivered twice has one
	// row after deduplication.
	RecordID string `json:"record_id"`
	// Seq is the record's place in the request that carried it: the
	// order of a span's events when their times tie (the OpenTelemetry JS
	// SDK stamps log records in milliseconds, so one call's events often
	// share a time).
	Seq uint32 `json:"seq"`
}

// LogColumns is the logs table's column list in insert order. With Map the
// attributes are one column; without, two parallel arrays.
func LogColumns(caps Capabilities) []string {
	cols := []string{"time", "time_unix_nano", "observed_unix_nano", "trace_id", "span_id", "record_id", "seq",
		"app", "severity_number", "severity_text", "event_name", "scope_name", "body"}
	if caps.Map {
		cols = append(cols, "attributes")
	} else {
		cols = append(cols, "attr_keys", "attr_values")
	}
	return append(cols, "input_text", "output_text", "system_text", "ingested_at")
}

// logsTable is migration 6: every OTLP log record. ReplacingMergeTree on
// the record's identity, so a replayed Kafka record or a sender's retry is
// one row under FINAL. Ordered by app and ids: the merged view reads the
// GenAI events of a window's spans by trace and span id.
func (d ddl) logsTable() string {
	lc := d.lc()
	return `CREATE TABLE IF NOT EXISTS logs (
    time ` + d.ts() + `,
    time_unix_nano UInt64,
    observed_unix_nano UInt64,
    trace_id String,
    span_id String,
    record_id String,
    seq UInt32,
    app ` + lc + `,
    severity_number UInt8,
    severity_text ` + lc + `,
    event_name ` + lc + `,
    scope_name ` + lc + `,
    body String,
` + d.attrs() + `    input_text String,
    output_text String,
    system_text String,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (app, trace_id, span_id, time_unix_nano, record_id)` + d.ttl("logs", "time")
}
