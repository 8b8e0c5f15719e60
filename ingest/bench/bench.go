// Package bench measures the ingest pipeline end to end — OTLP over HTTP into
// the collector, through Kafka (in-process kfake) and the writer, into a real
// ClickHouse — against a baseline measured in the same run: the raw
// clickhouse-go batch insert of the same rows. `chainwatch bench ingest`
// prints its result; BENCHMARKS.md records it.
package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/chserver"
	"github.com/chainwatch/chainwatch/schemas"
)

// Options shape a run. Zero values take the defaults below.
type Options struct {
	Duration      time.Duration // load phase of the pipeline run; default 20s
	Senders       int           // concurrent HTTP senders; default 16
	TracesPerReq  int           // default 50
	SpansPerTrace int           // default 4
	TextBytes     int           // text per span (input + output); default 1024
	Writers       int           // writer instances; default 1
	BatchMaxRows  int           // writer batch; default writer.DefaultBatchMaxRows
	BatchMaxWait  time.Duration // writer batch age limit; default 250ms
	Inserts       int           // batches a writer inserts at once; default writer.DefaultInserts
	Compression   string        // the collector's produce compression to the in-process broker; default the pipeline's ("none")
	// BaselineRows, when set, is what each baseline phase inserts;
	// otherwise each inserts for BaselineDuration.
	BaselineRows int
	// BaselineDuration is how long each baseline phase inserts when
	// BaselineRows is not set; default Duration, so that the baseline,
	// like the pipeline, pays for the merges of what it inserted.
	BaselineDuration time.Duration
	// BaselineBatchRows is the baseline's batch, kept apart from the
	// writer's so that a smaller writer batch (for latency) is not
	// measured against a slowed baseline; default
	// writer.DefaultBatchMaxRows.
	BaselineBatchRows int
	ProbeEvery        time.Duration // a latency probe this often; default 100ms
	// Rate, when set, paces the senders to this many spans a second in
	// all (open loop: a request is due every spans-per-request / Rate
	// seconds whether or not earlier ones have been answered, up to
	// pacedInFlight × Senders in flight); 0 sends as fast as the collector
	// answers.
	Rate float64
	// LatencyAt, when set (and Rate is not), adds a phase after the
	// closed-loop one: the senders paced to this fraction of the rate the
	// pipeline just sustained, for received → visible at a load the
	// pipeline can carry (under the closed loop the senders outrun the
	// writer, and the latency measures the backlog). The command line's
	// default is 0.8.
	LatencyAt      float64
	ClickHouseAddr string // default: a clickhouse-server child in a temp dir
	// SplitCores gives the clickhouse-server child the upper half of the
	// CPUs and this process the lower half, for the whole run (both
	// baselines and the pipeline): the deployment in which ClickHouse has
	// CPUs of its own, which on this 2-core machine kind is one core
	// each. By default both share every CPU, and whatever the pipeline
	// spends (collector, broker, writer, and the load generator) is CPU
	// the baseline's ClickHouse had; split, the ratio asks instead
	// whether the pipeline keeps ClickHouse as busy as the raw insert
	// does. Linux only; not with ClickHouseAddr. This process stays
	// pinned, at the smaller GOMAXPROCS, after RunIngest returns (the
	// command exits then).
	SplitCores bool
	// Trace, when set, gets the load phases' timeline: each probe, each
	// paced request not sent in time, the writer's inserts and
	// ClickHouse's merges every 250 ms (trace.go).
	Trace io.Writer
}

func (o Options) withDefaults() Options {
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Senders == 0 {
		o.Senders = 16
	}
	if o.TracesPerReq == 0 {
		o.TracesPerReq = 50
	}
	if o.SpansPerTrace == 0 {
		o.SpansPerTrace = 4
	}
	if o.TextBytes == 0 {
		o.TextBytes = 1024
	}
	if o.Writers == 0 {
		o.Writers = 1
	}
	if o.BatchMaxRows == 0 {
		o.BatchMaxRows = writer.DefaultBatchMaxRows
	}
	if o.BatchMaxWait == 0 {
		o.BatchMaxWait = 250 * time.Millisecond
	}
	if o.BaselineDuration == 0 {
		o.BaselineDuration = o.Duration
	}
	if o.BaselineBatchRows == 0 {
		o.BaselineBatchRows = writer.DefaultBatchMaxRows
	}
	if o.ProbeEvery == 0 {
		o.ProbeEvery = 100 * time.Millisecond
	}
	return o
}

// CoreSplit is which CPUs this process and the ClickHouse child ran on.
type CoreSplit struct {
	Chainwatch []int `json:"chainwatch"`
	ClickHouse []int `json:"clickhouse"`
}

