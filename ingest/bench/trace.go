package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/ingest/pipeline"
)

// A tracer writes a run's timeline (Options.Trace, `bench ingest -trace
// FILE`), one event a line, each starting with its kind and the UTC time:
//
//	phase   15:04:05.000 closed|paced
//	probe   15:04:05.000 <received → visible, s> <its POST, s>   (time: the POST's start)
//	missed  15:04:05.000                                          (a paced request due with every sender busy)
//	inserts 15:04:05.000 <n> <spans> <insert s>                   (the writer's spans inserts finished in the last 250 ms)
//	merges  15:04:05.000 <n> <table:rows:elapsed s …>              (ClickHouse's system.merges, every 250 ms)
//
// It is how the paced tail was put on ClickHouse's large merges
// (BENCHMARKS.md, seventh session): line up the probes' latencies with
// the inserts and merges of the same seconds. Nil writes nothing.
type tracer struct {
	mu sync.Mutex
	w  io.Writer
}

func newTracer(w io.Writer) *tracer {
	if w == nil {
		return nil
	}
	return &tracer{w: w}
}

func (t *tracer) event(kind string, at time.Time, format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%-7s %s "+format+"\n", append([]any{kind, at.UTC().Format("15:04:05.000")}, args...)...)
}

// sample writes the writer's inserts and ClickHouse's merges every 250 ms
// until ctx ends.
func (t *tracer) sample(ctx context.Context, p *pipeline.Pipeline, conn driver.Conn) {
	if t == nil {
		return
	}
	n0, rows0 := spansHistogram(p.Metrics.Writer.BatchRows)
	_, secs0 := spansHistogram(p.Metrics.Writer.InsertSeconds)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			n1, rows1 := spansHistogram(p.Metrics.Writer.BatchRows)
			_, secs1 := spansHistogram(p.Metrics.Writer.InsertSeconds)
			if n1 > n0 {
				t.event("inserts", now, "%d %.0f %.3f", n1-n0, rows1-rows0, secs1-secs0)
			}
			n0, rows0, secs0 = n1, rows1, secs1
			var merges []string
			rows, err := conn.Query(context.WithoutCancel(ctx), "SELECT table, rows_read, elapsed FROM system.merges")
			if err != nil {
				continue
			}
			for rows.Next() {
				var table string
				var read uint64
				var el float64
				if rows.Scan(&table, &read, &el) == nil {
					merges = append(merges, fmt.Sprintf("%s:%d:%.1f", table, read, el))
				}
			}
			rows.Close()
			t.event("merges", now, "%d %s", len(merges), strings.Join(merges, " "))
		}
	}
}
