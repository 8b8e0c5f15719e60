package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/chainwatch/chainwatch/ingest/faults"
)

// runBenchFaults is `chainwatch bench faults`: writer processes SIGKILLed
// and restarted under load, then the drain and the check that every
// acknowledged span is stored once (ingest/faults).
func runBenchFaults(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench faults", flag.ContinueOnError)
	var o faults.Options
	fs.IntVar(&o.Writers, "writers", 0, "writer processes (default 3)")
	fs.IntVar(&o.Spans, "spans", 0, "spans to send, one per trace (default 200000)")
	fs.IntVar(&o.Rate, "rate", 0, "spans per second offered (default 6000)")
	fs.IntVar(&o.Kills, "kills", 0, "SIGKILLs of a random writer during the load (default 20)")
	fs.BoolVar(&o.Static, "static", false, "writers keep a fixed -metrics-addr, so each keeps the static group identity chainwatch writer derives from it (the default for a fixed port)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 0, "give up waiting for the drain after this long (default 300s)")
	fs.StringVar(&o.ClickHouseAddr, "clickhouse", "", "ClickHouse host:port (default: start a clickhouse-server child)")
	fs.StringVar(&o.Binary, "bin", "", "the chainwatch binary to run as collector and writers (default: this one; an older build measures the before)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Log = os.Stderr
	res, err := faults.RunWriterKills(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Printf(`
writer-kill fault run (static membership %v)
  spans acknowledged        %d of %d (%d requests refused with 503 and resent)
  writers SIGKILLed         %d (each restarted at once)
  load                      %.1f s
  drain                     %.1f s (end of load → every acknowledged span stored)
  stored                    %d distinct (%d rows before deduplication)
  missing                   %d
  visible twice (FINAL)     %d
`, res.Static, res.Acked, res.Spans, res.Refused, res.Kills, res.LoadSeconds, res.DrainSeconds, res.Stored, res.RowsInserted, res.Missing, res.Duplicates)
	}
	if !res.OK() {
		return fmt.Errorf("the promise did not hold: %d acknowledged spans missing, %d visible twice", res.Missing, res.Duplicates)
	}
	return nil
}