// Result is what a run measured.
type Result struct {
	GOMAXPROCS int `json:"gomaxprocs"`
	// SplitCores: the CPUs each side ran on under Options.SplitCores.
	SplitCores       *CoreSplit `json:"split_cores,omitempty"`
	ClickHouse       string     `json:"clickhouse_version"`
	TextBytesPerSpan float64    `json:"text_bytes_per_span"`
	BodyBytesPerSpan float64    `json:"otlp_bytes_per_span"`

	BaselineRows             int     `json:"baseline_rows"`         // inserted by the two phases together
	BaselineRowsPerSec       float64 `json:"baseline_rows_per_sec"` // the mean of before and after
	BaselineBeforeRowsPerSec float64 `json:"baseline_before_rows_per_sec"`
	BaselineAfterRowsPerSec  float64 `json:"baseline_after_rows_per_sec"`
	PipelineSpans            int64   `json:"pipeline_spans"`
	PipelineSpansPerSec      float64 `json:"pipeline_spans_per_sec"` // first send → last span visible
	Ratio                    float64 `json:"ratio_to_baseline"`
	// RatioToBest is against the faster of the two baseline phases: the
	// conservative reading. On this project's 2-core test machines the two
	// phases of one run differed by up to a third, either way
	// (BENCHMARKS.md, tenth session), and a slow phase lowers the mean
	// and flatters Ratio.
	RatioToBest float64 `json:"ratio_to_best_baseline"`
	Rejected    int64   `json:"rejected_requests"`
	// RejectedBy is the collector's count of those refusals by reason
	// (chainwatch_collector_rejected_total): inflight_full, buffer_full,
	// writers_behind (the retention guard), kafka_timeout, …
	RejectedBy         map[string]int64 `json:"rejected_by_reason,omitempty"`
	OfferedSpansPerSec float64          `json:"offered_spans_per_sec,omitempty"` // Rate, when set
	// SpanInserts is how many inserts into the spans table the writer made
	// in the phase (chainwatch_writer_batch_rows); SpansPerInsert their
	// mean size. ClickHouse's CPU a span falls as inserts grow (fewer parts
	// to write and merge), so this says which a change moved.
	SpanInserts    int64   `json:"span_inserts"`
	SpansPerInsert float64 `json:"spans_per_insert"`
	// BacklogAtStop is what was accepted but not yet visible when the
	// load stopped; DrainSpansPerSec the rate at which the writer stored
	// it with the senders and the collector idle — the writer's own
	// capacity, against which the sustained rate shows how much the load
	// generator and the collector take from it on the same cores.
	BacklogAtStop    int64   `json:"backlog_at_stop"`
	DrainSpansPerSec float64 `json:"drain_spans_per_sec,omitempty"`
	// CPU per span of the closed-loop phase (first send → last span
	// visible) and per row of the baseline (both phases), in microseconds:
	// this process (collector, kfake, writer and the load generator) and the
	// clickhouse-server child (0 when an external server was given). Less
	// noisy than the rates on a shared machine, and what A/B comparisons of
	// a change should look at first.
	CPUPerSpanMicros           float64 `json:"cpu_us_per_span"`
	ClickHouseCPUPerSpanMicros float64 `json:"clickhouse_cpu_us_per_span,omitempty"`
	BaselineCPUPerRowMicros    float64 `json:"baseline_cpu_us_per_row"`
	BaselineCHCPUPerRowMicros  float64 `json:"baseline_clickhouse_cpu_us_per_row,omitempty"`
	// MissedSpans are what the paced senders could not send in time (all
	// of them busy): the offered rate was not reached by this much.
	MissedSpans int64 `json:"missed_spans,omitempty"`

	LatencyP50 time.Duration `json:"latency_p50"`
	LatencyP95 time.Duration `json:"latency_p95"`
	LatencyP99 time.Duration `json:"latency_p99"`
	Probes     int           `json:"latency_probes"`

	// AtLoad is the phase at LatencyAt of the sustained rate.
	AtLoad *AtLoad `json:"at_load,omitempty"`

	PeakRSSBytes           int64 `json:"peak_rss_bytes"`            // this process: collector, kfake, writer and the load generator
	ClickHousePeakRSSBytes int64 `json:"clickhouse_peak_rss_bytes"` // the child server, when started here
}

// AtLoad is received → visible with the senders paced below capacity.
type AtLoad struct {
	Fraction           float64          `json:"fraction_of_sustained"`
	OfferedSpansPerSec float64          `json:"offered_spans_per_sec"`
	SpansPerSec        float64          `json:"spans_per_sec"` // first send → last span visible
	MissedSpans        int64            `json:"missed_spans"`
	Rejected           int64            `json:"rejected_requests"`
	RejectedBy         map[string]int64 `json:"rejected_by_reason,omitempty"`
	SpanInserts        int64            `json:"span_inserts"`
	SpansPerInsert     float64          `json:"spans_per_insert"`
	Probes             int              `json:"latency_probes"`
	LatencyP50         time.Duration    `json:"latency_p50"`
	LatencyP95         time.Duration    `json:"latency_p95"`
	LatencyP99         time.Duration    `json:"latency_p99"`
}

