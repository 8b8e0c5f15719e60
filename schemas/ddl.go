package schemas

import (
	"fmt"
	"strconv"
	"strings"
)

// ServerVersion is a ClickHouse server's version, as `SELECT version()`
// prints it (e.g. "18.16.1", "24.8.4.13").
type ServerVersion struct{ Major, Minor, Patch int }

// ParseServerVersion reads "major.minor[.patch[...]]".
func ParseServerVersion(s string) (ServerVersion, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return ServerVersion{}, fmt.Errorf("parsing clickhouse version %q: want major.minor[.patch]", s)
	}
	var v [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return ServerVersion{}, fmt.Errorf("parsing clickhouse version %q: %w", s, err)
		}
		v[i] = n
	}
	return ServerVersion{v[0], v[1], v[2]}, nil
}

func (v ServerVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v >= major.minor.
func (v ServerVersion) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// Capabilities are the newer column types and clauses the migrator uses only
// where the server has them. The thresholds are the first release in which
// each is available without an experimental setting:
// LowCardinality 19.9, TTL 19.6, DateTime64 20.3, Map 21.8 (experimental
// before), data-skipping bloom_filter indexes 20.1.
type Capabilities struct {
	LowCardinality bool
	DateTime64     bool
	Map            bool
	TTL            bool
	SkipIndexes    bool
}

// CapabilitiesOf returns what a server of version v offers.
func CapabilitiesOf(v ServerVersion) Capabilities {
	return Capabilities{
		LowCardinality: v.AtLeast(19, 9),
		DateTime64:     v.AtLeast(20, 3),
		Map:            v.AtLeast(21, 8),
		TTL:            v.AtLeast(19, 6),
		SkipIndexes:    v.AtLeast(20, 1),
	}
}

// TableOptions are deployment choices that shape the DDL.
type TableOptions struct {
	// RetentionDays drops rows older than this many days through a TTL
	// clause; 0 keeps everything. Ignored (with a warning from the
	// migrator) on servers without TTL.
	RetentionDays int
	// RetentionByTable overrides RetentionDays per table (0: keep that
	// table's rows).
	RetentionByTable map[string]int
	// Cluster, when set, renders every table for that ClickHouse cluster
	// (cluster.go); Database is then the database the tables live in.
	Cluster, Database string
}

// ddl renders column types for one server.
type ddl struct {
	caps Capabilities
	opts TableOptions
}

// lc is a low-cardinality string column.
func (d ddl) lc() string {
	if d.caps.LowCardinality {
		return "LowCardinality(String)"
	}
	return "String"
}

// ts is a sub-second timestamp where the server has DateTime64, else seconds
// (the *_unix_nano columns keep the exact value on every server).
func (d ddl) ts() string {
	if d.caps.DateTime64 {
		return "DateTime64(6)"
	}
	return "DateTime"
}

// attrs renders the attribute-map columns.
func (d ddl) attrs() string {
	if d.caps.Map {
		return "    attributes Map(String, String),\n"
	}
	return "    attr_keys Array(String),\n    attr_values Array(String),\n"
}

func (d ddl) ttl(table, col string) string {
	if days := d.opts.Retention(table); days > 0 && d.caps.TTL {
		return fmt.Sprintf("\nTTL toDateTime(%s) + INTERVAL %d DAY", col, days)
	}
	return ""
}

// Retention is how many days table keeps (0: for ever).
func (o TableOptions) Retention(table string) int {
	if d, ok := o.RetentionByTable[table]; ok {
		return d
	}
	return o.RetentionDays
}

// MonthlyTable is a table partitioned by month (toYYYYMM of its time
// column) that has a retention, and the table whose retention it keeps:
// its own, or for a rollup's checks the rollup's (as its TTL clause).
type MonthlyTable struct{ Table, RetentionOf string }

// MonthlyTables are the tables whose expired months retention.DropExpired
// drops on servers without TTL: every table with a TTL clause and monthly
// partitions (eval_scores and embeddings have TTL but no monthly
// partitions).
func MonthlyTables() []MonthlyTable {
	out := []MonthlyTable{{"spans", "spans"}, {"logs", "logs"}, {"feedback", "feedback"}, {"detector_results", "detector_results"}, {"alerts", "alerts"}}
	for _, r := range Rollups {
		out = append(out, MonthlyTable{r.Table, r.Table}, MonthlyTable{r.CheckTable(), r.Table})
	}
	return out
}

// SpanColumns is the spans table's column list in insert order. With Map the
// attributes are one column; without, two parallel arrays.
func SpanColumns(caps Capabilities) []string {
	cols := []string{
		"trace_id", "span_id", "parent_span_id", "name",
		"start_time", "end_time", "start_unix_nano", "duration_ms",
		"app", "environment", "chain_name", "chain_version",
		"component_name", "component_kind", "prompt_template_id", "prompt_template_version",
		"operation", "provider", "model_requested", "model_returned",
		"input_text", "output_text", "input_tokens", "output_tokens",
		"status", "error_message", "session_id", "user_id",
	}
	if caps.Map {
		cols = append(cols, "attributes")
	} else {
		cols = append(cols, "attr_keys", "attr_values")
	}
	return append(cols, "ingested_at",
		// migration 5
		"cache_read_input_tokens", "cache_creation_input_tokens", "reasoning_output_tokens", "stream", "time_to_first_chunk_ms",
		// migration 9
		"system_instructions", "tool_definitions", "guardrail_result")
}

// FeedbackColumns is the feedback table's column list in insert order.
func FeedbackColumns() []string {
	return []string{"id", "trace_id", "span_id", "score", "label", "comment", "source", "user_id", "time", "ingested_at"}
}

func (d ddl) spansTable() string {
	lc := d.lc()
	idx := ""
	if d.caps.SkipIndexes {
		idx = ",\n    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,\n    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 4"
	}
	return `CREATE TABLE IF NOT EXISTS spans (
    trace_id String,
    span_id String,
    parent_span_id String,
    name String,
    start_time ` + d.ts() + `,
    end_time ` + d.ts() + `,
    start_unix_nano UInt64,
    duration_ms Float64,
    app ` + lc + `,
    environment ` + lc + `,
    chain_name ` + lc + `,
    chain_version ` + lc + `,
    component_name ` + lc + `,
    component_kind ` + lc + `,
    prompt_template_id ` + lc + `,
    prompt_template_version ` + lc + `,
    operation ` + lc + `,
    provider ` + lc + `,
    model_requested ` + lc + `,
    model_returned ` + lc + `,
    input_text String,
    output_text String,
    input_tokens UInt32,
    output_tokens UInt32,
    status ` + lc + `,
    error_message String,
    session_id String,
    user_id String,
` + d.attrs() + `    ingested_at DateTime` + idx + `
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(start_time)
ORDER BY (app, start_time, trace_id, span_id)` + d.ttl("spans", "start_time")
}

func (d ddl) feedbackTable() string {
	return `CREATE TABLE IF NOT EXISTS feedback (
    id String,
    trace_id String,
    span_id String,
    score Nullable(Float64),
    label ` + d.lc() + `,
    comment String,
    source ` + d.lc() + `,
    user_id String,
    time ` + d.ts() + `,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (trace_id, id)` + d.ttl("feedback", "time")
}

// spansContentColumns are migration 9's columns of the spans table, in
// SpanColumns order.
func (d ddl) spansContentColumns() []string {
	return []string{
		d.addColumn("spans", "system_instructions String DEFAULT ''"),
		d.addColumn("spans", "tool_definitions String DEFAULT ''"),
		d.addColumn("spans", "guardrail_result String DEFAULT ''"),
	}
}

// spansUsageColumns are migration 5's columns of the spans table, in
// SpanColumns order.
func (d ddl) spansUsageColumns() []string {
	return []string{
		d.addColumn("spans", "cache_read_input_tokens UInt32 DEFAULT 0"),
		d.addColumn("spans", "cache_creation_input_tokens UInt32 DEFAULT 0"),
		d.addColumn("spans", "reasoning_output_tokens UInt32 DEFAULT 0"),
		d.addColumn("spans", "stream UInt8 DEFAULT 0"),
		d.addColumn("spans", "time_to_first_chunk_ms Float64 DEFAULT 0"),
	}
}
