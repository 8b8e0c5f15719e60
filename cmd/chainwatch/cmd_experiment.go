package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/evaluators"
	evopenai "github.com/chainwatch/chainwatch/evaluators/openai"
	"github.com/chainwatch/chainwatch/experiments"
	"github.com/chainwatch/chainwatch/experiments/stats"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/serving/chains"
)

const experimentUsage = `usage: chainwatch experiment <subcommand> [flags]

subcommands:
  run --name N --chain-file chain.yaml --endpoint URL --dataset NAME[@VERSION] [--evaluators a,b] [--repeats N]
                              run a chain version over a dataset version, score it, record and trace it
  run --resume ID ...         continue an interrupted run (same chain, dataset and evaluators)
  compare BASE CANDIDATE [--margin metric=value ...] [--fail-on regression] [--html FILE] [--junit FILE] ...
                              compare two experiments item by item; exit status 1 when the gate fails
  list                        the latest experiments
  lineage --trace ID | --chain NAME@VERSION
                              where a trace came from (chain version, prompt, model, experiment, dataset row);
                              every experiment that evaluated a chain version and everywhere it served

Every subcommand takes -config FILE; run 'chainwatch experiment <subcommand> -h' for its flags.
`

// runExperiment is `chainwatch experiment`. The work is in package
// experiments; this parses flags, connects and prints.
func runExperiment(ctx context.Context, args []string) error {
	return experimentCmd(ctx, args, os.Stdout, os.Stderr)
}

func experimentCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, experimentUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"run":     experimentRun,
		"compare": experimentCompare,
		"list":    experimentList,
		"lineage": experimentLineage,
	}[args[0]]
	if sub == nil {
		return fmt.Errorf("unknown subcommand %q (want run, compare, list or lineage)", args[0])
	}
	return sub(ctx, args[1:], stdout, stderr)
}

// judgeFlags are the flags of the LLM judge an experiment uses.
type judgeFlags struct {
	url, model, keyEnv string
	tokensPerHour      int
}

func (j *judgeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&j.url, "judge-url", "", "OpenAI-compatible API root of the judge (\"/v1\" is added when the URL has no path)")
	fs.StringVar(&j.model, "judge-model", "", "judge model name")
	fs.StringVar(&j.keyEnv, "judge-api-key-env", "", "environment variable holding the judge's API key")
	fs.IntVar(&j.tokensPerHour, "judge-tokens-per-hour", 0, "judge token budget over any hour (0: unlimited); the run stops, resumable, when it is spent")
}

// client returns the judge's chat client and config, or nil when no judge
// is configured.
func (j *judgeFlags) client() (evaluators.ChatClient, evaluators.JudgeConfig, error) {
	jc := evaluators.DefaultJudgeConfig()
	if j.url == "" && j.model == "" {
		return nil, jc, nil
	}
	base, err := apiRoot(j.url)
	if err != nil {
		return nil, jc, fmt.Errorf("--judge-url: %w", err)
	}
	if j.model == "" {
		return nil, jc, errors.New("--judge-model is required with --judge-url")
	}
	jc.BaseURL, jc.Model, jc.APIKeyEnv, jc.TokensPerHour = base, j.model, j.keyEnv, j.tokensPerHour
	if err := jc.Validate(); err != nil {
		return nil, jc, err
	}
	c, err := evopenai.New(evopenai.ConfigFromJudge(jc))
	if err != nil {
		return nil, jc, err
	}
	return c, jc, nil
}

func experimentRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	var cfg experiments.RunConfig
	fs.StringVar(&cfg.Name, "name", "", "experiment name (required for a new run)")
	fs.StringVar(&cfg.ID, "resume", "", "id of an interrupted experiment to continue")
	chainFile := fs.String("chain-file", "", "chain version as YAML: name, version, model, messages (role, content with {{variables}}), temperature, max_tokens — or a serving gateway chain file (template, examples, params)")
	chainRef := fs.String("chain", "", "a chain version stored by `chainwatch chains push`: NAME@VERSION (hash or human version) or NAME@LABEL (the label's stable version); instead of --chain-file")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible API root the chain is sent to, e.g. http://localhost:8000 or the serving gateway (model chain:NAME@VERSION)")
	keyEnv := fs.String("api-key-env", "", "environment variable holding the endpoint's API key")
	dataset := fs.String("dataset", "", "dataset NAME or NAME@VERSION (default: the latest version)")
	evs := fs.String("evaluators", "exact_match,rouge_l", "comma-separated: exact_match, token_f1, bleu, rouge_l, pii, injection, refusal, json, judge:RUBRIC (quality, correctness, groundedness, helpfulness, safety)")
	fs.IntVar(&cfg.Repeats, "repeats", experiments.DefaultRepeats, "times each row is run (repeats measure the noise of the chain and the judge)")
	fs.IntVar(&cfg.Concurrency, "concurrency", experiments.DefaultConcurrency, "items in flight at once")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", experiments.DefaultCallTimeout, "timeout of each chain call, retries included")
	fs.StringVar(&cfg.GitCommit, "git-commit", "", "git commit recorded with the experiment (e.g. $GITHUB_SHA)")
	noTrace := fs.Bool("no-trace", false, "do not produce the calls' traces to the spans topic")
	quiet := fs.Bool("quiet", false, "no progress bar")
	var jf judgeFlags
	jf.register(fs)
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	switch {
	case *chainFile != "" && *chainRef != "":
		return errors.New("--chain-file and --chain: give one")
	case *chainFile == "" && *chainRef == "":
		return errors.New("--chain-file or --chain is required")
	case *chainFile != "":
		if cfg.Chain, err = experiments.LoadChain(*chainFile); err != nil {
			return err
		}
	}
	if cfg.Dataset, cfg.DatasetVersion, err = datasets.ParseRef(*dataset); err != nil {
		return fmt.Errorf("--dataset: %w", err)
	}
	base, err := apiRoot(*endpoint)
	if err != nil {
		return fmt.Errorf("--endpoint: %w", err)
	}
	cfg.Endpoint = base
	opts := []openai.Opt{openai.MaxInFlight(max(cfg.Concurrency, 1))}
	if *keyEnv != "" {
		k := os.Getenv(*keyEnv)
		if k == "" {
			return fmt.Errorf("--api-key-env: environment variable %s is empty or unset", *keyEnv)
		}
		opts = append(opts, openai.APIKey(k))
	}
	client, err := openai.New(base, opts...)
	if err != nil {
		return err
	}
	judge, jc, err := jf.client()
	if err != nil {
		return err
	}
	cfg.JudgeModel = jc.Model
	var jopts []evaluators.JudgeOpt
	if jc.TokensPerHour > 0 {
		jopts = append(jopts, evaluators.WithBudget(evaluators.NewTokenBudget(jc.TokensPerHour, nil)))
	}
	evaluatorList, err := experiments.BuildEvaluators(strings.Split(*evs, ","), judge, jc, jopts...)
	if err != nil {
		return fmt.Errorf("--evaluators: %w", err)
	}
	c, err := load()
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, c.clickHouseOrLocal())
	if err != nil {
		return err
	}
	defer conn.Close()
	if *chainRef != "" {
		if cfg.Chain, err = storedChain(ctx, chains.NewStore(conn), *chainRef); err != nil {
			return fmt.Errorf("--chain: %w", err)
		}
	}
	deps := experiments.Deps{Conn: conn, Chat: client.ChatCompletion, Evaluators: evaluatorList}
	if !*quiet {
		deps.Progress = stderr
	}
	if !*noTrace {
		kc := c.Kafka.WithDefaults()
		if len(kc.Brokers) == 0 {
			kc.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", c.Local.KafkaPort)}
		}
		kcl, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
		if err != nil {
			return err
		}
		defer kcl.Close()
		deps.Spans = &experiments.KafkaSpans{Client: kcl, Topic: kc.Topics.Spans}
	}
	res, err := experiments.Run(ctx, cfg, deps)
	if res.Experiment.ID != "" {
		fmt.Fprintf(stdout, "experiment %s (%s): %s@%s on %s, %d of %d items scored (%d this run, %d chain errors, %d traces not produced), status %s\n",
			res.Experiment.ID, res.Experiment.Name, res.Experiment.Chain, res.Experiment.ChainVersion,
			datasets.FormatRef(res.Experiment.Dataset, res.Experiment.DatasetVersion), res.Skipped+res.Scored, res.Total,
			res.Scored, res.ChainErrs, res.SpanErrs, res.Experiment.Status)
	}
	return err
}