// RunIngest runs the baseline, then the pipeline under load, printing
// progress lines to progress.
func RunIngest(ctx context.Context, o Options, progress io.Writer) (Result, error) {
	o = o.withDefaults()
	res := Result{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := (kafka.Config{Compression: o.Compression}).Validate(); err != nil {
		return res, fmt.Errorf("bench ingest: %w", err)
	}
	var ch *chserver.Server
	addr := o.ClickHouseAddr
	if addr == "" {
		var err error
		fmt.Fprintln(progress, "starting clickhouse-server …")
		if ch, err = chserver.Start(ctx, chserver.Config{}); err != nil {
			return res, err
		}
		defer ch.Stop()
		addr = ch.Addr()
		res.ClickHouse = ch.Version
	}
	chPID := ""
	if ch != nil {
		chPID = strconv.Itoa(ch.PID())
	}
	if o.SplitCores {
		if ch == nil {
			return res, errors.New("bench: -split-cores needs the clickhouse-server child (no -clickhouse)")
		}
		self, chs, err := splitCores(ch.PID())
		if err != nil {
			return res, err
		}
		res.SplitCores = &CoreSplit{Chainwatch: self, ClickHouse: chs}
		res.GOMAXPROCS = runtime.GOMAXPROCS(0)
		fmt.Fprintf(progress, "split cores: this process on CPUs %v, clickhouse-server on %v\n", self, chs)
	}
	tpls := makeTemplates(o, 16)
	res.BodyBytesPerSpan = tpls.bodyBytesPerSpan
	res.TextBytesPerSpan = tpls.textBytesPerSpan

	// Baseline: the same rows straight into ClickHouse with the writer's
	// column-oriented batch insert, no HTTP, no Kafka, no decoding.
	conn, err := clickhouse.Open(ctx, clickhouse.Config{Addr: []string{addr}, Database: "bench_raw"})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if res.ClickHouse == "" {
		vs, _ := clickhouse.MigrationDB{Conn: conn}.QueryStrings(ctx, "SELECT version()")
		res.ClickHouse = strings.Join(vs, "")
	}
	if err := resetDB(ctx, conn, "bench_raw"); err != nil {
		return res, err
	}
	store, err := clickhouse.NewInserter(ctx, conn)
	if err != nil {
		return res, err
	}
	rows, err := tpls.spans()
	if err != nil {
		return res, err
	}
	// The baseline runs before and after the pipeline and the ratio is
	// taken against their mean: on a shared machine the baseline alone has
	// moved by half between runs minutes apart, and one measurement on one
	// side of the pipeline would hand that drift to the ratio. Each phase
	// inserts for as long as the pipeline's load phase (until 2026-12-06:
	// 400,000 rows, about 4 s, whose merges mostly ran after the baseline
	// had been timed — on the pipeline's time).
	seq := 0
	baseline := func(when string) (float64, error) {
		what := fmt.Sprintf("for %v", o.BaselineDuration)
		if o.BaselineRows > 0 {
			what = fmt.Sprintf("%d rows", o.BaselineRows)
		}
		fmt.Fprintf(progress, "baseline (%s): inserting %s in batches of %d straight into clickhouse …\n", when, what, o.BaselineBatchRows)
		batch := make([]schemas.Span, 0, o.BaselineBatchRows)
		start := time.Now()
		more := func(done int) bool {
			if o.BaselineRows > 0 {
				return done < o.BaselineRows
			}
			return time.Since(start) < o.BaselineDuration
		}
		done := 0
		c0, k0 := cpuSeconds("self"), cpuSeconds(chPID)
		defer func() {
			res.BaselineCPUPerRowMicros += 1e6 * (cpuSeconds("self") - c0) / float64(max(1, done)) / 2
			res.BaselineCHCPUPerRowMicros += 1e6 * (cpuSeconds(chPID) - k0) / float64(max(1, done)) / 2
		}()
		for more(done) {
			batch = batch[:0]
			// The rows start when they are inserted, as the pipeline's
			// spans start when they are sent (templates.body).
			shift := time.Since(tpls.base)
			for len(batch) < o.BaselineBatchRows && (o.BaselineRows == 0 || done+len(batch) < o.BaselineRows) {
				sp := rows[(done+len(batch))%len(rows)]
				sp.StartTime, sp.EndTime = sp.StartTime.Add(shift), sp.EndTime.Add(shift)
				seq++
				sp.TraceID = fmt.Sprintf("%016x%016x", uint64(seq), uint64(len(batch)))
				batch = append(batch, sp)
			}
			if err := store.InsertSpans(ctx, batch); err != nil {
				return 0, fmt.Errorf("baseline insert: %w", err)
			}
			done += len(batch)
		}
		res.BaselineRows += done
		r := float64(done) / time.Since(start).Seconds()
		fmt.Fprintf(progress, "baseline (%s): %d rows, %.0f rows/s\n", when, done, r)
		return r, nil
	}
	if res.BaselineBeforeRowsPerSec, err = baseline("before"); err != nil {
		return res, err
	}

	// Each phase starts on a quiet server: the merges of the rows the
	// phase before inserted run on the same two cores and would be charged
	// to the next phase (the pipeline paid for the baseline's merges, and
	// the second baseline for the pipeline's).
	settle(ctx, conn, progress)

	// The pipeline.
	pconn, err := clickhouse.Open(ctx, clickhouse.Config{Addr: []string{addr}, Database: "bench_pipeline"})
	if err != nil {
		return res, err
	}
	if err := resetDB(ctx, pconn, "bench_pipeline"); err != nil {
		return res, err
	}
	pconn.Close()
	// The in-process broker persists to disk as under `chainwatch up`
	// (kfake's in-memory segments cost more CPU than its file writes).
	kdir, err := os.MkdirTemp("", "chainwatch-bench-kafka-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(kdir)
	p, err := pipeline.Start(ctx, pipeline.Options{
		LocalKafkaDir: kdir,
		Kafka:         kafka.Config{Compression: o.Compression},
		ClickHouse:    clickhouse.Config{Addr: []string{addr}, Database: "bench_pipeline"},
		Collector:     collector.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "off", MaxBodyBytes: 64 << 20},
		Writer:        writer.Config{Batch: writer.BatchConfig{MaxRows: o.BatchMaxRows, MaxWait: o.BatchMaxWait}, Inserts: o.Inserts},
		Writers:       o.Writers,
	})
	if err != nil {
		return res, err
	}
	defer p.Shutdown(context.WithoutCancel(ctx))
	url := "http://" + p.Collector.HTTPAddr() + "/v1/traces"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: pacedInFlight*o.Senders + 2}}
	trace := newTracer(o.Trace)
	phase := "closed"
	if o.Rate > 0 {
		phase = "paced"
	}

	lr, err := runLoad(ctx, loadSpec{p: p, url: url, client: client, tpls: tpls, o: o, progress: progress, rate: o.Rate, chPID: chPID, trace: trace, phase: phase})
	if err != nil {
		return res, err
	}
	res.PipelineSpans = lr.spans
	res.PipelineSpansPerSec = lr.spansPerSec
	res.Rejected, res.MissedSpans, res.RejectedBy = lr.rejected, lr.missed, lr.rejectedBy
	res.SpanInserts, res.SpansPerInsert = lr.inserts, lr.perInsert
	res.Probes, res.LatencyP50, res.LatencyP95, res.LatencyP99 = lr.probes, lr.p50, lr.p95, lr.p99
	res.BacklogAtStop, res.DrainSpansPerSec = lr.backlog, lr.drainPerSec
	res.CPUPerSpanMicros, res.ClickHouseCPUPerSpanMicros = lr.cpuPerSpan, lr.chCPUPerSpan
	res.OfferedSpansPerSec = o.Rate
	if o.LatencyAt > 0 && o.Rate == 0 {
		settle(ctx, conn, progress)
		rate := o.LatencyAt * res.PipelineSpansPerSec
		fmt.Fprintf(progress, "latency at %.0f %% of that rate: %.0f spans/s offered, open loop …\n", 100*o.LatencyAt, rate)
		at, err := runLoad(ctx, loadSpec{p: p, url: url, client: client, tpls: tpls, o: o, progress: progress,
			rate: rate, stored: lr.spans, senderBase: uint32(o.Senders) + 1, trace: trace, phase: "paced"})
		if err != nil {
			return res, err
		}
		res.AtLoad = &AtLoad{Fraction: o.LatencyAt, OfferedSpansPerSec: rate, SpansPerSec: at.spansPerSec, MissedSpans: at.missed,
			Rejected: at.rejected, RejectedBy: at.rejectedBy, SpanInserts: at.inserts, SpansPerInsert: at.perInsert, Probes: at.probes, LatencyP50: at.p50, LatencyP95: at.p95, LatencyP99: at.p99}
	}
	settle(ctx, conn, progress)
	if res.BaselineAfterRowsPerSec, err = baseline("after"); err != nil {
		return res, err
	}
	res.BaselineRowsPerSec = (res.BaselineBeforeRowsPerSec + res.BaselineAfterRowsPerSec) / 2
	res.Ratio = res.PipelineSpansPerSec / res.BaselineRowsPerSec
	res.RatioToBest = res.PipelineSpansPerSec / max(res.BaselineBeforeRowsPerSec, res.BaselineAfterRowsPerSec)
	res.PeakRSSBytes = peakRSS("self")
	if ch != nil {
		res.ClickHousePeakRSSBytes = peakRSS(strconv.Itoa(ch.PID()))
	}
	return res, nil
}

