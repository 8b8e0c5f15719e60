package main

import (
	"context"
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
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/serving"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// runServe runs the serving gateway: the OpenAI-compatible API on the
// serving config's listen address, /metrics and /healthz beside it, spans
// to Kafka (kafka.brokers, else the in-process broker of a `chainwatch up`
// on this machine), chains from ClickHouse (or a folder), model-server
// processes supervised. The serving config reloads on SIGHUP and when the
// file changes.
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
	scfg, err := serving.LoadConfig(*servingPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		scfg.Listen = *listen
	}
	log := newLogger(cfg.LogLevel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := serving.NewMetrics(reg)

	kc := cfg.Kafka.WithDefaults()
	if len(kc.Brokers) == 0 {
		kc.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Local.KafkaPort)}
	}
	prod, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
	if err != nil {
		return err
	}
	exp := serving.NewKafkaExporter(prod, kc.Topics.Spans, scfg.SpanBuffer, scfg.App, scfg.Environment, log, m.SpansDropped)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		exp.Close(sctx)
		prod.Close()
	}()

	src, closeSrc, err := chainSource(ctx, cfg, scfg, log)
	if err != nil {
		return err
	}
	defer closeSrc()
	procs := serving.NewProcesses(log, m, nil)
	defer procs.Stop()
	o := serving.Options{Exporter: exp, Metrics: m, Log: log, Processes: procs}
	if src != nil {
		o.Chains = src
	}
	g, err := serving.New(scfg, o)
	if err != nil {
		return err
	}
	defer g.Close()
	if len(scfg.Keys) == 0 {
		log.Warn("no API keys configured: the gateway is open to anyone who can reach it")
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", g)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", scfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", scfg.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A reload (SIGHUP or a changed file) also rereads a chains folder.
	afterReload := func(error) {
		if d, ok := src.(*serving.DirSource); ok {
			if err := d.Reload(g.Config().Chains.Dir); err != nil {
				log.Error("chains folder not reloaded; the chains loaded before stay", "dir", g.Config().Chains.Dir, "err", err)
			}
		}
	}
	go g.Watch(wctx, *servingPath, hup, serving.DefaultWatchInterval, afterReload)
	fmt.Printf("chainwatch serve: OpenAI-compatible API on http://%s/v1 (%d routes, chains from %s); spans to %v; metrics on /metrics\n",
		ln.Addr(), len(scfg.Routes), scfg.Chains.Source, kc.Brokers)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	return srv.Shutdown(sctx) // lets streams in flight finish (up to 30 s)
}

// chainSource builds the gateway's chain source for the serving config.
func chainSource(ctx context.Context, cfg Config, scfg serving.Config, log *slog.Logger) (serving.ChainSource, func(), error) {
	switch scfg.Chains.Source {
	case "none":
		return nil, func() {}, nil
	case "dir":
		src, err := serving.NewDirSource(scfg.Chains.Dir)
		return src, func() {}, err
	}
	conn, err := clickhouse.Open(ctx, cfg.clickHouseOrLocal())
	if err != nil {
		return nil, nil, fmt.Errorf("chains come from clickhouse (chains.source): %w", err)
	}
	store := chains.NewStore(conn)
	res := chains.NewResolver(store, scfg.Chains.CacheTTL, log)
	return serving.NewStoreSource(res, store.Names, scfg.Chains.DefaultLabel), func() { conn.Close() }, nil
}
