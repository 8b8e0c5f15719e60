package query

import (
	"context"
	"fmt"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
)

// SpanLineage is where one span came from: the chain version, prompt
// template version and model, and — for a span produced by `chainwatch
// experiment run` — the experiment, dataset version and row.
type SpanLineage struct {
	SpanID                string `json:"span_id"`
	ParentSpanID          string `json:"parent_span_id"`
	Name                  string `json:"name"`
	ComponentKind         string `json:"component_kind"`
	App                   string `json:"app"`
	Environment           string `json:"environment"`
	Chain                 string `json:"chain"`
	ChainVersion          string `json:"chain_version"`
	PromptTemplateID      string `json:"prompt_template_id"`
	PromptTemplateVersion string `json:"prompt_template_version"`
	ModelRequested        string `json:"model_requested"`
	ModelReturned         string `json:"model_returned"`
	ExperimentID          string `json:"experiment_id,omitempty"`
	Dataset               string `json:"dataset,omitempty"`
	DatasetVersion        string `json:"dataset_version,omitempty"`
	DatasetRow            string `json:"dataset_row,omitempty"`
}

// ExperimentRef is an experiment as lineage shows it.
type ExperimentRef struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Chain          string    `json:"chain"`
	ChainVersion   string    `json:"chain_version"`
	ChainHash      string    `json:"chain_hash"`
	PromptVersion  string    `json:"prompt_version"`
	Model          string    `json:"model"`
	Dataset        string    `json:"dataset"`
	DatasetVersion uint32    `json:"dataset_version"`
	GitCommit      string    `json:"git_commit"`
	Status         string    `json:"status"`
	StartedAt      time.Time `json:"started_at"`
}

// TraceLineage is the lineage of every span of a trace, and the
// experiments among them.
type TraceLineage struct {
	TraceID     string          `json:"trace_id"`
	Spans       []SpanLineage   `json:"spans"`
	Experiments []ExperimentRef `json:"experiments,omitempty"`
}

// attrExpr reads one attribute of a span on either storage of the
// attributes: a Map on newer servers, parallel arrays on 18.16 (where
// indexOf gives 0 for a missing key and element 0 of an array is ”).
func attrExpr(mapAttrs bool, key string) string {
	if mapAttrs {
		return "attributes['" + key + "']"
	}
	return "attr_values[indexOf(attr_keys, '" + key + "')]"
}

// Attribute keys lineage reads (schemas.AttrExperimentID and its
// neighbours; repeated here as SQL literals).
const (
	attrExperimentID   = "chainwatch.experiment.id"
	attrDatasetName    = "chainwatch.dataset.name"
	attrDatasetVersion = "chainwatch.dataset.version"
	attrExperimentRow  = "chainwatch.experiment.row"
)

// TraceLineage returns the lineage of a trace's spans, in start order, and the
// experiment rows of the experiments they belong to. A trace with no
// spans is an error that says so.
func (r *Reader) TraceLineage(ctx context.Context, traceID string) (TraceLineage, error) {
	out := TraceLineage{TraceID: traceID}
	caps, err := r.Capabilities(ctx)
	if err != nil {
		return out, err
	}
	q := `SELECT span_id, parent_span_id, name, component_kind, app, environment, chain_name, chain_version,
    prompt_template_id, prompt_template_version, model_requested, model_returned, ` +
		attrExpr(caps.Map, attrExperimentID) + `, ` + attrExpr(caps.Map, attrDatasetName) + `, ` +
		attrExpr(caps.Map, attrDatasetVersion) + `, ` + attrExpr(caps.Map, attrExperimentRow) + `
FROM spans FINAL WHERE trace_id = ? ORDER BY start_unix_nano, span_id`
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, q, traceID)
	if err != nil {
		return out, fmt.Errorf("reading the lineage of trace %s: %w", traceID, err)
	}
	exps := map[string]bool{}
	for rows.Next() {
		var s SpanLineage
		if err := rows.Scan(&s.SpanID, &s.ParentSpanID, &s.Name, &s.ComponentKind, &s.App, &s.Environment, &s.Chain, &s.ChainVersion,
			&s.PromptTemplateID, &s.PromptTemplateVersion, &s.ModelRequested, &s.ModelReturned,
			&s.ExperimentID, &s.Dataset, &s.DatasetVersion, &s.DatasetRow); err != nil {
			rows.Close()
			return out, fmt.Errorf("reading the lineage of trace %s: %w", traceID, err)
		}
		out.Spans = append(out.Spans, s)
		if s.ExperimentID != "" {
			exps[s.ExperimentID] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("reading the lineage of trace %s: %w", traceID, err)
	}
	if len(out.Spans) == 0 {
		return out, fmt.Errorf("trace %s: no spans stored", traceID)
	}
	for id := range exps {
		es, err := r.experiments(ctx, "id = ?", id)
		if err != nil {
			return out, err
		}
		out.Experiments = append(out.Experiments, es...)
	}
	return out, nil
}