// loadSpec is one load phase against the running pipeline.
type loadSpec struct {
	p        *pipeline.Pipeline
	url      string
	client   *http.Client
	tpls     *templates
	o        Options
	progress io.Writer
	// rate paces the senders (open loop), 0: closed loop.
	rate float64
	// stored spans are already in ClickHouse from an earlier phase.
	stored int64
	// senderBase keeps this phase's trace ids apart from an earlier one's.
	senderBase uint32
	trace      *tracer // nil: no timeline
	phase      string  // its name in the timeline
	// chPID is the clickhouse-server child's pid, "" for an external one.
	chPID string
}

type loadResult struct {
	spans, rejected, missed int64
	rejectedBy              map[string]int64 // the collector's reasons
	inserts                 int64            // into spans, by the writer
	perInsert               float64          // their mean rows
	spansPerSec             float64          // first send → last span visible
	// backlog is what was accepted but not yet visible when the load
	// stopped; drainPerSec the rate at which the writer, alone now,
	// stored it.
	backlog     int64
	drainPerSec float64
	// cpuPerSpan and chCPUPerSpan: microseconds of CPU a span, this
	// process and the clickhouse child.
	cpuPerSpan, chCPUPerSpan float64
	probes                   int
	p50, p95, p99            time.Duration
}

