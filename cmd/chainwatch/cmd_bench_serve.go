package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/chainwatch/chainwatch/serving/servebench"
)

// runBenchServe is `chainwatch bench serve`: the gateway against the same
// fake upstream called directly (servebench).
func runBenchServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	var o servebench.Options
	fs.DurationVar(&o.Duration, "duration", 0, "each phase's load per side (default 10s)")
	fs.DurationVar(&o.Slice, "slice", 0, "direct and gateway alternate in slices this long (default 2.5s)")
	fs.IntVar(&o.Chunks, "chunks", 0, "tokens per answer, streamed or not (default 20)")
	fs.DurationVar(&o.ChunkInterval, "chunk-interval", 0, "time per token (default 25ms)")
	conc := fs.String("concurrency", "100,1000", "concurrent streams, comma-separated")
	uconc := fs.String("unary-concurrency", "100,1000", "concurrent non-streamed callers, comma-separated")
	fs.IntVar(&o.SaturationWorkers, "saturation-workers", 0, "callers of the upstream that answers at once (default 32; -1 skips)")
	fs.DurationVar(&o.Soak, "soak", 0, "then keep -soak-concurrency streams through the gateway this long, sampling its RSS (e.g. 10m)")
	fs.IntVar(&o.SoakConcurrency, "soak-concurrency", 0, "streams during the soak (default 1000)")
	fs.DurationVar(&o.SoakEvery, "soak-every", 0, "RSS sample interval during the soak (default 10s)")
	child := fs.String("child", "", "internal: run the gateway child against these upstream URLs")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child != "" {
		return servebench.Child(ctx, *child)
	}
	var err error
	if o.Concurrency, err = positiveInts("-concurrency", *conc); err != nil {
		return err
	}
	if o.UnaryConcurrency, err = positiveInts("-unary-concurrency", *uconc); err != nil {
		return err
	}
	res, err := servebench.Run(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printServeResult(res)
	return nil
}

func positiveInts(flagName, s string) ([]int, error) {
	var out []int
	for _, c := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number", flagName, c)
		}
		out = append(out, n)
	}
	return out, nil
}

func printServeResult(res *servebench.Result) {
	o := res.Options
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Printf("\nserve benchmark (GOMAXPROCS %d; the upstream generates %d tokens, one every %v; %v per side and phase, alternating %v slices)\n",
		res.GOMAXPROCS, o.Chunks, o.ChunkInterval, o.Duration, o.Slice)
	for _, s := range res.Streams {
		fmt.Printf(`  %d concurrent streams (%d direct, %d through the gateway, %d errors)
    first chunk   direct p50 %v p99 %v   gateway p50 %v p99 %v   added p50 %v p99 %v
    whole stream  direct p50 %v p99 %v   gateway p50 %v p99 %v   added p50 %v p99 %v
    gateway's own overhead header  p50 %.3f ms  p99 %.3f ms
    gateway RSS   %.1f MiB; gateway CPU %v per stream
`, s.Concurrency, s.Direct.Streams, s.Gateway.Streams, s.Errors,
			s.Direct.TTFTP50, s.Direct.TTFTP99, s.Gateway.TTFTP50, s.Gateway.TTFTP99, s.AddedTTFTP50, s.AddedTTFTP99,
			s.Direct.TotalP50, s.Direct.TotalP99, s.Gateway.TotalP50, s.Gateway.TotalP99, s.AddedTotalP50, s.AddedTotalP99,
			s.Gateway.OverheadHeaderP50, s.Gateway.P99ms, mib(s.GatewayRSSBytes), s.GatewayCPUPerStream)
	}
	unary := func(what string, u servebench.UnaryResult) {
		fmt.Printf(`  %s: %d concurrent callers (%d errors)
    direct %.0f req/s, gateway %.0f req/s, ratio %.2f
    latency       direct p50 %v p99 %v   gateway p50 %v p99 %v   added p50 %v p99 %v
    gateway CPU %v per call
`, what, u.Concurrency, u.Errors, u.DirectRPS, u.GatewayRPS, u.Ratio,
			u.Direct.TotalP50, u.Direct.TotalP99, u.Gateway.TotalP50, u.Gateway.TotalP99, u.AddedP50, u.AddedP99, u.GatewayCPUPerCall)
	}
	for _, u := range res.Unary {
		unary("non-streamed", u)
	}
	if res.Saturation != nil {
		unary("non-streamed, upstream answering at once (saturation)", *res.Saturation)
	}
	fmt.Printf("  gateway RSS   %.1f MiB before load, %.1f MiB after the comparison phases and 2 s idle\n", mib(res.RSSStartBytes), mib(res.RSSAfterLoadBytes))
	if len(res.Soak) > 0 {
		var hi int64
		for _, s := range res.Soak {
			hi = max(hi, s.RSSBytes)
		}
		fmt.Printf("  soak: %d streams through the gateway for %v, %d errors; RSS (MiB, one row per sample):\n", o.SoakConcurrency, o.Soak, res.SoakErrors)
		for _, s := range res.Soak {
			bar := 0
			if hi > 0 {
				bar = int(50 * s.RSSBytes / hi)
			}
			fmt.Printf("    %8v %6.1f %s  %d streams\n", s.At, mib(s.RSSBytes), strings.Repeat("█", bar), s.Streams)
		}
		fmt.Printf("  soak growth (median of the last fifth − median of the second fifth): %+.1f MiB\n", mib(res.SoakGrowthBytes))
	}
}
