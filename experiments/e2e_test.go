package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/evaluators"
	evopenai "github.com/chainwatch/chainwatch/evaluators/openai"
	"github.com/chainwatch/chainwatch/experiments/stats"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

const spansTopic = "spans"

// supportRows is a 30-row support dataset; rows 0 and 1 are required.
func supportRows() []schemas.DatasetRow {
	var rows []schemas.DatasetRow
	for i := range 30 {
		r := schemas.DatasetRow{
			Input:    fmt.Sprintf(`{"question": "How do I fix problem %d?"}`, i),
			Expected: fmt.Sprintf("Restart the router and apply fix %d.", i),
		}
		if i < 2 {
			r.Tags = []string{RequiredTag}
		}
		rows = append(rows, r)
	}
	return rows
}

func chainV(version, model string) Chain {
	t := 0.0
	return Chain{Name: "support", Version: version, Model: model, Temperature: &t, Messages: []MessageTemplate{
		{Role: "system", Content: "You are ACME's support assistant (" + version + ")."},
		{Role: "user", Content: "Customer question: {{question}}"},
	}}
}

var (
	questionRE = regexp.MustCompile(`problem (\d+)\?`)
	blockRE    = regexp.MustCompile(`(?s)\n(ANSWER(?: 1| 2)?|REFERENCE ANSWER):\n<<<\n(.*?)\n>>>`)
)

// upstream is the fake OpenAI-compatible endpoint: support-v1 answers every
// question right; support-v2 answers rows >= 14 with an even number wrong
// (8 rows); the judge scores right answers 4–5 and wrong ones 1–2 with
// seeded noise, and prefers the right answer side by side.
func upstream(t *testing.T) *openaitest.Server {
	var mu sync.Mutex
	noise := rand.New(rand.NewPCG(1, 2))
	return openaitest.NewServer(t, openaitest.WithResponder(func(req openaitest.ChatRequest) openaitest.Reply {
		p := req.Prompt()
		if strings.HasPrefix(req.Model, "support-") {
			m := questionRE.FindStringSubmatch(p)
			if m == nil {
				return openaitest.BadRequest("no question")
			}
			i, _ := strconv.Atoi(m[1])
			if req.Model == "support-v2" && i >= 14 && i%2 == 0 {
				return openaitest.Answer("Please contact us by email.")
			}
			return openaitest.Answer(fmt.Sprintf("Restart the router and apply fix %d.", i))
		}
		blocks := map[string]string{}
		for _, b := range blockRE.FindAllStringSubmatch(p, -1) {
			blocks[b[1]] = b[2]
		}
		ref := blocks["REFERENCE ANSWER"]
		if strings.Contains(p, "Compare two answers") {
			a1, a2 := blocks["ANSWER 1"] == ref, blocks["ANSWER 2"] == ref
			switch {
			case a1 && !a2:
				return openaitest.PairVerdict("1", "answer 1 is right")
			case a2 && !a1:
				return openaitest.PairVerdict("2", "answer 2 is right")
			}
			return openaitest.PairVerdict("tie", "same")
		}
		mu.Lock()
		n := noise.IntN(2)
		mu.Unlock()
		if blocks["ANSWER"] == ref {
			return openaitest.Verdict(4+n, "matches the reference")
		}
		return openaitest.Verdict(1+n, "wrong")
	}))
}

