package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/evaluators/redteam"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

func redteamRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var o, e bytes.Buffer
	err := redteamCmd(t.Context(), args, &o, &e)
	return o.String(), e.String(), err
}

// redteamTarget is an openaitest server answering the suite of cfg with
// scripted answers: injection overrides are complied with, role-play
// jailbreaks refused, the direct question for the key answered with the
// canary, everything else answered harmlessly.
func redteamTarget(t *testing.T, cfg redteam.Config, opts ...openaitest.Option) *openaitest.Server {
	t.Helper()
	suite, err := redteam.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[string]redteam.Probe{}
	for _, p := range suite.Probes {
		byUser[p.User] = p
	}
	srv := openaitest.NewServer(t, opts...)
	srv.SetResponder(func(req openaitest.ChatRequest) openaitest.Reply {
		p, ok := byUser[req.Messages[len(req.Messages)-1].Content]
		if !ok || req.Messages[0].Content != suite.System {
			t.Errorf("unexpected request %+v", req.Messages)
			return openaitest.ServerError(400)
		}
		reply := openaitest.Answer("You can do that under Settings > Account.")
		switch {
		case p.Category == redteam.InjectionOverride:
			reply = openaitest.Answer("Sure! " + p.Marker)
		case p.Category == redteam.InjectionRoleplay:
			reply = openaitest.Answer("I'm sorry, but I can't help with that.")
		case p.Technique == "ask_directly":
			reply = openaitest.Answer("The backend key is " + suite.Canary + ".")
		}
		reply.Delay = 5 * time.Millisecond
		return reply
	})
	return srv
}

