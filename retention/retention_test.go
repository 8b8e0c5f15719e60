package retention_test

import (
	"context"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/retention"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func f64(v float64) *float64 { return &v }

// Erasing a user removes every trace in which they appear (all its spans,
// its GenAI events, scores and feedback), the feedback they gave, and the
// cached embeddings of those texts — and nothing of anybody else.
func TestEraseUser(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := context.Background()
	conn := ins.Conn()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	span := func(trace, id, user, in string) schemas.Span {
		return schemas.Span{TraceID: trace, SpanID: id, StartTime: at, EndTime: at.Add(time.Second), App: "a", UserID: user, InputText: in, OutputText: "out " + in, Status: "ok"}
	}
	if err := ins.InsertSpans(ctx, []schemas.Span{
		span("t1", "s1", "alice", "alice's question"), span("t1", "s2", "", "a tool call in alice's trace"),
		span("t2", "s3", "bob", "bob's question"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertLogs(ctx, []schemas.LogRecord{{TraceID: "t1", SpanID: "s1", Time: at, RecordID: "r1", InputText: "alice's event"},
		{TraceID: "t2", SpanID: "s3", Time: at, RecordID: "r2", InputText: "bob's event"}}); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertFeedback(ctx, []schemas.Feedback{{ID: "f1", TraceID: "t1", Score: f64(1), Time: at}, {ID: "f2", TraceID: "t9", UserID: "alice", Score: f64(0), Time: at},
		{ID: "f3", TraceID: "t2", UserID: "bob", Score: f64(1), Time: at}}); err != nil {
		t.Fatal(err)
	}
	if err := ins.InsertScores(ctx, []schemas.Score{{TraceID: "t1", SpanID: "s1", Evaluator: "e", Metric: "m", Created: at}, {TraceID: "t2", SpanID: "s3", Evaluator: "e", Metric: "m", Created: at}}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"alice's question", "out alice's event", "bob's question"} {
		if err := conn.Exec(ctx, "INSERT INTO embeddings (embedder, text_hash, vector, created_at) SELECT 'e', ?, [1.0, 2.0], now()", embedding.TextHash(text)); err != nil {
			t.Fatal(err)
		}
	}
	// The rollups, checked (as the worker does once the hour has closed):
	// the dashboards' counts come from them.
	r := query.NewReader(conn)
	spansInHour := func(what string, fromSpans int) {
		t.Helper()
		s, err := r.SpanSeries(ctx, query.Selector{From: at.Truncate(time.Hour), To: at.Truncate(time.Hour).Add(time.Hour)}, query.Grouping{Interval: time.Hour},
			query.SeriesOptions{Rollup: query.RollupAlways, NoLatency: true})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]uint64{0: 3, 1: 1}[fromSpans]
		if len(s.Points) != 1 || s.Points[0].Spans != want || s.BucketsFromSpans != fromSpans {
			t.Errorf("%s: %+v, %d buckets from spans; want %d spans, %d buckets from spans", what, s.Points, s.BucketsFromSpans, want, fromSpans)
		}
	}
	if _, err := r.CheckRollups(ctx, at.Add(3*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	spansInHour("before erasing", 0)
	rep, err := retention.Erase(ctx, conn, retention.Target{UserIDs: []string{"alice"}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	spansInHour("after erasing", 1)
	if rep, err := r.CheckRollups(ctx, at.Add(3*time.Hour), 0); err != nil || rep.Replayed == 0 {
		t.Errorf("checks after erasing: %+v, %v; want the hour holding fewer spans than rows", rep, err)
	}
	spansInHour("after erasing, checked again", 1)
	want := map[string]uint64{"spans": 2, "logs": 1, "feedback": 2, "eval_scores": 1, "embeddings": 1}
	if rep.Traces != 2 {
		t.Errorf("traces %d, want 2 (t1 by her span, t9 by her feedback)", rep.Traces)
	}
	for _, r := range rep.Removed {
		if r.Rows != want[r.Table] {
			t.Errorf("%s: removed %d rows, want %d", r.Table, r.Rows, want[r.Table])
		}
	}
	left := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for q, n := range map[string]uint64{
		"SELECT count() FROM spans": 1, "SELECT count() FROM spans WHERE user_id = 'bob'": 1, "SELECT count() FROM logs": 1,
		"SELECT count() FROM feedback": 1, "SELECT count() FROM eval_scores": 1, "SELECT count() FROM embeddings": 2,
	} {
		if got := left(q); got != n {
			t.Errorf("%s = %d after erasing alice, want %d", q, got, n)
		}
	}
	if _, err := retention.Erase(ctx, conn, retention.Target{}, 0); err == nil {
		t.Error("an empty target was accepted")
	}
}

// Without TTL, retention drops whole months past it, and only those.
func TestDropExpired(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := context.Background()
	mk := func(id string, at time.Time) schemas.Span {
		return schemas.Span{TraceID: id, SpanID: id, StartTime: at, EndTime: at, App: "a", Status: "ok"}
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	if err := ins.InsertSpans(ctx, []schemas.Span{
		mk("aug", time.Date(2026, 8, 20, 0, 0, 0, 0, time.UTC)),
		mk("oct", time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)), // the month ended 36 days ago
		mk("nov", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),   // 35 days old, but November ended 5 days ago
	}); err != nil {
		t.Fatal(err)
	}
	// The rollups' checks of August (their months go with their rollup's
	// retention: the hourly one keeps its own for ever here).
	if _, err := query.NewReader(ins.Conn()).CheckRollups(ctx, now, 0); err != nil {
		t.Fatal(err)
	}
	dropped, err := retention.DropExpired(ctx, ins.Conn(), schemas.TableOptions{RetentionDays: 30, RetentionByTable: map[string]int{"logs": 0, "spans_rollup_1h": 0}}, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dropped {
		got = append(got, d.Table+"/"+d.Partition)
	}
	sort.Strings(got)
	want := []string{"spans/202608", "spans/202610", "spans_rollup_1m/202608", "spans_rollup_1m/202610", "spans_rollup_1m_checks/202608", "spans_rollup_1m_checks/202610"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dropped %v, want %v", got, want)
	}
	var left []string
	rows, err := ins.Conn().Query(ctx, "SELECT trace_id FROM spans ORDER BY trace_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		left = append(left, s)
	}
	if len(left) != 1 || left[0] != "nov" {
		t.Fatalf("left %v", left)
	}
}
