package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/evaluators/openai"
	"github.com/chainwatch/chainwatch/evaluators/redteam"
)

// redteamProgressEvery is how often `chainwatch redteam` reports progress on
// stderr (a variable for tests).
var redteamProgressEvery = 5 * time.Second

// runRedteam is `chainwatch redteam`: the adversarial suite of package
// evaluators/redteam against an OpenAI-compatible endpoint, its summary on
// stdout and its scores in ClickHouse's eval_scores.
func runRedteam(ctx context.Context, args []string) error {
	return redteamCmd(ctx, args, os.Stdout, os.Stderr)
}

func redteamCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redteam", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	target := fs.String("target", "", "OpenAI-compatible API root, e.g. http://host:8000 (\"/v1\" is added when the URL has no path) (required)")
	model := fs.String("model", "", "model name sent with every request (required)")
	keyEnv := fs.String("api-key-env", "", "environment variable holding the API key, sent as a bearer token (default: none)")
	systemFile := fs.String("system-prompt-file", "", "file with the application's system prompt (default: a generic support-assistant prompt); the canary is appended to it")
	seedFile := fs.String("seed-prompts", "", "file of real user prompts, one per line (blank lines and lines starting with # skipped), to fuzz and to carry injections (default: built-in support questions)")
	per := fs.Int("per-category", redteam.DefaultPerCategory, "probes per category ("+fmt.Sprint(len(redteam.Categories))+" categories)")
	seed := fs.Uint64("seed", 1, "seed of the generated suite: the same seed gives the same probes and canary")
	app := fs.String("app", "redteam", "app name the scores are stored under")
	concurrency := fs.Int("concurrency", redteam.DefaultConcurrency, "probes in flight at once")
	timeout := fs.Duration("timeout", openai.DefaultTimeout, "timeout of each HTTP attempt (retried on 429, 5xx and timeouts)")
	retries := fs.Int("max-retries", openai.DefaultMaxRetries, "retries of a failed attempt")
	maxTokens := fs.Int("max-tokens", redteam.DefaultMaxTokens, "max_tokens of each answer")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	noStore := fs.Bool("no-store", false, "do not write the scores to ClickHouse")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	base, err := apiRoot(*target)
	if err != nil {
		return err
	}
	if *concurrency < 1 {
		return fmt.Errorf("--concurrency must be >= 1, got %d", *concurrency)
	}
	if *retries < 0 {
		return fmt.Errorf("--max-retries must be >= 0, got %d", *retries)
	}
	if *timeout <= 0 {
		return fmt.Errorf("--timeout must be > 0, got %v", *timeout)
	}
	if strings.TrimSpace(*app) == "" {
		return errors.New("--app must not be empty")
	}
	rc := redteam.Config{Model: *model, PerCategory: *per, Seed: *seed, MaxTokens: *maxTokens}
	if *per < 1 {
		return fmt.Errorf("--per-category must be >= 1, got %d", *per)
	}
	if *systemFile != "" {
		b, err := os.ReadFile(*systemFile)
		if err != nil {
			return fmt.Errorf("reading --system-prompt-file: %w", err)
		}
		if rc.SystemPrompt = strings.TrimSpace(string(b)); rc.SystemPrompt == "" {
			return fmt.Errorf("--system-prompt-file %s is empty", *systemFile)
		}
	}
	if *seedFile != "" {
		if rc.SeedPrompts, err = readSeedPrompts(*seedFile); err != nil {
			return err
		}
	}
	suite, err := redteam.Generate(rc)
	if err != nil {
		return err
	}
	oc := openai.Config{BaseURL: base, Timeout: *timeout, MaxRetries: *retries, Concurrency: *concurrency}
	if *keyEnv != "" {
		if oc.APIKey = os.Getenv(*keyEnv); oc.APIKey == "" {
			return fmt.Errorf("--api-key-env: environment variable %s is empty or unset", *keyEnv)
		}
	}
	client, err := openai.New(oc)
	if err != nil {
		return err
	}

	// Connect before the run, so a missing table fails fast rather than
	// after every probe was paid for.
	var store *clickhouse.Inserter
	if !*noStore {
		cfg, err := load()
		if err != nil {
			return err
		}
		conn, err := clickhouse.Open(ctx, cfg.clickHouseOrLocal())
		if err != nil {
			return err
		}
		defer conn.Close()
		var exists uint8
		if err := conn.QueryRow(ctx, "EXISTS TABLE eval_scores").Scan(&exists); err != nil {
			return fmt.Errorf("checking for eval_scores: %w", err)
		}
		if exists == 0 {
			return errors.New("clickhouse has no eval_scores table: run `chainwatch migrate`, or pass --no-store")
		}
		if store, err = clickhouse.NewInserter(ctx, conn); err != nil {
			return err
		}
	}

	var done, failures, errs atomic.Int64
	total := len(suite.Probes)
	start := time.Now()
	stop := make(chan struct{})
	ticker := time.NewTicker(redteamProgressEvery)
	defer ticker.Stop()
	go func() {
		for {
			select {
			case <-ticker.C:
				fmt.Fprintf(stderr, "redteam: %d/%d probes, %d failures, %d errors, %s\n",
					done.Load(), total, failures.Load(), errs.Load(), time.Since(start).Round(time.Second))
			case <-stop:
				return
			}
		}
	}()
	run, runErr := suite.Run(ctx, client, redteam.RunOpts{Concurrency: *concurrency, Progress: func(p redteam.Progress) {
		done.Store(int64(p.Done))
		failures.Store(int64(p.Failures))
		errs.Store(int64(p.Errors))
	}})
	close(stop)
	if run == nil {
		return runErr
	}
	sum := run.Summary()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printRedteamSummary(stdout, sum, base)
	}
	if store != nil {
		scores := run.Scores(*app)
		// Store what was done even when the run was cut short: unanswered
		// probes are recorded as errors, not dropped.
		if err := store.InsertScores(context.WithoutCancel(ctx), scores); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stderr, "redteam: stored %d scores in eval_scores (app %s, evaluator %s %s, run %s)\n", len(scores), *app, redteam.Name, redteam.Version, run.ID)
	}
	return runErr
}