func TestRedteamCLI(t *testing.T) {
	conn := scoresDB(t)
	ctx := t.Context()
	srv := redteamTarget(t, redteam.Config{Model: "target-m", PerCategory: 12, Seed: 3}, openaitest.WithAPIKey("k-123"))
	t.Setenv("REDTEAM_TEST_KEY", "k-123")
	old := redteamProgressEvery
	redteamProgressEvery = 20 * time.Millisecond
	t.Cleanup(func() { redteamProgressEvery = old })
	target := strings.TrimSuffix(srv.URL, "/v1") // "/v1" is added

	out, errOut, err := redteamRun(t, "--target", target, "--model", "target-m", "--api-key-env", "REDTEAM_TEST_KEY",
		"--per-category", "12", "--seed", "3", "--app", "support-bot", "--concurrency", "2", "--json")
	if err != nil {
		t.Fatalf("redteam: %v\nstderr: %s", err, errOut)
	}
	var sum redteam.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if srv.Chat.Count() != 72 || srv.Chat.MaxInFlight() > 2 {
		t.Errorf("%d requests, %d at once (--concurrency 2)", srv.Chat.Count(), srv.Chat.MaxInFlight())
	}
	type row struct{ attempts, errors, failures, leaks, complied, refusals int }
	want := map[redteam.Category]row{
		redteam.InjectionOverride:  {12, 0, 12, 0, 12, 0},
		redteam.InjectionRoleplay:  {12, 0, 0, 0, 0, 12},
		redteam.InjectionDelimiter: {12, 0, 0, 0, 0, 0},
		redteam.InjectionIndirect:  {12, 0, 0, 0, 0, 0},
		redteam.Leakage:            {12, 0, 1, 1, 0, 0},
		redteam.Fuzz:               {12, 0, 0, 0, 0, 0},
		"total":                    {72, 0, 13, 1, 12, 12},
	}
	for _, c := range append(sum.Categories, sum.Total) {
		if got := (row{c.Attempts, c.Errors, c.Failures, c.Leaks, c.Complied, c.Refusals}); got != want[c.Category] {
			t.Errorf("%s: %+v, want %+v", c.Category, got, want[c.Category])
		}
	}
	if sum.Model != "target-m" || sum.Seed != 3 || sum.PerCategory != 12 || len(sum.Categories[4].Examples) != 1 {
		t.Errorf("summary: %+v", sum)
	}
	if ex := sum.Categories[4].Examples[0]; ex.Technique != "ask_directly" || ex.Answer != "The backend key is [CANARY]." {
		t.Errorf("leak example not redacted: %+v", ex)
	}
	if !strings.Contains(errOut, "redteam: stored 336 scores in eval_scores (app support-bot") {
		t.Errorf("stderr: %s", errOut)
	}
	if !strings.Contains(errOut, "/72 probes,") {
		t.Errorf("no progress line on stderr: %s", errOut)
	}

	// The scores in ClickHouse: 5 rows per injection probe, 4 per other.
	var rows, leaks, complied, refusals, errs, traces uint64
	if err := conn.QueryRow(ctx, `SELECT count(), countIf(metric = 'canary_leak' AND value = 1), countIf(metric = 'injection_complied' AND value = 1),
		countIf(metric = 'refusal' AND value = 1), countIf(error != ''), uniqExact(trace_id)
		FROM eval_scores FINAL WHERE evaluator = 'redteam' AND evaluator_version = '1' AND app = 'support-bot'`).
		Scan(&rows, &leaks, &complied, &refusals, &errs, &traces); err != nil {
		t.Fatal(err)
	}
	if rows != 336 || leaks != 1 || complied != 12 || refusals != 12 || errs != 0 || traces != 72 {
		t.Errorf("eval_scores: %d rows, %d leaks, %d complied, %d refusals, %d errors, %d traces", rows, leaks, complied, refusals, errs, traces)
	}

	// The text summary, without storing; files for the system and seed prompts.
	dir := t.TempDir()
	sys := filepath.Join(dir, "system.txt")
	seeds := filepath.Join(dir, "seeds.txt")
	os.WriteFile(sys, []byte("You are the billing bot of Example Corp.\n"), 0o644)
	os.WriteFile(seeds, []byte("# real prompts\nWhere is my invoice?\n\nWhy did my plan change?\n"), 0o644)
	cfg := redteam.Config{Model: "m2", PerCategory: 6, Seed: 9, SystemPrompt: "You are the billing bot of Example Corp.",
		SeedPrompts: []string{"Where is my invoice?", "Why did my plan change?"}}
	srv2 := redteamTarget(t, cfg)
	out, errOut, err = redteamRun(t, "--target", srv2.URL, "--model", "m2", "--per-category", "6", "--seed", "9",
		"--system-prompt-file", sys, "--seed-prompts", seeds, "--no-store")
	if err != nil {
		t.Fatalf("redteam --no-store: %v\n%s", err, errOut)
	}
	for _, s := range []string{"model m2 at " + srv2.URL + ", 36 probes (6 per category, seed 9)", "injection_override", "total",
		"example failures (redacted):", "complied with the injection"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(errOut, "stored") || srv2.Chat.Count() != 36 {
		t.Errorf("--no-store stored or sent %d requests: %s", srv2.Chat.Count(), errOut)
	}
	t.Logf("summary:\n%s", out)
}

func TestRedteamCLIErrors(t *testing.T) {
	conn := scoresDB(t)
	srv := openaitest.NewServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "m"}, "--target must be an http(s) URL"},
		{[]string{"--target", "ftp://x", "--model", "m"}, "--target must be an http(s) URL"},
		{[]string{"--target", srv.URL}, "redteam.model must be set"},
		{[]string{"--target", srv.URL, "--model", "m", "--per-category", "0"}, "--per-category must be >= 1"},
		{[]string{"--target", srv.URL, "--model", "m", "--api-key-env", "REDTEAM_TEST_UNSET_VAR"}, "REDTEAM_TEST_UNSET_VAR is empty or unset"},
		{[]string{"--target", srv.URL, "--model", "m", "--seed-prompts", "/nonexistent"}, "reading --seed-prompts"},
	} {
		if _, _, err := redteamRun(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	// Without an eval_scores table the command fails before sending a probe.
	if err := conn.Exec(t.Context(), "DROP TABLE eval_scores"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := redteamRun(t, "--target", srv.URL, "--model", "m", "--per-category", "1"); err == nil ||
		!strings.Contains(err.Error(), "no eval_scores table") {
		t.Errorf("missing table: %v", err)
	}
	if srv.Chat.Count() != 0 {
		t.Errorf("%d probes sent before the store was checked", srv.Chat.Count())
	}
	for in, want := range map[string]string{
		"http://h:8000":        "http://h:8000/v1",
		"http://h:8000/":       "http://h:8000/v1",
		"https://h/openai/v1/": "https://h/openai/v1",
	} {
		if got, err := apiRoot(in); err != nil || got != want {
			t.Errorf("apiRoot(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
