package schemas

import "time"

// Tables of the monitoring loop (issue 4): evaluation datasets, the
// embedding cache, one row per monitor run, and the alert history.

// DatasetRow is one example of an evaluation dataset: what the application
// was evaluated on (input), the expected output (ground truth), tags and an
// optional context (e.g. the retrieved passages). Rows belong to an
// immutable (name, version).
type DatasetRow struct {
	Name     string   `json:"name"`
	Version  uint32   `json:"version"`
	Row      uint32   `json:"row_index"` // 0-based position in the imported file
	Input    string   `json:"input"`
	Expected string   `json:"expected"`
	Output   string   `json:"output,omitempty"` // the evaluated application's answer, when the dataset has one
	Tags     []string `json:"tags,omitempty"`
	Context  string   `json:"context,omitempty"`
}

// DatasetVersion describes one imported version. A version exists for
// readers only once this row is written, after all its rows: an import is
// all-or-nothing.
type DatasetVersion struct {
	Name        string    `json:"name"`
	Version     uint32    `json:"version"`
	Rows        uint32    `json:"rows"`
	SHA256      string    `json:"sha256"` // of the rows as stored, to spot identical re-imports
	Source      string    `json:"source"` // file name imported from
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// DetectorResult is one monitor run: a verdict, or the reason there is none
// (Status "insufficient_data" or "error").
type DetectorResult struct {
	Monitor        string    `json:"monitor"`
	MonitorVersion string    `json:"monitor_version"` // hash of the monitor's config
	Tick           time.Time `json:"tick"`            // the schedule tick this run belongs to
	App            string    `json:"app"`
	Chain          string    `json:"chain"`
	Feature        string    `json:"feature"`
	Detector       string    `json:"detector"`
	Kind           string    `json:"kind"`   // "drift" (production reference) or "skew" (dataset reference)
	Status         string    `json:"status"` // ok, insufficient_data, error
	Statistic      float64   `json:"statistic"`
	PValue         *float64  `json:"p_value"` // nil for distances without one
	Threshold      float64   `json:"threshold"`
	Drift          bool      `json:"drift"`
	NRef           uint32    `json:"n_ref"`
	NCur           uint32    `json:"n_cur"`
	RefStart       time.Time `json:"ref_start"`
	RefEnd         time.Time `json:"ref_end"`
	CurStart       time.Time `json:"cur_start"`
	CurEnd         time.Time `json:"cur_end"`
	Reference      string    `json:"reference"` // "dataset:NAME@VERSION" or "window:…"
	Params         string    `json:"params"`    // the detector's effective parameters, JSON
	DurationMS     float64   `json:"duration_ms"`
	Error          string    `json:"error,omitempty"`
	Worker         string    `json:"worker"`
	CreatedAt      time.Time `json:"created_at"`
}

// Statuses of a monitor run.
const (
	RunOK               = "ok"
	RunInsufficientData = "insufficient_data"
	RunError            = "error"
)

// AlertEvent is one line of the alert history: an alert fired, was
// refreshed, or resolved, and whether the sinks took it.
type AlertEvent struct {
	Time        time.Time         `json:"time"`
	Monitor     string            `json:"monitor"`
	Tick        time.Time         `json:"tick"`
	State       string            `json:"state"` // firing, resolved
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// DatasetRowColumns, DatasetVersionColumns, EmbeddingColumns,
// DetectorResultColumns and AlertColumns are the insert column lists.
func DatasetRowColumns() []string {
	return []string{"name", "version", "row_index", "input", "expected", "output", "tags", "context", "imported_at"}
}

func DatasetVersionColumns() []string {
	return []string{"name", "version", "rows", "sha256", "source", "description", "created_at"}
}

func EmbeddingColumns() []string {
	return []string{"embedder", "text_hash", "vector", "created_at"}
}

func DetectorResultColumns() []string {
	return []string{"monitor", "monitor_version", "tick", "app", "chain", "feature", "detector", "kind", "status",
		"statistic", "p_value", "threshold", "drift", "n_ref", "n_cur", "ref_start", "ref_end", "cur_start", "cur_end",
		"reference", "params", "duration_ms", "error", "worker", "created_at"}
}

func AlertColumns() []string {
	return []string{"time", "monitor", "tick", "state", "fingerprint", "label_keys", "label_values", "annotations"}
}

func (d ddl) datasetsTable() string {
	return `CREATE TABLE IF NOT EXISTS dataset_rows (
    name ` + d.lc() + `,
    version UInt32,
    row_index UInt32,
    input String,
    expected String,
    output String,
    tags Array(String),
    context String,
    imported_at DateTime
) ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (name, version, row_index)`
}

func (d ddl) datasetVersionsTable() string {
	return `CREATE TABLE IF NOT EXISTS dataset_versions (
    name String,
    version UInt32,
    rows UInt32,
    sha256 String,
    source String,
    description String,
    created_at DateTime
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY (name, version)`
}

// embeddingsTable caches embeddings by (embedder id, hash of the text), so a
// window is never embedded twice. Lookups are point reads of scattered
// hashes (500 per query), so the index is fine-grained: 256 rows a granule
// instead of 8192, each lookup reading ~500 small granules of vectors
// rather than ~500 large ones.
func (d ddl) embeddingsTable() string {
	return `CREATE TABLE IF NOT EXISTS embeddings (
    embedder ` + d.lc() + `,
    text_hash String,
    vector Array(Float32),
    created_at DateTime
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY (embedder, text_hash)` + d.ttl("embeddings", "created_at") + `
SETTINGS index_granularity = 256`
}

// detectorResultsTable keeps one row per (monitor, tick) after merges (or
// with FINAL): a tick run twice — by two workers during a rebalance, or
// after a crash — replaces itself.
func (d ddl) detectorResultsTable() string {
	lc := d.lc()
	return `CREATE TABLE IF NOT EXISTS detector_results (
    monitor ` + lc + `,
    monitor_version String,
    tick DateTime,
    app ` + lc + `,
    chain ` + lc + `,
    feature ` + lc + `,
    detector ` + lc + `,
    kind ` + lc + `,
    status ` + lc + `,
    statistic Float64,
    p_value Nullable(Float64),
    threshold Float64,
    drift UInt8,
    n_ref UInt32,
    n_cur UInt32,
    ref_start DateTime,
    ref_end DateTime,
    cur_start DateTime,
    cur_end DateTime,
    reference String,
    params String,
    duration_ms Float64,
    error String,
    worker String,
    created_at DateTime
) ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(tick)
ORDER BY (monitor, tick)` + d.ttl("detector_results", "tick")
}

func (d ddl) alertsTable() string {
	lc := d.lc()
	return `CREATE TABLE IF NOT EXISTS alerts (
    time DateTime,
    monitor ` + lc + `,
    tick DateTime,
    state ` + lc + `,
    fingerprint String,
    label_keys Array(String),
    label_values Array(String),
    annotations String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (monitor, time)` + d.ttl("alerts", "time")
}
