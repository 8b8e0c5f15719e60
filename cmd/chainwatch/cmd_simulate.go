package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/simulate"
)

// runSimulate implements `chainwatch simulate`: it sends realistic chain
// traces and user feedback to a collector, optionally with one explicit
// shift, until --duration has passed or ctx is cancelled.
func runSimulate(ctx context.Context, args []string) error {
	cfg := simulate.DefaultConfig()
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: chainwatch simulate [flags]\n\n"+
			"Sends realistic GenAI chain traces (apps: %s) as OTLP/HTTP protobuf to\n"+
			"{target}/v1/traces and user feedback to {target}/v1/feedback.\n\n",
			strings.Join(simulate.AppNames(), ", "))
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Target, "target", cfg.Target, "collector base URL")
	fs.StringVar(&cfg.APIKey, "api-key", "", "API key sent as a bearer token (default $CHAINWATCH_API_KEY)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "traces per second")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send; 0 sends until interrupted")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed gives the same traffic")
	apps := fs.String("apps", "", "comma-separated apps to simulate (default all: "+strings.Join(simulate.AppNames(), ",")+")")
	fs.StringVar(&cfg.Environment, "environment", cfg.Environment, "deployment environment the traces report")
	fs.Float64Var(&cfg.ErrorRate, "error-rate", cfg.ErrorRate, "share of traces that fail before any shift")
	fs.Float64Var(&cfg.FeedbackRate, "feedback-rate", cfg.FeedbackRate, "share of traces with user feedback")
	fs.IntVar(&cfg.TextBytes, "text-bytes", cfg.TextBytes, "pad or trim each llm span's prompt+answer to about this many bytes; 0 keeps natural lengths")
	shift := fs.String("shift", string(simulate.ShiftNone), "shift kind: none, topic, length, language, error_rate")
	fs.DurationVar(&cfg.Shift.At, "shift-at", cfg.Shift.At, "when the shift starts, after the start of the run")
	fs.Float64Var(&cfg.Shift.Magnitude, "shift-magnitude", 0,
		fmt.Sprintf("shift size; 0 for the kind's default: topic = share moved to novel topics (%g), length = length factor (%g), language = share switched (%g), error_rate = error rate during the shift (%g)",
			simulate.DefaultTopicShare, simulate.DefaultLengthFactor, simulate.DefaultLanguageShare, simulate.DefaultShiftErrorRate))
	shiftApps := fs.String("shift-apps", "", "comma-separated apps the shift applies to (default all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("CHAINWATCH_API_KEY")
	}
	cfg.Apps = simulateList(*apps)
	cfg.Shift.Kind = simulate.ShiftKind(*shift)
	cfg.Shift.Apps = simulateList(*shiftApps)
	if err := cfg.Validate(); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "simulate: sending %g traces/s to %s (seed %d, shift %s)\n", cfg.Rate, cfg.Target, cfg.Seed, cfg.Shift.Kind)
	_, err := simulate.Run(ctx, cfg, os.Stderr)
	if err != nil {
		return fmt.Errorf("simulating after %s: %w", time.Since(start).Round(time.Second), err)
	}
	return nil
}

func simulateList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