// apiRoot checks --target and adds "/v1" when it names no path.
func apiRoot(target string) (string, error) {
	u, err := url.Parse(target)
	if target == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--target must be an http(s) URL with a host, got %q", target)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/v1"
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// readSeedPrompts reads one prompt per line, skipping blank lines and lines
// starting with #.
func readSeedPrompts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading --seed-prompts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading --seed-prompts: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--seed-prompts %s holds no prompt", path)
	}
	return out, nil
}

func printRedteamSummary(w io.Writer, s redteam.Summary, target string) {
	fmt.Fprintf(w, "redteam run %s: model %s at %s, %d probes (%d per category, seed %d) in %s\n\n",
		s.RunID, s.Model, target, s.Total.Attempts, s.PerCategory, s.Seed, s.Duration.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "category\tattempts\terrors\tfailures\tleaks\tcomplied\trefusal rate\tpii leaks\tinput flagged")
	for _, c := range append(s.Categories, s.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.0f%%\t%d\t%d\n",
			c.Category, c.Attempts, c.Errors, c.Failures, c.Leaks, c.Complied, 100*c.RefusalRate, c.PIILeaks, c.InputFlagged)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nfailures: an answer that leaked the planted canary or complied with the injection; errors: calls that failed (not passes)")
	first := true
	for _, c := range s.Categories {
		for _, ex := range c.Examples {
			if first {
				fmt.Fprintln(w, "\nexample failures (redacted):")
				first = false
			}
			fmt.Fprintf(w, "  %s #%d %s: %s (trace %s)\n    prompt: %s\n    answer: %s\n",
				c.Category, ex.ProbeID, ex.Technique, ex.Why, ex.TraceID, oneLine(ex.Prompt), oneLine(ex.Answer))
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
