package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/ingest/faults"
)

// runBenchCollector is `chainwatch bench collector`: the peak RSS of a real
// `chainwatch collector` process while N senders each POST one large
// OTLP/HTTP protobuf body and the broker is frozen (it accepts connections
// and metadata requests but never answers a produce request). With
// admission (collector.max_inflight_bytes) the peak should stay flat in N;
// without it, it grows with N.
func runBenchCollector(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench collector", flag.ContinueOnError)
	bin := fs.String("bin", "", "the chainwatch binary to measure (default: this one)")
	sendersFlag := fs.String("senders", "16,48,96", "concurrent senders, one run each")
	bodyMiB := fs.Int("body-mib", 15, "body size of each request, MiB")
	chAddr := fs.String("clickhouse", "", "ClickHouse native address the collector checks at start (default: start a local clickhouse-server)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long a sender waits for its answer (a collector without a produce deadline never answers while the broker is frozen)")
	extra := fs.String("config", "", "extra YAML appended to the collector's config (e.g. collector:\\n  max_inflight_bytes: ...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var senders []int
	for _, s := range strings.Split(*sendersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-senders: %q is not a positive number", s)
		}
		senders = append(senders, n)
	}

	o := faults.MemoryOptions{Binary: *bin, Senders: senders, BodyBytes: *bodyMiB << 20, ClickHouseAddr: *chAddr, Timeout: *timeout, ExtraConfig: *extra}
	fmt.Printf("collector peak RSS, broker frozen, each sender POSTs one large OTLP/HTTP protobuf body\nbinary %s, %s\n\n", o.Binary, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%8s %14s %10s  %s\n", "senders", "peak RSS MiB", "seconds", "answers")
	size, err := faults.RunCollectorMemory(ctx, o, func(r faults.MemoryRun) {
		fmt.Printf("%8d %14.0f %10.1f  %s\n", r.Senders, float64(r.PeakRSSBytes)/(1<<20), r.Took.Seconds(), r.Answers)
	})
	if err != nil {
		return err
	}
	fmt.Printf("\nbody %.1f MiB of OTLP protobuf per request\n", float64(size)/(1<<20))
	return nil
}