func judgeClient(t *testing.T, url string) *evopenai.Client {
	jc := evaluators.DefaultJudgeConfig()
	jc.Model, jc.BaseURL = "judge", url
	c, err := evopenai.New(evopenai.ConfigFromJudge(jc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func judgeConfig(url string) evaluators.JudgeConfig {
	jc := evaluators.DefaultJudgeConfig()
	jc.Model, jc.BaseURL = "judge", url
	jc.CacheSize = 0
	return jc
}

// TestRunInterruptResumeCompare is the end-to-end test of the issue: a run
// against kfake, ClickHouse 18.16 and an openaitest upstream, interrupted
// and resumed with no item scored twice, a second version, the comparison
// and its four outputs, and the traces on the spans topic.
func TestRunInterruptResumeCompare(t *testing.T) {
	ctx := context.Background()
	conn := chtest.Migrated(t)
	_, seeds := kafkatest.NewCluster(t, kfake.SeedTopics(1, spansTopic))
	kc, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	dv, err := datasets.Import(ctx, conn, "support-eval", supportRows(), datasets.Meta{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := upstream(t)
	client, err := openai.New(srv.URL, openai.MaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	jcfg := judgeConfig(srv.URL)
	evs, err := BuildEvaluators([]string{"exact_match", "rouge_l", "judge:correctness"}, judgeClient(t, srv.URL), jcfg)
	if err != nil {
		t.Fatal(err)
	}
	const repeats = 2
	total := len(supportRows()) * repeats

	// Run 1 of the base, interrupted after 25 chain calls.
	var calls atomic.Int64
	runCtx, cancel := context.WithCancel(ctx)
	chat := func(ctx context.Context, req openai.ChatCompletionRequest) (*openai.ChatCompletion, error) {
		if calls.Add(1) == 25 {
			cancel()
		}
		return client.ChatCompletion(ctx, req)
	}
	var progress bytes.Buffer
	cfg := RunConfig{Name: "support v1", Chain: chainV("v1", "support-v1"), Endpoint: srv.URL, Dataset: dv.Name,
		Repeats: repeats, Concurrency: 4, GitCommit: "abc123", JudgeModel: "judge"}
	deps := Deps{Conn: conn, Chat: chat, Evaluators: evs, Spans: &KafkaSpans{Client: kc, Topic: spansTopic}, Progress: &progress}
	res1, err := Run(runCtx, cfg, deps)
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: err %v", err)
	}
	baseID := res1.Experiment.ID
	recorded1, err := ReadItems(ctx, conn, baseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded1) == 0 || len(recorded1) >= total {
		t.Fatalf("interrupted run recorded %d of %d items; want some but not all", len(recorded1), total)
	}
	if e, _ := ReadExperiment(ctx, conn, baseID); e.Status != StatusInterrupted {
		t.Fatalf("status after interrupt %q", e.Status)
	}
	if !strings.Contains(progress.String(), "items") || !strings.Contains(progress.String(), "ETA") {
		t.Fatalf("no progress bar: %q", progress.String())
	}

	// A newer version of the dataset appears meanwhile: the resume keeps v1.
	if _, err := datasets.Import(ctx, conn, "support-eval", supportRows()[:5], datasets.Meta{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	// Run 2 resumes: exactly the unrecorded items are sent.
	calls.Store(0)
	cfg.ID = baseID
	deps.Chat = func(ctx context.Context, req openai.ChatCompletionRequest) (*openai.ChatCompletion, error) {
		calls.Add(1)
		return client.ChatCompletion(ctx, req)
	}
	res2, err := Run(ctx, cfg, deps)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if res2.Skipped != len(recorded1) || int(calls.Load()) != total-len(recorded1) || res2.Experiment.Status != StatusDone || res2.Experiment.DatasetVersion != dv.Version {
		t.Fatalf("resume skipped %d (recorded %d), sent %d chain calls (want %d), status %s",
			res2.Skipped, len(recorded1), calls.Load(), total-len(recorded1), res2.Experiment.Status)
	}
	var n, uniq uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(row_index, repeat) FROM experiment_items WHERE experiment_id = ?", baseID).Scan(&n, &uniq); err != nil {
		t.Fatal(err)
	}
	if n != uint64(total) || uniq != uint64(total) {
		t.Fatalf("experiment_items has %d rows, %d distinct (row, repeat); want %d each: an item was scored twice or lost", n, uniq, total)
	}

	// A template a row cannot fill is refused before any call.
	calls.Store(0)
	badTmpl := RunConfig{Name: "bad", Chain: chainV("v9", "support-v1"), Dataset: dv.Name, DatasetVersion: dv.Version}
	badTmpl.Chain.Messages[1].Content = "{{no_such_field}}"
	if _, err := Run(ctx, badTmpl, deps); err == nil || !strings.Contains(err.Error(), "row 0") || calls.Load() != 0 {
		t.Fatalf("unfillable template: %v (%d calls)", err, calls.Load())
	}
	// A resume with another chain definition is refused.
	bad := cfg
	bad.Chain = chainV("v1", "support-v2")
	if _, err := Run(ctx, bad, deps); err == nil || !strings.Contains(err.Error(), "definition") {
		t.Fatalf("resume with another chain: %v", err)
	}

	// The candidate, in one go.
	cfg2 := RunConfig{Name: "support v2", Chain: chainV("v2", "support-v2"), Endpoint: srv.URL, Dataset: dv.Name, DatasetVersion: dv.Version,
		Repeats: repeats, Concurrency: 4}
	deps.Progress = nil
	res3, err := Run(ctx, cfg2, deps)
	if err != nil {
		t.Fatal(err)
	}

	// Compare.
	base, _ := ReadExperiment(ctx, conn, baseID)
	cand, _ := ReadExperiment(ctx, conn, res3.Experiment.ID)
	if base.ChainHash == cand.ChainHash || base.PromptVersion == cand.PromptVersion || base.GitCommit != "abc123" || base.Repeats != repeats ||
		!strings.Contains(base.Params, `"models_returned":["support-v1"]`) || !strings.Contains(base.Params, `"concurrency":4`) {
		t.Fatalf("experiment rows: base %+v cand %+v", base, cand)
	}
	bi, _ := ReadItems(ctx, conn, base.ID)
	ci, _ := ReadItems(ctx, conn, cand.ID)
	pw, err := evaluators.NewPairwiseJudge(judgeClient(t, srv.URL), evaluators.CorrectnessRubric, jcfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(ctx, base, cand, bi, ci, CompareOptions{Margins: map[string]float64{"rouge_l": 0.02}, Stats: stats.Options{Seed: 7, Resamples: 2000}, Pairwise: pw})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, m := range rep.Metrics {
		verdicts[m.Name] = m.Verdict
	}
	want := map[string]string{"chain_ok": stats.NonInferior, "exact_match": stats.Regression, "rouge_l": stats.Regression, "correctness": stats.Regression}
	for m, v := range want {
		if verdicts[m] != v {
			t.Errorf("metric %s: verdict %q, want %q (all: %v)", m, verdicts[m], v, verdicts)
		}
	}
	if rep.Verdict != GateRegression {
		t.Errorf("gate %s, want regression", rep.Verdict)
	}
	if len(rep.Required) != 2 || !rep.Required[0].Passed || !rep.Required[1].Passed {
		t.Errorf("required rows: %+v", rep.Required)
	}
	regressed := 0
	for _, c := range rep.Changed {
		if c.Metric == "exact_match" && c.Direction == "regressed" {
			regressed++
			if c.CandOutput != "Please contact us by email." || !strings.HasPrefix(c.BaseOutput, "Restart") {
				t.Errorf("changed row %d outputs: %q / %q", c.Row, c.BaseOutput, c.CandOutput)
			}
		}
	}
	if regressed != 8 {
		t.Errorf("%d rows regressed on exact_match, want 8", regressed)
	}
	if rep.WinRate == nil || rep.WinRate.Losses != 8 || rep.WinRate.Ties != 22 || rep.WinRate.CI.Hi >= 0.5 {
		t.Errorf("win rate %+v", rep.WinRate)
	}
	if fail, _ := rep.Fails("regression"); !fail {
		t.Error("--fail-on regression passes a regression")
	}
	// judge noise: scores vary within items, so a noise SE is reported
	for _, m := range rep.Metrics {
		if m.Name == "correctness" && (m.BaseNoise.Items == 0 || m.NoiseSE <= 0) {
			t.Errorf("no judge noise estimated: %+v", m.BaseNoise)
		}
	}
	checkOutputs(t, rep)

	// Base against itself: passes.
	same, err := Compare(ctx, base, base, bi, bi, CompareOptions{Stats: stats.Options{Seed: 1, Resamples: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	if fail, _ := same.Fails("regression"); fail {
		t.Errorf("base against itself fails: %v", same.Failures)
	}

	// Traces: every recorded item's spans reached the topic with the experiment id.
	checkSpans(t, kc, map[string]int{base.ID: total, cand.ID: total}, bi)
}

func checkOutputs(t *testing.T, rep *Report) {
	t.Helper()
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Verdict string `json:"verdict"`
		Metrics []struct {
			Metric  string `json:"metric"`
			Verdict string `json:"verdict"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, js.String())
	}
	if parsed.Verdict != GateRegression || len(parsed.Metrics) != len(rep.Metrics) {
		t.Errorf("JSON: %+v", parsed)
	}
	var ju bytes.Buffer
	if err := rep.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit does not parse: %v", err)
	}
	s := suites.Suites[0]
	if s.Failures != 4 || s.Errors != 0 || s.Tests != len(rep.Metrics)+2+1 { // 3 metrics and the pairwise judgment fail; 2 required rows pass
		t.Errorf("JUnit suite: tests %d failures %d errors %d\n%s", s.Tests, s.Failures, s.Errors, ju.String())
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"❌", "| exact_match |", "**regression**", "rows changed verdict"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	t.Logf("terminal report:\n%s\nmarkdown:\n%s", txt.String(), md.String())
	if !strings.Contains(txt.String(), "VERDICT: REGRESSION") || !strings.Contains(txt.String(), "McNemar p=") {
		t.Errorf("text:\n%s", txt.String())
	}
	path := filepath.Join(t.TempDir(), "report.html")
	var h bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, h.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "http://") && !strings.Contains(h.String(), "http://www.w3.org/2000/svg") {
		t.Error("HTML report refers to the network")
	}
	checkRendered(t, path, 2*len(rep.Metrics))
}

// checkRendered loads the report in headless Chromium and asserts that the
// script drew every plot: the DOM after scripts ran has the SVG elements
// with their bars and the data-plots count the script sets last.
func checkRendered(t *testing.T, path string, plots int) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip("chromium not installed (scripts/install-deps.sh installs it)")
		}
		t.Fatal("chromium not installed: run scripts/install-deps.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, fmt.Sprintf(`data-plots="%d"`, plots)) {
		t.Fatalf("the report's script did not finish drawing %d plots; DOM:\n%.2000s", plots, dom)
	}
	if got := strings.Count(dom, `data-plot="distribution"`); got != plots/2 {
		t.Errorf("%d distribution plots in the DOM, want %d", got, plots/2)
	}
	if got := strings.Count(dom, `data-plot="differences"`); got != plots/2 {
		t.Errorf("%d difference plots in the DOM, want %d", got, plots/2)
	}
	if got := strings.Count(dom, `class="bar diff"`); got < 30 {
		t.Errorf("only %d difference bars drawn", got)
	}
	if got := strings.Count(dom, `class="bar candidate"`); got < 5 {
		t.Errorf("only %d histogram bars drawn", got)
	}
}

func checkSpans(t *testing.T, kc *kgo.Client, wantLLM map[string]int, baseItems []schemas.ExperimentItem) {
	t.Helper()
	cons, err := kgo.NewClient(kgo.SeedBrokers(kc.OptValue(kgo.SeedBrokers).([]string)...), kgo.ConsumeTopics(spansTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]int{}
	traces := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	want := 0
	for _, n := range wantLLM {
		want += n
	}
	seen := 0
	for seen < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			spans, err := genai.AppendSpanRecord(nil, r.Value)
			if err != nil {
				t.Errorf("record does not decode: %v", err)
				return
			}
			for _, s := range spans {
				id := s.Attributes[schemas.AttrExperimentID]
				if id == "" {
					t.Errorf("span %s without %s", s.SpanID, schemas.AttrExperimentID)
				}
				if s.ComponentKind == schemas.KindLLM {
					got[id]++
					seen++
					traces[s.TraceID] = true
					if s.ChainName != "support" || s.ChainVersion == "" || s.PromptTemplateVersion == "" || s.OutputText == "" {
						t.Errorf("llm span lineage: chain %q@%q prompt %q output %q", s.ChainName, s.ChainVersion, s.PromptTemplateVersion, s.OutputText)
					}
				}
			}
		})
	}
	for id, n := range wantLLM {
		if got[id] != n {
			t.Errorf("experiment %s: %d llm spans on the topic, want %d", id, got[id], n)
		}
	}
	for _, it := range baseItems {
		if !traces[it.TraceID] {
			t.Errorf("item %d/%d: trace %s not on the topic", it.Row, it.Repeat, it.TraceID)
			break
		}
	}
}
