package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/internal/health"
	"github.com/chainwatch/chainwatch/internal/lifecycle"
	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/local/amserver"
	"github.com/chainwatch/chainwatch/monitor"
)

// runUp runs the whole pipeline in one process. With no kafka.brokers it
// starts the in-process broker (kfake), its log persisted under
// local.data_dir/kafka so that records not yet in ClickHouse survive a
// killed process, its topics bounded (6 h, 256 MiB a partition by default);
// with no clickhouse.addr it starts clickhouse-server with its data under
// local.data_dir/clickhouse, kept between runs, and restarts it (and the
// local Alertmanager) with backoff when it dies. The collector's port
// serves /healthz (liveness, with each component's state) and /readyz
// (503 naming what is not ready).
func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	load := commonFlags(fs)
	dataDir := fs.String("data-dir", "", "local data directory (default .chainwatch, or local.data_dir)")
	servingPath := fs.String("serving", "", "also run the serving gateway with this serving config (see chainwatch serve)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.Local.DataDir = *dataDir
	}
	var more []component
	if *servingPath != "" {
		more = append(more, servingComponent(*servingPath))
	}
	return servePipeline(ctx, cfg, pipeline.Options{}, "up", nil, more...)
}

// component is a part `chainwatch up` starts after the pipeline (and stops
// before it).
type component func(ctx context.Context, cfg Config, p *pipeline.Pipeline, reg *prometheus.Registry, log *slog.Logger) (name string, stop func(context.Context) error, err error)

func runCollector(ctx context.Context, args []string) error {
	return runPart(ctx, "collector", args, pipeline.Options{NoWriter: true})
}

func runWriter(ctx context.Context, args []string) error {
	return runPart(ctx, "writer", args, pipeline.Options{NoCollector: true})
}

// runPart runs one component against configured Kafka and ClickHouse: the
// production deployment, where nothing is started locally.
func runPart(ctx context.Context, name string, args []string, o pipeline.Options) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	load := commonFlags(fs)
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "where the writer serves /metrics, /healthz and /readyz (the collector serves them on its HTTP port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if len(cfg.Kafka.Brokers) == 0 {
		return fmt.Errorf("kafka.brokers is empty: `chainwatch %s` needs a Kafka cluster (or use `chainwatch up` for the embedded one)", name)
	}
	if len(cfg.ClickHouse.Addr) == 0 {
		return fmt.Errorf("clickhouse.addr is empty: `chainwatch %s` needs a ClickHouse server (or use `chainwatch up` for a local one)", name)
	}
	var health atomic.Pointer[health.Checks] // set once the pipeline is up
	if o.NoCollector {
		o.Registry = prometheus.NewRegistry()
		mux := http.NewServeMux()
		mux.Handle("/", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			if h := health.Load(); h != nil {
				h.Healthz(w, r)
				return
			}
			io.WriteString(w, "starting\n")
		})
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if h := health.Load(); h != nil {
				h.Readyz(w, r)
				return
			}
			http.Error(w, "starting", http.StatusServiceUnavailable)
		})
		// Bound before anything else: a writer without its metrics and
		// health would fail unseen, and its address is part of its
		// default group identity (below), which must be unique.
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("serving metrics on -metrics-addr %s: %w", *metricsAddr, err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		if !o.NoWriter {
			cfg.Writer.InstanceID = writerInstanceID(cfg.Writer.InstanceID, *metricsAddr)
		}
	}
	return servePipeline(ctx, cfg, o, name, func(p *pipeline.Pipeline) { health.Store(p.Health) })
}

