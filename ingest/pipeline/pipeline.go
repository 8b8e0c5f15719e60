// Package pipeline assembles collector and writer with their Kafka and
// ClickHouse, starting an in-process broker (kfake) and a ClickHouse child
// process where none is configured. `chainwatch up`, `chainwatch bench
// ingest` and the end-to-end tests all start the pipeline through it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/internal/health"
	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/broker"
	"github.com/chainwatch/chainwatch/local/chserver"
	"github.com/chainwatch/chainwatch/schemas"
)

// Options say what to run. Empty Kafka.Brokers starts kfake on LocalKafkaPort;
// empty ClickHouse.Addr starts a clickhouse-server child with LocalClickHouse.
type Options struct {
	Kafka      kafka.Config
	ClickHouse clickhouse.Config
	Collector  collector.Config
	Writer     writer.Config

	NoCollector bool // run only the writer
	NoWriter    bool // run only the collector
	Writers     int  // writer instances in this process (same group); default 1

	LocalKafkaPort  int             // 0: any free port
	LocalKafkaDir   string          // where the in-process broker persists its log; "": memory only
	LocalClickHouse chserver.Config // DataDir "" → a temporary directory

	Registry *prometheus.Registry // nil: a new one
	Log      *slog.Logger
}

// Pipeline is a running pipeline.
type Pipeline struct {
	Kafka      kafka.Config      // effective (brokers filled in)
	ClickHouse clickhouse.Config // effective (addr filled in)
	Broker     *broker.Broker    // nil unless started here
	CHServer   *chserver.Server  // nil unless started here
	Conn       driver.Conn
	Collector  *collector.Collector
	Writers    []*writer.Writer
	Metrics    Metrics
	Registry   *prometheus.Registry
	Health     *health.Checks // /healthz and /readyz: the collector serves them; a writer-only process on its metrics port
	Migration  schemas.MigrationReport

	producer  *kgo.Client
	admin     *kgo.Client // health checks' pings and group descriptions
	stopGuard context.CancelFunc
	log       *slog.Logger
}

