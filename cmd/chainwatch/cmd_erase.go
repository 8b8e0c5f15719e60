package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/retention"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// runErase removes a person's data (right-to-erasure requests): every
// trace they appear in, their feedback, the scores and cached embeddings
// of those traces; it prints what it removed from each table once
// ClickHouse has finished.
func runErase(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	load := commonFlags(fs)
	var users, traces listFlag
	fs.Var(&users, "user-id", "erase every trace in which this user appears and the feedback they gave (repeatable)")
	fs.Var(&traces, "trace-id", "erase this trace (repeatable)")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for ClickHouse to finish the deletions")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(users) == 0 && len(traces) == 0 {
		return fmt.Errorf("name a --user-id or a --trace-id")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	chc := cfg.clickHouseOrLocal()
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return err
	}
	defer conn.Close()
	rep, err := retention.Erase(ctx, conn, retention.Target{UserIDs: users, TraceIDs: traces}, *wait, chc.Cluster)
	for _, r := range rep.Removed {
		fmt.Printf("%-12s %d rows removed\n", r.Table, r.Rows)
	}
	if err != nil {
		return err
	}
	fmt.Printf("erased %d traces\n", rep.Traces)
	return nil
}

// runRetention drops the partitions past clickhouse.retention_days once:
// what a server without TTL (before 19.6) needs; `chainwatch up` and the
// worker do it hourly themselves.
func runRetention(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	load := commonFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	chc := cfg.clickHouseOrLocal()
	if chc.RetentionDays <= 0 && len(chc.RetentionByTable) == 0 {
		return fmt.Errorf("clickhouse.retention_days (and retention_days_by_table) are not set: nothing expires")
	}
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return err
	}
	defer conn.Close()
	dropped, err := retention.DropExpired(ctx, conn, chc.TableOptions(), time.Now())
	for _, d := range dropped {
		fmt.Printf("dropped %s partition %s (%d rows)\n", d.Table, d.Partition, d.Rows)
	}
	if err == nil && len(dropped) == 0 {
		fmt.Println("no partition past its retention")
	}
	return err
}
