// Package runner is chainwatch's continuous evaluation: `chainwatch
// evaluator` consumes spans from Kafka in its own consumer group, samples
// traces per app and chain, runs the configured evaluators (guards,
// reference metrics, the LLM judge) and produces their scores to the scores
// topic, which the writer lands in ClickHouse's eval_scores.
//
// Offsets are committed only after Kafka acknowledged (acks=all) every
// score of the records they cover, so a crash re-evaluates at most the
// uncommitted records, and eval_scores' ReplacingMergeTree key (trace,
// span, evaluator, version, metric) makes that re-run replace itself.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/evaluators/openai"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/internal/backoff"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// Opt configures a Runner.
type Opt interface{ apply(*opts) }

type opts struct {
	emb      evaluators.Embedder
	embModel string
	chat     evaluators.ChatClient
	evs      []evaluators.Evaluator
	hasEvs   bool
	m        *Metrics
	log      *slog.Logger
	jopts    []evaluators.JudgeOpt
	created  func() time.Time

	content     ContentSource
	contentWait time.Duration
}

type optFunc func(*opts)

func (f optFunc) apply(o *opts) { f(o) }

// WithChatClient makes the judge talk through c instead of an
// evaluators/openai client built from the judge config; the judge is then
// on even without judge.base_url (judge.model must still be set).
func WithChatClient(c evaluators.ChatClient) Opt { return optFunc(func(o *opts) { o.chat = c }) }

// WithEvaluators replaces the guards and the judge of the config with evs,
// which run on every sampled span (reference metrics still follow the
// config).
func WithEvaluators(evs ...evaluators.Evaluator) Opt {
	return optFunc(func(o *opts) { o.evs, o.hasEvs = evs, true })
}

// WithEmbedder supplies the embedder of the embedding_cosine reference
// metric; model names it in the evaluator's version.
func WithEmbedder(e evaluators.Embedder, model string) Opt {
	return optFunc(func(o *opts) { o.emb, o.embModel = e, model })
}

// WithMetrics records into m (default: unregistered series).
func WithMetrics(m *Metrics) Opt { return optFunc(func(o *opts) { o.m = m }) }

// WithLogger logs to l (default slog.Default()).
func WithLogger(l *slog.Logger) Opt { return optFunc(func(o *opts) { o.log = l }) }

// WithJudgeOpts passes options (a shared budget, a clock) to the judge.
func WithJudgeOpts(jo ...evaluators.JudgeOpt) Opt {
	return optFunc(func(o *opts) { o.jopts = append(o.jopts, jo...) })
}

// Runner is one member of the evaluator consumer group.
type Runner struct {
	cfg     Config
	topics  kafka.Topics
	cl      kafka.Consumer
	sampler *Sampler
	always  []evaluators.Evaluator // every sampled span
	withRef []evaluators.Evaluator // sampled spans with a reference
	m       *Metrics
	log     *slog.Logger
	now     func() time.Time

	content     ContentSource // nil: spans without output text are not evaluable
	contentWait time.Duration

	afterProduce func() bool

	cancel    context.CancelFunc
	evalCtx   context.Context
	abortEval context.CancelFunc
	done      chan struct{}
	once      sync.Once
	err       error
}

// New wires a runner; cl must be a consumer of topics.Spans built with
// kafka.ConsumerOpts (manual commits, acks=all for the scores it
// produces) in cfg.Group.
func New(cfg Config, topics kafka.Topics, cl kafka.Consumer, options ...Opt) (*Runner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if topics.Spans == "" || topics.Scores == "" {
		return nil, errors.New("creating evaluator: kafka.topics.spans and kafka.topics.scores must be set")
	}
	o := opts{log: slog.Default(), created: time.Now}
	for _, op := range options {
		op.apply(&o)
	}
	if o.m == nil {
		o.m = NewMetrics(nil)
	}
	r := &Runner{cfg: cfg, topics: topics, cl: cl, sampler: NewSampler(cfg.Sample), m: o.m, log: o.log, now: o.created, done: make(chan struct{}),
		content: o.content, contentWait: o.contentWait}
	if r.content != nil && r.contentWait <= 0 {
		r.contentWait = DefaultContentWait
	}
	var err error
	if o.hasEvs {
		r.always = o.evs
	} else if r.always, err = guardsAndJudge(cfg, o.chat, o.jopts); err != nil {
		return nil, err
	}
	if r.withRef, err = referenceMetrics(cfg.ReferenceMetrics, o.emb, o.embModel); err != nil {
		return nil, err
	}
	return r, nil
}