// servePipeline starts the pipeline, calls started (if not nil) with it, and
// serves until ctx ends or a writer stops.
func servePipeline(ctx context.Context, cfg Config, o pipeline.Options, name string, started func(*pipeline.Pipeline), more ...component) error {
	log := newLogger(cfg.LogLevel)
	o.Kafka, o.ClickHouse, o.Collector, o.Writer, o.Log = cfg.Kafka, cfg.ClickHouse, cfg.Collector, cfg.Writer, log
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.LocalKafkaPort = cfg.Local.KafkaPort
	o.LocalClickHouse = cfg.Local.ClickHouse
	if !o.NoCollector && !o.NoWriter {
		o.LocalKafkaDir = filepath.Join(cfg.Local.DataDir, "kafka")
	}
	if o.LocalClickHouse.DataDir == "" {
		o.LocalClickHouse.DataDir = filepath.Join(cfg.Local.DataDir, "clickhouse")
	}
	if err := os.MkdirAll(cfg.Local.DataDir, 0o755); err != nil && len(cfg.ClickHouse.Addr) == 0 {
		return fmt.Errorf("creating local.data_dir: %w", err)
	}
	start := time.Now()
	p, err := pipeline.Start(ctx, o)
	if err != nil {
		return err
	}
	// What runs, in start order; stopped in reverse (and, when a later
	// step fails, exactly what had started).
	var g lifecycle.Group
	g.Started("pipeline", p.Shutdown)
	failed := func(err error) error {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return errors.Join(err, g.Shutdown(sctx))
	}
	if started != nil {
		started(p)
	}
	fmt.Printf("chainwatch %s ready in %.1fs\n", name, time.Since(start).Seconds())
	if p.Broker != nil {
		fmt.Printf("  kafka (in-process)    %v\n", p.Kafka.Brokers)
	} else {
		fmt.Printf("  kafka                 %v\n", p.Kafka.Brokers)
	}
	if p.CHServer != nil {
		fmt.Printf("  clickhouse (local)    %s native, %s http, version %s, data %s, restarted if it dies\n", p.CHServer.Addr(), p.CHServer.HTTPAddr(), p.CHServer.Version, p.CHServer.DataDir())
	} else {
		fmt.Printf("  clickhouse            %v database %s\n", p.ClickHouse.Addr, p.ClickHouse.Database)
	}
	fmt.Printf("  schema                version %d (server %s)\n", p.Migration.Current, p.Migration.Server)
	if p.Collector != nil {
		fmt.Printf("  OTLP/HTTP             http://%s/v1/traces, /v1/logs\n", p.Collector.HTTPAddr())
		if a := p.Collector.GRPCAddr(); a != "" {
			fmt.Printf("  OTLP/gRPC             %s\n", a)
		}
		fmt.Printf("  JSON spans            http://%s/v1/spans\n", p.Collector.HTTPAddr())
		fmt.Printf("  feedback              http://%s/v1/feedback\n", p.Collector.HTTPAddr())
		fmt.Printf("  metrics               http://%s/metrics\n", p.Collector.HTTPAddr())
		fmt.Printf("  health                http://%s/healthz, /readyz\n", p.Collector.HTTPAddr())
	}
	if len(p.Writers) > 0 {
		fmt.Printf("  writers               %d in group %s\n", len(p.Writers), cfg.Writer.Group)
	}
	if !o.NoCollector && !o.NoWriter {
		svc, am, err := startLocalMonitoring(ctx, cfg, p, o.Registry, log)
		if err != nil {
			return failed(fmt.Errorf("starting the worker: %w", err))
		}
		if am != nil {
			g.Started("alertmanager", func(context.Context) error { am.Stop(); return nil })
		}
		g.Started("monitor worker", svc.Shutdown)
		ecfg := cfg
		ecfg.Kafka, ecfg.ClickHouse = p.Kafka, p.ClickHouse
		ev, err := startEvaluator(ctx, ecfg, o.Registry, log)
		if err != nil {
			return failed(fmt.Errorf("starting the evaluator: %w", err))
		}
		g.Started("evaluator", ev.Shutdown)
		always, withRef := ev.Evaluators()
		fmt.Printf("  evaluator             sample rate %v: %s; with a reference: %s\n", cfg.Evaluator.WithDefaults().Sample.Rate, names(always), names(withRef))
	}
	for _, start := range more {
		cname, stop, err := start(ctx, cfg, p, o.Registry, log)
		if err != nil {
			return failed(fmt.Errorf("starting the %s: %w", cname, err))
		}
		g.Started(cname, stop)
	}
	fmt.Println("press Ctrl-C to stop")
	var writerDone <-chan struct{}
	if len(p.Writers) > 0 {
		writerDone = p.Writers[0].Done()
	}
	select {
	case <-ctx.Done():
	case <-writerDone:
		log.Error("writer stopped unexpectedly; shutting down")
	}
	fmt.Println("stopping: draining the collector, flushing the writer …")
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return g.Shutdown(sctx)
}

// startLocalMonitoring starts, for `chainwatch up`, a local Alertmanager
// (when prometheus-alertmanager is on PATH and no alerting.alertmanager.urls
// are configured) and the worker with the configured or default monitors.
func startLocalMonitoring(ctx context.Context, cfg Config, p *pipeline.Pipeline, reg prometheus.Registerer, log *slog.Logger) (*monitor.Service, *amserver.Server, error) {
	var am *amserver.Server
	if len(cfg.Alerting.Alertmanager.URLs) == 0 && cfg.Alerting.Webhook.URL == "" {
		ac := cfg.Local.Alertmanager
		ac.DataDir = filepath.Join(cfg.Local.DataDir, "alertmanager")
		var err error
		if am, err = amserver.Start(ctx, ac); err != nil {
			log.Warn("no local alertmanager; alerts are recorded in clickhouse (alerts table) only", "reason", err)
		} else {
			am.Supervise(supervise.Options{Log: log, Restarts: supervise.RestartsCounter(reg).WithLabelValues("alertmanager")})
			p.Health.Add(health.Child("alertmanager", am.Status))
			cfg.Alerting.Alertmanager.URLs = []string{am.URL()}
			fmt.Printf("  alertmanager (local)  %s, restarted if it dies\n", am.URL())
		}
	}
	svc, err := startWorker(ctx, cfg, p.ClickHouse, p.Kafka, reg, log)
	if err != nil {
		if am != nil {
			am.Stop()
		}
		return nil, nil, err
	}
	for _, m := range svc.Worker.Monitors() {
		fmt.Printf("  monitor               %-18s %s/%s every %v\n", m.Name, m.Feature, m.Detector, m.Schedule)
	}
	return svc, am, nil
}

// writerInstanceID is the writer's static group membership id. A writer
// killed and restarted under the same id takes its partitions back at once;
// without one, the group waits for the dead member's session to expire
// and, while it rebalances, for members that never rejoin (measured in
// BENCHMARKS.md, "Faults"). Configured: as given ("-" for dynamic
// membership). Otherwise, a writer whose -metrics-addr names a fixed port
// is "chainwatch-writer@<hostname>/<metrics-addr>": unique, since no two
// processes can listen there, and stable across restarts on the same host
// or container. With port 0 there is nothing stable: dynamic.
func writerInstanceID(configured, metricsAddr string) string {
	switch configured {
	case "-":
		return ""
	case "":
	default:
		return configured
	}
	if _, port, err := net.SplitHostPort(metricsAddr); err != nil || port == "0" {
		return ""
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return ""
	}
	return "chainwatch-writer@" + host + "/" + metricsAddr
}
