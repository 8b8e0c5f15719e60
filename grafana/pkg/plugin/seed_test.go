package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/grafana/pkg/plugin"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/monitor"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/simulate"
)

// The seeded data: simulate's generator (seed 1, default traffic) makes
// seedTraces traces, one every seedStep from seedStart, sent through the
// real pipeline (collector → in-process Kafka → writer → ClickHouse 18.16)
// in batches of seedBatch; batch replayedBatch is sent twice (a replay,
// which the spans table folds only at merge or with FINAL).
var (
	seedStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	seedEnd   = seedStart.Add(seedLead + seedTraces*seedStep)
)

const (
	seedTraces    = 240
	seedLead      = 2 * time.Minute // before the first trace's end: no span starts before seedStart
	seedStep      = 15 * time.Second
	seedBatch     = 40
	replayedBatch = 2
)

// seeded is what the tests know about the seeded database.
type seeded struct {
	ds       *plugin.Datasource
	conn     driver.Conn
	settings plugin.Settings
	traces   []*simulate.Trace
	spans    int // distinct spans
	inserted int // span rows inserted (replays included)
	roots    int
	errors   int // spans with status error
	inTok    uint64
	outTok   uint64
	feedback int
}

func seed(t *testing.T) *seeded {
	t.Helper()
	addr, db := chtest.Database(t)
	o := pipeline.Options{}
	o.ClickHouse.Addr, o.ClickHouse.Database = []string{addr}, db
	o.Collector.HTTPAddr, o.Collector.GRPCAddr = "127.0.0.1:0", "off"
	o.Writer.Batch.MaxWait = 100 * time.Millisecond
	o.Kafka.Partitions = 2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := pipeline.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Shutdown(sctx)
	})
	url := "http://" + p.Collector.HTTPAddr()

	traffic := simulate.DefaultTraffic()
	traffic.FeedbackRate = 0.3
	gen, err := simulate.NewGenerator(traffic)
	if err != nil {
		t.Fatal(err)
	}
	s := &seeded{conn: p.Conn}
	var fb []schemas.Feedback
	for i := 0; i < seedTraces; i++ {
		tr := gen.Next(seedStart.Add(seedLead+time.Duration(i)*seedStep), false)
		s.traces = append(s.traces, tr)
		if tr.Feedback != nil {
			fb = append(fb, *tr.Feedback)
		}
	}
	post := func(path, ct string, body []byte) {
		t.Helper()
		resp, err := http.Post(url+path, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
	}
	for b := 0; b*seedBatch < seedTraces; b++ {
		batch := s.traces[b*seedBatch : (b+1)*seedBatch]
		body, err := proto.Marshal(gen.Pack(batch))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tr := range batch {
			n += len(tr.Spans)
		}
		sends := 1
		if b == replayedBatch {
			sends = 2
		}
		for k := 0; k < sends; k++ {
			post("/v1/traces", "application/x-protobuf", body)
			s.inserted += n
		}
	}
	for _, tr := range s.traces {
		for _, sp := range tr.Spans {
			s.spans++
			if len(sp.ParentSpanId) == 0 {
				s.roots++
			}
			if sp.Status != nil && sp.Status.Code == 2 {
				s.errors++
			}
		}
	}
	fbBody, _ := json.Marshal(map[string]any{"feedback": fb})
	post("/v1/feedback", "application/json", fbBody)
	s.feedback = len(fb)

	// Every row written, the replay included: only then are the counts
	// below fixed.
	waitCount(t, p.Conn, "SELECT count() FROM spans", uint64(s.inserted))
	waitCount(t, p.Conn, "SELECT count() FROM feedback FINAL", uint64(s.feedback))
	if err := p.Conn.QueryRow(ctx, "SELECT sum(toUInt64(input_tokens)), sum(toUInt64(output_tokens)) FROM spans FINAL").Scan(&s.inTok, &s.outTok); err != nil {
		t.Fatal(err)
	}
	seedMonitoring(t, p.Conn, s.traces)

	s.settings = plugin.Settings{Address: addr, Database: db, Prices: testPrices}
	s.ds, err = plugin.Open(s.settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.ds.Dispose)
	return s
}

