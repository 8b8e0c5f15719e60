package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
)

// TestRunIngestSmall runs the whole benchmark briefly against the ClickHouse
// 18.16 child it starts: every accepted span is counted visible (RunIngest fails
// otherwise), and the probes, sent every 50 ms while the load runs, are
// each measured once.
func TestRunIngestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clickhouse-server")
	}
	var trace bytes.Buffer
	res, err := RunIngest(context.Background(), Options{Duration: 2 * time.Second, Senders: 2, TracesPerReq: 5,
		BaselineRows: 5000, BaselineBatchRows: 1000, BatchMaxRows: 2000, ProbeEvery: 50 * time.Millisecond, LatencyAt: 0.5, Trace: &trace}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The timeline: both phases, every probe measured, the writer's
	// inserts and the merges sampled, each event stamped.
	kinds := map[string]int{}
	var phases []string
	for _, line := range strings.Split(strings.TrimSpace(trace.String()), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("trace line %q", line)
		}
		if _, err := time.Parse("15:04:05.000", f[1]); err != nil {
			t.Errorf("trace line %q: %v", line, err)
		}
		kinds[f[0]]++
		if f[0] == "phase" && len(f) == 3 {
			phases = append(phases, f[2])
		}
	}
	if strings.Join(phases, ",") != "closed,paced" || kinds["inserts"] == 0 || kinds["merges"] == 0 ||
		res.AtLoad == nil || kinds["probe"] != res.Probes+res.AtLoad.Probes {
		t.Errorf("trace: phases %v, events %v; probes measured %d + %v", phases, kinds, res.Probes, res.AtLoad)
	}
	if res.PipelineSpans == 0 || res.BaselineBeforeRowsPerSec <= 0 || res.BaselineAfterRowsPerSec <= 0 || res.Ratio <= 0 ||
		res.BaselineRowsPerSec != (res.BaselineBeforeRowsPerSec+res.BaselineAfterRowsPerSec)/2 {
		t.Fatalf("nothing measured: %+v", res)
	}
	if res.RatioToBest > res.Ratio || res.RatioToBest != res.PipelineSpansPerSec/max(res.BaselineBeforeRowsPerSec, res.BaselineAfterRowsPerSec) {
		t.Errorf("ratio to the faster baseline phase %v, to their mean %v (before %v, after %v)", res.RatioToBest, res.Ratio, res.BaselineBeforeRowsPerSec, res.BaselineAfterRowsPerSec)
	}
	// CPU is accounted for both processes (the server is a child here) and
	// both sides, and a span through the pipeline costs this process more
	// than a row of the raw insert does.
	if res.CPUPerSpanMicros <= res.BaselineCPUPerRowMicros || res.BaselineCPUPerRowMicros <= 0 ||
		res.ClickHouseCPUPerSpanMicros <= 0 || res.BaselineCHCPUPerRowMicros <= 0 || res.BaselineRows != 10000 {
		t.Errorf("CPU a span %.1f µs (clickhouse %.1f), a baseline row %.1f µs (clickhouse %.1f), %d baseline rows",
			res.CPUPerSpanMicros, res.ClickHouseCPUPerSpanMicros, res.BaselineCPUPerRowMicros, res.BaselineCHCPUPerRowMicros, res.BaselineRows)
	}
	// 2 s at one probe per 50 ms: about 40, none lost on an unloaded pipeline.
	if res.Probes < 20 || res.Probes > 41 {
		t.Errorf("%d probes measured, want 20–41", res.Probes)
	}
	if res.LatencyP50 <= 0 || res.LatencyP50 > res.LatencyP99 {
		t.Errorf("latency p50 %v p99 %v", res.LatencyP50, res.LatencyP99)
	}
	// The paced phase at half the sustained rate: offered what it says,
	// and its probes measured.
	a := res.AtLoad
	if a == nil || a.OfferedSpansPerSec != 0.5*res.PipelineSpansPerSec || a.Probes < 20 || a.SpansPerSec <= 0 {
		t.Fatalf("paced phase: %+v", a)
	}
	if a.SpansPerSec > 0.75*res.PipelineSpansPerSec {
		t.Errorf("paced at half of %.0f spans/s, it sustained %.0f", res.PipelineSpansPerSec, a.SpansPerSec)
	}
}

// TestRunIngestRate: -rate paces the closed loop's senders (open loop):
// 2,000 spans/s offered for 2 s, well under what the pipeline takes, is
// what it sustains.
func TestRunIngestRate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clickhouse-server")
	}
	res, err := RunIngest(context.Background(), Options{Duration: 2 * time.Second, Senders: 2, TracesPerReq: 5,
		BaselineRows: 2000, BaselineBatchRows: 1000, BatchMaxRows: 2000, Rate: 2000}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.OfferedSpansPerSec != 2000 || res.PipelineSpans < 3000 || res.PipelineSpans > 4400 || res.AtLoad != nil {
		t.Fatalf("paced at 2,000 spans/s for 2 s: %d spans, offered %.0f, at-load phase %v", res.PipelineSpans, res.OfferedSpansPerSec, res.AtLoad)
	}
}

