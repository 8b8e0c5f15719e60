// Package chtest gives tests a real ClickHouse server: the one named by
// CHAINWATCH_TEST_CLICKHOUSE (host:port, native protocol; `make test` starts
// one), or else one started as a child process for the test binary. Each
// test gets its own database, dropped in tb.Cleanup.
package chtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/local/chserver"
	"github.com/chainwatch/chainwatch/schemas"
)

// EnvAddr names the environment variable with a running server's address.
const EnvAddr = "CHAINWATCH_TEST_CLICKHOUSE"

var (
	mu     sync.Mutex
	shared *chserver.Server
	seq    atomic.Int64
)

// Main wraps testing.M.Run to stop a server started for the package.
// Use it from TestMain: func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.Stop()
	}
	mu.Unlock()
	return code
}

// Addr returns the address of a running server, starting one if needed. A
// test that can't have one is skipped only when CHAINWATCH_TEST_ALLOW_SKIP is
// set; otherwise it fails, so a missing server never passes silently.
func Addr(tb testing.TB) string {
	tb.Helper()
	if a := os.Getenv(EnvAddr); a != "" {
		return a
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := chserver.Start(ctx, chserver.Config{})
		if err != nil {
			if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
				tb.Skipf("no clickhouse: %v", err)
			}
			tb.Fatalf("starting clickhouse for tests: %v", err)
		}
		shared = s
	}
	return shared.Addr()
}

// Database creates a fresh database on the test server and returns its
// name and the server address; the database is dropped in tb.Cleanup.
func Database(tb testing.TB) (addr, db string) {
	tb.Helper()
	addr = Addr(tb)
	name := strings.NewReplacer("/", "_", "-", "_", " ", "_").Replace(tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	db = fmt.Sprintf("t_%d_%d_%s", os.Getpid(), seq.Add(1), strings.ToLower(name))
	conn := Conn(tb, addr, "default")
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		tb.Fatalf("creating test database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := open(addr, "default")
		if err == nil {
			_ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			c.Close()
		}
	})
	return addr, db
}

// Conn opens a connection to db, closed in tb.Cleanup.
func Conn(tb testing.TB, addr, db string) driver.Conn {
	tb.Helper()
	c, err := open(addr, db)
	if err != nil {
		tb.Fatalf("opening clickhouse %s/%s: %v", addr, db, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func open(addr, db string) (driver.Conn, error) {
	c, err := chgo.Open(&chgo.Options{Addr: []string{addr}, Auth: chgo.Auth{Database: db, Username: "default"}})
	if err != nil {
		return nil, err
	}
	return c, c.Ping(context.Background())
}

// StartPrivate starts a server of the test's own (for tests that stop and
// start it); it is stopped in tb.Cleanup.
func StartPrivate(tb testing.TB) *chserver.Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Config{})
	if err != nil {
		tb.Fatalf("starting private clickhouse: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Migrated is a connection to a fresh database with chainwatch's schema
// (migrated twice: the second run must change nothing).
func Migrated(tb testing.TB) driver.Conn {
	tb.Helper()
	addr, db := Database(tb)
	conn := Conn(tb, addr, db)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		rep, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{})
		if err != nil || (i == 1 && len(rep.Applied) != 0) {
			tb.Fatalf("migrate run %d: applied %v, err %v", i+1, rep.Applied, err)
		}
	}
	return conn
}

// Inserter is the insert path over a Migrated database.
func Inserter(tb testing.TB) *clickhouse.Inserter {
	tb.Helper()
	s, err := clickhouse.NewInserter(context.Background(), Migrated(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
