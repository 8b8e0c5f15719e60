package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/chainwatch/chainwatch/ingest/bench"
)

func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "faults" {
		return runBenchFaults(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "detectors" {
		return runBenchDetectors(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "serve" {
		return runBenchServe(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "collector" {
		return runBenchCollector(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "ingest" {
		return fmt.Errorf("usage: chainwatch bench ingest|faults|collector|detectors|serve [flags]")
	}
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	var o bench.Options
	fs.DurationVar(&o.Duration, "duration", 0, "load phase (default 20s)")
	fs.IntVar(&o.Senders, "senders", 0, "concurrent HTTP senders (default 16)")
	fs.Float64Var(&o.Rate, "rate", 0, "pace the senders to this many spans/s in all (open loop); 0: as fast as answered")
	fs.Float64Var(&o.LatencyAt, "latency-at", 0.8, "then measure received → visible with the senders paced to this fraction of the sustained rate (0: skip)")
	fs.IntVar(&o.TracesPerReq, "traces-per-request", 0, "traces per OTLP request (default 50)")
	fs.IntVar(&o.SpansPerTrace, "spans-per-trace", 0, "spans per trace (default 4)")
	fs.IntVar(&o.TextBytes, "text-bytes", 0, "prompt + completion bytes per span (default 1024)")
	fs.IntVar(&o.Writers, "writers", 0, "writer instances (default 1)")
	fs.IntVar(&o.BatchMaxRows, "batch-rows", 0, "writer batch rows (default 20000)")
	fs.IntVar(&o.BaselineRows, "baseline-rows", 0, "rows each raw-insert baseline phase inserts (default: insert for -baseline-duration)")
	fs.DurationVar(&o.BaselineDuration, "baseline-duration", 0, "how long each raw-insert baseline phase inserts (default: -duration)")
	fs.IntVar(&o.BaselineBatchRows, "baseline-batch-rows", 0, "the baseline's batch rows (default 20000, whatever -batch-rows)")
	fs.DurationVar(&o.BatchMaxWait, "batch-max-wait", 0, "writer batch age limit (default 250ms)")
	fs.StringVar(&o.Compression, "compression", "", "the collector's produce compression to the in-process broker: none, lz4, snappy, zstd, gzip (default none, as chainwatch up)")
	fs.IntVar(&o.Inserts, "inserts", 0, "batches a writer inserts at once (default 2, as writer.inserts)")
	fs.DurationVar(&o.ProbeEvery, "probe-every", 0, "send a latency probe this often (default 100ms)")
	fs.StringVar(&o.ClickHouseAddr, "clickhouse", "", "ClickHouse host:port (default: start a clickhouse-server child)")
	fs.BoolVar(&o.SplitCores, "split-cores", false, "give the clickhouse-server child the upper half of the CPUs and this process the lower half (ClickHouse on CPUs of its own; Linux)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (baseline and pipeline) to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run (what was allocated, where) to this file at its end")
	runs := fs.Int("runs", 1, "run the whole benchmark this many times, one after the other, each with its own ClickHouse and broker, and print each result and then their medians (with -json: each result, then {\"medians\": …})")
	traceFile := fs.String("trace", "", "write the load phases' timeline to this file: each probe's latency, the writer's inserts and ClickHouse's merges every 250 ms")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Trace = f
	}
	if *runs < 1 {
		return fmt.Errorf("bench ingest: -runs must be at least 1, got %d", *runs)
	}
	var all []bench.Result
	for i := range *runs {
		if *runs > 1 {
			fmt.Fprintf(os.Stderr, "run %d of %d\n", i+1, *runs)
		}
		res, err := bench.RunIngest(ctx, o, os.Stderr)
		if err != nil {
			return err
		}
		all = append(all, res)
		if err := printIngest(res, *asJSON); err != nil {
			return err
		}
	}
	if *runs > 1 {
		return printMedians(bench.MedianOf(all), *asJSON)
	}
	return nil
}

// printIngest prints one run's result: indented JSON, or the table.
func printIngest(res bench.Result, asJSON bool) error {
	if asJSON {
		return printJSON(res)
	}
	fmt.Printf(`
ingest benchmark (GOMAXPROCS %d, clickhouse %s)
  span size                 %.0f bytes of text, %.0f bytes of OTLP protobuf
  raw insert baseline       %10.0f rows/s   (mean of %.0f before and %.0f after the pipeline; %d rows in all, clickhouse-go column batches)
  pipeline, sustained       %10.0f spans/s  (%d spans, HTTP → collector → kafka → writer → clickhouse)
  ratio to baseline         %10.2f   (%.2f to the faster phase)
  received → visible        p50 %v  p95 %v  p99 %v  (%d probes)
  rejected requests         %d%s
  peak RSS                  chainwatch %.0f MiB (with the load generator), clickhouse %.0f MiB
`, res.GOMAXPROCS, res.ClickHouse, res.TextBytesPerSpan, res.BodyBytesPerSpan,
		res.BaselineRowsPerSec, res.BaselineBeforeRowsPerSec, res.BaselineAfterRowsPerSec, res.BaselineRows, res.PipelineSpansPerSec, res.PipelineSpans, res.Ratio, res.RatioToBest,
		res.LatencyP50, res.LatencyP95, res.LatencyP99, res.Probes, res.Rejected, reasons(res.RejectedBy),
		float64(res.PeakRSSBytes)/(1<<20), float64(res.ClickHousePeakRSSBytes)/(1<<20))
	fmt.Printf("  CPU per span              chainwatch %.1f µs, clickhouse %.1f µs  (baseline per row: %.1f µs, clickhouse %.1f µs)\n",
		res.CPUPerSpanMicros, res.ClickHouseCPUPerSpanMicros, res.BaselineCPUPerRowMicros, res.BaselineCHCPUPerRowMicros)
	fmt.Printf("  writer's inserts          %d into spans, %.0f spans each on average\n", res.SpanInserts, res.SpansPerInsert)
	if res.DrainSpansPerSec > 0 {
		fmt.Printf("  backlog when load stopped %10d spans, stored by the writer alone at %.0f spans/s\n", res.BacklogAtStop, res.DrainSpansPerSec)
	}
	if a := res.AtLoad; a != nil {
		fmt.Printf("  at %.0f %% of that rate      %10.0f spans/s offered, %.0f sustained; received → visible p50 %v  p95 %v  p99 %v  (%d probes); rejected %d%s, not sent in time %d spans; %d inserts of %.0f spans\n",
			100*a.Fraction, a.OfferedSpansPerSec, a.SpansPerSec, a.LatencyP50, a.LatencyP95, a.LatencyP99, a.Probes, a.Rejected, reasons(a.RejectedBy), a.MissedSpans, a.SpanInserts, a.SpansPerInsert)
	}
	if res.OfferedSpansPerSec > 0 {
		fmt.Printf("  offered (open loop)       %10.0f spans/s; not sent in time (every sender busy): %d spans\n", res.OfferedSpansPerSec, res.MissedSpans)
	}
	return nil
}

// reasons formats the collector's refusals by reason, " (buffer_full 3,
// writers_behind 12)", or "" for none.
func reasons(by map[string]int64) string {
	if len(by) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(by))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, by[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// printMedians prints the medians of several runs after their results.
func printMedians(m bench.Medians, asJSON bool) error {
	if asJSON {
		return printJSON(struct {
			Medians bench.Medians `json:"medians"`
		}{m})
	}
	fmt.Printf("\nmedians of %d runs\n", m.Runs)
	fmt.Printf("  raw insert baseline       %10.0f rows/s\n", m.BaselineRowsPerSec)
	fmt.Printf("  pipeline, sustained       %10.0f spans/s\n", m.PipelineSpansPerSec)
	fmt.Printf("  ratio to baseline         %10.2f   (%.2f to the faster phase)\n", m.Ratio, m.RatioToBest)
	fmt.Printf("  CPU per span              chainwatch %.1f µs, clickhouse %.1f µs\n", m.CPUPerSpanMicros, m.ClickHouseCPUPerSpanMicros)
	fmt.Printf("  received → visible p99    %v closed loop", m.LatencyP99)
	if m.AtLoadRuns > 0 {
		fmt.Printf(", %v paced (%d runs)", m.AtLoadLatencyP99, m.AtLoadRuns)
	}
	fmt.Println()
	return nil
}

// printJSON writes v to standard output as indented JSON: one document
// per result of `bench ingest`, then the medians.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