func (r *Reader) experiments(ctx context.Context, where string, args ...any) ([]ExperimentRef, error) {
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, `SELECT id, name, chain, chain_version, chain_hash, prompt_version, model_requested,
    dataset, dataset_version, git_commit, status, started_at
FROM experiments FINAL WHERE `+where+` ORDER BY started_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading experiments: %w", err)
	}
	defer rows.Close()
	var out []ExperimentRef
	for rows.Next() {
		var e ExperimentRef
		if err := rows.Scan(&e.ID, &e.Name, &e.Chain, &e.ChainVersion, &e.ChainHash, &e.PromptVersion, &e.Model,
			&e.Dataset, &e.DatasetVersion, &e.GitCommit, &e.Status, &e.StartedAt); err != nil {
			return nil, fmt.Errorf("reading experiments: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Serving is one place a chain version served production traffic, as its
// spans show it: an app and environment, with the first and last span and
// how many traces.
type Serving struct {
	App         string    `json:"app"`
	Environment string    `json:"environment"`
	Models      []string  `json:"models"`
	Prompts     []string  `json:"prompt_template_versions"`
	Traces      uint64    `json:"traces"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
}

// ChainLineage is what is known of a chain version: every experiment that
// evaluated it and everywhere it served.
type ChainLineage struct {
	Chain       string          `json:"chain"`
	Version     string          `json:"version"`
	Experiments []ExperimentRef `json:"experiments"`
	Served      []Serving       `json:"served"`
	// Deployments are the gateway's label changes (chain_deployments)
	// that made this version a label's stable or canary version, oldest
	// first.
	Deployments []ChainDeployment `json:"deployments"`
}

// ChainDeployment is one label change that served a chain version.
type ChainDeployment struct {
	Label         string    `json:"label"`
	Action        string    `json:"action"`
	Role          string    `json:"role"` // "stable" or "canary"
	CanaryPercent float64   `json:"canary_percent,omitempty"`
	Who           string    `json:"who"`
	At            time.Time `json:"at"`
}

// Chain returns the lineage of a chain version. Where it served is read
// from the spans (environment "experiment", the experiments' own calls,
// left out): that covers traffic through the serving gateway and through
// any instrumented app alike. The gateway's label changes that made the
// version (its hash, or its human version) stable or canary are
// Deployments.
func (r *Reader) Chain(ctx context.Context, chain, version string) (ChainLineage, error) {
	out := ChainLineage{Chain: chain, Version: version}
	es, err := r.experiments(ctx, "chain = ? AND chain_version = ?", chain, version)
	if err != nil {
		return out, err
	}
	out.Experiments = es
	qctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	rows, err := r.conn.Query(qctx, `SELECT app, environment,
    arraySort(groupUniqArray(if(model_returned != '', model_returned, model_requested))),
    arraySort(groupUniqArray(prompt_template_version)),
    uniqExact(trace_id), min(start_time), max(start_time)
FROM spans WHERE chain_name = ? AND chain_version = ? AND environment != 'experiment'
GROUP BY app, environment ORDER BY app, environment`, chain, version)
	if err != nil {
		return out, fmt.Errorf("reading where %s@%s served: %w", chain, version, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Serving
		if err := rows.Scan(&s.App, &s.Environment, &s.Models, &s.Prompts, &s.Traces, &s.First, &s.Last); err != nil {
			return out, fmt.Errorf("reading where %s@%s served: %w", chain, version, err)
		}
		s.First, s.Last = s.First.UTC(), s.Last.UTC()
		out.Served = append(out.Served, s)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	drows, err := r.conn.Query(qctx, `SELECT label, action, if(stable_hash IN (SELECT hash FROM chain_versions WHERE name = ? AND (hash = ? OR version = ?)), 'stable', 'canary'),
    canary_percent, who, at
FROM chain_deployments
WHERE name = ? AND (stable_hash IN (SELECT hash FROM chain_versions WHERE name = ? AND (hash = ? OR version = ?))
    OR canary_hash IN (SELECT hash FROM chain_versions WHERE name = ? AND (hash = ? OR version = ?)))
ORDER BY seq`, chain, version, version, chain, chain, version, version, chain, version, version)
	if err != nil {
		return out, fmt.Errorf("reading the deployments of %s@%s: %w", chain, version, err)
	}
	defer drows.Close()
	for drows.Next() {
		var d ChainDeployment
		if err := drows.Scan(&d.Label, &d.Action, &d.Role, &d.CanaryPercent, &d.Who, &d.At); err != nil {
			return out, fmt.Errorf("reading the deployments of %s@%s: %w", chain, version, err)
		}
		if d.Role == "stable" {
			d.CanaryPercent = 0
		}
		d.At = d.At.UTC()
		out.Deployments = append(out.Deployments, d)
	}
	return out, drows.Err()
}
