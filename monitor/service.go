package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/detectors/tokenize"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/internal/lifecycle"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/sinks"
)

// Defaults of the worker section.
const (
	DefaultGroup             = "chainwatch-worker"
	DefaultCoordinationTopic = "chainwatch.monitors"
	DefaultTokenizer         = "cl100k_base"
)

// WorkerConfig is the `worker:` section of the configuration file.
type WorkerConfig struct {
	Settle      time.Duration `yaml:"settle"`      // delay after each tick before it runs (default 5s)
	Concurrency int           `yaml:"concurrency"` // monitors run at once (default 2)
	// Group and CoordinationTopic name the Kafka consumer group and topic
	// through which several workers share the monitors (KafkaOwner). With
	// no Kafka configured, one worker runs them all.
	Group                  string `yaml:"group"`
	CoordinationTopic      string `yaml:"coordination_topic"`
	CoordinationPartitions int32  `yaml:"coordination_partitions"` // the most workers that can share (default 16)
	GrafanaURL             string `yaml:"grafana_url"`             // linked from alerts
	Tokenizer              string `yaml:"tokenizer"`               // cl100k_base (default) or o200k_base
}

// DefaultWorkerConfig is the worker section's defaults.
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		Settle:                 DefaultSettle,
		Concurrency:            DefaultConcurrency,
		Group:                  DefaultGroup,
		CoordinationTopic:      DefaultCoordinationTopic,
		CoordinationPartitions: DefaultCoordinationPartitions,
		Tokenizer:              DefaultTokenizer,
	}
}

// WithDefaults fills zero fields from DefaultWorkerConfig (for a config
// built in Go; the loader decodes the YAML over DefaultWorkerConfig).
func (c WorkerConfig) WithDefaults() WorkerConfig {
	d := DefaultWorkerConfig()
	if c.Settle == 0 {
		c.Settle = d.Settle
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.CoordinationTopic == "" {
		c.CoordinationTopic = d.CoordinationTopic
	}
	if c.CoordinationPartitions == 0 {
		c.CoordinationPartitions = d.CoordinationPartitions
	}
	if c.Tokenizer == "" {
		c.Tokenizer = d.Tokenizer
	}
	return c
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "worker.".
func (c WorkerConfig) Validate() error {
	var errs []error
	if c.Settle < 0 {
		errs = append(errs, fmt.Errorf("settle must be ≥ 0, got %v", c.Settle))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency must be > 0, got %d", c.Concurrency))
	}
	if c.CoordinationPartitions < 0 {
		errs = append(errs, fmt.Errorf("coordination_partitions must be > 0, got %d", c.CoordinationPartitions))
	}
	switch c.Tokenizer {
	case "", "cl100k_base", "o200k_base":
	default:
		errs = append(errs, fmt.Errorf("tokenizer must be cl100k_base or o200k_base, got %q", c.Tokenizer))
	}
	return errors.Join(errs...)
}

// ServiceOptions is everything a running worker needs.
type ServiceOptions struct {
	Worker     WorkerConfig
	Monitors   []Monitor
	Alerting   sinks.Config
	Embeddings embedding.Config
	Conn       driver.Conn  // migrated database
	Kafka      kafka.Config // no brokers: this worker owns every monitor
	Registry   prometheus.Registerer
	Log        *slog.Logger
}

// Service is a started worker with its sinks and ownership.
type Service struct {
	Worker *Worker
	group  lifecycle.Group // sinks, owner, worker: stopped in reverse
}

// StartService builds the embedder, tokenizer, alert sinks (Alertmanager
// and/or webhook, as configured; none is fine) and ownership, and starts
// the worker.
func StartService(ctx context.Context, o ServiceOptions) (_ *Service, err error) {
	wc := o.Worker.WithDefaults()
	if o.Log == nil {
		o.Log = slog.Default()
	}
	tok, err := tokenize.New(wc.Tokenizer)
	if err != nil {
		return nil, err
	}
	emb, err := embedding.New(o.Embeddings, o.Conn, o.Registry)
	if err != nil {
		return nil, err
	}
	s := &Service{}
	defer func() { // a later step failed: stop what started, last first
		if err != nil {
			s.group.Shutdown(context.WithoutCancel(ctx))
		}
	}()
	sks, err := sinks.New(o.Alerting, o.Registry, o.Log)
	if err != nil {
		return nil, err
	}
	for _, sk := range sks {
		if err := s.group.Start(ctx, "alert sink", sk); err != nil {
			return nil, err
		}
	}
	var owner Owner = OwnAll{}
	if len(o.Kafka.Brokers) > 0 {
		ko, err := NewKafkaOwner(ctx, o.Kafka, wc.CoordinationTopic, wc.Group, wc.CoordinationPartitions)
		if err != nil {
			return nil, err
		}
		s.group.Started("monitor owner", func(context.Context) error { ko.Close(); return nil })
		owner = ko
	}
	host, _ := os.Hostname()
	runner := &Runner{Store: NewStore(o.Conn), Tokenizer: tok, Embedder: emb, Worker: fmt.Sprintf("%s/%d", host, os.Getpid())}
	var sink sinks.Sink
	if len(sks) > 0 {
		sink = fanOut(sks)
	}
	if s.Worker, err = NewWorker(Config{Monitors: o.Monitors, GrafanaURL: wc.GrafanaURL}, runner, sink, owner,
		WorkerOptions{Settle: wc.Settle, Concurrency: wc.Concurrency, Log: o.Log, Registerer: o.Registry}); err != nil {
		return nil, err
	}
	if err := s.group.Start(ctx, "monitor worker", s.Worker); err != nil {
		return nil, err
	}
	return s, nil
}

// Shutdown stops the worker, leaves the group and flushes the sinks.
func (s *Service) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx) }