// The collector's refusals are summed by reason over its endpoints.
func TestRejectedByReason(t *testing.T) {
	m := collector.NewMetrics(nil)
	m.Rejected.WithLabelValues("traces", "behind").Add(3)
	m.Rejected.WithLabelValues("logs", "behind").Add(2)
	m.Rejected.WithLabelValues("traces", "buffer_full").Inc()
	got := rejectedByReason(m.Rejected)
	if want := map[string]int64{"behind": 5, "buffer_full": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("by reason %v, want %v", got, want)
	}
}

func TestSpanInserts(t *testing.T) {
	m := writer.NewMetrics(nil)
	if n, rows := spansHistogram(m.BatchRows); n != 0 || rows != 0 {
		t.Fatalf("before any insert: %d inserts, %v rows", n, rows)
	}
	m.BatchRows.WithLabelValues("spans").Observe(20000)
	m.BatchRows.WithLabelValues("spans").Observe(30000)
	m.BatchRows.WithLabelValues("eval_scores").Observe(7)
	if n, rows := spansHistogram(m.BatchRows); n != 2 || rows != 50000 {
		t.Fatalf("%d inserts of %v rows, want 2 of 50000 (spans only)", n, rows)
	}
}

func TestSpansLag(t *testing.T) {
	m := writer.NewMetrics(nil)
	m.ConsumerLag.WithLabelValues("chainwatch.spans", "10").Set(7)
	m.ConsumerLag.WithLabelValues("chainwatch.spans", "2").Set(1331)
	m.ConsumerLag.WithLabelValues("chainwatch.logs", "0").Set(99)
	if got, want := spansLag(m.ConsumerLag, "chainwatch.spans"), "2:1331 10:7"; got != want {
		t.Fatalf("spansLag = %q, want %q (spans only, by partition number)", got, want)
	}
}

// TestTemplateBody: a send's trace ids lead with its (sender, seq), so
// that ClickHouse, which orders spans by trace id, stores a request's
// spans together and their texts compress as the baseline's do (with the
// per-send part last, until 2026-12-07, the same template span of every
// request lay side by side and compressed 76 times to the baseline's
// 2.3); and its spans' times move by the shift given, every other byte
// as the template's.
func TestTemplateBody(t *testing.T) {
	tpls := makeTemplates(Options{}.withDefaults(), 2)
	const shift = 90*time.Second + 7
	var buf []byte
	for i := range 2 {
		buf = tpls.body(buf, i, 7, 1234, shift)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(buf, &req); err != nil {
			t.Fatal(err)
		}
		tpl := tpls.reqs[i].ResourceSpans[0].ScopeSpans[0].Spans
		if got := len(tpls.timeOffsets[i]); got != 2*len(tpl) {
			t.Fatalf("template %d: %d time offsets for %d spans", i, got, len(tpl))
		}
		seen := map[string]bool{}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for k, sp := range ss.Spans {
					if sp.StartTimeUnixNano != tpl[k].StartTimeUnixNano+uint64(shift) || sp.EndTimeUnixNano != tpl[k].EndTimeUnixNano+uint64(shift) {
						t.Fatalf("template %d span %d: times %d–%d, want the template's %d–%d moved by %v", i, k,
							sp.StartTimeUnixNano, sp.EndTimeUnixNano, tpl[k].StartTimeUnixNano, tpl[k].EndTimeUnixNano, shift)
					}
					if !bytes.Equal(sp.SpanId, tpl[k].SpanId) || len(sp.Attributes) != len(tpl[k].Attributes) {
						t.Fatalf("template %d span %d: not the template's", i, k)
					}
					id := sp.TraceId
					if binary.BigEndian.Uint32(id[0:]) != 7 || binary.BigEndian.Uint32(id[4:]) != 1234 {
						t.Fatalf("template %d: trace id %x does not lead with sender 7, seq 1234", i, id)
					}
					if id[8] != 0xc4 || int(id[12]) != i {
						t.Fatalf("template %d: trace id %x does not end with its marker", i, id)
					}
					seen[string(id)] = true
				}
			}
		}
		if len(seen) != 50 {
			t.Errorf("template %d: %d distinct trace ids, want 50", i, len(seen))
		}
	}
}

// A compression the pipeline does not know is refused before anything
// starts (kafka's own codec choice would otherwise fall back to lz4).
func TestRunIngestCompressionName(t *testing.T) {
	_, err := RunIngest(context.Background(), Options{Compression: "brotli"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `compression must be one of none, gzip, snappy, lz4, zstd; got "brotli"`) {
		t.Fatalf("RunIngest with compression brotli: %v", err)
	}
}
