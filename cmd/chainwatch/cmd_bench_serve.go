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
	fs.DurationVar(&o.Duration, "duration", 0, "each phase's load (default 5s)")
	fs.IntVar(&o.Chunks, "chunks", 0, "chunks per streamed answer (default 20)")
	fs.DurationVar(&o.ChunkInterval, "chunk-interval", 0, "time between chunks (default 25ms)")
	conc := fs.String("concurrency", "100,1000", "concurrent streams, comma-separated")
	fs.IntVar(&o.UnaryWorkers, "unary-workers", 0, "concurrent non-streamed callers (default 32)")
	child := fs.String("child", "", "internal: run the gateway child against this upstream URL")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child != "" {
		return servebench.Child(ctx, *child)
	}
	for _, c := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return fmt.Errorf("-concurrency: %q is not a positive number", c)
		}
		o.Concurrency = append(o.Concurrency, n)
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
	o = res.Options
	fmt.Printf("\nserve benchmark (GOMAXPROCS %d; upstream streams %d chunks every %v; %v per phase)\n", res.GOMAXPROCS, o.Chunks, o.ChunkInterval, o.Duration)
	for _, s := range res.Streams {
		fmt.Printf(`  %d concurrent streams (%d direct, %d through the gateway, %d errors)
    first chunk   direct p50 %v p99 %v   gateway p50 %v p99 %v   added p50 %v p99 %v
    whole stream  direct p50 %v p99 %v   gateway p50 %v p99 %v   added p50 %v p99 %v
    gateway's own overhead header  p50 %.3f ms  p99 %.3f ms
    gateway RSS   %.1f MiB; gateway CPU %v per stream
`, s.Concurrency, s.Direct.Streams, s.Gateway.Streams, s.Errors,
			s.Direct.TTFTP50, s.Direct.TTFTP99, s.Gateway.TTFTP50, s.Gateway.TTFTP99, s.AddedTTFTP50, s.AddedTTFTP99,
			s.Direct.TotalP50, s.Direct.TotalP99, s.Gateway.TotalP50, s.Gateway.TotalP99, s.AddedTotalP50, s.AddedTotalP99,
			s.Gateway.OverheadHeaderP50, s.Gateway.P99ms, float64(s.GatewayRSSBytes)/(1<<20), s.GatewayCPUPerStream)
	}
	fmt.Printf(`  non-streamed  direct %.0f req/s, gateway %.0f req/s, ratio %.2f; gateway CPU %v per call
  gateway RSS   %.1f MiB before load, %.1f MiB after all phases and 2 s idle
`, res.UnaryDirectRPS, res.UnaryGatewayRPS, res.UnaryRatio, res.GatewayCPUPerUnary, float64(res.RSSStartBytes)/(1<<20), float64(res.RSSAfterLoadBytes)/(1<<20))
	return nil
}