// fanOut sends every alert to each sink (each queues and retries on its
// own).
type fanOut []sinks.Sink

var _ sinks.Sink = fanOut(nil)

func (f fanOut) Start(ctx context.Context) error { return nil }
func (f fanOut) Send(ctx context.Context, a []sinks.Alert) error {
	var errs []error
	for _, s := range f {
		errs = append(errs, s.Send(ctx, a))
	}
	return errors.Join(errs...)
}
func (f fanOut) Shutdown(ctx context.Context) error { return nil }

// DefaultMonitors are what `chainwatch up` runs when the configuration
// names none: over all apps' LLM spans, the last minute against the ten
// minutes before it, every 30 seconds — output length in tokens (KS),
// output embeddings (MMD, lexical embedder), input vocabulary (term JS
// permutation test) and error rate (Fisher). A trailing reference detects
// a change and then adapts to it: the alert resolves once the new
// behaviour fills the reference. Declare per-app monitors with a dataset
// or fixed reference for skew and for lasting comparisons.
//
// They test at p_val 0.01: with four monitors every 30 s, 0.05 would
// page about every 2.5 minutes on unchanged traffic.
func DefaultMonitors() []Monitor {
	ref := Reference{Size: 10 * time.Minute}
	p := func() map[string]string { return map[string]string{"p_val": "0.01"} }
	cur := Window{Size: time.Minute}
	sched := 30 * time.Second
	return []Monitor{
		{Name: "output-tokens", Feature: "output_tokens", Detector: "ks", Params: p(), Reference: ref, Current: cur, Schedule: sched},
		{Name: "output-embedding", Feature: "output_embedding", Detector: "mmd", Params: p(), Reference: ref, Current: cur, Schedule: sched, MaxSamples: 500},
		{Name: "input-vocabulary", Feature: "input_terms", Detector: "js", Params: p(), Reference: ref, Current: cur, Schedule: sched, MaxSamples: 1000},
		{Name: "error-rate", Feature: "error", Detector: "fisher", Params: p(), Reference: ref, Current: cur, Schedule: sched},
	}
}
