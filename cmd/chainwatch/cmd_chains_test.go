package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving"
)

// The chains CLI end to end on ClickHouse: push (new, unchanged), list,
// show, diff, promote with a canary, rollback, and hash-key.
func TestChainsCLI(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	if _, err := schemas.Migrate(t.Context(), clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	run := func(args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		if err := chainsCmd(t.Context(), args, strings.NewReader("sk-test\n"), &o, &e); err != nil {
			t.Fatalf("chains %s: %v\n%s", strings.Join(args, " "), err, e.String())
		}
		return o.String()
	}
	dir := t.TempDir()
	chain := "name: bot\nversion: v1\nmodel: small\ntemplate: {user: '{{input}}'}\n"
	os.WriteFile(filepath.Join(dir, "bot.yaml"), []byte(chain), 0o644)
	if out := run("push", dir, "-who", "alice"); !strings.HasPrefix(out, "new       bot@v1") {
		t.Fatalf("push: %q", out)
	}
	if out := run("push", dir); !strings.HasPrefix(out, "unchanged bot@v1") {
		t.Fatalf("second push: %q", out)
	}
	os.WriteFile(filepath.Join(dir, "bot.yaml"), []byte(strings.Replace(chain, "v1", "v2", 1)+"params: {temperature: 0.5}\n"), 0o644)
	run("push", dir, "-who", "bob")
	if out := run("list", "bot"); !strings.Contains(out, "v1") || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("list bot: %q", out)
	}
	if out := run("show", "bot@v1"); !strings.Contains(out, "pushed by alice") || !strings.Contains(out, "model: small") {
		t.Fatalf("show: %q", out)
	}
	if out := run("diff", "bot@v1", "bot@v2"); !strings.Contains(out, "-version: v1") || !strings.Contains(out, "+version: v2") || !strings.Contains(out, "+    temperature: 0.5") {
		t.Fatalf("diff: %q", out)
	}
	run("promote", "bot@v1", "-label", "production", "-who", "carol")
	if out := run("promote", "bot@v2", "-label", "production", "-canary", "10%", "-who", "dave"); !strings.Contains(out, "at 10%") || !strings.Contains(out, "by dave") {
		t.Fatalf("canary: %q", out)
	}
	if out := run("list"); !strings.Contains(out, "+ canary") {
		t.Fatalf("list: %q", out)
	}
	if out := run("rollback", "bot", "-label", "production", "-who", "erin"); !strings.HasPrefix(out, "rollback bot/production") || strings.Contains(out, "canary") {
		t.Fatalf("rollback: %q", out)
	}
	if out := run("hash-key"); strings.TrimSpace(out) != serving.HashKey("sk-test") {
		t.Fatalf("hash-key: %q", out)
	}
}