// Start brings everything up in order: broker, ClickHouse, topics, schema,
// writer(s), collector. On error, what was started is stopped again.
func Start(ctx context.Context, o Options) (_ *Pipeline, err error) {
	if len(o.Kafka.Brokers) == 0 && o.Kafka.Compression == "" {
		// The in-process broker shares our CPU and memory: compressing for
		// it only costs CPU (a measured 10 % of the pipeline's, with the
		// broker's log in memory). With the log on disk, the fewer bytes
		// written did not pay for it either: `bench ingest -compression`
		// lz4 and snappy against none, 2026-12-07, this process spent
		// 15.6–19.6 µs a span against 14.1–14.4 (BENCHMARKS.md).
		o.Kafka.Compression = "none"
	}
	p := &Pipeline{Kafka: o.Kafka.WithDefaults(), ClickHouse: o.ClickHouse.WithDefaults(), Registry: o.Registry, log: o.Log}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.Registry == nil {
		p.Registry = prometheus.NewRegistry()
	}
	defer func() {
		if err != nil {
			p.Shutdown(context.WithoutCancel(ctx))
		}
	}()
	if len(p.Kafka.Brokers) == 0 {
		if p.Broker, p.Kafka, err = broker.Start(p.Kafka, o.LocalKafkaPort, o.LocalKafkaDir); err != nil {
			return nil, err
		}
	}
	if len(p.ClickHouse.Addr) == 0 {
		if p.CHServer, err = chserver.Start(ctx, o.LocalClickHouse); err != nil {
			return nil, fmt.Errorf("starting the local clickhouse: %w", err)
		}
		p.ClickHouse.Addr = []string{p.CHServer.Addr()}
		// The embedded default's ClickHouse is ours to keep up: restarted
		// with backoff when it dies, logged, counted, and /readyz says so.
		p.CHServer.Supervise(supervise.Options{Log: p.log,
			Restarts: supervise.RestartsCounter(p.Registry).WithLabelValues("clickhouse")})
	}
	if err = kafka.EnsureTopics(ctx, p.Kafka); err != nil {
		return nil, err
	}
	if p.Conn, err = clickhouse.Open(ctx, p.ClickHouse); err != nil {
		return nil, err
	}
	if p.Migration, err = clickhouse.EnsureSchema(ctx, p.Conn, p.ClickHouse); err != nil {
		return nil, err
	}
	for _, w := range p.Migration.Warnings {
		p.log.Warn(w)
	}
	p.Metrics = Metrics{Collector: collector.NewMetrics(p.Registry), Writer: writer.NewMetrics(p.Registry)}
	if !o.NoWriter {
		store, err := clickhouse.NewInserter(ctx, p.Conn)
		if err != nil {
			return nil, err
		}
		n := max(1, o.Writers)
		for i := 0; i < n; i++ {
			wc := o.Writer
			if wc.InstanceID != "" && wc.InstanceID != "-" && n > 1 { // static ids must differ within the group
				wc.InstanceID = fmt.Sprintf("%s-%d", wc.InstanceID, i)
			}
			cl, err := kgo.NewClient(writer.ConsumerOpts(p.Kafka, wc, p.Kafka.Topics.Spans, p.Kafka.Topics.Feedback, p.Kafka.Topics.Logs)...)
			if err != nil {
				return nil, fmt.Errorf("creating kafka consumer: %w", err)
			}
			w := writer.New(o.Writer, p.Kafka.Topics, cl, store, p.Metrics.Writer, p.log)
			if err := w.Start(ctx); err != nil {
				return nil, err
			}
			p.Writers = append(p.Writers, w)
		}
	}
	if err = p.startHealth(o); err != nil {
		return nil, err
	}
	if !o.NoCollector {
		if p.producer, err = kgo.NewClient(kafka.ProducerOpts(p.Kafka)...); err != nil {
			return nil, fmt.Errorf("creating kafka producer: %w", err)
		}
		p.Collector = collector.New(o.Collector.WithKafka(p.Kafka), p.Kafka.Topics, p.producer, p.Metrics.Collector, p.log)
		p.Collector.Handle("GET /metrics", promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{}))
		p.Collector.Handle("GET /healthz", http.HandlerFunc(p.Health.Healthz))
		p.Collector.Handle("GET /readyz", http.HandlerFunc(p.Health.Readyz))
		if p.Kafka.RetentionHeadroom != -1 {
			// Never acknowledge what could expire unread: refuse while the
			// writer group's unstored records near the topics' retention.
			t := p.Kafka.Topics
			g := collector.NewRetentionGuard(p.producer, o.Writer.WithDefaults().Group, []string{t.Spans, t.Feedback, t.Scores, t.Logs}, p.Kafka.RetentionHeadroom, p.Metrics.Collector, p.log)
			gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			p.stopGuard = cancel
			go g.Run(gctx)
			p.Collector.SetRetentionGuard(g)
		}
		if err := p.Collector.Start(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// startHealth wires the readiness checks: a broker answers; where this
// process writes (or runs ClickHouse), ClickHouse answers and its local
// server is running; where it writes, its writers run and their group is
// Stable. A collector alone needs only the broker to accept data.
func (p *Pipeline) startHealth(o Options) (err error) {
	// Over the network even to the in-process broker (no kafka.Config.Dial):
	// ready means that other processes can reach it too.
	if p.admin, err = kgo.NewClient(kgo.SeedBrokers(p.Kafka.Brokers...)); err != nil {
		return fmt.Errorf("creating kafka health-check client: %w", err)
	}
	p.Health = health.New(health.Kafka(p.admin))
	if len(p.Writers) > 0 || p.CHServer != nil {
		var child func() supervise.Status
		if p.CHServer != nil {
			child = p.CHServer.Status
		}
		p.Health.Add(health.ClickHouse(p.Conn, child))
	}
	if len(p.Writers) > 0 {
		p.Health.Add(writer.GroupCheck(p.Writers, kadm.NewClient(p.admin), o.Writer.WithDefaults().Group))
	}
	return nil
}

// Metrics are the collector's and the writers' series.
type Metrics struct {
	Collector *collector.Metrics
	Writer    *writer.Metrics
}

// MetricsHandler serves the pipeline's Prometheus registry.
func (p *Pipeline) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{})
}

// Shutdown stops in reverse order: the collector drains its requests (each
// waits for its Kafka acks), the producer flushes, the writers flush and
// commit, then the broker and ClickHouse stop. Idempotent.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	var errs []error
	if p.stopGuard != nil {
		p.stopGuard()
	}
	if p.Collector != nil {
		errs = append(errs, p.Collector.Shutdown(ctx))
		p.Collector = nil
	}
	if p.producer != nil {
		errs = append(errs, p.producer.Flush(ctx))
		p.producer.Close()
		p.producer = nil
	}
	for _, w := range p.Writers {
		errs = append(errs, w.Shutdown(ctx))
	}
	p.Writers = nil
	if p.admin != nil {
		p.admin.Close()
		p.admin = nil
	}
	if p.Conn != nil {
		p.Conn.Close()
		p.Conn = nil
	}
	if p.Broker != nil {
		p.Broker.Stop()
		p.Broker = nil
	}
	if p.CHServer != nil {
		p.CHServer.Stop()
		p.CHServer = nil
	}
	return errors.Join(errs...)
}
