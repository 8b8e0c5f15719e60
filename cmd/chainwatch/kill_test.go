package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/ingest/faults"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

func TestMain(m *testing.M) {
	code := chtest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// chainwatchBinary builds the chainwatch binary once for the package's
// tests that run it as separate processes.
func chainwatchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "chainwatch-bin"); binErr != nil {
			return
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "chainwatch"), ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building chainwatch: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "chainwatch")
}

// A real `chainwatch writer` process is SIGKILLed in the middle of a load
// and started again: every span arrives, none is visible twice.
func TestWriterProcessKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := chainwatchBinary(t)
	_, brokers := kafkatest.NewCluster(t)
	addr, db := chtest.Database(t)
	kcfg := kafka.Config{Brokers: brokers}.WithDefaults()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "writer", "-metrics-addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "CHAINWATCH_KAFKA_BROKERS="+brokers[0], "CHAINWATCH_CLICKHOUSE_ADDR="+addr,
			"CHAINWATCH_CLICKHOUSE_DATABASE="+db, "CHAINWATCH_LOG_LEVEL=error")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	prod, err := kgo.NewClient(kafka.ProducerOpts(kcfg)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			recs, _, err := kafka.SplitByTrace(oneTrace(i), kcfg.Topics.Spans)
			if err != nil {
				t.Fatal(err)
			}
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn := chtest.Conn(t, addr, db)
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return 0 // the table may not exist yet
		}
		return n
	}
	w := start()
	produce(0, 3000)
	deadline := time.Now().Add(60 * time.Second)
	for count("SELECT count() FROM spans") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	produce(3000, 6000)
	w.Process.Signal(syscall.SIGKILL)
	w.Wait()
	killedAt := count("SELECT count() FROM spans")
	t.Logf("killed with %d of 6000 spans inserted", killedAt)
	start()
	produce(6000, 7000)
	deadline = time.Now().Add(90 * time.Second)
	for count("SELECT count() FROM spans FINAL") < 7000 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := count("SELECT count() FROM spans FINAL"); n != 7000 {
		t.Fatalf("%d spans visible through FINAL, want 7000", n)
	}
	if n := count("SELECT count() FROM (SELECT trace_id, span_id FROM spans FINAL GROUP BY trace_id, span_id HAVING count() > 1)"); n != 0 {
		t.Fatalf("%d spans visible twice", n)
	}
}

// Writer processes SIGKILLed again and again while spans stream through a
// real collector process: every acknowledged span is stored, none twice
// through FINAL, and the drain is not bound by dead members. (Before the fix
// of the idle-member stall, a restarted writer stayed idle and the drain
// never finished.) `chainwatch bench faults` runs the long variant.
func TestWriterProcessesKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := chainwatchBinary(t)
	// Writers keep their -metrics-addr, hence the static group identity
	// derived from it (the default with a fixed port). Dynamic members
	// (port 0) run in `bench faults` only: under kfake's group coordinator
	// a member killed mid-join can stay in a Stable generation holding
	// partitions indefinitely (seen 2026-12-06: 4 members for 3 live
	// writers, nothing stored for 100+ s), which would make this test
	// fail on the broker used for tests, not on the writer.
	for _, static := range []bool{true} {
		t.Run(map[bool]string{true: "static", false: "dynamic"}[static], func(t *testing.T) {
			addr, db := chtest.Database(t)
			res, err := faults.RunWriterKills(context.Background(), faults.Options{Binary: bin, ClickHouseAddr: addr, Database: db,
				Writers: 3, Spans: 20000, Rate: 4000, Kills: map[bool]int{true: 6, false: 3}[static], Static: static, DrainTimeout: 120 * time.Second, Log: testWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if !res.OK() {
				t.Fatalf("acknowledged %d of %d, %d missing after the drain, %d visible twice", res.Acked, res.Spans, res.Missing, res.Duplicates)
			}
		})
	}
}

func TestWriterInstanceID(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct{ configured, addr, want string }{
		{"pod-7", "127.0.0.1:9464", "pod-7"},
		{"-", "127.0.0.1:9464", ""},
		{"", "127.0.0.1:0", ""},
		{"", "127.0.0.1:9464", "chainwatch-writer@" + host + "/127.0.0.1:9464"},
	} {
		if got := writerInstanceID(tc.configured, tc.addr); got != tc.want {
			t.Errorf("writerInstanceID(%q, %q) = %q, want %q", tc.configured, tc.addr, got, tc.want)
		}
	}
}

// testWriter logs the fault run's progress lines, not the children's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if !bytes.HasPrefix(p, []byte("[")) {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func oneTrace(i int) *coltracepb.ExportTraceServiceRequest {
	tid, sid := make([]byte, 16), make([]byte, 8)
	binary.BigEndian.PutUint64(tid, uint64(i)+1)
	binary.BigEndian.PutUint64(sid, uint64(i)+1)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	sv := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{sv("service.name", "kill-test")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "chat",
			StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{sv("gen_ai.prompt.0.content", fmt.Sprintf("question %d", i))}}}}},
	}}}
}
