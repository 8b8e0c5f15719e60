package schemas

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DB is what the migrator needs of a ClickHouse connection; clickhouse-go's
// driver.Conn satisfies it through a two-line adapter (clickhouse.MigrationDB).
type DB interface {
	Exec(ctx context.Context, query string) error
	// QueryStrings runs a query and returns its first column as strings.
	QueryStrings(ctx context.Context, query string) ([]string, error)
}

// Migration is one versioned schema change. Statements are rendered for the
// server at hand and must be idempotent themselves (IF NOT EXISTS), so that a
// migrator interrupted between a statement and its bookkeeping row can run
// again.
type Migration struct {
	Version    int
	Name       string
	Statements func(d ddl) []string
}

// Migrations is the ordered list of every schema change. Append only: never
// edit or renumber a released migration.
var Migrations = []Migration{
	{1, "spans and feedback", func(d ddl) []string { return []string{d.spansTable(), d.feedbackTable()} }},
	{2, "monitoring: datasets, embedding cache, detector results, alerts", func(d ddl) []string {
		return []string{d.datasetsTable(), d.datasetVersionsTable(), d.embeddingsTable(), d.detectorResultsTable(), d.alertsTable()}
	}},
	{3, "eval_scores", func(d ddl) []string { return []string{d.evalScoresTable()} }},
	{4, "eval_scores.label", func(d ddl) []string { return []string{d.addColumn("eval_scores", "label String DEFAULT ''")} }},
	{5, "spans: cache and reasoning tokens, stream, time to first chunk", func(d ddl) []string { return d.spansUsageColumns() }},
	{6, "logs: OTLP log records, GenAI events joined to their spans", func(d ddl) []string { return []string{d.logsTable()} }},
	{7, "spans_rollup_1m: per-minute span aggregates for dashboards", func(d ddl) []string { return d.spansRollup() }},
	{8, "serving: chain_versions, chain_deployments", func(d ddl) []string {
		return []string{d.chainVersionsTable(), d.chainDeploymentsTable()}
	}},
	{9, "spans: system instructions, tool definitions, guardrail result", func(d ddl) []string { return d.spansContentColumns() }},
	{10, "experiments, experiment_items, dataset_reviews", func(d ddl) []string { return d.experimentTables() }},
	{11, "spans rollups: checks instead of distinct-span states", func(d ddl) []string { return d.rollupChecks() }},
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    server_version String,
    applied_at DateTime
) ENGINE = MergeTree ORDER BY version`

// MigrationReport says what Migrate did.
type MigrationReport struct {
	Server   ServerVersion
	Caps     Capabilities
	Applied  []Migration // applied by this run
	Current  int         // highest applied version after the run
	Warnings []string
}

// Statements renders every migration's DDL for a server of version v: what
// `chainwatch migrate --print` shows and what tests check.
func Statements(v ServerVersion, opts TableOptions) []string {
	d := ddl{caps: CapabilitiesOf(v), opts: opts}
	out := d.clusteredAll([]string{migrationsTable})
	for _, m := range Migrations {
		out = append(out, d.clusteredAll(m.Statements(d))...)
	}
	return out
}

// Migrate brings the connected database up to the newest schema. It reads the
// server version first and renders the DDL for it. Running it again is a
// no-op; two migrators racing apply the same IF NOT EXISTS statements and at
// worst record a version twice, which readers tolerate (they take max).
func Migrate(ctx context.Context, db DB, opts TableOptions) (MigrationReport, error) {
	var rep MigrationReport
	vs, err := db.QueryStrings(ctx, "SELECT version()")
	if err != nil {
		return rep, fmt.Errorf("reading clickhouse version: %w", err)
	}
	if len(vs) != 1 {
		return rep, fmt.Errorf("reading clickhouse version: got %d rows", len(vs))
	}
	if rep.Server, err = ParseServerVersion(vs[0]); err != nil {
		return rep, err
	}
	rep.Caps = CapabilitiesOf(rep.Server)
	if opts.RetentionDays > 0 && !rep.Caps.TTL {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("clickhouse %s has no TTL: clickhouse.retention_days=%d is enforced by dropping expired monthly partitions (the worker hourly, or chainwatch retention), and not at all for eval_scores and embeddings", rep.Server, opts.RetentionDays))
	}
	if opts.Cluster != "" {
		if err := db.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+opts.Database+" ON CLUSTER "+opts.Cluster); err != nil {
			return rep, fmt.Errorf("creating database %s on cluster %s: %w", opts.Database, opts.Cluster, err)
		}
	}
	for _, stmt := range (ddl{caps: rep.Caps, opts: opts}).clusteredAll([]string{migrationsTable}) {
		if err := db.Exec(ctx, stmt); err != nil {
			return rep, fmt.Errorf("creating schema_migrations: %w", err)
		}
	}
	applied, err := db.QueryStrings(ctx, "SELECT toString(version) FROM schema_migrations GROUP BY version")
	if err != nil {
		return rep, fmt.Errorf("reading schema_migrations: %w", err)
	}
	done := map[string]bool{}
	for _, v := range applied {
		done[v] = true
	}
	ms := append([]Migration(nil), Migrations...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	d := ddl{caps: rep.Caps, opts: opts}
	for _, m := range ms {
		if done[fmt.Sprint(m.Version)] {
			rep.Current = m.Version
			continue
		}
		for _, stmt := range d.clusteredAll(m.Statements(d)) {
			if err := db.Exec(ctx, stmt); err != nil && !columnExists(stmt, err) {
				return rep, fmt.Errorf("applying migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		// INSERT … SELECT runs wholly on the server: an INSERT … VALUES sent
		// through the native protocol makes 18.16 wait for data blocks.
		rec := fmt.Sprintf("INSERT INTO schema_migrations (version, name, server_version, applied_at) SELECT %d, '%s', '%s', toDateTime(%d)",
			m.Version, escape(m.Name), escape(rep.Server.String()), time.Now().Unix())
		if err := db.Exec(ctx, rec); err != nil {
			return rep, fmt.Errorf("recording migration %d: %w", m.Version, err)
		}
		rep.Applied = append(rep.Applied, m)
		rep.Current = m.Version
	}
	return rep, nil
}

// addColumn renders ALTER TABLE … ADD COLUMN. Servers before 19.x have no
// ADD COLUMN IF NOT EXISTS; there a re-run (a migrator killed between the
// ALTER and its bookkeeping row) fails with "already exists", which
// columnExists takes as done.
func (d ddl) addColumn(table, column string) string {
	return "ALTER TABLE " + table + " ADD COLUMN " + column
}

// columnExists says whether err is an ADD COLUMN finding its column there
// already: the migration was applied before.
func columnExists(stmt string, err error) bool {
	return strings.Contains(stmt, " ADD COLUMN ") && strings.Contains(err.Error(), "already exists")
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Check reports, without changing anything, whether every migration has
// been applied: for services that may not run DDL (clickhouse.schema:
// check). The error names the missing versions and the command that
// applies them.
func Check(ctx context.Context, db DB) (MigrationReport, error) {
	var rep MigrationReport
	vs, err := db.QueryStrings(ctx, "SELECT version()")
	if err != nil || len(vs) != 1 {
		return rep, fmt.Errorf("reading clickhouse version: %v", err)
	}
	if rep.Server, err = ParseServerVersion(vs[0]); err != nil {
		return rep, err
	}
	rep.Caps = CapabilitiesOf(rep.Server)
	applied, err := db.QueryStrings(ctx, "SELECT toString(version) FROM schema_migrations GROUP BY version")
	if err != nil {
		return rep, fmt.Errorf("reading schema_migrations (run `chainwatch migrate` first): %w", err)
	}
	done := map[string]bool{}
	for _, v := range applied {
		done[v] = true
	}
	var missing []string
	for _, m := range Migrations {
		if done[fmt.Sprint(m.Version)] {
			rep.Current = max(rep.Current, m.Version)
		} else {
			missing = append(missing, fmt.Sprintf("%d (%s)", m.Version, m.Name))
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("the schema lacks migrations %s: run `chainwatch migrate` (clickhouse.schema is check: this service does not migrate)", strings.Join(missing, ", "))
	}
	return rep, nil
}
