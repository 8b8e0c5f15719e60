package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// TestExperimentCLI runs `dataset import`, two `experiment run`s and
// `experiment compare --fail-on regression` with every output file, against
// ClickHouse 18.16, kfake and an openaitest upstream: the gate fails on the
// version that answers a quarter of the rows wrong and passes a rerun of
// the same version.
func TestExperimentCLI(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	_, seeds := kafkatest.NewCluster(t, kfake.SeedTopics(1, "chainwatch.spans"), kfake.AllowAutoTopicCreation())
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	t.Setenv("CHAINWATCH_KAFKA_BROKERS", strings.Join(seeds, ","))
	q := regexp.MustCompile(`ticket (\d+)`)
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
		m := q.FindStringSubmatch(r.Prompt())
		if m == nil {
			return openaitest.BadRequest("no ticket")
		}
		i, _ := strconv.Atoi(m[1])
		if r.Model == "support-v2" && i%4 == 0 {
			return openaitest.Answer("I cannot help with that.")
		}
		return openaitest.Answer("answer " + m[1])
	}))
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var rows strings.Builder
	for i := range 40 {
		fmt.Fprintf(&rows, `{"input": "ticket %d", "expected": "answer %d"}`+"\n", i, i)
	}
	data := write("support.jsonl", rows.String())
	chain := func(version, model string) string {
		return write("chain-"+version+".yaml", fmt.Sprintf(`name: support
version: %s
model: %s
temperature: 0
messages:
  - role: system
    content: You are ACME's support assistant.
  - role: user
    content: "Customer {{input}}"
`, version, model))
	}
	if _, e, err := datasetRun(t, "import", "--name", "support", data); err != nil {
		t.Fatalf("import: %v %s", err, e)
	}
	idRE := regexp.MustCompile(`experiment (exp-\S+)`)
	run := func(name, chainFile string) string {
		var o, e bytes.Buffer
		err := experimentCmd(ctx, []string{"run", "--name", name, "--chain-file", chainFile, "--endpoint", srv.URL,
			"--dataset", "support", "--evaluators", "exact_match,token_f1", "--repeats", "2", "--concurrency", "3"}, &o, &e)
		if err != nil {
			t.Fatalf("run %s: %v\n%s%s", name, err, o.String(), e.String())
		}
		m := idRE.FindStringSubmatch(o.String())
		if m == nil || !strings.Contains(o.String(), "80 of 80 items") || !strings.Contains(e.String(), "ETA") {
			t.Fatalf("run output: %q / %q", o.String(), e.String())
		}
		return m[1]
	}
	v1 := run("v1", chain("v1", "support-v1"))
	v1b := run("v1 again", chain("v1", "support-v1"))
	v2 := run("v2", chain("v2", "support-v2"))

	out := func(name string) string { return filepath.Join(dir, name) }
	var o, e bytes.Buffer
	err := experimentCmd(ctx, []string{"compare", v1, v2, "--fail-on", "regression", "--margin", "token_f1=0.02",
		"--json", out("r.json"), "--junit", out("r.xml"), "--markdown", out("r.md"), "--html", out("r.html")}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "gate failed") {
		t.Fatalf("compare v1 v2: err %v\n%s", err, o.String())
	}
	if !strings.Contains(o.String(), "VERDICT: REGRESSION") || !strings.Contains(o.String(), "exact_match") {
		t.Fatalf("compare output:\n%s", o.String())
	}
	for _, f := range []string{"r.json", "r.xml", "r.md", "r.html"} {
		b, err := os.ReadFile(out(f))
		if err != nil || len(b) < 100 {
			t.Fatalf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	o.Reset()
	if err := experimentCmd(ctx, []string{"compare", v1, v1b, "--fail-on", "regression", "--format", "markdown"}, &o, &e); err != nil {
		t.Fatalf("compare v1 with its rerun: %v\n%s", err, o.String())
	}
	if !strings.Contains(o.String(), "✅") {
		t.Fatalf("markdown of a pass:\n%s", o.String())
	}
	o.Reset()
	if err := experimentCmd(ctx, []string{"list"}, &o, &e); err != nil || strings.Count(o.String(), "exp-") != 3 {
		t.Fatalf("list: %v\n%s", err, o.String())
	}
	if err := experimentCmd(ctx, []string{"compare", v1, v2, "--margin", "nonsense"}, &o, &e); err == nil {
		t.Fatal("a bad --margin accepted")
	}
}

// A chain version the gateway serves — pushed with `chainwatch chains`
// and labelled — is what `experiment run --chain NAME@LABEL` runs: the
// label's stable version, its template, examples and route; a serving
// chain file works with --chain-file too.
func TestExperimentRunsAServingChainByLabel(t *testing.T) {
	addr, db := chtest.Database(t)
	conn := chtest.Conn(t, addr, db)
	ctx := t.Context()
	if _, err := schemas.Migrate(ctx, clickhouse.MigrationDB{Conn: conn}, schemas.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHAINWATCH_CLICKHOUSE_ADDR", addr)
	t.Setenv("CHAINWATCH_CLICKHOUSE_DATABASE", db)
	var mu sync.Mutex
	var seen []string
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Model+"|"+r.Prompt())
		return openaitest.Answer("answer")
	}))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rows.jsonl"), []byte(`{"input": "q1", "expected": "answer"}`+"\n"+`{"input": "q2", "expected": "answer"}`+"\n"), 0o644)
	if _, e, err := datasetRun(t, "import", "--name", "faq", filepath.Join(dir, "rows.jsonl")); err != nil {
		t.Fatalf("import: %v %s", err, e)
	}
	chainYAML := func(v, sys string) string {
		return "name: faq-bot\nversion: " + v + "\nmodel: small\nparams: {temperature: 0}\ntemplate:\n  system: " + sys + "\n  user: 'Q: {{input}}'\nexamples:\n  - {user: 'Q: hi', assistant: 'hello'}\n"
	}
	st := chains.NewStore(conn)
	for _, v := range []struct{ v, sys string }{{"v1", "Be brief."}, {"v2", "Be thorough."}} {
		c, err := chains.Parse("test", []byte(chainYAML(v.v, v.sys)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Push(ctx, c, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Promote(ctx, "faq-bot", "v1", "production", 0, "test"); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if err := experimentCmd(ctx, []string{"run", "--name", "prod", "--chain", "faq-bot@production", "--endpoint", srv.URL, "--dataset", "faq",
		"--evaluators", "exact_match", "--repeats", "1", "--no-trace", "--quiet"}, &o, &e); err != nil {
		t.Fatalf("run: %v\n%s%s", err, o.String(), e.String())
	}
	if !strings.Contains(o.String(), "faq-bot@v1") || len(seen) != 2 || !strings.HasPrefix(seen[0], "small|") ||
		!strings.Contains(seen[0], "Be brief.") || !strings.Contains(seen[0], "hello") {
		t.Fatalf("output %q; calls %q", o.String(), seen)
	}
	path := filepath.Join(dir, "chain.yaml")
	os.WriteFile(path, []byte(chainYAML("v2", "Be thorough.")), 0o644)
	o.Reset()
	if err := experimentCmd(ctx, []string{"run", "--name", "file", "--chain-file", path, "--endpoint", srv.URL, "--dataset", "faq",
		"--evaluators", "exact_match", "--repeats", "1", "--no-trace", "--quiet"}, &o, &e); err != nil || !strings.Contains(o.String(), "faq-bot@v2") {
		t.Fatalf("serving chain file: %v %q %s", err, o.String(), e.String())
	}
	if err := experimentCmd(ctx, []string{"run", "--name", "x", "--chain", "faq-bot@staging", "--endpoint", srv.URL, "--dataset", "faq", "--quiet"}, &o, &e); err == nil ||
		!strings.Contains(err.Error(), "neither a version nor a label") {
		t.Fatalf("unknown label: %v", err)
	}
}
