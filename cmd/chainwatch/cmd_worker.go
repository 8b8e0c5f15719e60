package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/monitor"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/retention"
)

// runWorker runs the monitors against configured ClickHouse (or the local
// one of `chainwatch up`), and the spans rollups' checks. With
// kafka.brokers set, workers started with the same config share the
// monitors through a consumer group; without, this one runs them all.
func runWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	load := commonFlags(fs)
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9465", "where the worker serves /metrics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	reg, stop := serveMetrics(*metricsAddr)
	defer stop()
	svc, err := startWorker(ctx, cfg, cfg.clickHouseOrLocal(), cfg.Kafka, reg, log)
	if err != nil {
		return err
	}
	fmt.Printf("chainwatch worker: %d monitors, metrics on http://%s/metrics\n", len(svc.Worker.Monitors()), *metricsAddr)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return svc.Shutdown(sctx)
}

// startWorker connects to ClickHouse, makes sure the schema is current and
// starts the monitors: the configured ones, or monitor.DefaultMonitors.
func startWorker(ctx context.Context, cfg Config, chc clickhouse.Config, kc kafka.Config, reg prometheus.Registerer, log *slog.Logger) (*monitor.Service, error) {
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return nil, err
	}
	rep, err := clickhouse.EnsureSchema(ctx, conn, chc)
	if err != nil {
		return nil, err
	}
	// Servers without TTL keep data past clickhouse.retention_days unless
	// its partitions are dropped: hourly, here (retention.DropExpired).
	if pol := chc.TableOptions(); (pol.RetentionDays > 0 || len(pol.RetentionByTable) > 0) && !rep.Caps.TTL {
		go retention.RunExpiry(ctx, conn, pol, time.Hour, log.Info)
	}
	// The spans rollups are read from spans FINAL wherever their buckets
	// are not checked (schemas.Rollup.CheckTable): every minute, here.
	go query.RunRollupChecks(ctx, query.NewReader(conn), time.Minute, log.Info)
	monitors := cfg.Monitors
	if len(monitors) == 0 {
		monitors = monitor.DefaultMonitors()
		log.Info("no monitors configured; running the defaults", "monitors", len(monitors))
	}
	return monitor.StartService(ctx, monitor.ServiceOptions{Worker: cfg.Worker, Monitors: monitors, Alerting: cfg.Alerting,
		Embeddings: cfg.Embeddings, Conn: conn, Kafka: kc, Registry: reg, Log: log})
}

// serveMetrics serves a fresh registry, with the Go and process
// collectors, on addr's /metrics until the returned stop is called.
func serveMetrics(addr string) (*prometheus.Registry, func()) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &http.Server{Addr: addr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	return reg, func() { srv.Close() }
}