// pacedInFlight is how many more requests paced senders may have in flight
// than the closed loop's senders. Until 2026-12-06 (seventh session) it was
// one: at 80 % of the sustained rate (about 330 requests a second) 16
// senders carry the load only while a POST takes under 50 ms, and when the
// collector slowed for a moment they fell behind and left 30,000–85,000
// spans unsent (missed_spans) — the latency was then measured at less than
// the load offered.
const pacedInFlight = 4

// runLoad sends for o.Duration with probes, then waits until every
// accepted span is visible.
func runLoad(ctx context.Context, l loadSpec) (loadResult, error) {
	p, url, client, tpls, o, progress := l.p, l.url, l.client, l.tpls, l.o, l.progress
	var sent, rejected, missed atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(ctx, o.Duration)
	defer stopLoad()
	var wg sync.WaitGroup
	first := time.Now()
	c0, k0 := cpuSeconds("self"), cpuSeconds(l.chPID)
	r0 := rejectedByReason(p.Metrics.Collector.Rejected)
	i0, n0 := spansHistogram(p.Metrics.Writer.BatchRows)
	l.trace.event("phase", first, "%s", l.phase)
	sampled := make(chan struct{})
	go func() { defer close(sampled); l.trace.sample(loadCtx, p, p.Conn) }()
	defer func() { stopLoad(); <-sampled }() // no event after the phase returns

	var due chan struct{} // open loop: one tick per request due
	senders := o.Senders
	if l.rate > 0 {
		senders *= pacedInFlight
		due = make(chan struct{}, o.Senders)
		every := time.Duration(float64(time.Second) * float64(tpls.spansPerBody) / l.rate)
		go func() {
			for next := time.Now(); ; next = next.Add(every) {
				select {
				case <-loadCtx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				select {
				case due <- struct{}{}:
				default:
					l.trace.event("missed", time.Now(), "")
					missed.Add(int64(tpls.spansPerBody))
				}
			}
		}()
	}
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 0, tpls.maxBody)
			for seq := uint32(0); loadCtx.Err() == nil; seq++ {
				if due != nil {
					select {
					case <-loadCtx.Done():
						return
					case <-due:
					}
				}
				body := tpls.body(buf, int(seq)%len(tpls.bodies), l.senderBase+uint32(w)+1, seq, time.Since(tpls.base))
				resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					rejected.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					sent.Add(int64(tpls.spansPerBody))
				} else {
					rejected.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}(w)
	}
	// Latency probes: one small trace every o.ProbeEvery, polled until visible.
	var lat []time.Duration
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		lat = probe(loadCtx, client, url, p.Conn, o.ProbeEvery, l.trace)
	}()
	// Progress.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	visible := func() int64 {
		var n uint64
		_ = p.Conn.QueryRow(ctx, "SELECT count() FROM spans WHERE name != 'probe'").Scan(&n)
		return int64(n)
	}
