package schemas

import (
	"strings"
	"testing"
)

// TestScoreColumnsMatchDDL: every insert column of eval_scores is declared
// by its DDL and every declared column is inserted, on old and new servers;
// the dedup key is the natural key of a score.
func TestScoreColumnsMatchDDL(t *testing.T) {
	for _, caps := range []Capabilities{{}, CapabilitiesOf(ServerVersion{24, 8, 0})} {
		d := ddl{caps: caps, opts: TableOptions{RetentionDays: 30}}
		// The table as migrations 3 and 4 leave it: the CREATE plus the added label.
		stmt := d.evalScoresTable()
		added := strings.TrimPrefix(d.addColumn("eval_scores", "label String DEFAULT ''"), "ALTER TABLE eval_scores ADD COLUMN ")
		stmt = strings.Replace(stmt, "\n) ENGINE", ",\n    "+added+"\n) ENGINE", 1)
		declared := 0
		for _, line := range strings.Split(stmt, "\n") {
			if strings.HasPrefix(line, "    ") {
				declared++
			}
		}
		if declared != len(ScoreColumns()) {
			t.Errorf("DDL declares %d columns, ScoreColumns has %d:\n%s", declared, len(ScoreColumns()), stmt)
		}
		for _, c := range ScoreColumns() {
			if !strings.Contains(stmt, "    "+c+" ") {
				t.Errorf("insert column %s not in:\n%s", c, stmt)
			}
		}
		key := stmt[strings.Index(stmt, "ORDER BY"):]
		for _, k := range []string{"trace_id", "span_id", "evaluator", "evaluator_version", "metric"} {
			if !strings.Contains(key, k) {
				t.Errorf("sort key %q lacks %s", key, k)
			}
		}
		if !caps.LowCardinality && strings.Contains(stmt, "LowCardinality") {
			t.Errorf("LowCardinality on a server without it:\n%s", stmt)
		}
		if caps.TTL != strings.Contains(stmt, "TTL") {
			t.Errorf("TTL clause present=%v on a server with TTL=%v", !caps.TTL, caps.TTL)
		}
	}
}

func TestMigrationsIncludeEvalScores(t *testing.T) {
	if m := Migrations[2]; m.Version != 3 || m.Name != "eval_scores" {
		t.Fatalf("migration 3 = %d %q, want eval_scores", m.Version, m.Name)
	}
	found := false
	for _, s := range Statements(ServerVersion{18, 16, 1}, TableOptions{}) {
		found = found || strings.Contains(s, "CREATE TABLE IF NOT EXISTS eval_scores")
	}
	if !found {
		t.Fatal("Statements does not create eval_scores")
	}
}
