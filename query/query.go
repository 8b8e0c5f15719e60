// Package query is chainwatch's read side over its ClickHouse tables: the
// monitors' windows, the span exports, `chainwatch report` and `chainwatch
// agreement`, and the Grafana datasource. Every read takes a Selector (the
// filters and time range of a dashboard), renders it with placeholders and
// returns result structs, not text.
//
// Queries work on ClickHouse 18.16 and on current servers: they use no
// LowCardinality, DateTime64 or Map functions, read the attributes from
// whichever columns the migrator chose (schemas.Capabilities), bucket time
// with integer arithmetic rather than toStartOfInterval, and deduplicate
// replayed rows with FINAL where they count.
package query

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/schemas"
)

// Reader runs the read queries over one connection to a migrated database.
// It is safe for concurrent use.
type Reader struct {
	conn driver.Conn

	mu   sync.Mutex
	caps *schemas.Capabilities
}

// NewReader wraps a connection to a database migrated by schemas.Migrate.
func NewReader(conn driver.Conn) *Reader { return &Reader{conn: conn} }

// Capabilities are what the server offers (read once, on first use): they
// say how the spans table stores its attributes.
func (r *Reader) Capabilities(ctx context.Context) (schemas.Capabilities, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.caps != nil {
		return *r.caps, nil
	}
	ctx, cancel := context.WithTimeout(ctx, clickhouse.StatementTimeout)
	defer cancel()
	var ver string
	if err := r.conn.QueryRow(ctx, "SELECT version()").Scan(&ver); err != nil {
		return schemas.Capabilities{}, fmt.Errorf("reading clickhouse version: %w", err)
	}
	sv, err := schemas.ParseServerVersion(ver)
	if err != nil {
		return schemas.Capabilities{}, err
	}
	c := schemas.CapabilitiesOf(sv)
	r.caps = &c
	return c, nil
}

// Dimension is what a statistic is grouped by.
type Dimension string

// The dimensions. ByChainVersion groups by the chain and its version.
const (
	ByApp          Dimension = "app"
	ByEnvironment  Dimension = "environment"
	ByChain        Dimension = "chain"
	ByChainVersion Dimension = "chain_version"
	ByComponent    Dimension = "component"
	ByModel        Dimension = "model"
)

// Grouping says how a statistic is broken down: by dimensions and by time
// buckets.
type Grouping struct {
	By []Dimension
	// Interval is the width of the time buckets, in whole seconds, aligned
	// to the Unix epoch (a dashboard's $__interval); 0: one bucket for the
	// whole range.
	Interval time.Duration
}

// Group is the key of one row of a statistic: the bucket's start and the
// values of the dimensions grouped by ("" for the others).
type Group struct {
	Time                time.Time // bucket start (UTC); zero without an Interval
	App, Environment    string
	Chain, ChainVersion string
	Component, Model    string
}

func (g Grouping) validate(dims map[Dimension][]string) error {
	if g.Interval < 0 || g.Interval%time.Second != 0 {
		return fmt.Errorf("grouping: interval must be whole seconds >= 0, got %v", g.Interval)
	}
	seen := map[Dimension]bool{}
	for _, d := range g.By {
		if _, ok := dims[d]; !ok {
			return fmt.Errorf("grouping: dimension %q does not apply here", d)
		}
		if seen[d] {
			return fmt.Errorf("grouping: dimension %q twice", d)
		}
		seen[d] = true
	}
	return nil
}

// spanDims are the spans table's columns for each dimension.
var spanDims = map[Dimension][]string{
	ByApp:          {"app"},
	ByEnvironment:  {"environment"},
	ByChain:        {"chain_name"},
	ByChainVersion: {"chain_name", "chain_version"},
	ByComponent:    {"component_name"},
	ByModel:        {"model_requested"},
}

// bucket renders the bucket expression (Unix seconds of the bucket's
// start) over an expression in Unix seconds, and its arguments.
func (g Grouping) bucket(unixSeconds string) (string, []any) {
	if g.Interval == 0 {
		return "toUInt64(0)", nil
	}
	n := uint64(g.Interval / time.Second)
	return "toUInt64(intDiv(" + unixSeconds + ", ?) * ?)", []any{n, n}
}

// keys lists the dimension columns in the order of g.By, and where each
// column's value lands in a Group.
func (g Grouping) keys(dims map[Dimension][]string) ([]string, []func(*Group) *string) {
	var cols []string
	var dest []func(*Group) *string
	for _, d := range g.By {
		for _, c := range dims[d] {
			cols = append(cols, c)
			dest = append(dest, groupField(d, c))
		}
	}
	return cols, dest
}

func groupField(d Dimension, col string) func(*Group) *string {
	switch d {
	case ByApp:
		return func(g *Group) *string { return &g.App }
	case ByEnvironment:
		return func(g *Group) *string { return &g.Environment }
	case ByChain:
		return func(g *Group) *string { return &g.Chain }
	case ByChainVersion:
		if col == "chain_name" {
			return func(g *Group) *string { return &g.Chain }
		}
		return func(g *Group) *string { return &g.ChainVersion }
	case ByComponent:
		return func(g *Group) *string { return &g.Component }
	default:
		return func(g *Group) *string { return &g.Model }
	}
}

// Sample is one value of a window: a feedback or evaluation score and its
// time.
type Sample struct {
	Time  time.Time
	Value float64
}

// errNoMax guards the sampling reads.
var errNoMax = errors.New("max must be > 0")

func (r *Reader) samples(ctx context.Context, q string, args []any) ([]Sample, error) {
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var ns uint64
		var s Sample
		if err := rows.Scan(&ns, &s.Value); err != nil {
			return nil, err
		}
		s.Time = time.Unix(0, int64(ns)).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
