package experiments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/schemas"
)

// Defaults of RunConfig.
const (
	DefaultConcurrency = 4
	DefaultRepeats     = 1
	DefaultCallTimeout = 2 * time.Minute
	// flushEvery and flushRows bound how long a scored item waits before it
	// is written: an interrupted run loses at most the items scored since
	// the last flush, and those are run again on resume.
	flushEvery = time.Second
	flushRows  = 64
)

// MetricChainOK is the pass/fail metric every item gets: 1 when the chain
// call returned an answer, 0 when it failed. A candidate that fails more
// calls regresses on it like on any other pass/fail metric.
const MetricChainOK = "chain_ok"

// ChatFunc sends one chat completion to the endpoint under test.
type ChatFunc func(ctx context.Context, req openai.ChatCompletionRequest) (*openai.ChatCompletion, error)

// RunConfig is one `experiment run`.
type RunConfig struct {
	// ID of an interrupted experiment to resume; empty starts a new one.
	ID             string
	Name           string
	Chain          Chain
	Endpoint       string // base URL, recorded and put on the spans
	Dataset        string
	DatasetVersion uint32 // 0: the latest
	Repeats        int
	Concurrency    int
	CallTimeout    time.Duration
	GitCommit      string
	JudgeModel     string
	Params         map[string]string // recorded as given
}

// Validate names each bad field.
func (c RunConfig) Validate() error {
	var errs []error
	if err := c.Chain.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ID == "" && c.Name == "" {
		errs = append(errs, errors.New("experiment name is empty (--name)"))
	}
	if err := datasets.ValidateName(c.Dataset); err != nil {
		errs = append(errs, fmt.Errorf("--dataset: %w", err))
	}
	if c.Repeats < 0 || c.Repeats > 100 {
		errs = append(errs, fmt.Errorf("--repeats %d: want 1 to 100", c.Repeats))
	}
	if c.Concurrency < 0 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1 to 256", c.Concurrency))
	}
	return errors.Join(errs...)
}

// Deps are the run's connections.
type Deps struct {
	Conn       driver.Conn
	Chat       ChatFunc
	Evaluators []evaluators.Evaluator
	Spans      SpanExporter // nil: calls are not traced (a warning is printed)
	Progress   io.Writer    // nil: no progress bar
	Now        func() time.Time
}

// RunResult says what Run did.
type RunResult struct {
	Experiment schemas.Experiment
	Total      int // items × repeats of the experiment
	Skipped    int // recorded by an earlier, interrupted run
	Scored     int // recorded by this run
	ChainErrs  int // of those, chain calls that failed
	SpanErrs   int // traces that could not be produced (the items are recorded all the same)
}

// ErrInterrupted is returned (wrapped) when the context ended the run
// before every item was scored; resume it with RunConfig.ID.
var ErrInterrupted = errors.New("experiment interrupted")

type job struct {
	row    schemas.DatasetRow
	repeat int
}

type scored struct {
	item  schemas.ExperimentItem
	spans *tracepb.ResourceSpans
}

