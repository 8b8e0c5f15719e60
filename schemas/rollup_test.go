package schemas

import (
	"strings"
	"testing"
)

// Migration 7 renders for both server generations: the rollups' columns
// are LowCardinality where the server has it, a TTL only where it has TTL
// and retention is set, and each rollup has its view and its backfill.
func TestRollupDDL(t *testing.T) {
	for _, c := range []struct {
		v      ServerVersion
		lc     bool
		ttl    bool
		retain int
	}{
		{ServerVersion{18, 16, 1}, false, false, 30},
		{ServerVersion{24, 8, 0}, true, true, 30},
		{ServerVersion{24, 8, 0}, true, false, 0},
	} {
		d := ddl{caps: CapabilitiesOf(c.v), opts: TableOptions{RetentionDays: c.retain}}
		stmts := d.spansRollup()
		if len(stmts) != 3*len(Rollups) {
			t.Fatalf("%v: %d statements, want a table, a view and a backfill per rollup", c.v, len(stmts))
		}
		all := strings.Join(stmts, "\n")
		for _, r := range Rollups {
			for _, want := range []string{"CREATE TABLE IF NOT EXISTS " + r.Table + " (", "CREATE MATERIALIZED VIEW IF NOT EXISTS " + r.Table + "_mv TO " + r.Table, "INSERT INTO " + r.Table + "\n", r.fn + "(start_time) AS bucket_start"} {
				if !strings.Contains(all, want) {
					t.Errorf("%v: no %q", c.v, want)
				}
			}
		}
		if got := strings.Contains(all, "app LowCardinality(String)"); got != c.lc {
			t.Errorf("%v: LowCardinality %v, want %v", c.v, got, c.lc)
		}
		if got := strings.Contains(all, "TTL toDateTime(bucket_start) + INTERVAL 30 DAY"); got != c.ttl {
			t.Errorf("%v retention %d: TTL %v, want %v", c.v, c.retain, got, c.ttl)
		}
		for _, s := range stmts {
			if strings.HasPrefix(s, "CREATE") && !strings.Contains(s, "IF NOT EXISTS") {
				t.Errorf("%v: not re-runnable: %s", c.v, s)
			}
		}
	}
	found := false
	for _, m := range Migrations {
		if m.Version == 7 {
			found = true
		}
	}
	if !found {
		t.Fatal("migration 7 is missing")
	}
}