func guardsAndJudge(cfg Config, chat evaluators.ChatClient, jopts []evaluators.JudgeOpt) ([]evaluators.Evaluator, error) {
	var evs []evaluators.Evaluator
	for _, g := range cfg.Guards {
		switch g {
		case "pii":
			evs = append(evs, evaluators.NewPIIGuard())
		case "injection":
			evs = append(evs, evaluators.InjectionGuard{})
		case "refusal":
			evs = append(evs, evaluators.RefusalGuard{})
		case "json":
			o := evaluators.JSONGuardOptions{AllowFence: true}
			if cfg.JSONSchemaFile != "" {
				b, err := os.ReadFile(cfg.JSONSchemaFile)
				if err != nil {
					return nil, fmt.Errorf("evaluator.json_schema_file: %w", err)
				}
				o.Schema = b
			}
			j, err := evaluators.NewJSONGuard(o)
			if err != nil {
				return nil, fmt.Errorf("evaluator.json_schema_file %s: %w", cfg.JSONSchemaFile, err)
			}
			evs = append(evs, j)
		}
	}
	if cfg.JudgeEnabled() || chat != nil {
		if chat == nil {
			c, err := openai.New(openai.ConfigFromJudge(cfg.Judge))
			if err != nil {
				return nil, fmt.Errorf("creating evaluator judge: %w", err)
			}
			chat = c
		}
		j, err := evaluators.NewPointwiseJudge(chat, rubrics[cfg.Rubric], cfg.Judge, jopts...)
		if err != nil {
			return nil, fmt.Errorf("creating evaluator judge: %w", err)
		}
		evs = append(evs, j)
	}
	return evs, nil
}

func referenceMetrics(names []string, emb evaluators.Embedder, embModel string) ([]evaluators.Evaluator, error) {
	var evs []evaluators.Evaluator
	for _, n := range names {
		switch n {
		case "exact_match":
			evs = append(evs, evaluators.NewExactMatch())
		case "token_f1":
			evs = append(evs, evaluators.NewTokenF1())
		case "bleu":
			evs = append(evs, evaluators.NewBLEU(evaluators.BLEUOptions{Smoothing: evaluators.SmoothMethod1}))
		case "rouge_l":
			evs = append(evs, evaluators.NewRougeL())
		case "embedding_cosine":
			if emb == nil {
				return nil, errors.New("evaluator.reference_metrics: embedding_cosine needs an embedder (the embeddings: section)")
			}
			evs = append(evs, evaluators.NewEmbeddingSimilarity(emb, embModel))
		default:
			return nil, fmt.Errorf("evaluator.reference_metrics: unknown metric %q", n)
		}
	}
	return evs, nil
}

// Evaluators lists what runs on every sampled span, then what runs on
// sampled spans with a reference.
func (r *Runner) Evaluators() (always, withReference []evaluators.Evaluator) {
	return r.always, r.withRef
}

// Sampler is the runner's sampling decision.
func (r *Runner) Sampler() *Sampler { return r.sampler }

// SetAfterProduce installs a fault-injection hook for tests: f runs after a
// batch's scores are acknowledged and before its offsets are committed;
// when it returns true the runner stops right there, as if killed. Call it
// before Start.
func (r *Runner) SetAfterProduce(f func() bool) { r.afterProduce = f }

// Start runs the consume loop in the background and returns at once.
func (r *Runner) Start(ctx context.Context) error {
	var ctx2 context.Context
	ctx2, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.evalCtx, r.abortEval = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(r.done)
		r.err = r.run(ctx2)
	}()
	return nil
}

// Shutdown stops polling, finishes the batch in hand (evaluates, produces,
// commits) and leaves the group. When ctx ends first, evaluations in flight
// are cancelled and the batch stays uncommitted, to be evaluated again by
// the group. Idempotent.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
	})
	if r.cancel == nil {
		return nil
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		r.abortEval()
		<-r.done
		return fmt.Errorf("evaluator shutdown: %w (the batch in hand stays uncommitted in Kafka)", ctx.Err())
	}
}

// Done is closed when the loop has stopped.
func (r *Runner) Done() <-chan struct{} { return r.done }