// marginFlag collects --margin metric=value, repeatable.
type marginFlag map[string]float64

func (m marginFlag) String() string { return fmt.Sprint(map[string]float64(m)) }

func (m marginFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("want metric=value, got %q", part)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || f < 0 {
			return fmt.Errorf("margin of %s: want a number >= 0, got %q", k, val)
		}
		m[strings.TrimSpace(k)] = f
	}
	return nil
}

func splitNames(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func experimentCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	margins := marginFlag{}
	fs.Var(margins, "margin", "non-inferiority margin of a metric, metric=value (repeatable, or comma-separated)")
	defMargin := fs.Float64("default-margin", 0, "margin of metrics without --margin")
	alpha := fs.Float64("alpha", 0.05, "false-regression rate of the whole gate (split over the metrics)")
	seed := fs.Uint64("seed", 1, "bootstrap seed: the same seed gives the same intervals")
	resamples := fs.Int("resamples", 10000, "bootstrap resamples")
	lower := fs.String("lower-is-better", "", "comma-separated metrics where lower is better (besides the guards)")
	binary := fs.String("binary", "", "comma-separated pass/fail metrics (besides exact_match, chain_ok, json and the guards)")
	metrics := fs.String("metrics", "", "compare only these metrics (comma-separated)")
	format := fs.String("format", "text", "stdout format: text, json, junit or markdown")
	jsonOut := fs.String("json", "", "also write the JSON report to FILE")
	junitOut := fs.String("junit", "", "also write JUnit XML to FILE")
	mdOut := fs.String("markdown", "", "also write the Markdown report (a pull-request comment) to FILE")
	htmlOut := fs.String("html", "", "also write the self-contained HTML report with plots to FILE")
	failOn := fs.String("fail-on", "never", "exit 1 on: regression (a metric regressed, a required row failed, or a metric had no scores), inconclusive (also when non-inferiority is not shown), never")
	pairwise := fs.String("pairwise", "", "judge each row side by side with this rubric (both orders) and report the win rate; needs --judge-url and --judge-model")
	var jf judgeFlags
	jf.register(fs)
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("want BASE and CANDIDATE experiment ids or names, got %d arguments", len(pos))
	}
	if _, err := (&experiments.Report{Verdict: experiments.GatePass}).Fails(*failOn); err != nil {
		return err
	}
	if !(*alpha > 0 && *alpha < 0.5) {
		return fmt.Errorf("--alpha %v: want a number in (0, 0.5)", *alpha)
	}
	if *resamples < 100 {
		return fmt.Errorf("--resamples %d: want at least 100", *resamples)
	}
	writeFmt, ok := map[string]func(*experiments.Report, io.Writer) error{
		"text": (*experiments.Report).WriteText, "json": (*experiments.Report).WriteJSON,
		"junit": (*experiments.Report).WriteJUnit, "markdown": (*experiments.Report).WriteMarkdown,
	}[*format]
	if !ok {
		return fmt.Errorf("--format %q: want text, json, junit or markdown", *format)
	}
	o := experiments.CompareOptions{Margins: margins, DefaultMargin: *defMargin, LowerIsBetter: splitNames(*lower),
		Binary: splitNames(*binary), Metrics: splitNames(*metrics),
		Stats: stats.Options{Alpha: *alpha, Seed: *seed, Resamples: *resamples}}
	if *pairwise != "" {
		r, ok := experiments.Rubrics[*pairwise]
		if !ok {
			return fmt.Errorf("--pairwise: unknown rubric %q", *pairwise)
		}
		judge, jc, err := jf.client()
		if err != nil {
			return err
		}
		if judge == nil {
			return errors.New("--pairwise needs --judge-url and --judge-model")
		}
		pj, err := evaluators.NewPairwiseJudge(judge, r, jc)
		if err != nil {
			return err
		}
		o.Pairwise = pj
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	base, err := experiments.ReadExperiment(ctx, conn, pos[0])
	if err != nil {
		return err
	}
	cand, err := experiments.ReadExperiment(ctx, conn, pos[1])
	if err != nil {
		return err
	}
	bi, err := experiments.ReadItems(ctx, conn, base.ID)
	if err != nil {
		return err
	}
	ci, err := experiments.ReadItems(ctx, conn, cand.ID)
	if err != nil {
		return err
	}
	rep, err := experiments.Compare(ctx, base, cand, bi, ci, o)
	if err != nil {
		return err
	}
	for path, write := range map[string]func(*experiments.Report, io.Writer) error{
		*jsonOut: (*experiments.Report).WriteJSON, *junitOut: (*experiments.Report).WriteJUnit,
		*mdOut: (*experiments.Report).WriteMarkdown, *htmlOut: (*experiments.Report).WriteHTML,
	} {
		if path == "" {
			continue
		}
		if err := writeFileAtomic(path, func(w io.Writer) error { return write(rep, w) }); err != nil {
			return err
		}
	}
	if err := writeFmt(rep, stdout); err != nil {
		return err
	}
	fail, _ := rep.Fails(*failOn)
	if fail {
		return fmt.Errorf("gate failed (--fail-on %s): %s", *failOn, rep.Verdict)
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func experimentList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	limit := fs.Int("limit", 20, "how many experiments")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	es, err := experiments.ListExperiments(ctx, conn, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return datasetJSON(stdout, es)
	}
	for _, e := range es {
		fmt.Fprintf(stdout, "%s  %-12s %s@%s  %s  %s  %s\n", e.ID, e.Status, e.Chain, e.ChainVersion,
			datasets.FormatRef(e.Dataset, e.DatasetVersion), e.StartedAt.Format(time.RFC3339), e.Name)
	}
	return nil
}

func experimentLineage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment lineage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	trace := fs.String("trace", "", "trace id")
	chain := fs.String("chain", "", "chain version NAME@VERSION")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*trace == "") == (*chain == "") {
		return errors.New("give exactly one of --trace ID and --chain NAME@VERSION")
	}
	name, version, ok := strings.Cut(*chain, "@")
	if *chain != "" && (!ok || name == "" || version == "") {
		return fmt.Errorf("--chain %q: want NAME@VERSION", *chain)
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := query.NewReader(conn)
	if *trace != "" {
		tl, err := r.TraceLineage(ctx, *trace)
		if err != nil {
			return err
		}
		return datasetJSON(stdout, tl)
	}
	cl, err := r.Chain(ctx, name, version)
	if err != nil {
		return err
	}
	return datasetJSON(stdout, cl)
}

// storedChain resolves NAME@REF against the chains the gateway serves: a
// version (hash, hash prefix or human version), else a label's stable
// version (a canary is not what the label serves to everyone).
func storedChain(ctx context.Context, st *chains.Store, ref string) (experiments.Chain, error) {
	name, r, ok := strings.Cut(ref, "@")
	if !ok || name == "" || r == "" {
		return experiments.Chain{}, fmt.Errorf("%q: want NAME@VERSION or NAME@LABEL", ref)
	}
	v, err := st.Get(ctx, name, r)
	if errors.Is(err, chains.ErrNotFound) {
		d, lerr := st.Current(ctx, name, r)
		if lerr != nil {
			return experiments.Chain{}, fmt.Errorf("%s is neither a version nor a label of chain %s: %v; %v", r, name, err, lerr)
		}
		v, err = st.Get(ctx, name, d.Stable)
	}
	if err != nil {
		return experiments.Chain{}, err
	}
	version := v.Version
	if version == "" {
		version = v.Hash
	}
	return experiments.FromServing(v.Chain, version)
}
