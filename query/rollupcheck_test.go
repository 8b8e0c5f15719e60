package query

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

// TestCheckRollups: the rollups' checks on ClickHouse, through the real
// insert path and its materialized views. A bucket is read from the
// rollup only once checked, without a replay, and not inserted into
// since; the series is the spans table's in every state.
func TestCheckRollups(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	r := NewReader(ins.Conn())
	min := func(m int) time.Duration { return time.Duration(m) * time.Minute }
	// shop: 10:00 (2 spans), 10:01, 10:05 (replayed below), 11:00; bank: 10:02.
	spans := []schemas.Span{
		span("a", "a1", "", "shop", "rag", "1", schemas.KindChain, "", at(sec(5)), ms(100), 0, 0, "ok"),
		span("a", "a2", "a1", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(sec(6)), ms(50), 10, 5, "ok"),
		span("b", "b1", "", "shop", "rag", "1", schemas.KindChain, "", at(min(1)), ms(100), 0, 0, "error"),
		span("c", "c1", "", "bank", "bot", "1", schemas.KindChain, "", at(min(2)), ms(100), 0, 0, "ok"),
		span("d", "d1", "", "shop", "rag", "2", schemas.KindLLM, "gpt-b", at(min(5)), ms(70), 3, 4, "ok"),
		span("e", "e1", "", "shop", "rag", "2", schemas.KindChain, "", at(min(60)), ms(100), 0, 0, "ok"),
	}
	for _, batch := range [][]schemas.Span{spans, spans[4:5]} { // d1 inserted twice
		if err := ins.InsertSpans(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	hour, minute := schemas.Rollups[0], schemas.Rollups[1]
	unchecked := func(ru schemas.Rollup, from, to time.Duration, interval time.Duration) []string {
		t.Helper()
		bs, err := r.uncheckedBuckets(ctx, ru, at(from), at(to), interval)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range bs {
			out = append(out, time.Unix(int64(b), 0).UTC().Format("15:04"))
		}
		return out
	}
	same := func(want []string, got []string, what string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: unchecked buckets %v, want %v", what, got, want)
		}
	}
	// The series from the rollup equals the spans table's, and reads
	// fromSpans buckets from spans.
	exact := func(g Grouping, fromSpans int) {
		t.Helper()
		sel := Selector{From: at(0), To: at(min(120))}
		roll, err := r.SpanSeries(ctx, sel, g, SeriesOptions{Rollup: RollupAlways, NoLatency: true})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := r.SpanSeries(ctx, Selector{From: roll.From, To: roll.To}, g, SeriesOptions{Rollup: RollupNever, NoLatency: true})
		if err != nil {
			t.Fatal(err)
		}
		if !roll.Rollup || roll.BucketsFromSpans != fromSpans {
			t.Errorf("every %v by %v: rollup %v, %d buckets from spans, want %d", g.Interval, g.By, roll.Rollup, roll.BucketsFromSpans, fromSpans)
		}
		if fmt.Sprint(roll.Points) != fmt.Sprint(raw.Points) {
			t.Errorf("every %v by %v:\nrollup %+v\nspans  %+v", g.Interval, g.By, roll.Points, raw.Points)
		}
	}

	// Nothing checked: every bucket is read from spans.
	same([]string{"10:00", "11:00"}, unchecked(hour, 0, min(120), 0), "1h, none checked")
	exact(Grouping{Interval: time.Hour, By: []Dimension{ByApp}}, 2)

	// 10:07:30: the minutes that ended 2 minutes before are checked; the
	// hours and 10:05 are still open.
	rep, err := r.CheckRollups(ctx, at(min(7)+sec(30)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (CheckReport{Hours: 3, Checks: 3}) {
		t.Errorf("first pass: %+v, want 3 hours looked at, 3 minutes checked", rep)
	}
	same([]string{"10:05"}, unchecked(minute, 0, min(10), 0), "1m at 10:07:30")
	same([]string{"10:00", "11:00"}, unchecked(hour, 0, min(120), 0), "1h at 10:07:30")
	same([]string{"10:05"}, unchecked(minute, 0, min(10), 5*time.Minute), "1m every 5 minutes")

	// 12:10: everything closed. 10:05 and the hour of 10:00 (shop) hold a
	// replay: read from spans for good; the rest from the rollup.
	rep, err = r.CheckRollups(ctx, at(min(130)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (CheckReport{Hours: 3, Checks: 5, Replayed: 2}) {
		t.Errorf("second pass: %+v, want 3 hours, 5 checks (10:05, 11:00 and three hours), 2 replayed", rep)
	}
	same([]string{"10:05"}, unchecked(minute, 0, min(120), 0), "1m at 12:10")
	same([]string{"10:00"}, unchecked(hour, 0, min(120), 0), "1h at 12:10")
	exact(Grouping{Interval: time.Hour, By: []Dimension{ByApp}}, 1)
	exact(Grouping{Interval: time.Minute, By: []Dimension{ByChainVersion}}, 1)
	exact(Grouping{By: []Dimension{ByModel}}, 1) // one bucket: the replayed hour read from spans, added to the rest
	if rep, err = r.CheckRollups(ctx, at(min(130)), 0); err != nil || rep != (CheckReport{}) {
		t.Errorf("a pass with nothing new: %+v, %v", rep, err)
	}

	// A late span in 11:03: that minute and hour are read from spans
	// until checked again.
	if err := ins.InsertSpans(ctx, []schemas.Span{span("f", "f1", "", "shop", "rag", "2", schemas.KindChain, "", at(min(63)), ms(100), 0, 0, "ok")}); err != nil {
		t.Fatal(err)
	}
	same([]string{"10:00", "11:00"}, unchecked(hour, 0, min(120), 0), "1h after a late span")
	exact(Grouping{Interval: time.Hour, By: []Dimension{ByApp}}, 2)
	if rep, err = r.CheckRollups(ctx, at(min(130)), 0); err != nil || rep != (CheckReport{Hours: 1, Checks: 2}) {
		t.Errorf("after a late span: %+v, %v; want 1 hour, 2 checks", rep, err)
	}
	same([]string{"10:00"}, unchecked(hour, 0, min(120), 0), "1h, the late span checked")
	exact(Grouping{Interval: time.Hour, By: []Dimension{ByApp}}, 1)

	// Spans gone (retention, erasure) before their bucket was checked:
	// the check takes the rollup as it is, rather than read nothing.
	if err := ins.InsertSpans(ctx, []schemas.Span{span("g", "g1", "", "gone", "x", "1", schemas.KindChain, "", at(min(180)), ms(100), 0, 0, "ok")}); err != nil {
		t.Fatal(err)
	}
	deleteRows(t, ctx, ins.Conn(), "spans", "gone")
	if rep, err = r.CheckRollups(ctx, at(min(300)), 0); err != nil || rep != (CheckReport{Hours: 1, Checks: 2, Expired: 1}) {
		t.Errorf("spans gone: %+v, %v; want 1 hour, 2 checks, 1 expired", rep, err)
	}
	same(nil, unchecked(hour, min(180), min(240), 0), "1h, spans gone")

	// The per-minute rollup kept for fewer days than the hourly one: an
	// hour it no longer holds is counted whole.
	if err := ins.InsertSpans(ctx, []schemas.Span{span("h", "h1", "", "old", "x", "1", schemas.KindChain, "", at(min(360)), ms(100), 0, 0, "ok")}); err != nil {
		t.Fatal(err)
	}
	deleteRows(t, ctx, ins.Conn(), minute.Table, "old")
	if rep, err = r.CheckRollups(ctx, at(min(500)), 0); err != nil || rep != (CheckReport{Hours: 1, Checks: 1}) {
		t.Errorf("no minutes: %+v, %v; want 1 hour, 1 check", rep, err)
	}
	same(nil, unchecked(hour, min(360), min(420), 0), "1h without minutes")
}

// deleteRows deletes app's rows of table (a mutation) and waits until it
// is done.
func deleteRows(t *testing.T, ctx context.Context, conn driver.Conn, table, app string) {
	t.Helper()
	if err := conn.Exec(ctx, "ALTER TABLE "+table+" DELETE WHERE app = ?", app); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE app = ?", app).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows of %s left in %s after 30 s", left, app, table)
		}
	}
}

// TestRollupChecksUpgrade: a database migrated before migration 11, with
// spans in the old views' rollups (distinct-span states), upgraded:
// migration 11 drops the old views, spans inserted after count once, and
// the checked rollup answers what spans does across the two.
func TestRollupChecksUpgrade(t *testing.T) {
	ins := chtest.Inserter(t)
	conn := ins.Conn()
	ctx := t.Context()
	// Back to migration 10: migration 11's views and tables gone, migration
	// 7's views again (as the migrator renders them for this server).
	var ver string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&ver); err != nil {
		t.Fatal(err)
	}
	sv, err := schemas.ParseServerVersion(ver)
	if err != nil {
		t.Fatal(err)
	}
	var old []string
	for _, st := range schemas.Statements(sv, schemas.TableOptions{}) {
		for _, ru := range schemas.Rollups {
			if strings.HasPrefix(st, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+ru.Table+"_mv ") {
				old = append(old, st)
			}
		}
	}
	if len(old) != 2 {
		t.Fatalf("migration 7's views: found %d", len(old))
	}
	for _, st := range append([]string{
		"DROP TABLE spans_rollup_1h_counts_mv", "DROP TABLE spans_rollup_1m_counts_mv",
		"DROP TABLE spans_rollup_1h_checks", "DROP TABLE spans_rollup_1m_checks",
		"ALTER TABLE schema_migrations DELETE WHERE version = 11",
	}, old...) {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations WHERE version = 11").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("schema_migrations still records migration 11")
		}
	}
	before := []schemas.Span{
		span("a", "a1", "", "shop", "rag", "1", schemas.KindChain, "", at(sec(5)), ms(100), 0, 0, "ok"),
		span("a", "a2", "a1", "shop", "rag", "1", schemas.KindLLM, "gpt-a", at(sec(6)), ms(50), 10, 5, "ok"),
	}
	if err := ins.InsertSpans(ctx, before); err != nil {
		t.Fatal(err)
	}
	rep, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{})
	if err != nil || len(rep.Applied) != 1 || rep.Applied[0].Version != 11 {
		t.Fatalf("upgrade: applied %v, %v", rep.Applied, err)
	}
	var views []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		views = append(views, v)
	}
	rows.Close()
	if want := []string{"spans_rollup_1h_counts_mv", "spans_rollup_1m_counts_mv"}; !reflect.DeepEqual(views, want) {
		t.Errorf("views after the upgrade: %v, want %v", views, want)
	}
	// After: a new span in the same hour, one in the next, and a1 again.
	after := []schemas.Span{
		span("b", "b1", "", "shop", "rag", "1", schemas.KindChain, "", at(time.Minute), ms(100), 0, 0, "error"),
		span("c", "c1", "", "shop", "rag", "2", schemas.KindChain, "", at(time.Hour), ms(100), 0, 0, "ok"),
		before[0],
	}
	if err := ins.InsertSpans(ctx, after); err != nil {
		t.Fatal(err)
	}
	r := NewReader(conn)
	if rep, err := r.CheckRollups(ctx, at(3*time.Hour), 0); err != nil || rep.Replayed != 2 {
		t.Fatalf("checks: %+v, %v; want the minute and the hour of the replay", rep, err)
	}
	g := Grouping{Interval: time.Hour, By: []Dimension{ByChainVersion}}
	roll, err := r.SpanSeries(ctx, Selector{From: at(0), To: at(2 * time.Hour)}, g, SeriesOptions{Rollup: RollupAlways, NoLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.SpanSeries(ctx, Selector{From: at(0), To: at(2 * time.Hour)}, g, SeriesOptions{Rollup: RollupNever, NoLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	if !roll.Rollup || roll.BucketsFromSpans != 1 || fmt.Sprint(roll.Points) != fmt.Sprint(raw.Points) {
		t.Errorf("after the upgrade: rollup %v, %d buckets from spans (want 1: the replay's hour)\nrollup %+v\nspans  %+v", roll.Rollup, roll.BucketsFromSpans, roll.Points, raw.Points)
	}
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT countMerge(rows) FROM spans_rollup_1h").Scan(&total); err != nil || total != 5 {
		t.Errorf("rollup rows: %d, %v; want 5 (two before the upgrade, three after, each counted once)", total, err)
	}
}
