// Package retention removes data: a person's data on request (Erase, for
// right-to-erasure requests) and data past its retention on servers that
// have no TTL (DropExpired, ClickHouse before 19.6).
package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/schemas"
)

// Target says whose data Erase removes: every trace in which a span has
// one of UserIDs as its user, every trace in TraceIDs, and every piece of
// feedback given by one of UserIDs.
type Target struct {
	UserIDs  []string
	TraceIDs []string
}

// Removed is what Erase removed from one table.
type Removed struct {
	Table string
	Rows  uint64
}

// Report is what Erase did.
type Report struct {
	Traces  int // traces erased
	Removed []Removed
}

// The tables Erase cleans and how it finds a target's rows in each.
var eraseTables = []struct {
	table, where string
}{
	{"spans", "has(?, trace_id)"},
	{"logs", "has(?, trace_id)"},
	{"feedback", "has(?, trace_id) OR has(?, user_id)"},
	{"eval_scores", "has(?, trace_id)"},
	{"embeddings", "has(?, text_hash)"},
}

// Erase removes t's data from every table that holds it: spans, log
// records (GenAI events), feedback, evaluation scores, and the cached
// embeddings of those spans' texts (their inputs and outputs, the events'
// included); the spans rollups' checks of the buckets they lay in go too
// (uncheck), so that dashboards stop counting them. It runs ClickHouse mutations (ALTER TABLE … DELETE) and
// waits until each has finished, at most wait in all (0: 10 minutes).
// Rows in datasets are not touched: a dataset is a curated copy whose
// owner decides (dataset versions are immutable).
//
// With a cluster (clickhouse.cluster), the mutations run ON CLUSTER on the
// replicated local tables (NAME_local), once per shard, and replication
// carries them to every replica; the counts are read through the
// Distributed tables.
func Erase(ctx context.Context, conn driver.Conn, t Target, wait time.Duration, cluster ...string) (Report, error) {
	var rep Report
	if len(t.UserIDs) == 0 && len(t.TraceIDs) == 0 {
		return rep, errors.New("erase: name at least one user id or trace id")
	}
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	users := nonEmpty(t.UserIDs)
	traces := map[string]bool{}
	for _, id := range nonEmpty(t.TraceIDs) {
		traces[strings.ToLower(id)] = true
	}
	// ClickHouse types an empty array literal as Array(Nothing), which has()
	// refuses: every has(?, …) below runs only with a non-empty list.
	for _, q := range []string{
		"SELECT DISTINCT trace_id FROM spans WHERE has(?, user_id)",
		"SELECT DISTINCT trace_id FROM feedback WHERE has(?, user_id)",
	} {
		if len(users) == 0 {
			break
		}
		ids, err := strs(ctx, conn, q, users)
		if err != nil {
			return rep, err
		}
		for _, id := range ids {
			traces[id] = true
		}
	}
	ids := make([]string, 0, len(traces))
	for id := range traces {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rep.Traces = len(ids)
	if len(ids) == 0 && len(users) == 0 {
		return rep, nil
	}
	if len(ids) == 0 {
		ids = []string{""} // no trace: match nothing, keep has() typed
	}
	texts, err := strs(ctx, conn, `SELECT t FROM (
    SELECT arrayJoin([input_text, output_text]) AS t FROM spans WHERE has(?, trace_id)
    UNION ALL SELECT arrayJoin([input_text, output_text]) AS t FROM logs WHERE has(?, trace_id)) WHERE t != ''`, ids, ids)
	if err != nil {
		return rep, err
	}
	hashes := make([]string, 0, len(texts))
	for _, s := range texts {
		hashes = append(hashes, embedding.TextHash(s))
	}
	deadline := time.Now().Add(wait)
	if err := uncheck(ctx, conn, ids, deadline, cluster...); err != nil {
		return rep, err
	}
	for _, et := range eraseTables {
		where, args := et.where, []any{ids}
		switch et.table {
		case "feedback":
			if len(users) > 0 {
				args = []any{ids, users}
			} else {
				where = "has(?, trace_id)"
			}
		case "embeddings":
			if len(hashes) == 0 {
				rep.Removed = append(rep.Removed, Removed{Table: et.table})
				continue
			}
			args = []any{hashes}
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+et.table+" WHERE "+where, args...).Scan(&n); err != nil {
			return rep, fmt.Errorf("counting %s rows to erase: %w", et.table, err)
		}
		rep.Removed = append(rep.Removed, Removed{Table: et.table, Rows: n})
		if n == 0 {
			continue
		}
		if err := deleteWhere(ctx, conn, et.table, where, args, deadline, cluster...); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// deleteWhere deletes table's rows where where holds (a mutation: on a
// cluster, of the replicated local table ON CLUSTER) and waits until it
// has finished, at most until deadline.
func deleteWhere(ctx context.Context, conn driver.Conn, table, where string, args []any, deadline time.Time, cluster ...string) error {
	local, target := table, table
	if len(cluster) > 0 && cluster[0] != "" {
		local = table + "_local"
		target = local + " ON CLUSTER " + cluster[0]
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+target+" DELETE WHERE "+where, args...); err != nil {
		return fmt.Errorf("erasing from %s: %w", table, err)
	}
	return waitMutations(ctx, conn, local, deadline)
}

// uncheck deletes the spans rollups' checks of the buckets (and apps) the
// traces ids have spans in, before those spans are erased: the worker
// checks them again (query.CheckRollups), finds fewer spans than the
// rollup's rows, and readers take those buckets from spans — without the
// erased ones — instead of from the rollup, which still counts them. The
// apps and buckets are matched each on its own (a few more checks than
// needed may go; they are written again). The spans' minutes are read
// once; every rollup's buckets are whole minutes.
func uncheck(ctx context.Context, conn driver.Conn, ids []string, deadline time.Time, cluster ...string) error {
	rows, err := conn.Query(ctx, "SELECT DISTINCT app, toUInt32(intDiv(toUInt32(toDateTime(start_time)), 60) * 60) FROM spans WHERE has(?, trace_id)", ids)
	if err != nil {
		return fmt.Errorf("finding the rollup buckets to check again: %w", err)
	}
	var apps []string
	var minutes []uint32
	for rows.Next() {
		var app string
		var m uint32
		if err := rows.Scan(&app, &m); err != nil {
			rows.Close()
			return fmt.Errorf("finding the rollup buckets to check again: %w", err)
		}
		if !slices.Contains(apps, app) {
			apps = append(apps, app)
		}
		minutes = append(minutes, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("finding the rollup buckets to check again: %w", err)
	}
	if len(apps) == 0 {
		return nil
	}
	for _, ru := range schemas.Rollups {
		step := uint32(ru.Step / time.Second)
		var buckets []uint32
		for _, m := range minutes {
			if b := m - m%step; !slices.Contains(buckets, b) {
				buckets = append(buckets, b)
			}
		}
		if err := deleteWhere(ctx, conn, ru.CheckTable(), "has(?, app) AND has(?, toUInt32(bucket_start))", []any{apps, buckets}, deadline, cluster...); err != nil {
			return err
		}
	}
	return nil
}

// waitMutations polls system.mutations until table has none left to do.
func waitMutations(ctx context.Context, conn driver.Conn, table string, deadline time.Time) error {
	for {
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = ? AND is_done = 0", table).Scan(&left); err != nil {
			return fmt.Errorf("reading the erasure's progress on %s: %w", table, err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("erasing from %s: %d mutation(s) still running after the wait; they go on in ClickHouse (system.mutations)", table, left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Dropped is one partition DropExpired removed.
type Dropped struct {
	Table, Partition string
	Rows             uint64
}

// DropExpired drops the monthly partitions of the tables with a retention
// (schemas.MonthlyTables: spans, logs, feedback, detector results, alerts,
// the spans rollups and their checks; until 2026-12-07 only the first
// three) whose whole month ended more than days before now: retention on servers
// without TTL (before 19.6), run on a schedule by `chainwatch up` and the
// worker (RunExpiry) and once by `chainwatch retention`. A partition is
// dropped only when all of its rows are past retention, so data is kept
// up to a month longer than days, never less.
//
// With a cluster, the replicated local tables' partitions are read on the
// connected server and dropped ON CLUSTER (once per shard; replication
// carries it to the replicas).
func DropExpired(ctx context.Context, conn driver.Conn, policy schemas.TableOptions, now time.Time) ([]Dropped, error) {
	suffix, on := "", ""
	if policy.Cluster != "" {
		suffix, on = "_local", " ON CLUSTER "+policy.Cluster
	}
	var out []Dropped
	for _, mt := range schemas.MonthlyTables() {
		table, days := mt.Table, policy.Retention(mt.RetentionOf)
		if days <= 0 {
			continue
		}
		cutoff := now.UTC().AddDate(0, 0, -days)
		rows, err := conn.Query(ctx, "SELECT partition, sum(rows) FROM system.parts WHERE database = currentDatabase() AND table = ? AND active GROUP BY partition ORDER BY partition", table+suffix)
		if err != nil {
			return out, fmt.Errorf("listing the partitions of %s: %w", table, err)
		}
		var parts []Dropped
		for rows.Next() {
			var d Dropped
			if err := rows.Scan(&d.Partition, &d.Rows); err != nil {
				rows.Close()
				return out, err
			}
			d.Table = table
			parts = append(parts, d)
		}
		rows.Close()
		for _, d := range parts {
			ym, err := strconv.Atoi(strings.Trim(d.Partition, "'"))
			if err != nil || ym < 197001 {
				continue
			}
			monthEnd := time.Date(ym/100, time.Month(ym%100)+1, 1, 0, 0, 0, 0, time.UTC)
			if !monthEnd.Before(cutoff) {
				continue
			}
			if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s%s%s DROP PARTITION %d", table, suffix, on, ym)); err != nil {
				return out, fmt.Errorf("dropping partition %d of %s: %w", ym, table, err)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func strs(ctx context.Context, conn driver.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func nonEmpty(in []string) []string {
	out := []string{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// RunExpiry runs DropExpired every interval until ctx ends, logging what
// it dropped and any error (a failed run is tried again at the next).
func RunExpiry(ctx context.Context, conn driver.Conn, policy schemas.TableOptions, every time.Duration, log func(msg string, args ...any)) {
	for {
		dropped, err := DropExpired(ctx, conn, policy, time.Now())
		for _, d := range dropped {
			log("retention: dropped an expired partition", "table", d.Table, "partition", d.Partition, "rows", d.Rows, "retention_days", policy.Retention(d.Table))
		}
		if err != nil && ctx.Err() == nil {
			log("retention: dropping expired partitions failed; trying again later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
