package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/schemas"
)

// runMigrate applies the schema migrations to clickhouse.addr (default: the
// local server `chainwatch up` starts). With -print it only prints the DDL
// for a given server version.
func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	load := commonFlags(fs)
	printFor := fs.String("print", "", "print the DDL for this server version (e.g. 18.16.1 or 24.8) instead of applying it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *printFor != "" {
		v, err := schemas.ParseServerVersion(*printFor)
		if err != nil {
			return err
		}
		for _, s := range schemas.Statements(v, cfg.ClickHouse.TableOptions()) {
			fmt.Println(s + ";\n")
		}
		return nil
	}
	chc := cfg.clickHouseOrLocal()
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return err
	}
	defer conn.Close()
	rep, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, chc.TableOptions())
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Println("warning:", w)
	}
	names := make([]string, len(rep.Applied))
	for i, m := range rep.Applied {
		names[i] = fmt.Sprintf("%d (%s)", m.Version, m.Name)
	}
	if len(names) == 0 {
		fmt.Printf("clickhouse %s, database %s: schema is current (version %d)\n", rep.Server, chc.Database, rep.Current)
	} else {
		fmt.Printf("clickhouse %s, database %s: applied %s; schema version %d\n", rep.Server, chc.Database, strings.Join(names, ", "), rep.Current)
	}
	fmt.Printf("capabilities: LowCardinality=%v DateTime64=%v Map=%v TTL=%v\n", rep.Caps.LowCardinality, rep.Caps.DateTime64, rep.Caps.Map, rep.Caps.TTL)
	return nil
}
