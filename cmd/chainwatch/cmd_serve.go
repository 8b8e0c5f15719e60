package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/internal/tlsfiles"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/serving"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// runServe runs the serving gateway: the OpenAI-compatible API on the
// serving config's listen address, /metrics and /healthz beside it, spans
// to Kafka (kafka.brokers, else the in-process broker of a `chainwatch up`
// on this machine), chains from ClickHouse (or a folder), model-server
// processes supervised. The serving config reloads on SIGHUP and when the
// file changes. (`chainwatch up -serving FILE` runs the same inside up.)
func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load := commonFlags(fs)
	servingPath := fs.String("serving", "", "serving config file (YAML: listen, routes, chains, keys; required)")
	listen := fs.String("listen", "", "override the serving config's listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *servingPath == "" {
		return errors.New("-serving FILE is required (the routes, chains and keys to serve)")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	kc := cfg.Kafka.WithDefaults()
	if len(kc.Brokers) == 0 {
		kc.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Local.KafkaPort)}
	}
	stop, _, err := startServing(ctx, cfg, kc, cfg.clickHouseOrLocal(), *servingPath, *listen, reg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return stop(sctx)
}

// servingComponent runs the gateway inside `chainwatch up`, on the
// pipeline's Kafka and ClickHouse and its metrics registry.
func servingComponent(path string) component {
	return func(ctx context.Context, cfg Config, p *pipeline.Pipeline, reg *prometheus.Registry, log *slog.Logger) (string, func(context.Context) error, error) {
		stop, _, err := startServing(ctx, cfg, p.Kafka, p.ClickHouse, path, "", reg, log)
		return "serving gateway", stop, err
	}
}

// startServing starts the gateway and its HTTP server and returns once it
// listens; stop drains it (streams in flight get until ctx's deadline),
// stops its processes and flushes its spans.
func startServing(ctx context.Context, cfg Config, kc kafka.Config, chc clickhouse.Config, path, listen string, reg *prometheus.Registry, log *slog.Logger) (stop func(context.Context) error, addr string, err error) {
	scfg, err := serving.LoadConfig(path)
	if err != nil {
		return nil, "", err
	}
	if listen != "" {
		scfg.Listen = listen
	}
	m := serving.NewMetrics(reg)
	var cleanup []func(context.Context)
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i](context.Background())
			}
		}
	}()
	prod, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
	if err != nil {
		return nil, "", err
	}
	exp := serving.NewKafkaExporter(prod, kc.Topics.Spans, scfg.SpanBuffer, scfg.App, scfg.Environment, log, m.SpansDropped)
	cleanup = append(cleanup, func(ctx context.Context) { exp.Close(ctx); prod.Close() })
	src, closeSrc, err := chainSource(ctx, chc, scfg, log)
	if err != nil {
		return nil, "", err
	}
	cleanup = append(cleanup, func(context.Context) { closeSrc() })
	procs := serving.NewProcesses(log, m, nil)
	cleanup = append(cleanup, func(context.Context) { procs.Stop() })
	o := serving.Options{Exporter: exp, Metrics: m, Log: log, Processes: procs}
	if src != nil {
		o.Chains = src
	}
	g, err := serving.New(scfg, o)
	if err != nil {
		return nil, "", err
	}
	cleanup = append(cleanup, func(context.Context) { g.Close() })
	if len(scfg.Keys) == 0 {
		log.Warn("no API keys configured: the gateway is open to anyone who can reach it")
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", g)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", scfg.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("listening on %s: %w", scfg.Listen, err)
	}
	scheme := "http"
	if scfg.TLS.Enabled() {
		rl, err := tlsfiles.New(scfg.TLS, 0, func(err error) { log.Error("serving gateway TLS", "err", err) })
		if err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("serving tls: %w", err)
		}
		ln, scheme = tls.NewListener(ln, rl.TLSConfig()), "https"
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving gateway stopped", "err", err)
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wctx, cancelWatch := context.WithCancel(context.Background())
	// A reload (SIGHUP or a changed file) also rereads a chains folder.
	afterReload := func(error) {
		if d, ok := src.(*serving.DirSource); ok {
			if err := d.Reload(g.Config().Chains.Dir); err != nil {
				log.Error("chains folder not reloaded; the chains loaded before stay", "dir", g.Config().Chains.Dir, "err", err)
			}
		}
	}
	go g.Watch(wctx, path, hup, serving.DefaultWatchInterval, afterReload)
	fmt.Printf("  serving gateway       %s://%s/v1 (%d routes, chains from %s; spans to %v; metrics on /metrics)\n",
		scheme, ln.Addr(), len(scfg.Routes), scfg.Chains.Source, kc.Brokers)
	return func(ctx context.Context) error {
		signal.Stop(hup)
		cancelWatch()
		err := srv.Shutdown(ctx) // lets streams in flight finish
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i](ctx)
		}
		return err
	}, ln.Addr().String(), nil
}

// chainSource builds the gateway's chain source for the serving config.
func chainSource(ctx context.Context, chc clickhouse.Config, scfg serving.Config, log *slog.Logger) (serving.ChainSource, func(), error) {
	switch scfg.Chains.Source {
	case "none":
		return nil, func() {}, nil
	case "dir":
		src, err := serving.NewDirSource(scfg.Chains.Dir)
		return src, func() {}, err
	}
	conn, err := clickhouse.Open(ctx, chc)
	if err != nil {
		return nil, nil, fmt.Errorf("chains come from clickhouse (chains.source): %w", err)
	}
	store := chains.NewStore(conn)
	res := chains.NewResolver(store, scfg.Chains.CacheTTL, log)
	return serving.NewStoreSource(res, store.Names, scfg.Chains.DefaultLabel), func() { conn.Close() }, nil
}