loop:
	for {
		select {
		case <-loadCtx.Done():
			break loop
		case <-tick.C:
			el := time.Since(first).Seconds()
			fmt.Fprintf(progress, "  %4.0fs  accepted %9d spans (%6.0f/s)  in clickhouse %9d  rejected requests %d  behind by partition %s\n",
				el, sent.Load(), float64(sent.Load())/el, visible(), rejected.Load(), spansLag(p.Metrics.Writer.ConsumerLag, p.Kafka.Topics.Spans))
		}
	}
	wg.Wait()
	want := l.stored + sent.Load()
	stopped, backlog := time.Now(), want-visible()
	fmt.Fprintf(progress, "load stopped after %d spans, %d not yet visible; waiting for the writer to drain …\n", sent.Load(), backlog)
	<-probeDone
	deadline := time.Now().Add(5 * time.Minute)
	var last int64
	for {
		if last = visible(); last >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := time.Now()
	if last < want {
		return loadResult{}, fmt.Errorf("only %d of %d spans reached clickhouse within 5 minutes", last, want)
	}
	r := loadResult{spans: sent.Load(), rejected: rejected.Load(), missed: missed.Load(), backlog: backlog}
	if i1, n1 := spansHistogram(p.Metrics.Writer.BatchRows); i1 > i0 {
		r.inserts, r.perInsert = int64(i1-i0), (n1-n0)/float64(i1-i0)
	}
	for reason, n := range rejectedByReason(p.Metrics.Collector.Rejected) {
		if d := n - r0[reason]; d > 0 {
			if r.rejectedBy == nil {
				r.rejectedBy = map[string]int64{}
			}
			r.rejectedBy[reason] = d
		}
	}
	if r.spans > 0 {
		r.cpuPerSpan = 1e6 * (cpuSeconds("self") - c0) / float64(r.spans)
		r.chCPUPerSpan = 1e6 * (cpuSeconds(l.chPID) - k0) / float64(r.spans)
	}
	if d := end.Sub(stopped); backlog > 0 && d > 0 {
		r.drainPerSec = float64(backlog) / d.Seconds()
	}
	r.spansPerSec = float64(r.spans) / end.Sub(first).Seconds()
	slices.Sort(lat)
	r.probes = len(lat)
	if len(lat) > 0 {
		q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
		r.p50, r.p95, r.p99 = q(0.50), q(0.95), q(0.99)
	}
	return r, nil
}

// rejectedByReason sums the collector's refusals by reason over endpoints.
func rejectedByReason(cv *prometheus.CounterVec) map[string]int64 {
	out := map[string]int64{}
	for _, d := range collect(cv) {
		for _, l := range d.GetLabel() {
			if l.GetName() == "reason" {
				out[l.GetValue()] += int64(d.GetCounter().GetValue())
			}
		}
	}
	return out
}

// spansLag is the writer's consumer lag on the spans topic, by partition
// ("0:1331 1:1277 …", records), as of each partition's last fetch: a
// partition that stops being fetched keeps its last value.
func spansLag(g *prometheus.GaugeVec, topic string) string {
	type pl struct{ p, lag int }
	var ls []pl
	for _, d := range collect(g) {
		var t string
		p := -1
		for _, l := range d.GetLabel() {
			switch l.GetName() {
			case "topic":
				t = l.GetValue()
			case "partition":
				p, _ = strconv.Atoi(l.GetValue())
			}
		}
		if t == topic && p >= 0 {
			ls = append(ls, pl{p, int(d.GetGauge().GetValue())})
		}
	}
	slices.SortFunc(ls, func(a, b pl) int { return a.p - b.p })
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%d:%d", l.p, l.lag)
	}
	return strings.Join(parts, " ")
}

// collect is what c holds now, series by series.
func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		d := new(dto.Metric)
		if m.Write(d) == nil {
			out = append(out, d)
		}
	}
	return out
}

// spansHistogram reads the spans table's series of one of the writer's
// histograms: its observations so far and their sum (of batch_rows: the
// inserts into spans and the rows they held).
func spansHistogram(hv *prometheus.HistogramVec) (n uint64, sum float64) {
	var d dto.Metric
	if h, err := hv.GetMetricWithLabelValues("spans"); err == nil && h.(prometheus.Metric).Write(&d) == nil {
		return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
	}
	return 0, 0
}

func resetDB(ctx context.Context, conn driver.Conn, db string) error {
	for _, t := range []string{"spans", "feedback", "schema_migrations"} {
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+db+"."+t); err != nil {
			return err
		}
	}
	_, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{})
	return err
}

// settle waits (at most two minutes) until the server runs no merges.
func settle(ctx context.Context, conn driver.Conn, progress io.Writer) {
	start := time.Now()
	for time.Since(start) < 2*time.Minute && ctx.Err() == nil {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&n); err != nil || n == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(progress, "waited %.0fs for clickhouse's merges to finish\n", d.Seconds())
	}
}

// probePoll is how often the probes' visibility is asked for: a latency
// is known to within this much. Each poll costs clickhouse-server 18.16
// about 1.8 ms of CPU (measured 2026-12-06, 500 queries against 1.5 M
// spans): polled every 10 ms, as until then, the probe took 0.18 of the
// two cores from the pipeline it measured; every 50 ms, 0.035.
const probePoll = 50 * time.Millisecond

