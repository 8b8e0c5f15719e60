// Command chainwatch is the one binary of the chainwatch pipeline. It only
// loads configuration, validates it and wires components.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `chainwatch — observability for generative-AI chains

usage: chainwatch <command> [flags]

commands:
  up         run the whole pipeline on this machine (embedded Kafka and ClickHouse unless configured)
  collector  run the collector (HTTP/gRPC in, Kafka out)
  writer     run the writer (Kafka in, ClickHouse out)
  migrate    create or upgrade the ClickHouse schema
  simulate   send realistic chain traffic to a collector
  report     print a short traffic report from ClickHouse
  bench      benchmarks (bench ingest)
  detect     run a drift detector on two sample files (see detect -h)
  dataset    evaluation datasets and production exports (import, list, show, export)
  worker     run the monitors on schedule (drift/skew detection, alerts)
  redteam    run the adversarial suite against an OpenAI-compatible endpoint and store its scores
  agreement  judge-vs-user agreement per evaluator (Cohen's kappa, Spearman) from ClickHouse
  evaluator  score sampled production spans continuously (guards, reference metrics, LLM judge) into eval_scores
  config     config check: load and validate config files as the services will
  topics     create the Kafka topics the config names (a deployment's one-shot job)
  health     exit 0 when a URL answers 200 (container health checks)
  erase      remove a person's data (--user-id) or traces (--trace-id) from every table, for erasure requests
  retention  drop the partitions past clickhouse.retention_days (servers without TTL; up and worker do it hourly)
  serve      run the serving gateway: an OpenAI-compatible API over model routes and versioned chains, traced
  chains     versioned chains: push, list, show, diff, promote (with canary), rollback, hash-key
  experiment run a chain version over a dataset and compare versions with paired statistics (run, compare, list, lineage)

Every command takes -config FILE (YAML); environment variables
CHAINWATCH_KAFKA_BROKERS, CHAINWATCH_CLICKHOUSE_ADDR, … override it.
Run 'chainwatch <command> -h' for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"up":        runUp,
		"collector": runCollector,
		"writer":    runWriter,
		"migrate":   runMigrate,
		"simulate":  runSimulate,
		"report":    runReport,
		"bench":     runBench,
		"detect":    runDetect,
		"dataset":   runDataset,
		"worker":    runWorker,
		"redteam":   runRedteam,
		"agreement": runAgreement,
		"evaluator": runEvaluator,

		"experiment": runExperiment,
		"erase":      runErase,
		"retention":  runRetention,
		"serve":      runServe,
		"chains":     runChains,
		"config":     runConfig,
		"topics":     runTopics,
		"health":     runHealth,
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Print(usage)
		return
	}
	run, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "chainwatch: unknown command %q\n\n%s", name, usage)
		os.Exit(2)
	}
	if err := run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "chainwatch %s: %v\n", name, err)
		os.Exit(1)
	}
}

// commonFlags adds -config and returns a loader for it.
func commonFlags(fs *flag.FlagSet) func() (Config, error) {
	path := fs.String("config", "", "YAML config file (default: built-in defaults and environment)")
	return func() (Config, error) { return loadConfig(*path) }
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
