package plugin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/chainwatch/chainwatch/query"
)

// Query types: DataQuery.QueryType (or "queryType" in the query's JSON).
const (
	TypeTimeSeries = "timeseries" // span traffic over time (requests, errors, latency, tokens)
	TypeDrift      = "drift"      // monitor runs: statistic, threshold, p-value; or a runs table
	TypeAlerts     = "alerts"     // alert regions (firing → resolved), for annotations
	TypeQuality    = "quality"    // eval scores, distributions, guard hits, feedback, agreement
	TypeTraces     = "traces"     // a table of matching traces
	TypeTrace      = "trace"      // one trace as a traces data frame
	TypeSQL        = "sql"        // read-only raw SQL with macros
	TypeVariable   = "variable"   // a list of values (dashboard variables)
)

// QueryTypes lists every query type.
var QueryTypes = []string{TypeTimeSeries, TypeDrift, TypeAlerts, TypeQuality, TypeTraces, TypeTrace, TypeSQL, TypeVariable}

// Time-series metrics.
const (
	MetricRequests         = "requests"           // root spans
	MetricSpans            = "spans"              // spans
	MetricErrors           = "errors"             // spans with status error
	MetricErrorRate        = "error_rate"         // errors / spans
	MetricRequestErrorRate = "request_error_rate" // failed root spans / root spans
	MetricLatencyP50       = "latency_p50"        // ms
	MetricLatencyP95       = "latency_p95"
	MetricLatencyP99       = "latency_p99"
	MetricInputTokens      = "input_tokens"
	MetricOutputTokens     = "output_tokens"
	MetricEstimatedCost    = "estimated_cost" // USD, tokens × the datasource's prices per model
)

// Metrics lists every time-series metric.
var Metrics = []string{MetricRequests, MetricSpans, MetricErrors, MetricErrorRate, MetricRequestErrorRate,
	MetricLatencyP50, MetricLatencyP95, MetricLatencyP99, MetricInputTokens, MetricOutputTokens, MetricEstimatedCost}

// Views of the drift and quality query types.
const (
	DriftStatistic = "statistic" // per monitor over time (default)
	DriftRuns      = "runs"      // a table: one row per monitor

	QualityScores       = "scores"       // mean per evaluator/metric over time (default)
	QualityDistribution = "distribution" // the values of one evaluator's metric
	QualityGuards       = "guards"       // hit rate of the guard_* evaluators over time
	QualityFeedback     = "feedback"     // user feedback over time
	QualityAgreement    = "agreement"    // judge–human agreement per evaluator/metric
)

var (
	driftViews   = []string{DriftStatistic, DriftRuns}
	qualityViews = []string{QualityScores, QualityDistribution, QualityGuards, QualityFeedback, QualityAgreement}
	groupBys     = map[string]query.Dimension{
		"app": query.ByApp, "environment": query.ByEnvironment, "chain": query.ByChain,
		"chain_version": query.ByChainVersion, "component": query.ByComponent, "model": query.ByModel,
	}
)

// Query is one panel query as the editor writes it.
type Query struct {
	QueryType string `json:"queryType"`

	// Filters (all query types that read spans; drift and quality take
	// app and chain).
	App           string `json:"app,omitempty"`
	Environment   string `json:"environment,omitempty"`
	Chain         string `json:"chain,omitempty"`
	ChainVersion  string `json:"chainVersion,omitempty"`
	Component     string `json:"component,omitempty"`
	ComponentKind string `json:"componentKind,omitempty"`
	Model         string `json:"model,omitempty"`
	Status        string `json:"status,omitempty"`

	// timeseries
	Metrics   []string `json:"metrics,omitempty"`
	GroupBy   []string `json:"groupBy,omitempty"`
	RootsOnly bool     `json:"rootsOnly,omitempty"`
	Rollup    string   `json:"rollup,omitempty"` // auto (default), never, always
	// Format "table" gives one row per group over the whole range instead
	// of series.
	Format string `json:"format,omitempty"`

	// drift, alerts
	View    string `json:"view,omitempty"`
	Monitor string `json:"monitor,omitempty"`
	Kind    string `json:"kind,omitempty"` // drift or skew

	// quality
	Evaluator string `json:"evaluator,omitempty"`
	Metric    string `json:"metric,omitempty"`

	// traces, trace
	TraceID   string `json:"traceId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	Text      string `json:"text,omitempty"`
	Limit     int    `json:"limit,omitempty"`

	// sql
	RawSQL string `json:"rawSql,omitempty"`

	// variable
	List string `json:"list,omitempty"`
}

// ParseQuery decodes a query's JSON; queryType, when set by Grafana on the
// DataQuery, wins over the JSON's. Errors name what is wrong.
func ParseQuery(raw json.RawMessage, queryType string) (Query, error) {
	var q Query
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &q); err != nil {
			return q, fmt.Errorf("malformed query JSON: %v", err)
		}
	}
	if queryType != "" {
		q.QueryType = queryType
	}
	return q, q.validate()
}

func oneOf(field, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q (want one of %s)", field, v, strings.Join(allowed, ", "))
}

func (q Query) validate() error {
	if q.QueryType == "" {
		return fmt.Errorf("queryType is missing (want one of %s)", strings.Join(QueryTypes, ", "))
	}
	if err := oneOf("query type", q.QueryType, QueryTypes); err != nil {
		return err
	}
	for _, m := range q.Metrics {
		if err := oneOf("metric", m, Metrics); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(groupBys))
	for k := range groupBys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, g := range q.GroupBy {
		if err := oneOf("groupBy", g, names); err != nil {
			return err
		}
	}
	if q.Rollup != "" {
		if err := oneOf("rollup", q.Rollup, []string{"auto", "never", "always"}); err != nil {
			return err
		}
	}
	if q.Format != "" {
		if err := oneOf("format", q.Format, []string{"time_series", "table"}); err != nil {
			return err
		}
	}
	if q.Limit < 0 {
		return fmt.Errorf("limit must be >= 0, got %d", q.Limit)
	}
	switch q.QueryType {
	case TypeDrift:
		if q.View != "" {
			return oneOf("drift view", q.View, driftViews)
		}
	case TypeQuality:
		if q.View != "" {
			if err := oneOf("quality view", q.View, qualityViews); err != nil {
				return err
			}
		}
		if q.View == QualityDistribution && (q.Evaluator == "" || q.Metric == "") {
			return fmt.Errorf("quality view distribution needs an evaluator and a metric")
		}
	case TypeSQL:
		if strings.TrimSpace(q.RawSQL) == "" {
			return fmt.Errorf("sql: rawSql is empty")
		}
	case TypeVariable:
		if _, err := query.ParseList(q.List); err != nil {
			return fmt.Errorf("variable: %w", err)
		}
	}
	return nil
}

// selector is the query's filters over [from, to).
func (q Query) selector() query.Selector {
	return query.Selector{App: q.App, Environment: q.Environment, Chain: q.Chain, ChainVersion: q.ChainVersion,
		Component: q.Component, ComponentKind: q.ComponentKind, Model: q.Model, Status: q.Status}
}
