package schemas

import "time"

// AttrExperimentID marks a span produced by `chainwatch experiment run`: the
// experiment it belongs to. The dataset row and repeat are beside it, so the
// trace explorer can go from an experiment item to its trace and back.
const (
	AttrExperimentID     = "chainwatch.experiment.id"
	AttrExperimentRow    = "chainwatch.experiment.row"
	AttrExperimentRepeat = "chainwatch.experiment.repeat"
	AttrDatasetName      = "chainwatch.dataset.name"
	AttrDatasetVersion   = "chainwatch.dataset.version"
)

// Experiment is one run of a chain version over a dataset version with a set
// of evaluators (`chainwatch experiment run`). It is written when the run
// starts (Status "running") and again when it ends ("done", "interrupted",
// "failed"); the experiments table keeps the newest row per id.
type Experiment struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Chain          string    `json:"chain"`
	ChainVersion   string    `json:"chain_version"`
	ChainHash      string    `json:"chain_hash"` // sha256 of the chain's full definition
	Definition     string    `json:"definition"` // the chain definition as JSON
	PromptVersion  string    `json:"prompt_version"`
	ModelRequested string    `json:"model_requested"`
	Endpoint       string    `json:"endpoint"`
	Dataset        string    `json:"dataset"`
	DatasetVersion uint32    `json:"dataset_version"`
	Evaluators     []string  `json:"evaluators"` // name@version of each evaluator
	JudgeModel     string    `json:"judge_model,omitempty"`
	Repeats        uint16    `json:"repeats"`
	Params         string    `json:"params"` // JSON: concurrency, temperature, seed, …
	GitCommit      string    `json:"git_commit,omitempty"`
	Status         string    `json:"status"`
	StartedAt      time.Time `json:"started_at"`
	EndedAt        time.Time `json:"ended_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ExperimentColumns is the insert column list of experiments.
func ExperimentColumns() []string {
	return []string{"id", "name", "chain", "chain_version", "chain_hash", "definition", "prompt_version", "model_requested",
		"endpoint", "dataset", "dataset_version", "evaluators", "judge_model", "repeats", "params", "git_commit", "status",
		"started_at", "ended_at", "updated_at"}
}

// ExperimentItem is one dataset row × repeat of an experiment: what was sent,
// what came back, and every metric's score (or the reason there is none).
type ExperimentItem struct {
	ExperimentID     string    `json:"experiment_id"`
	Row              uint32    `json:"row_index"`
	Repeat           uint16    `json:"repeat"`
	Input            string    `json:"input"`
	Expected         string    `json:"expected,omitempty"`
	Tags             []string  `json:"tags,omitempty"`
	Output           string    `json:"output"`
	ModelReturned    string    `json:"model_returned,omitempty"`
	Metrics          []string  `json:"metrics"`
	Values           []float64 `json:"values"`
	ScoreErrors      []string  `json:"score_errors"` // "" for a valid value
	LatencyMS        float64   `json:"latency_ms"`
	PromptTokens     uint32    `json:"prompt_tokens"`
	CompletionTokens uint32    `json:"completion_tokens"`
	Error            string    `json:"error,omitempty"` // the chain call failed: no output, no scores
	TraceID          string    `json:"trace_id"`
	CreatedAt        time.Time `json:"created_at"`
}

// ExperimentItemColumns is the insert column list of experiment_items.
func ExperimentItemColumns() []string {
	return []string{"experiment_id", "row_index", "repeat", "input", "expected", "tags", "output", "model_returned",
		"metrics", "values", "score_errors", "latency_ms", "prompt_tokens", "completion_tokens", "error", "trace_id", "created_at"}
}

// DatasetReview is the review state of a dataset version, kept for
// synthetic versions (`chainwatch dataset synthesize` writes "pending";
// `dataset review` changes it). The newest row per (name, version) holds.
type DatasetReview struct {
	Name           string    `json:"name"`
	Version        uint32    `json:"version"`
	Status         string    `json:"status"` // pending, approved, rejected
	Reviewer       string    `json:"reviewer,omitempty"`
	Note           string    `json:"note,omitempty"`
	Synthetic      bool      `json:"synthetic"`
	GeneratorModel string    `json:"generator_model,omitempty"`
	PromptVersion  string    `json:"prompt_version,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// DatasetReviewColumns is the insert column list of dataset_reviews.
func DatasetReviewColumns() []string {
	return []string{"name", "version", "status", "reviewer", "note", "synthetic", "generator_model", "prompt_version", "updated_at"}
}

func (d ddl) experimentTables() []string {
	return []string{`CREATE TABLE IF NOT EXISTS experiments (
    id String,
    name String,
    chain String,
    chain_version String,
    chain_hash String,
    definition String,
    prompt_version String,
    model_requested String,
    endpoint String,
    dataset String,
    dataset_version UInt32,
    evaluators Array(String),
    judge_model String,
    repeats UInt16,
    params String,
    git_commit String,
    status String,
    started_at DateTime,
    ended_at DateTime,
    updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id`,
		// One row per (experiment, dataset row, repeat). The run writes an
		// item once, after it is scored, and skips written items when it
		// resumes; the ReplacingMergeTree only guards against a write retried
		// after a lost acknowledgement.
		`CREATE TABLE IF NOT EXISTS experiment_items (
    experiment_id String,
    row_index UInt32,
    repeat UInt16,
    input String,
    expected String,
    tags Array(String),
    output String,
    model_returned String,
    metrics Array(String),
    values Array(Float64),
    score_errors Array(String),
    latency_ms Float64,
    prompt_tokens UInt32,
    completion_tokens UInt32,
    error String,
    trace_id String,
    created_at DateTime
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY (experiment_id, row_index, repeat)`,
		`CREATE TABLE IF NOT EXISTS dataset_reviews (
    name String,
    version UInt32,
    status String,
    reviewer String,
    note String,
    synthetic UInt8,
    generator_model String,
    prompt_version String,
    updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (name, version)`}
}
