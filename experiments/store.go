package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// ErrNotFound is returned (wrapped) for an experiment id that has no row.
var ErrNotFound = errors.New("experiment not found")

// StatementTimeout bounds each statement sent to ClickHouse.
const StatementTimeout = time.Minute

// Experiment statuses.
const (
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
)

// WriteExperiment inserts (or, through the ReplacingMergeTree, replaces) the
// experiment's row.
func WriteExperiment(ctx context.Context, conn driver.Conn, e schemas.Experiment) error {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO experiments ("+strings.Join(schemas.ExperimentColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing experiments insert: %w", err)
	}
	defer b.Abort()
	ev := e.Evaluators
	if ev == nil {
		ev = []string{}
	}
	if err := b.Append(e.ID, e.Name, e.Chain, e.ChainVersion, e.ChainHash, e.Definition, e.PromptVersion, e.ModelRequested,
		e.Endpoint, e.Dataset, e.DatasetVersion, ev, e.JudgeModel, e.Repeats, e.Params, e.GitCommit, e.Status,
		e.StartedAt, e.EndedAt, e.UpdatedAt); err != nil {
		return fmt.Errorf("appending experiment %s: %w", e.ID, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("writing experiment %s: %w", e.ID, err)
	}
	return nil
}

// ReadExperiment returns the newest row of an experiment by id, or by name
// (the most recently started experiment of that name).
func ReadExperiment(ctx context.Context, conn driver.Conn, idOrName string) (schemas.Experiment, error) {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	q := "SELECT " + strings.Join(schemas.ExperimentColumns(), ", ") +
		" FROM experiments FINAL WHERE id = ? OR name = ? ORDER BY id = ? DESC, started_at DESC LIMIT 1"
	rows, err := conn.Query(ctx, q, idOrName, idOrName, idOrName)
	if err != nil {
		return schemas.Experiment{}, fmt.Errorf("reading experiment %s: %w", idOrName, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return schemas.Experiment{}, fmt.Errorf("reading experiment %s: %w", idOrName, err)
		}
		return schemas.Experiment{}, fmt.Errorf("%w: no experiment with id or name %q", ErrNotFound, idOrName)
	}
	var e schemas.Experiment
	if err := rows.Scan(&e.ID, &e.Name, &e.Chain, &e.ChainVersion, &e.ChainHash, &e.Definition, &e.PromptVersion, &e.ModelRequested,
		&e.Endpoint, &e.Dataset, &e.DatasetVersion, &e.Evaluators, &e.JudgeModel, &e.Repeats, &e.Params, &e.GitCommit, &e.Status,
		&e.StartedAt, &e.EndedAt, &e.UpdatedAt); err != nil {
		return schemas.Experiment{}, fmt.Errorf("reading experiment %s: %w", idOrName, err)
	}
	return e, rows.Err()
}

// ListExperiments returns the newest row of every experiment, newest first.
func ListExperiments(ctx context.Context, conn driver.Conn, limit int) ([]schemas.Experiment, error) {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(schemas.ExperimentColumns(), ", ")+
		" FROM experiments FINAL ORDER BY started_at DESC LIMIT ?", uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("listing experiments: %w", err)
	}
	defer rows.Close()
	var out []schemas.Experiment
	for rows.Next() {
		var e schemas.Experiment
		if err := rows.Scan(&e.ID, &e.Name, &e.Chain, &e.ChainVersion, &e.ChainHash, &e.Definition, &e.PromptVersion, &e.ModelRequested,
			&e.Endpoint, &e.Dataset, &e.DatasetVersion, &e.Evaluators, &e.JudgeModel, &e.Repeats, &e.Params, &e.GitCommit, &e.Status,
			&e.StartedAt, &e.EndedAt, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("listing experiments: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

type itemKey struct {
	row    uint32
	repeat uint16
}

// doneItems is the set of (row, repeat) an experiment has recorded.
func doneItems(ctx context.Context, conn driver.Conn, id string) (map[itemKey]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT DISTINCT row_index, repeat FROM experiment_items WHERE experiment_id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("reading the recorded items of experiment %s: %w", id, err)
	}
	defer rows.Close()
	done := map[itemKey]bool{}
	for rows.Next() {
		var k itemKey
		if err := rows.Scan(&k.row, &k.repeat); err != nil {
			return nil, fmt.Errorf("reading the recorded items of experiment %s: %w", id, err)
		}
		done[k] = true
	}
	return done, rows.Err()
}

// InsertItems writes experiment items in one insert.
func InsertItems(ctx context.Context, conn driver.Conn, items []schemas.ExperimentItem) error {
	if len(items) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO experiment_items ("+strings.Join(schemas.ExperimentItemColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing experiment_items insert: %w", err)
	}
	defer b.Abort()
	for _, it := range items {
		tags := it.Tags
		if tags == nil {
			tags = []string{}
		}
		if err := b.Append(it.ExperimentID, it.Row, it.Repeat, it.Input, it.Expected, tags, it.Output, it.ModelReturned,
			nz(it.Metrics), nzf(it.Values), nz(it.ScoreErrors), it.LatencyMS, it.PromptTokens, it.CompletionTokens, it.Error,
			it.TraceID, it.CreatedAt); err != nil {
			return fmt.Errorf("appending item %d/%d of experiment %s: %w", it.Row, it.Repeat, it.ExperimentID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("writing %d experiment items: %w", len(items), err)
	}
	return nil
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nzf(s []float64) []float64 {
	if s == nil {
		return []float64{}
	}
	return s
}

// ReadItems returns every item of an experiment, by row then repeat (one
// per row and repeat, FINAL collapsing a retried write).
func ReadItems(ctx context.Context, conn driver.Conn, id string) ([]schemas.ExperimentItem, error) {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(schemas.ExperimentItemColumns(), ", ")+
		" FROM experiment_items FINAL WHERE experiment_id = ? ORDER BY row_index, repeat", id)
	if err != nil {
		return nil, fmt.Errorf("reading items of experiment %s: %w", id, err)
	}
	defer rows.Close()
	var out []schemas.ExperimentItem
	for rows.Next() {
		var it schemas.ExperimentItem
		if err := rows.Scan(&it.ExperimentID, &it.Row, &it.Repeat, &it.Input, &it.Expected, &it.Tags, &it.Output, &it.ModelReturned,
			&it.Metrics, &it.Values, &it.ScoreErrors, &it.LatencyMS, &it.PromptTokens, &it.CompletionTokens, &it.Error,
			&it.TraceID, &it.CreatedAt); err != nil {
			return nil, fmt.Errorf("reading items of experiment %s: %w", id, err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