// testPrices price simulate's models (USD per million tokens).
var testPrices = map[string]plugin.Price{
	"gpt-4o-mini": {Input: 0.15, Output: 0.6}, "gpt-4.1-mini": {Input: 0.4, Output: 1.6},
	"gpt-4o": {Input: 2.5, Output: 10}, "claude-3-5-haiku-latest": {Input: 0.8, Output: 4}, "claude-3-5-haiku-20241022": {Input: 0.8, Output: 4},
}

func waitCount(t *testing.T, conn driver.Conn, q string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got uint64
	for time.Now().Before(deadline) {
		if err := conn.QueryRow(context.Background(), q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: got %d, want %d", q, got, want)
}

// seedMonitoring writes what the workers would: evaluation scores through
// the insert path (one batch twice: a replay), monitor runs and alert
// events through the monitor's store.
func seedMonitoring(t *testing.T, conn driver.Conn, traces []*simulate.Trace) {
	t.Helper()
	ctx := context.Background()
	ins, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var scores []schemas.Score
	for i, tr := range traces {
		if i%3 != 0 {
			continue
		}
		root := tr.Spans[0]
		for _, sp := range tr.Spans {
			if len(sp.ParentSpanId) == 0 {
				root = sp
			}
		}
		sid := fmt.Sprintf("%x", root.SpanId)
		scores = append(scores,
			schemas.Score{TraceID: tr.TraceIDHex(), SpanID: sid, App: tr.App, Chain: "", Evaluator: "relevance", EvaluatorVersion: "1",
				Metric: "relevance", Value: float64(1 + i%5), Created: tr.End.Truncate(time.Second)},
			schemas.Score{TraceID: tr.TraceIDHex(), SpanID: sid, App: tr.App, Evaluator: "guard_pii", EvaluatorVersion: "1",
				Metric: "pii", Value: float64(i % 2), Created: tr.End.Truncate(time.Second)})
		if i%30 == 0 { // a red-team probe's scores (evaluator redteam, the category as the chain)
			scores = append(scores, schemas.Score{TraceID: tr.TraceIDHex(), SpanID: sid, App: tr.App, Chain: "prompt_injection",
				Evaluator: "redteam", EvaluatorVersion: "1", Metric: "canary_leak", Value: float64(i % 60 / 30), Created: tr.End.Truncate(time.Second)})
		}
	}
	for k := 0; k < 2; k++ {
		if err := ins.InsertScores(ctx, scores); err != nil {
			t.Fatal(err)
		}
	}
	st := monitor.NewStore(conn)
	for i := 0; i < 12; i++ {
		tick := seedStart.Add(time.Duration(i) * 5 * time.Minute)
		p := 0.5 / float64(i+1)
		for _, m := range []struct{ name, kind, feature string }{{"support-length", "drift", "output_length"}, {"docs-skew", "skew", "input_embedding"}} {
			r := schemas.DetectorResult{Monitor: m.name, MonitorVersion: "v1", Tick: tick, App: "support-bot", Feature: m.feature,
				Detector: "ks", Kind: m.kind, Status: schemas.RunOK, Statistic: 0.05 * float64(i), PValue: &p, Threshold: 0.3,
				Drift: 0.05*float64(i) > 0.3, NRef: 200, NCur: uint32(50 + i), RefStart: tick.Add(-time.Hour), RefEnd: tick,
				CurStart: tick.Add(-5 * time.Minute), CurEnd: tick, Params: "{}", Worker: "w1", CreatedAt: tick}
			if err := st.InsertResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	lbl := map[string]string{"app": "support-bot", "monitor": "support-length", "severity": "warning"}
	evs := []schemas.AlertEvent{
		{Time: seedStart.Add(35 * time.Minute), Monitor: "support-length", Tick: seedStart.Add(35 * time.Minute), State: "firing", Fingerprint: "fp1", Labels: lbl, Annotations: map[string]string{"summary": "output length drifted"}},
		{Time: seedStart.Add(50 * time.Minute), Monitor: "support-length", Tick: seedStart.Add(50 * time.Minute), State: "resolved", Fingerprint: "fp1", Labels: lbl},
		{Time: seedStart.Add(55 * time.Minute), Monitor: "support-length", Tick: seedStart.Add(55 * time.Minute), State: "firing", Fingerprint: "fp1", Labels: lbl, Annotations: map[string]string{"summary": "output length drifted again"}},
	}
	if err := st.InsertAlerts(ctx, evs); err != nil {
		t.Fatal(err)
	}
}
