package schemas

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCapabilitiesByVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want Capabilities
	}{
		{"18.16.1", Capabilities{}},
		{"19.9.2.4", Capabilities{LowCardinality: true, TTL: true}},
		{"20.3.1", Capabilities{LowCardinality: true, TTL: true, DateTime64: true, SkipIndexes: true}},
		{"24.8.4.13", Capabilities{LowCardinality: true, TTL: true, DateTime64: true, Map: true, SkipIndexes: true}},
	} {
		v, err := ParseServerVersion(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := CapabilitiesOf(v); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.v, got, tc.want)
		}
	}
	if _, err := ParseServerVersion("banana"); err == nil {
		t.Error("parsed a bad version")
	}
}

func TestDDLUsesOnlyWhatTheServerHas(t *testing.T) {
	old := strings.Join(Statements(ServerVersion{18, 16, 1}, TableOptions{RetentionDays: 30}), "\n")
	for _, banned := range []string{"LowCardinality", "DateTime64", "Map(", "TTL", "INDEX"} {
		if strings.Contains(old, banned) {
			t.Errorf("18.16 DDL uses %s:\n%s", banned, old)
		}
	}
	if !strings.Contains(old, "attr_keys Array(String)") {
		t.Error("18.16 DDL lacks the attribute arrays")
	}
	cur := strings.Join(Statements(ServerVersion{24, 8, 0}, TableOptions{RetentionDays: 30}), "\n")
	for _, want := range []string{"LowCardinality(String)", "DateTime64(6)", "attributes Map(String, String)", "TTL toDateTime(start_time) + INTERVAL 30 DAY", "bloom_filter"} {
		if !strings.Contains(cur, want) {
			t.Errorf("24.8 DDL lacks %s", want)
		}
	}
	for _, caps := range []Capabilities{{}, CapabilitiesOf(ServerVersion{24, 8, 0})} {
		d := ddl{caps: caps}
		cols := SpanColumns(caps)
		// The table as migrations 1, 5 and 9 leave it.
		table := d.spansTable()
		for _, alter := range append(d.spansUsageColumns(), d.spansContentColumns()...) {
			table += "\n    " + strings.TrimPrefix(alter, "ALTER TABLE spans ADD COLUMN ")
		}
		for _, c := range cols {
			if !strings.Contains(table, "    "+c+" ") {
				t.Errorf("insert column %s not in the spans DDL (caps %+v)", c, caps)
			}
		}
	}
}

// fakeDB records statements; it knows which versions were applied.
type fakeDB struct {
	version string
	applied []string
	execs   []string
	failOn  string
}

func (f *fakeDB) Exec(_ context.Context, q string) error {
	if f.failOn != "" && strings.Contains(q, f.failOn) {
		return errors.New("boom")
	}
	f.execs = append(f.execs, q)
	if strings.HasPrefix(q, "INSERT INTO schema_migrations") {
		f.applied = append(f.applied, strings.TrimSuffix(strings.Fields(q[strings.Index(q, "SELECT ")+7:])[0], ","))
	}
	return nil
}