// probe sends a single-span trace every `every` (each in its own
// goroutine, so that a slow one does not delay the next) and measures
// received → visible: from the start of its POST until a query finds it.
// One poller asks ClickHouse for every probe still in flight every
// probePoll (by the spans' sorting key: app, then trace id), so probing
// costs the server the same however many probes are out.
func probe(ctx context.Context, client *http.Client, url string, conn driver.Conn, every time.Duration, trace *tracer) []time.Duration {
	type sent struct {
		at   time.Time     // the POST's start
		post time.Duration // until its answer
	}
	var (
		mu      sync.Mutex
		pending = map[string]sent{} // trace id (hex)
		out     []time.Duration
		wg      sync.WaitGroup
	)
	send := func(i uint64) {
		defer wg.Done()
		tid := make([]byte, 16)
		binary.BigEndian.PutUint64(tid, 0xfeedface00000000|i)
		binary.BigEndian.PutUint64(tid[8:], uint64(time.Now().UnixNano()))
		now := time.Now()
		req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "bench-probe")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: tid[8:], Name: "probe",
				StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.UnixNano()) + 1}}}},
		}}}
		body, _ := proto.Marshal(req)
		start := time.Now()
		resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return
		}
		mu.Lock()
		pending[fmt.Sprintf("%x", tid)] = sent{start, time.Since(start)}
		mu.Unlock()
	}
	poll := func() {
		mu.Lock()
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, "'"+id+"'")
		}
		mu.Unlock()
		if len(ids) == 0 {
			return
		}
		rows, err := conn.Query(context.WithoutCancel(ctx), "SELECT DISTINCT trace_id FROM spans WHERE app = 'bench-probe' AND trace_id IN ("+strings.Join(ids, ",")+")")
		if err != nil {
			return
		}
		defer rows.Close()
		seen := time.Now()
		for rows.Next() {
			var id string
			if rows.Scan(&id) != nil {
				continue
			}
			mu.Lock()
			if p, ok := pending[id]; ok {
				trace.event("probe", p.at, "%.3f %.3f", seen.Sub(p.at).Seconds(), p.post.Seconds())
				out = append(out, seen.Sub(p.at))
				delete(pending, id)
			}
			mu.Unlock()
		}
	}
	sendTick := time.NewTicker(every)
	defer sendTick.Stop()
	pollTick := time.NewTicker(probePoll)
	defer pollTick.Stop()
	for i := uint64(1); ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-sendTick.C:
			wg.Add(1)
			go send(i)
			i++
		case <-pollTick.C:
			poll()
		}
	}
	// The load has stopped: wait for the last probes (a minute at most).
	wg.Wait()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(probePoll) {
		poll()
		mu.Lock()
		n := len(pending)
		mu.Unlock()
		if n == 0 {
			break
		}
	}
	return out
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// templates are pre-encoded request bodies whose trace ids and span times
// are patched per send, so the load generator costs a copy, not an encode.
// The times start at the send, and the baseline's rows at their insert,
// as an application's would: until 2026-12-07 every span of a run started
// in the second the templates were made, so the per-minute rollup held a
// whole run in one bucket, and the spans table's order was the trace id's
// alone.
type templates struct {
	bodies           [][]byte
	idOffsets        [][]int // per body: offsets of every trace-id occurrence's first 8 bytes
	timeOffsets      [][]int // per body: offsets of every span's start and end time
	base             time.Time
	maxBody          int
	spansPerBody     int
	bodyBytesPerSpan float64
	textBytesPerSpan float64
	reqs             []*coltracepb.ExportTraceServiceRequest
}

var words = strings.Fields(`the a of to and in is for on with that this it as be are by from or at an your can will we our
order refund password account invoice shipping delivery payment card plan subscription upgrade cancel support ticket
error timeout install configure api key token limit region cluster deploy version release update model prompt answer
flight hotel booking visa passport luggage airport train schedule price discount receipt address email phone help please
thanks question problem issue working broken slow fast today tomorrow yesterday week month year customer service team`)

