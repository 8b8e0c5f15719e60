package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

// dying is the migrator's connection that dies after n statements: the
// server has completed the n-th, nothing after it runs — a migrator
// process killed between two statements.
type dying struct {
	clickhouse.MigrationDB
	left int
}

var errKilled = errors.New("killed")

func (d *dying) Exec(ctx context.Context, q string) error {
	if d.left == 0 {
		return errKilled
	}
	d.left--
	return d.MigrationDB.Exec(ctx, q)
}

// schemaOf lists every table and column of db, with types and engines.
func schemaOf(t *testing.T, conn driver.Conn, db string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT table, name, type FROM system.columns WHERE database = ? ORDER BY table, name`, db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var tbl, col, typ string
		rows.Scan(&tbl, &col, &typ)
		fmt.Fprintf(&b, "%s.%s %s\n", tbl, col, typ)
	}
	var versions []string
	vr, err := conn.Query(context.Background(), "SELECT toString(version) FROM "+db+".schema_migrations GROUP BY version ORDER BY version")
	if err == nil {
		for vr.Next() {
			var v string
			vr.Scan(&v)
			versions = append(versions, v)
		}
		vr.Close()
	}
	return b.String() + "versions " + strings.Join(versions, ",")
}

// A migrator killed after any statement — including between a migration's
// DDL and its bookkeeping row, and in the middle of a migration's ALTERs
// on a server without ADD COLUMN IF NOT EXISTS — leaves a schema that the
// next run completes to exactly the schema of an uninterrupted run. Every
// point of death is tried, on the server at hand (ClickHouse 18.16 in CI).
func TestMigratorKilledAtEveryStatementResumes(t *testing.T) {
	ctx := context.Background()
	addr, clean := chtest.Database(t)
	conn := chtest.Conn(t, addr, clean)
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	want := schemaOf(t, conn, clean)
	// How many statements a whole run executes.
	count := &dying{left: -1}
	addr2, db2 := chtest.Database(t)
	count.MigrationDB = clickhouse.MigrationDB{Conn: chtest.Conn(t, addr2, db2)}
	if _, err := schemas.Migrate(ctx, count, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	total := -1 - count.left
	if total < 20 {
		t.Fatalf("a whole run executed %d statements", total)
	}
	for k := 1; k < total; k++ {
		a, db := chtest.Database(t)
		c := chtest.Conn(t, a, db)
		d := &dying{MigrationDB: clickhouse.MigrationDB{Conn: c}, left: k}
		if _, err := schemas.Migrate(ctx, d, schemas.TableOptions{}); !errors.Is(err, errKilled) {
			t.Fatalf("killed after %d statements: %v", k, err)
		}
		if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: c}, schemas.TableOptions{}); err != nil {
			t.Fatalf("killed after statement %d of %d, the next run fails: %v", k, total, err)
		}
		if got := schemaOf(t, c, db); got != want {
			t.Fatalf("killed after statement %d of %d, the resumed schema differs:\n%s\nwant\n%s", k, total, got, want)
		}
	}
}