var errCrashed = errors.New("simulated crash")

func (r *Runner) run(ctx context.Context) error {
	defer func() {
		r.cl.AllowRebalance()
		r.cl.Close()
	}()
	var recs []*kgo.Record
	for {
		if ctx.Err() != nil {
			return nil
		}
		recs = recs[:0]
		deadline := time.Now().Add(r.cfg.Batch.MaxWait)
		for len(recs) < r.cfg.Batch.MaxRecords && ctx.Err() == nil {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches := r.cl.PollRecords(pctx, r.cfg.Batch.MaxRecords-len(recs))
			cancel()
			if fetches.IsClientClosed() {
				return nil
			}
			fetches.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					r.log.Warn("kafka fetch error", "topic", t, "partition", p, "err", err)
				}
			})
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				if n := len(p.Records); n > 0 {
					lag := p.HighWatermark - p.Records[n-1].Offset - 1
					r.m.ConsumerLag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(lag))
				}
			})
			fetches.EachRecord(func(rec *kgo.Record) { recs = append(recs, rec) })
		}
		if len(recs) == 0 {
			r.cl.AllowRebalance()
			continue
		}
		if err := r.process(r.evalCtx, recs); err != nil {
			if errors.Is(err, errCrashed) {
				return nil
			}
			return err
		}
		r.cl.AllowRebalance()
	}
}

// job is one sampled span with what its evaluators read.
type job struct {
	// needsContent: the span had no output text of its own; fillContent
	// reads its GenAI events' (contentIdx: its place in that lookup).
	needsContent bool
	contentIdx   int
	span         *schemas.Span
	in           evaluators.Input
	hasRef       bool
	results      []schemas.Score
	err          error
}