func sentence(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

func makeTemplates(o Options, n int) *templates {
	rng := rand.New(rand.NewPCG(42, 43))
	t := &templates{spansPerBody: o.TracesPerReq * o.SpansPerTrace, base: time.Now()}
	var text, bodyBytes int
	for b := 0; b < n; b++ {
		ss := &tracepb.ScopeSpans{}
		now := t.base
		for tr := 0; tr < o.TracesPerReq; tr++ {
			// The first 8 bytes are patched per send (body); the last 8 are
			// a marker that cannot occur elsewhere in the encoding. The
			// unique part comes first so that the spans table, ordered by
			// trace id, stores a request's spans together, each next to
			// different texts, as an application's would be. Until
			// 2026-12-07 the marker came first: ClickHouse then stored
			// the same template span of every request side by side, and
			// compressed the pipeline's texts 76 times where the
			// baseline's (the same texts, cycled) compressed 2.3 times —
			// the pipeline wrote a twelfth of the baseline's bytes a row
			// and its ClickHouse CPU a span was flattered accordingly.
			tid := make([]byte, 16)
			copy(tid[8:], []byte{0xc4, 0x1a, 0x19, 0x3a, byte(b), byte(tr >> 8), byte(tr), 0x77})
			var root []byte
			for s := 0; s < o.SpansPerTrace; s++ {
				sid := make([]byte, 8)
				binary.BigEndian.PutUint64(sid, rng.Uint64()|1)
				in := sentence(rng, o.TextBytes/3)
				out := sentence(rng, o.TextBytes-len(in))
				text += len(in) + len(out)
				start := now.Add(time.Duration(s) * 10 * time.Millisecond)
				inJSON, _ := json.Marshal([]map[string]any{{"role": "user", "parts": []map[string]string{{"type": "text", "content": in}}}})
				outJSON, _ := json.Marshal([]map[string]any{{"role": "assistant", "parts": []map[string]string{{"type": "text", "content": out}}}})
				sp := &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: root, Name: "chat",
					StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Duration(100+rng.IntN(900)) * time.Millisecond).UnixNano()),
					Attributes: []*commonpb.KeyValue{
						str("gen_ai.operation.name", "chat"), str("gen_ai.provider.name", "openai"),
						str("gen_ai.request.model", []string{"gpt-4o-mini", "gpt-4o", "llama-3.1-8b"}[rng.IntN(3)]),
						str("gen_ai.input.messages", string(inJSON)), str("gen_ai.output.messages", string(outJSON)),
						{Key: "gen_ai.usage.input_tokens", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(len(in) / 4)}}},
						{Key: "gen_ai.usage.output_tokens", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(len(out) / 4)}}},
						str("chainwatch.chain.name", "support"), str("chainwatch.chain.version", "v7"),
						str("chainwatch.session.id", fmt.Sprintf("s-%d", rng.IntN(1000))), str("chainwatch.user.id", fmt.Sprintf("u-%d", rng.IntN(500))),
					}}
				if s == 0 {
					root = sid
				}
				ss.Spans = append(ss.Spans, sp)
			}
		}
		req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "bench"), str("deployment.environment.name", "bench")}},
			ScopeSpans: []*tracepb.ScopeSpans{ss},
		}}}
		body, _ := proto.Marshal(req)
		var offs []int
		for tr := 0; tr < o.TracesPerReq; tr++ {
			marker := []byte{0xc4, 0x1a, 0x19, 0x3a, byte(b), byte(tr >> 8), byte(tr), 0x77}
			for i := 0; ; {
				j := bytes.Index(body[i:], marker)
				if j < 0 {
					break
				}
				offs = append(offs, i+j-8)
				i += j + 8
			}
		}
		t.bodies = append(t.bodies, body)
		t.idOffsets = append(t.idOffsets, offs)
		t.timeOffsets = append(t.timeOffsets, spanTimeOffsets(body))
		t.reqs = append(t.reqs, req)
		t.maxBody = max(t.maxBody, len(body))
		bodyBytes += len(body)
	}
	spans := float64(n * t.spansPerBody)
	t.textBytesPerSpan = float64(text) / spans
	t.bodyBytesPerSpan = float64(bodyBytes) / spans
	return t
}

// body copies template i into buf with its trace ids made unique by
// (sender, seq) and its spans' times moved by shift (the time since
// t.base, so that they start at the send).
func (t *templates) body(buf []byte, i int, sender, seq uint32, shift time.Duration) []byte {
	buf = append(buf[:0], t.bodies[i]...)
	for _, off := range t.idOffsets[i] {
		binary.BigEndian.PutUint32(buf[off:], sender)
		binary.BigEndian.PutUint32(buf[off+4:], seq)
	}
	for _, off := range t.timeOffsets[i] {
		binary.LittleEndian.PutUint64(buf[off:], binary.LittleEndian.Uint64(buf[off:])+uint64(shift))
	}
	return buf
}

// spanTimeOffsets returns the offsets in an encoded
// ExportTraceServiceRequest of every span's start and end time (fixed64
// fields 7 and 8 of Span, in ScopeSpans 2, in ResourceSpans 2, in the
// request's 1).
func spanTimeOffsets(body []byte) []int {
	var offs []int
	var walk func(from, to int, path []protowire.Number)
	walk = func(from, to int, path []protowire.Number) {
		for i := from; i < to; {
			n, typ, l := protowire.ConsumeTag(body[i:to])
			if l < 0 {
				return
			}
			i += l
			switch {
			case len(path) > 0 && n == path[0] && typ == protowire.BytesType:
				v, l := protowire.ConsumeBytes(body[i:to])
				if l < 0 {
					return
				}
				walk(i+l-len(v), i+l, path[1:])
				i += l
				continue
			case len(path) == 0 && (n == 7 || n == 8) && typ == protowire.Fixed64Type:
				offs = append(offs, i)
			}
			l = protowire.ConsumeFieldValue(n, typ, body[i:to])
			if l < 0 {
				return
			}
			i += l
		}
	}
	walk(0, len(body), []protowire.Number{1, 2, 2})
	return offs
}

// spans maps the templates to rows, for the baseline.
func (t *templates) spans() ([]schemas.Span, error) {
	var out []schemas.Span
	var err error
	for _, r := range t.reqs {
		if out, err = genai.AppendSpans(out, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cpuSeconds is the user + system CPU time of a process ("self" or a
// pid; 0 for ""), from /proc (clock ticks of 1/100 s, Linux's USER_HZ).
func cpuSeconds(pid string) float64 {
	if pid == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:]) // from field 3, state
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

// peakRSS reads VmHWM of /proc/<pid>/status.
func peakRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
