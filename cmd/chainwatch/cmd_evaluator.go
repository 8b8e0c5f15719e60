package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/query"
)

// runEvaluator runs continuous evaluation: spans from Kafka (its own
// consumer group), sampled, scored, scores to the scores topic, which the
// writer lands in eval_scores. With kafka.brokers empty it joins the
// in-process broker of a `chainwatch up` on this machine.
func runEvaluator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("evaluator", flag.ContinueOnError)
	load := commonFlags(fs)
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9466", "where the evaluator serves /metrics")
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
	r, err := startEvaluator(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	always, withRef := r.Evaluators()
	fmt.Printf("chainwatch evaluator: group %s, sample rate %v, %s; reference metrics %s; metrics on http://%s/metrics\n",
		cfg.Evaluator.WithDefaults().Group, cfg.Evaluator.WithDefaults().Sample.Rate, names(always), names(withRef), *metricsAddr)
	select {
	case <-ctx.Done():
	case <-r.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Shutdown(sctx)
}

// evaluatorRebalanceTimeout bounds how long the group waits for a member to
// finish its batch in a rebalance.
const evaluatorRebalanceTimeout = 5 * time.Minute

// startEvaluator creates the topics when missing and starts one runner.
func startEvaluator(ctx context.Context, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*runner.Runner, error) {
	kc := cfg.Kafka.WithDefaults()
	if len(kc.Brokers) == 0 {
		kc.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", cfg.Local.KafkaPort)}
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ectx, kc); err != nil {
		return nil, err
	}
	ec := cfg.Evaluator.WithDefaults()
	// A batch is evaluated with rebalances blocked (BlockRebalanceOnPoll):
	// judge calls make batches slow, so the group waits longer than the
	// writer's for a member to finish its batch before evicting it.
	opts := append(kafka.ConsumerOpts(kc, ec.Group, kc.Topics.Spans), kgo.RebalanceTimeout(evaluatorRebalanceTimeout))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka consumer: %w", err)
	}
	ropts := []runner.Opt{runner.WithMetrics(runner.NewMetrics(reg)), runner.WithLogger(log)}
	if slices.Contains(ec.ReferenceMetrics, "embedding_cosine") {
		// The evaluator holds no ClickHouse connection: its embeddings
		// (one output and one reference per span) are not cached.
		emc := cfg.Embeddings
		emc.Cache = false
		emb, err := embedding.New(emc, nil, reg)
		if err != nil {
			cl.Close()
			return nil, err
		}
		ropts = append(ropts, runner.WithEmbedder(emb, emb.ID()))
	}
	// Spans whose content came as OTLP logs are evaluated with it: the
	// runner reads their GenAI events' texts from ClickHouse (query's
	// merged view), when one is configured.
	var closeCH func()
	if len(cfg.ClickHouse.Addr) > 0 && ec.ContentWait >= 0 {
		conn, err := clickhouse.Open(ctx, cfg.ClickHouse)
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("connecting to clickhouse for the GenAI events of spans without content (evaluator.content_wait: -1 turns that off): %w", err)
		}
		closeCH = func() { conn.Close() }
		ropts = append(ropts, runner.WithContentSource(query.NewReader(conn), ec.ContentWait))
	} else {
		log.Warn("evaluator without clickhouse: spans whose content came as OTLP logs (GenAI events) are not evaluated", "clickhouse.addr", cfg.ClickHouse.Addr, "evaluator.content_wait", ec.ContentWait)
	}
	r, err := runner.New(ec, kc.Topics, cl, ropts...)
	if err != nil {
		cl.Close()
		if closeCH != nil {
			closeCH()
		}
		return nil, err
	}
	if closeCH != nil {
		go func() { <-r.Done(); closeCH() }()
	}
	return r, r.Start(ctx)
}

func names[E interface{ Name() string }](evs []E) string {
	if len(evs) == 0 {
		return "none"
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name()
	}
	return strings.Join(out, ", ")
}