// Run scores every dataset row × repeat that the experiment has not yet
// recorded. Items are written to experiment_items as they finish (in small
// batches); when ctx ends, the calls in flight are abandoned (not written,
// so a resume runs them again), what was scored is flushed, the experiment
// is marked interrupted and ErrInterrupted is returned. A recorded item is
// never run again: resume reads the recorded (row, repeat) pairs first.
func Run(ctx context.Context, cfg RunConfig, d Deps) (RunResult, error) {
	var res RunResult
	if cfg.Repeats == 0 {
		cfg.Repeats = DefaultRepeats
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	if cfg.ID != "" && cfg.DatasetVersion == 0 {
		// A resumed run keeps its dataset version, even when a newer one
		// was imported since it started.
		prev, err := ReadExperiment(ctx, d.Conn, cfg.ID)
		if err != nil {
			return res, err
		}
		if prev.Dataset == cfg.Dataset {
			cfg.DatasetVersion = prev.DatasetVersion
		}
	}
	dv, err := resolveDataset(ctx, d.Conn, cfg.Dataset, cfg.DatasetVersion)
	if err != nil {
		return res, err
	}
	if rv, found, err := ReadReview(ctx, d.Conn, dv.Name, dv.Version); err != nil {
		return res, err
	} else if found {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["dataset_review"] = rv.Status
		if rv.Status != ReviewApproved && d.Progress != nil {
			fmt.Fprintf(d.Progress, "warning: dataset %s is %s, not approved (chainwatch dataset review)\n", datasets.FormatRef(dv.Name, dv.Version), rv.Status)
		}
	}
	rows, err := datasets.Rows(ctx, d.Conn, dv.Name, dv.Version)
	if err != nil {
		return res, err
	}
	if len(rows) == 0 {
		return res, fmt.Errorf("dataset %s has no rows", datasets.FormatRef(dv.Name, dv.Version))
	}
	// A template that a row cannot fill is a mistake in the chain file, not
	// a failure of the version: refuse the run before any call, naming the row.
	for _, r := range rows {
		if _, err := cfg.Chain.Render(Variables(r)); err != nil {
			return res, fmt.Errorf("chain %s on dataset %s row %d: %w", cfg.Chain.Ref(), datasets.FormatRef(dv.Name, dv.Version), r.Row, err)
		}
	}
	exp, err := startExperiment(ctx, cfg, d, dv, now().UTC())
	if err != nil {
		return res, err
	}
	res.Experiment = exp
	done, err := doneItems(ctx, d.Conn, exp.ID)
	if err != nil {
		return res, err
	}
	var jobs []job
	for _, r := range rows {
		for rep := range int(exp.Repeats) {
			if done[itemKey{r.Row, uint16(rep)}] {
				res.Skipped++
				continue
			}
			jobs = append(jobs, job{r, rep})
		}
	}
	res.Total = len(rows) * int(exp.Repeats)
	if d.Spans == nil && d.Progress != nil {
		fmt.Fprintln(d.Progress, "warning: no spans topic: the experiment's calls are not traced")
	}

	bar := newProgress(d.Progress, res.Total, res.Skipped, now)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobc := make(chan job)
	out := make(chan scored, flushRows)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobc {
				s, err := runOne(runCtx, cfg, d, &exp, j, now)
				if err != nil {
					cancel(err)
					return
				}
				select {
				case out <- s:
				case <-runCtx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobc)
		for _, j := range jobs {
			select {
			case jobc <- j:
			case <-runCtx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	var writeErr error
	returned := map[string]bool{} // models the endpoint said answered
	flush := func(batch []scored) {
		if len(batch) == 0 || writeErr != nil {
			return
		}
		// Written with a context of its own: what was scored before an
		// interrupt still gets stored.
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), StatementTimeout)
		defer wcancel()
		items := make([]schemas.ExperimentItem, len(batch))
		req := &coltracepb.ExportTraceServiceRequest{}
		for i, s := range batch {
			items[i] = s.item
			req.ResourceSpans = append(req.ResourceSpans, s.spans)
		}
		if err := InsertItems(wctx, d.Conn, items); err != nil {
			writeErr = err
			cancel(err)
			return
		}
		res.Scored += len(batch)
		for _, it := range items {
			if it.Error != "" {
				res.ChainErrs++
			}
			if it.ModelReturned != "" {
				returned[it.ModelReturned] = true
			}
		}
		if d.Spans != nil {
			if err := d.Spans.Export(wctx, req); err != nil {
				res.SpanErrs += len(batch)
				if d.Progress != nil {
					fmt.Fprintf(d.Progress, "\nwarning: %d experiment traces not produced: %v\n", len(batch), err)
				}
			}
		}
		bar.add(len(batch))
	}
	var batch []scored
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
loop:
	for {
		select {
		case s, ok := <-out:
			if !ok {
				break loop
			}
			batch = append(batch, s)
			if len(batch) >= flushRows {
				flush(batch)
				batch = nil
			}
		case <-tick.C:
			flush(batch)
			batch = nil
			bar.draw()
		}
	}
	flush(batch)
	bar.finish()

	if len(returned) > 0 {
		exp.Params = mergeParam(exp.Params, "models_returned", keys(returned))
	}
	exp.EndedAt = now().UTC()
	exp.UpdatedAt = exp.EndedAt
	cause := context.Cause(runCtx)
	switch {
	case writeErr != nil:
		exp.Status = StatusFailed
	case res.Skipped+res.Scored == res.Total:
		exp.Status = StatusDone
		cause = nil
	case ctx.Err() != nil:
		exp.Status = StatusInterrupted
		cause = fmt.Errorf("%w after %d of %d items: resume with --resume %s", ErrInterrupted, res.Skipped+res.Scored, res.Total, exp.ID)
	default:
		exp.Status = StatusInterrupted
		cause = fmt.Errorf("%w after %d of %d items: %w; resume with --resume %s", ErrInterrupted, res.Skipped+res.Scored, res.Total, cause, exp.ID)
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), StatementTimeout)
	defer wcancel()
	if err := WriteExperiment(wctx, d.Conn, exp); err != nil {
		return res, errors.Join(cause, err)
	}
	res.Experiment = exp
	if writeErr != nil {
		return res, writeErr
	}
	return res, cause
}

func resolveDataset(ctx context.Context, conn driver.Conn, name string, v uint32) (schemas.DatasetVersion, error) {
	if v == 0 {
		return datasets.Latest(ctx, conn, name)
	}
	return datasets.Version(ctx, conn, name, v)
}

// startExperiment writes a new experiment's row, or checks that a resumed
// one runs the same chain definition over the same dataset version.
func startExperiment(ctx context.Context, cfg RunConfig, d Deps, dv schemas.DatasetVersion, now time.Time) (schemas.Experiment, error) {
	evs := make([]string, len(d.Evaluators))
	for i, e := range d.Evaluators {
		evs[i] = e.Name() + "@" + e.Version()
	}
	if cfg.ID != "" {
		exp, err := ReadExperiment(ctx, d.Conn, cfg.ID)
		if err != nil {
			return exp, err
		}
		if exp.ID != cfg.ID {
			return exp, fmt.Errorf("%w: --resume takes an experiment id, %q is the name of %s", ErrNotFound, cfg.ID, exp.ID)
		}
		switch {
		case exp.ChainHash != cfg.Chain.Hash():
			return exp, fmt.Errorf("resuming experiment %s: it ran chain %s@%s with definition %.12s, this is %s with %.12s",
				exp.ID, exp.Chain, exp.ChainVersion, exp.ChainHash, cfg.Chain.Ref(), cfg.Chain.Hash())
		case exp.Dataset != dv.Name || (cfg.DatasetVersion != 0 && exp.DatasetVersion != dv.Version):
			return exp, fmt.Errorf("resuming experiment %s: it ran dataset %s, not %s", exp.ID,
				datasets.FormatRef(exp.Dataset, exp.DatasetVersion), datasets.FormatRef(dv.Name, dv.Version))
		case strings.Join(exp.Evaluators, ",") != strings.Join(evs, ","):
			return exp, fmt.Errorf("resuming experiment %s: it ran evaluators %s, this run has %s", exp.ID,
				strings.Join(exp.Evaluators, ", "), strings.Join(evs, ", "))
		}
		exp.Status = StatusRunning
		exp.UpdatedAt = now
		return exp, WriteExperiment(ctx, d.Conn, exp)
	}
	params := map[string]any{"concurrency": cfg.Concurrency, "call_timeout": cfg.CallTimeout.String()}
	for k, v := range cfg.Params {
		params[k] = v
	}
	pj, _ := json.Marshal(params)
	exp := schemas.Experiment{
		ID: newID(now), Name: cfg.Name, Chain: cfg.Chain.Name, ChainVersion: cfg.Chain.Version,
		ChainHash: cfg.Chain.Hash(), Definition: cfg.Chain.Definition(), PromptVersion: cfg.Chain.PromptVersion(),
		ModelRequested: cfg.Chain.Model, Endpoint: cfg.Endpoint, Dataset: dv.Name, DatasetVersion: dv.Version,
		Evaluators: evs, JudgeModel: cfg.JudgeModel, Repeats: uint16(cfg.Repeats), Params: string(pj),
		GitCommit: cfg.GitCommit, Status: StatusRunning, StartedAt: now, UpdatedAt: now,
	}
	return exp, WriteExperiment(ctx, d.Conn, exp)
}

// newID is "exp-" + UTC date and time + 6 random hex digits: sortable and
// unique enough for a person to type.
func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "exp-" + now.Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// runOne sends one item through the chain and its evaluators. A failed
// chain call is an item with Error set (recorded: the candidate failed it);
// an error return (the judge budget exhausted, ctx ended) stops the run and
// the item is not recorded.
func runOne(ctx context.Context, cfg RunConfig, d Deps, exp *schemas.Experiment, j job, now func() time.Time) (scored, error) {
	c := &call{exp: exp, chain: &cfg.Chain, row: j.row, repeat: j.repeat, endpoint: cfg.Endpoint}
	c.ids()
	item := schemas.ExperimentItem{
		ExperimentID: exp.ID, Row: j.row.Row, Repeat: uint16(j.repeat), Input: j.row.Input,
		Expected: j.row.Expected, Tags: j.row.Tags, TraceID: c.traceHex(),
	}
	msgs, err := cfg.Chain.Render(Variables(j.row))
	c.msgs = msgs
	c.start = now()
	if err != nil {
		c.err = fmt.Sprintf("rendering row %d: %v", j.row.Row, err)
	} else {
		cctx, ccancel := context.WithTimeout(ctx, cfg.CallTimeout)
		resp, err := d.Chat(cctx, openai.ChatCompletionRequest{Model: cfg.Chain.Model, Messages: msgs,
			Temperature: cfg.Chain.Temperature, MaxTokens: cfg.Chain.MaxTokens})
		ccancel()
		switch {
		case ctx.Err() != nil:
			return scored{}, ctx.Err()
		case err != nil:
			c.err = err.Error()
		case len(resp.Choices) == 0 || resp.Choices[0].Message.Content == nil:
			c.err = "the answer has no choices or no content"
		default:
			c.output = *resp.Choices[0].Message.Content
			c.model, c.respID = resp.Model, resp.ID
			if resp.Usage != nil {
				c.inTok, c.outTok = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
			}
		}
	}
	c.end = now()
	item.Output, item.ModelReturned, item.Error = c.output, c.model, c.err
	item.LatencyMS = float64(c.end.Sub(c.start).Microseconds()) / 1000
	item.PromptTokens, item.CompletionTokens = uint32(c.inTok), uint32(c.outTok)
	ok := 1.0
	if c.err != "" {
		ok = 0
	}
	item.Metrics, item.Values, item.ScoreErrors = []string{MetricChainOK}, []float64{ok}, []string{""}
	if c.err == "" {
		in := evaluators.Input{Input: j.row.Input, Output: c.output, Reference: j.row.Expected}
		if j.row.Context != "" {
			in.Context = []string{j.row.Context}
		}
		for _, ev := range d.Evaluators {
			rs, err := ev.Evaluate(ctx, in)
			if err != nil {
				return scored{}, fmt.Errorf("evaluator %s: %w", ev.Name(), err)
			}
			for _, r := range rs {
				item.Metrics = append(item.Metrics, r.Metric)
				item.Values = append(item.Values, r.Value)
				item.ScoreErrors = append(item.ScoreErrors, r.Error)
			}
		}
	}
	item.CreatedAt = now().UTC()
	return scored{item: item, spans: c.spans()}, nil
}

// progress draws "[#####.....] 40/100 items 3.2/s ETA 19s" on one line.
type progress struct {
	w            io.Writer
	total, done  int
	startDone    int
	start        time.Time
	now          func() time.Time
	mu           sync.Mutex
	lastDrawnLen int
}

func newProgress(w io.Writer, total, done int, now func() time.Time) *progress {
	p := &progress{w: w, total: total, done: done, startDone: done, start: now(), now: now}
	p.draw()
	return p
}

func (p *progress) add(n int) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
	p.draw()
}

