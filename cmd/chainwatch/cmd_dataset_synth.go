package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/experiments"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/schemas"
)

// datasetSynthesize is `chainwatch dataset synthesize`: an LLM writes
// evaluation items from seed examples (a dataset version, or production
// spans sampled from a window); they are imported as the next version of
// --name, tagged synthetic with the generator model and prompt version, and
// put under review (status pending) until `dataset review` approves them.
func datasetSynthesize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset synthesize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	name := fs.String("name", "", "dataset the items are imported into, as its next version (required)")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible API root of the generator (required)")
	model := fs.String("model", "", "generator model (required)")
	keyEnv := fs.String("api-key-env", "", "environment variable holding the generator's API key")
	count := fs.Int("count", 20, "items to generate")
	perCall := fs.Int("per-call", 5, "items asked for in one call")
	instructions := fs.String("instructions", "", "what the application does and what the items should test")
	fromDataset := fs.String("from-dataset", "", "seed examples: a dataset NAME[@VERSION]")
	fromSpans := fs.Bool("from-spans", false, "seed examples: production spans sampled from --from/--to (--app, --chain)")
	from := fs.String("from", "", "window start (RFC 3339) for --from-spans")
	to := fs.String("to", "", "window end for --from-spans")
	app := fs.String("app", "", "only spans of this app (--from-spans)")
	chain := fs.String("chain", "", "only spans of this chain (--from-spans)")
	seeds := fs.Int("seeds", 10, "how many seed examples to show the generator")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	if err := datasets.ValidateName(*name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	if (*fromDataset == "") == !*fromSpans {
		return errors.New("give exactly one seed source: --from-dataset NAME[@VERSION] or --from-spans")
	}
	if *model == "" {
		return errors.New("--model is required")
	}
	if *seeds < 1 {
		return fmt.Errorf("--seeds %d: want at least 1", *seeds)
	}
	base, err := apiRoot(*endpoint)
	if err != nil {
		return fmt.Errorf("--endpoint: %w", err)
	}
	var opts []openai.Opt
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
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	var ex []experiments.Example
	var source string
	if *fromDataset != "" {
		n, v, err := datasets.ParseRef(*fromDataset)
		if err != nil {
			return fmt.Errorf("--from-dataset: %w", err)
		}
		var dv schemas.DatasetVersion
		if v == 0 {
			dv, err = datasets.Latest(ctx, conn, n)
		} else {
			dv, err = datasets.Version(ctx, conn, n, v)
		}
		if err != nil {
			return err
		}
		rows, err := datasets.Head(ctx, conn, dv.Name, dv.Version, *seeds)
		if err != nil {
			return err
		}
		for _, r := range rows {
			ex = append(ex, experiments.Example{Input: r.Input, Expected: r.Expected})
		}
		source = "dataset:" + datasets.FormatRef(dv.Name, dv.Version)
	} else {
		f, t, err := tuningWindow(*from, *to)
		if err != nil {
			return err
		}
		spans, err := query.NewReader(conn).TuningSpans(ctx, query.TuningFilter{From: f, To: t, App: *app, Chain: *chain})
		if err != nil {
			return err
		}
		// A deterministic sample: the spans with the smallest hash of
		// their ids, so the same window gives the same seeds.
		sort.Slice(spans, func(i, j int) bool { return spanHash(spans[i]) < spanHash(spans[j]) })
		for _, s := range spans {
			if len(ex) == *seeds {
				break
			}
			ex = append(ex, experiments.Example{Input: s.Input, Expected: s.Output})
		}
		source = fmt.Sprintf("spans:%s..%s", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	if len(ex) == 0 {
		return errors.New("no seed examples found")
	}
	rows, rep, err := experiments.Synthesize(ctx, client.ChatCompletion, experiments.SynthConfig{Model: *model, Count: *count,
		PerCall: *perCall, Instructions: *instructions, SeedSource: source}, ex)
	if err != nil {
		return err
	}
	v, err := datasets.Import(ctx, conn, *name, rows, datasets.Meta{Source: "synthesize:" + *model,
		Description: fmt.Sprintf("synthetic: generator %s, prompt %s, seeds %s", *model, experiments.SynthPromptVersion, source)})
	if err != nil {
		return err
	}
	if err := experiments.WriteReview(ctx, conn, schemas.DatasetReview{Name: v.Name, Version: v.Version, Status: experiments.ReviewPending,
		Synthetic: true, GeneratorModel: *model, PromptVersion: experiments.SynthPromptVersion, UpdatedAt: time.Now().UTC().Truncate(time.Second)}); err != nil {
		return fmt.Errorf("imported %s but could not put it under review: %w", datasets.FormatRef(v.Name, v.Version), err)
	}
	fmt.Fprintf(stdout, "synthesized %d items (%d calls, %d duplicates and %d malformed dropped) as %s, status pending: review with 'chainwatch dataset review %s --status approved'\n",
		len(rows), rep.Calls, rep.Duplicates, rep.Malformed, datasets.FormatRef(v.Name, v.Version), datasets.FormatRef(v.Name, v.Version))
	return nil
}

func spanHash(s query.TuningSpan) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s.TraceID + "/" + s.SpanID))
	return h.Sum64()
}

