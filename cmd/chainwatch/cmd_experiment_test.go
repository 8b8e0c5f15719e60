package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
	"github.com/chainwatch/chainwatch/schemas"
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