// process evaluates one batch, produces its scores and commits its offsets.
func (r *Runner) process(ctx context.Context, recs []*kgo.Record) error {
	start := time.Now()
	jobs := r.sample(recs)
	jobs = r.fillContent(ctx, jobs)
	r.evaluate(ctx, jobs)
	if ctx.Err() != nil {
		return fmt.Errorf("evaluating: %w", ctx.Err())
	}
	r.m.BatchSeconds.WithLabelValues("evaluate").Observe(time.Since(start).Seconds())

	var out []*kgo.Record
	for _, j := range jobs {
		for i := range j.results {
			v, err := json.Marshal(&j.results[i])
			if err != nil {
				return fmt.Errorf("encoding score: %w", err)
			}
			out = append(out, &kgo.Record{Topic: r.topics.Scores, Key: []byte(j.span.TraceID), Value: v})
		}
	}
	start = time.Now()
	if err := r.produce(ctx, out); err != nil {
		return err
	}
	r.m.ScoresProduced.Add(float64(len(out)))
	for _, j := range jobs {
		for i := range j.results {
			if sc := &j.results[i]; !sc.Failed() {
				r.m.Scores.WithLabelValues(sc.App, sc.Chain, j.span.ChainVersion, sc.Evaluator, sc.Metric).Observe(sc.Value)
			}
		}
	}
	r.m.BatchSeconds.WithLabelValues("produce").Observe(time.Since(start).Seconds())
	if r.afterProduce != nil && r.afterProduce() {
		return errCrashed // produced, not committed
	}
	start = time.Now()
	last := map[string]map[int32]*kgo.Record{}
	for _, rec := range recs {
		if last[rec.Topic] == nil {
			last[rec.Topic] = map[int32]*kgo.Record{}
		}
		if p := last[rec.Topic][rec.Partition]; p == nil || rec.Offset > p.Offset {
			last[rec.Topic][rec.Partition] = rec
		}
	}
	var commit []*kgo.Record
	for _, ps := range last {
		for _, rec := range ps {
			commit = append(commit, rec)
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.cl.CommitRecords(cctx, commit...); err != nil {
		r.m.CommitErrors.Inc()
		r.log.Warn("committing offsets failed; the records will be evaluated again", "err", err)
	}
	r.m.BatchSeconds.WithLabelValues("commit").Observe(time.Since(start).Seconds())
	return nil
}

// sample decodes the records and keeps the evaluable spans of sampled
// traces. The retrieved passages of a trace (the output of its retriever
// spans in the same record) become the judge's context.
func (r *Runner) sample(recs []*kgo.Record) []*job {
	var jobs []*job
	var spans []schemas.Span
	for _, rec := range recs {
		if rec.Topic != r.topics.Spans {
			continue
		}
		var err error
		spans, err = genai.AppendSpanRecord(spans[:0], rec.Value)
		if err != nil {
			r.m.DecodeErrors.Inc()
			r.log.Debug("skipping undecodable span record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
			continue
		}
		r.m.SpansConsumed.Add(float64(len(spans)))
		var passages []string
		for i := range spans {
			if spans[i].ComponentKind == schemas.KindRetriever && spans[i].OutputText != "" {
				passages = append(passages, spans[i].OutputText)
			}
		}
		for i := range spans {
			sp := &spans[i]
			// A span without output text may have sent it as OTLP logs:
			// with a content source it waits for them (fillContent).
			needs := sp.OutputText == "" && r.content != nil
			out := sp.OutputText
			if needs {
				out = "(as GenAI events)"
			}
			if !r.sampler.Evaluable(string(sp.ComponentKind), out) || !r.sampler.Sampled(sp.App, sp.ChainName, sp.TraceID) {
				continue
			}
			r.m.SpansSampled.WithLabelValues(sp.App).Inc()
			cp := *sp
			ref, hasRef := sp.Attributes[r.cfg.ReferenceAttribute]
			jobs = append(jobs, &job{span: &cp, needsContent: needs, hasRef: hasRef && ref != "", in: evaluators.Input{
				Input: sp.InputText, Output: sp.OutputText, Context: passages, Reference: ref,
			}})
		}
	}
	return jobs
}

// evaluate runs every job's evaluators, at most cfg.Concurrency spans at
// once.
func (r *Runner) evaluate(ctx context.Context, jobs []*job) {
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if len(jobs) == 1 || r.cfg.Concurrency == 1 {
			r.evaluateOne(ctx, j)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.evaluateOne(ctx, j)
		}()
	}
	wg.Wait()
}

func (r *Runner) evaluateOne(ctx context.Context, j *job) {
	sp := evaluators.Span{TraceID: j.span.TraceID, SpanID: j.span.SpanID, App: j.span.App, Chain: j.span.ChainName}
	run := func(ev evaluators.Evaluator) {
		results, err := ev.Evaluate(ctx, j.in)
		if err != nil {
			if errors.Is(err, evaluators.ErrBudgetExhausted) {
				r.m.Evaluations.WithLabelValues(ev.Name(), OutcomeBudgetExhausted).Inc()
			}
			return // record nothing (ctx done, or budget spent)
		}
		for _, res := range results {
			outcome := OutcomeOK
			if res.Failed() {
				outcome = string(res.Reason)
				if outcome == "" {
					outcome = string(evaluators.ReasonOther)
				}
			}
			r.m.Evaluations.WithLabelValues(ev.Name(), outcome).Inc()
			if res.JudgeModel != "" && !res.Cached && res.Latency > 0 {
				r.m.JudgeSeconds.Observe(res.Latency.Seconds())
			}
		}
		j.results = append(j.results, evaluators.Scores(sp, ev, results, r.now())...)
	}
	for _, ev := range r.always {
		run(ev)
	}
	if j.hasRef {
		for _, ev := range r.withRef {
			run(ev)
		}
	}
}

// produce sends the scores and waits for every acknowledgement, retrying
// with backoff until Kafka takes them or the runner is aborted.
func (r *Runner) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	p := backoff.Policy{Initial: r.cfg.Retry.Initial, Max: r.cfg.Retry.Max} // as long as it takes
	first := true
	err := p.RetryNotify(ctx, func(context.Context) error {
		if !first {
			// A retried record must be produced anew: franz-go keeps the
			// failed record's state.
			for i, rec := range recs {
				recs[i] = &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}
			}
		}
		first = false
		if err := r.cl.ProduceSync(context.WithoutCancel(ctx), recs...).FirstErr(); err != nil {
			r.m.ProduceErrors.Inc()
			return err
		}
		return nil
	}, func(err error, attempt int, wait time.Duration) {
		r.log.Warn("producing scores failed; retrying", "attempt", attempt, "in", wait, "err", err)
	})
	if err != nil {
		return fmt.Errorf("evaluator stopped while producing scores; the batch stays uncommitted: %w", err)
	}
	return nil
}