func tuningWindow(from, to string) (time.Time, time.Time, error) {
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, errors.New("--from and --to are required")
	}
	f, err := datasetTimeFlag("from", from)
	if err != nil {
		return f, f, err
	}
	t, err := datasetTimeFlag("to", to)
	if err != nil {
		return f, t, err
	}
	return f, t, nil
}

// datasetReview is `chainwatch dataset review NAME@VERSION [--status S]`:
// shows or changes a version's review status.
func datasetReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset review", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	status := fs.String("status", "", "new status: approved, rejected or pending (default: show the current one)")
	reviewer := fs.String("reviewer", os.Getenv("USER"), "who reviewed")
	note := fs.String("note", "", "free text kept with the review")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: dataset review NAME@VERSION [--status approved|rejected|pending]")
	}
	name, version, err := datasets.ParseRef(pos[0])
	if err != nil {
		return err
	}
	if version == 0 {
		return fmt.Errorf("%s: name the version under review (NAME@VERSION)", pos[0])
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := datasets.Version(ctx, conn, name, version); err != nil {
		return err
	}
	if *status == "" {
		r, found, err := experiments.ReadReview(ctx, conn, name, version)
		if err != nil {
			return err
		}
		if !found {
			fmt.Fprintf(stdout, "%s: not under review\n", pos[0])
			return nil
		}
		return datasetJSON(stdout, r)
	}
	r, err := experiments.Review(ctx, conn, name, version, *status, *reviewer, *note, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s by %s\n", datasets.FormatRef(name, version), r.Status, r.Reviewer)
	return nil
}

// datasetExportTuning is `chainwatch dataset export --format sft|preference`:
// JSONL for fine-tuning from production spans joined with user feedback and
// judge scores, each row with its lineage.
func datasetExportTuning(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset export (tuning)", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	format := fs.String("format", "", "sft or preference")
	out := fs.String("out", "", "output .jsonl file (required)")
	from := fs.String("from", "", "window start (RFC 3339) (required)")
	to := fs.String("to", "", "window end (required)")
	app := fs.String("app", "", "only this app")
	chain := fs.String("chain", "", "only this chain")
	kind := fs.String("kind", "llm", "component kind of the spans")
	var o experiments.TuningOptions
	fs.Float64Var(&o.MinFeedback, "min-feedback", 1, "sft: keep a span whose trace has feedback only when its mean score is at least this")
	fs.StringVar(&o.JudgeMetric, "judge-metric", "", "a judge metric (eval_scores) that must reach --min-judge (sft) or orders answers (preference --prefer judge)")
	fs.Float64Var(&o.MinJudge, "min-judge", 4, "sft: least value of --judge-metric")
	fs.BoolVar(&o.IncludeUnrated, "include-unrated", false, "sft: also keep spans with no feedback and no judge score")
	fs.StringVar(&o.Prefer, "prefer", "feedback", "preference: the signal that orders answers to the same prompt: feedback or judge")
	fs.Float64Var(&o.MinGap, "min-gap", 0, "preference: the chosen answer's signal must exceed the rejected one's by more than this")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q (tuning exports read production spans, not a dataset)", pos)
	}
	if *format != "sft" && *format != "preference" {
		return fmt.Errorf("--format %q: want sft or preference", *format)
	}
	if *out == "" || !strings.HasSuffix(*out, ".jsonl") {
		return errors.New("--out FILE.jsonl is required")
	}
	f, t, err := tuningWindow(*from, *to)
	if err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	spans, err := query.NewReader(conn).TuningSpans(ctx, query.TuningFilter{From: f, To: t, App: *app, Chain: *chain, Kind: *kind})
	if err != nil {
		return err
	}
	var n int
	write := func(w io.Writer) error {
		if *format == "sft" {
			rows := experiments.BuildSFT(spans, o)
			n = len(rows)
			return experiments.WriteJSONL(w, rows)
		}
		rows, err := experiments.BuildPreference(spans, o)
		if err != nil {
			return err
		}
		n = len(rows)
		return experiments.WriteJSONL(w, rows)
	}
	if err := writeFileAtomic(*out, write); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d %s rows from %d spans to %s\n", n, *format, len(spans), *out)
	return nil
}