func (p *progress) line() string {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = p.done * width / p.total
	}
	el := p.now().Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done-p.startDone) / el
	}
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d items %.1f/s ETA %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, rate, eta)
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.line()
	pad := ""
	if n := p.lastDrawnLen - len(l); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.lastDrawnLen = len(l)
	fmt.Fprint(p.w, "\r"+l+pad)
}

func (p *progress) finish() {
	if p.w == nil {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}

// Rubrics are the judge rubrics an experiment can name.
var Rubrics = map[string]evaluators.Rubric{
	"quality":      evaluators.QualityRubric,
	"correctness":  evaluators.CorrectnessRubric,
	"groundedness": evaluators.GroundednessRubric,
	"helpfulness":  evaluators.HelpfulnessRubric,
	"safety":       evaluators.SafetyRubric,
}

// BuildEvaluators makes the evaluators named in names: the reference
// metrics exact_match, token_f1, bleu, rouge_l; the guards pii, injection,
// refusal, json; and judge:RUBRIC (a pointwise judge through judge with
// cfg). An unknown name is an error listing the known ones.
func BuildEvaluators(names []string, judge evaluators.ChatClient, cfg evaluators.JudgeConfig, opts ...evaluators.JudgeOpt) ([]evaluators.Evaluator, error) {
	var evs []evaluators.Evaluator
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case n == "exact_match":
			evs = append(evs, evaluators.NewExactMatch())
		case n == "token_f1":
			evs = append(evs, evaluators.NewTokenF1())
		case n == "bleu":
			evs = append(evs, evaluators.NewBLEU(evaluators.BLEUOptions{Smoothing: evaluators.SmoothMethod1}))
		case n == "rouge_l":
			evs = append(evs, evaluators.NewRougeL())
		case n == "pii":
			evs = append(evs, evaluators.NewPIIGuard())
		case n == "injection":
			evs = append(evs, evaluators.InjectionGuard{})
		case n == "refusal":
			evs = append(evs, evaluators.RefusalGuard{})
		case n == "json":
			j, err := evaluators.NewJSONGuard(evaluators.JSONGuardOptions{AllowFence: true})
			if err != nil {
				return nil, err
			}
			evs = append(evs, j)
		case strings.HasPrefix(n, "judge:") || n == "judge":
			rubric := strings.TrimPrefix(strings.TrimPrefix(n, "judge"), ":")
			if rubric == "" {
				rubric = "quality"
			}
			r, ok := Rubrics[rubric]
			if !ok {
				return nil, fmt.Errorf("evaluator %q: unknown rubric %q (known: %s)", n, rubric, strings.Join(keys(Rubrics), ", "))
			}
			if judge == nil {
				return nil, fmt.Errorf("evaluator %q needs a judge endpoint (--judge-url and --judge-model)", n)
			}
			j, err := evaluators.NewPointwiseJudge(judge, r, cfg, opts...)
			if err != nil {
				return nil, fmt.Errorf("evaluator %q: %w", n, err)
			}
			evs = append(evs, j)
		default:
			return nil, fmt.Errorf("unknown evaluator %q (known: exact_match, token_f1, bleu, rouge_l, pii, injection, refusal, json, judge:RUBRIC)", n)
		}
	}
	return evs, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// mergeParam adds key to the params JSON object (a resumed run adds the
// models it saw to those recorded before).
func mergeParam(params, key string, models []string) string {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(params), &m)
	seen := map[string]bool{}
	if old, ok := m[key].([]any); ok {
		for _, v := range old {
			if s, ok := v.(string); ok {
				seen[s] = true
			}
		}
	}
	for _, s := range models {
		seen[s] = true
	}
	m[key] = keys(seen)
	b, err := json.Marshal(m)
	if err != nil {
		return params
	}
	return string(b)
}