func (f *fakeDB) QueryStrings(_ context.Context, q string) ([]string, error) {
	if strings.Contains(q, "version()") {
		return []string{f.version}, nil
	}
	return f.applied, nil
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := &fakeDB{version: "18.16.1"}
	rep, err := Migrate(context.Background(), db, TableOptions{RetentionDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != len(Migrations) || rep.Current != Migrations[len(Migrations)-1].Version {
		t.Fatalf("first run: %+v", rep)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "retention_days") {
		t.Fatalf("no TTL warning on 18.16: %v", rep.Warnings)
	}
	n := len(db.execs)
	rep, err = Migrate(context.Background(), db, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 0 || len(db.execs) != n+1 { // only CREATE schema_migrations IF NOT EXISTS again
		t.Fatalf("second run applied %v, ran %d statements", rep.Applied, len(db.execs)-n)
	}
	failing := &fakeDB{version: "24.8.1", failOn: "CREATE TABLE IF NOT EXISTS feedback"}
	if _, err := Migrate(context.Background(), failing, TableOptions{}); err == nil || !strings.Contains(err.Error(), "migration 1") {
		t.Fatalf("error does not name the migration: %v", err)
	}
	if len(failing.applied) != 0 {
		t.Fatal("a failed migration was recorded as applied")
	}
}

// TestMonitoringColumnsMatchDDL: every insert column of the monitoring
// tables is declared by their DDL, on old and new servers.
func TestMonitoringColumnsMatchDDL(t *testing.T) {
	for _, caps := range []Capabilities{{}, CapabilitiesOf(ServerVersion{24, 8, 0})} {
		d := ddl{caps: caps, opts: TableOptions{RetentionDays: 30}}
		for _, tc := range []struct {
			ddl  string
			cols []string
		}{
			{d.datasetsTable(), DatasetRowColumns()},
			{d.datasetVersionsTable(), DatasetVersionColumns()},
			{d.embeddingsTable(), EmbeddingColumns()},
			{d.detectorResultsTable(), DetectorResultColumns()},
			{d.alertsTable(), AlertColumns()},
			{d.experimentTables()[0], ExperimentColumns()},
			{d.experimentTables()[1], ExperimentItemColumns()},
			{d.experimentTables()[2], DatasetReviewColumns()},
		} {
			for _, c := range tc.cols {
				if !strings.Contains(tc.ddl, "    "+c+" ") {
					t.Errorf("insert column %s not in:\n%s", c, tc.ddl)
				}
			}
		}
	}
}

// Check changes nothing and names what is missing.
func TestCheckNamesMissingMigrations(t *testing.T) {
	db := &fakeDB{version: "18.16.1"}
	if _, err := Check(context.Background(), db); err == nil || !strings.Contains(err.Error(), "run `chainwatch migrate`") {
		t.Fatalf("before migrating: %v", err)
	}
	if _, err := Migrate(context.Background(), db, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	n := len(db.execs)
	rep, err := Check(context.Background(), db)
	if err != nil || rep.Current != Migrations[len(Migrations)-1].Version || len(db.execs) != n {
		t.Fatalf("after migrating: %v, current %d, %d statements run by Check", err, rep.Current, len(db.execs)-n)
	}
}

// Cluster mode renders every table as a replicated local table and a
// Distributed one of the same name, sharded by trace id where there is
// one; ADD COLUMN alters the local table ON CLUSTER and makes the
// Distributed table again; materialized views read the local tables.
func TestClusterStatements(t *testing.T) {
	stmts := Statements(ServerVersion{18, 16, 1}, TableOptions{Cluster: "cw", Database: "db"})
	var creates, locals, dists, mvs int
	for _, s := range stmts {
		switch {
		case strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS db.") && strings.Contains(s, "_local ON CLUSTER cw ("):
			locals++
			if !strings.Contains(s, "ENGINE = Replicated") || !strings.Contains(s, "'/clickhouse/tables/{shard}/db/") {
				t.Errorf("local table not replicated: %.120s", s)
			}
		case strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS db.") && strings.Contains(s, "ENGINE = Distributed(cw, db, "):
			dists++
		case strings.HasPrefix(s, "CREATE MATERIALIZED VIEW"):
			mvs++
			if !strings.Contains(s, "ON CLUSTER cw TO db.spans_rollup") || !strings.Contains(s, "FROM db.spans_local") {
				t.Errorf("view: %.200s", s)
			}
		case strings.HasPrefix(s, "CREATE TABLE"):
			creates++
			t.Errorf("a table not clustered: %.120s", s)
		case strings.HasPrefix(s, "ALTER TABLE") && !strings.Contains(s, "_local ON CLUSTER cw "):
			t.Errorf("an ALTER not on the local table: %s", s)
		}
	}
	if locals < 15 || dists < locals || mvs != 4 {
		t.Errorf("%d local, %d distributed tables, %d views", locals, dists, mvs)
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS db.spans ON CLUSTER cw AS db.spans_local ENGINE = Distributed(cw, db, spans_local, cityHash64(trace_id))",
		"CREATE TABLE IF NOT EXISTS db.experiments ON CLUSTER cw AS db.experiments_local ENGINE = Distributed(cw, db, experiments_local, cityHash64(id))",
		"DROP TABLE IF EXISTS db.eval_scores ON CLUSTER cw",
		"DROP TABLE IF EXISTS db.spans_rollup_1h_mv ON CLUSTER cw",
		"CREATE TABLE IF NOT EXISTS db.spans_rollup_1m_checks ON CLUSTER cw AS db.spans_rollup_1m_checks_local ENGINE = Distributed(cw, db, spans_rollup_1m_checks_local, cityHash64(app))",
	} {
		found := false
		for _, s := range stmts {
			found = found || s == want
		}
		if !found {
			t.Errorf("missing: %s", want)
		}
	}
}

// Retention per table: a table's own days win over retention_days, 0 keeps
// it for ever; servers without TTL get no clause.
func TestRetentionPerTable(t *testing.T) {
	o := TableOptions{RetentionDays: 90, RetentionByTable: map[string]int{"logs": 7, "eval_scores": 0}}
	d := ddl{caps: CapabilitiesOf(ServerVersion{24, 8, 0}), opts: o}
	if !strings.Contains(d.logsTable(), "INTERVAL 7 DAY") || !strings.Contains(d.spansTable(), "INTERVAL 90 DAY") || strings.Contains(d.evalScoresTable(), "TTL") {
		t.Errorf("TTL clauses: logs %q, spans %q, eval_scores has TTL %v", d.ttl("logs", "time"), d.ttl("spans", "start_time"), strings.Contains(d.evalScoresTable(), "TTL"))
	}
	if old := (ddl{caps: CapabilitiesOf(ServerVersion{18, 16, 1}), opts: o}); strings.Contains(old.logsTable(), "TTL") {
		t.Error("a TTL clause for 18.16")
	}
}
