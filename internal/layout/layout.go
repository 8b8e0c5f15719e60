// Package layout holds the test that keeps the package map of
// ARCHITECTURE.md true: each chainwatch package imports only the packages
// its row allows (non-test code; tests may also use the test helpers).
package layout

// Rules maps a package (its path under the module) to the chainwatch
// packages it may import. A trailing "/" allows every package below it.
// Every package of the module must have a row: a new package is placed on
// the map by whoever adds it.
var Rules = map[string][]string{
	// The leaves: record types and pure computation.
	"schemas":            {},
	"detectors":          {"detectors/tokenize"},
	"detectors/tokenize": {},
	"samplefile":         {},

	// Small shared machinery, importable by all below cmd.
	"internal/supervise":             {"internal/metrics"},
	"internal/health":                {"internal/supervise"},
	"internal/backoff":               {},
	"internal/tlsfiles":              {},
	"internal/tlsfiles/tlsfilestest": {},
	"retention":                      {"embedding", "schemas"},
	"deploy":                         {},
	"internal/layout":                {},
	"internal/lifecycle":             {},
	"internal/metrics":               {},
	"internal/metrics/metricstest":   {},
	"internal/config":                {},

	// Infrastructure: one home each.
	"genai":             {"schemas"},
	"kafka":             {},
	"kafka/kafkatest":   {"kafka"},
	"clickhouse":        {"schemas"},
	"clickhouse/chtest": {"clickhouse", "local/chserver", "schemas"},
	"local":             {},
	"local/broker":      {"kafka"},
	"local/chserver":    {"local", "internal/"},
	"local/amserver":    {"local", "internal/"},
	"openai":            {"internal/"},
	"openai/openaitest": {"openai", "internal/"},
	"query":             {"clickhouse", "schemas"},

	// The ingest path: collector and writer know Kafka, ClickHouse and the
	// mapping, never each other; the pipeline wires them.
	"ingest/collector":  {"evaluators", "genai", "kafka", "schemas", "internal/"},
	"ingest/writer":     {"clickhouse", "genai", "kafka", "schemas", "internal/"},
	"ingest/ingesttest": {"schemas"},
	"ingest/pipeline":   {"clickhouse", "ingest/collector", "ingest/writer", "kafka", "local/", "schemas", "internal/"},
	"ingest/bench":      {"clickhouse", "genai", "ingest/collector", "ingest/pipeline", "ingest/writer", "kafka", "local/", "schemas", "internal/"},
	"ingest/faults":     {"ingest/collector", "ingest/writer", "kafka", "local/", "internal/"},

	// Readers and workers of what is stored.
	"datasets":             {"clickhouse", "query", "schemas", "internal/"},
	"embedding":            {"clickhouse", "detectors", "openai", "schemas", "internal/"},
	"evaluators":           {"openai", "schemas", "internal/"},
	"evaluators/openai":    {"evaluators", "openai", "internal/"},
	"evaluators/agreement": {"query", "schemas"},
	"evaluators/redteam":   {"clickhouse", "evaluators", "openai", "schemas", "internal/"},
	"evaluators/runner":    {"evaluators", "evaluators/openai", "genai", "kafka", "openai", "schemas", "internal/"},
	"sinks":                {"schemas", "internal/"},
	"sinks/amtest":         {"local/amserver", "sinks"},
	"monitor":              {"clickhouse", "datasets", "detectors", "detectors/tokenize", "embedding", "kafka", "query", "schemas", "sinks", "internal/"},
	"simulate":             {"genai", "schemas", "internal/"},
	"experiments":          {"clickhouse", "datasets", "evaluators", "experiments/stats", "genai", "kafka", "openai", "query", "schemas", "serving/chains", "internal/"},
	"experiments/stats":    {},

	// The interop tests (test files only: real senders into the pipeline).
	"interop": {},

	// The serving gateway: chains as versioned artifacts, and the gateway
	// that serves them and emits their traces.
	"serving/chains":     {"schemas"},
	"serving":            {"detectors/tokenize", "evaluators", "kafka", "schemas", "serving/chains", "internal/"},
	"serving/servebench": {"serving"},

	// The one binary wires everything.
	"grafana/pkg":            {"grafana/pkg/plugin"},
	"grafana/pkg/plugin":     {"evaluators/agreement", "query", "schemas"},
	"grafana/dashboards":     {"grafana/pkg/plugin"},
	"grafana/dashboards/gen": {"grafana/dashboards"},

	"cmd/chainwatch": {"/"},
}

// Allowed says whether a package whose row is rules may import dep.
func Allowed(rules []string, dep string) bool {
	for _, r := range rules {
		if r == "/" || r == dep || (len(r) > 0 && r[len(r)-1] == '/' && len(dep) > len(r) && dep[:len(r)] == r) {
			return true
		}
	}
	return false
}
