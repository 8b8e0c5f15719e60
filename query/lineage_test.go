package query

import (
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/schemas"
)

// TestLineage: a production trace and an experiment trace of the same
// chain version; Trace names the chain version, prompt, model and (for the
// experiment's) the experiment and dataset row; Chain lists the experiment
// and where the version served, experiment traffic left out.
func TestLineage(t *testing.T) {
	ins := chtest.Inserter(t)
	ctx := t.Context()
	prod := span("p1", "a1", "", "support", "support", "v2", schemas.KindLLM, "gpt-x", at(0), ms(100), 10, 5, "ok")
	prod.PromptTemplateVersion = "pt2"
	prod.ModelReturned = "gpt-x-0601"
	exp := span("e1", "b1", "", "support", "support", "v2", schemas.KindLLM, "gpt-x", at(sec(5)), ms(100), 10, 5, "ok")
	exp.Environment = "experiment"
	exp.PromptTemplateVersion = "pt2"
	exp.Attributes = map[string]string{schemas.AttrExperimentID: "exp-1", schemas.AttrDatasetName: "support-eval",
		schemas.AttrDatasetVersion: "3", schemas.AttrExperimentRow: "17"}
	other := span("p2", "c1", "", "support", "support", "v1", schemas.KindLLM, "gpt-w", at(sec(9)), ms(100), 10, 5, "ok")
	if err := ins.InsertSpans(ctx, []schemas.Span{prod, exp, other}); err != nil {
		t.Fatal(err)
	}
	conn := ins.Conn()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO experiments ("+strings.Join(schemas.ExperimentColumns(), ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("exp-1", "nightly", "support", "v2", "h", "{}", "pt2", "gpt-x", "http://x/v1", "support-eval", uint32(3),
		[]string{"exact_match@1"}, "", uint16(3), "{}", "abc", "done", at(0), at(sec(60)), at(sec(60))); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(conn)

	tl, err := r.TraceLineage(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Spans) != 1 || tl.Spans[0].ExperimentID != "exp-1" || tl.Spans[0].Dataset != "support-eval" ||
		tl.Spans[0].DatasetVersion != "3" || tl.Spans[0].DatasetRow != "17" || tl.Spans[0].ChainVersion != "v2" || tl.Spans[0].PromptTemplateVersion != "pt2" {
		t.Fatalf("experiment trace lineage: %+v", tl.Spans)
	}
	if len(tl.Experiments) != 1 || tl.Experiments[0].GitCommit != "abc" || tl.Experiments[0].DatasetVersion != 3 {
		t.Fatalf("experiments of the trace: %+v", tl.Experiments)
	}
	tl, err = r.TraceLineage(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Spans) != 1 || tl.Spans[0].ExperimentID != "" || tl.Spans[0].ModelReturned != "gpt-x-0601" || len(tl.Experiments) != 0 {
		t.Fatalf("production trace lineage: %+v", tl)
	}
	if _, err := r.TraceLineage(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "no spans") {
		t.Fatalf("missing trace: %v", err)
	}

	cl, err := r.Chain(ctx, "support", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Experiments) != 1 || cl.Experiments[0].ID != "exp-1" {
		t.Fatalf("experiments of support@v2: %+v", cl.Experiments)
	}
	if len(cl.Served) != 1 || cl.Served[0].Environment != "prod" || cl.Served[0].Traces != 1 ||
		len(cl.Served[0].Models) != 1 || cl.Served[0].Models[0] != "gpt-x-0601" {
		t.Fatalf("where support@v2 served: %+v", cl.Served)
	}
	cl, _ = r.Chain(ctx, "support", "v1")
	if len(cl.Experiments) != 0 || len(cl.Served) != 1 {
		t.Fatalf("support@v1: %+v", cl)
	}

	// The gateway's label changes: v2 (hash h2) promoted as a 10 % canary
	// over v1 (h1), then made stable; v1 rolled back to on staging.
	for _, q := range []string{
		"INSERT INTO chain_versions (name, hash, version, definition, pushed_by, pushed_at) SELECT 'support', 'h1', 'v1', '{}', 'ci', now()",
		"INSERT INTO chain_versions (name, hash, version, definition, pushed_by, pushed_at) SELECT 'support', 'h2', 'v2', '{}', 'ci', now()",
		"INSERT INTO chain_deployments (name, label, action, stable_hash, canary_hash, canary_percent, who, at, seq) SELECT 'support', 'production', 'promote', 'h1', 'h2', 10, 'ana', now(), 1",
		"INSERT INTO chain_deployments (name, label, action, stable_hash, canary_hash, canary_percent, who, at, seq) SELECT 'support', 'production', 'promote', 'h2', '', 0, 'ana', now(), 2",
		"INSERT INTO chain_deployments (name, label, action, stable_hash, canary_hash, canary_percent, who, at, seq) SELECT 'support', 'staging', 'rollback', 'h1', '', 0, 'bo', now(), 3",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cl, err = r.Chain(ctx, "support", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Deployments) != 2 || cl.Deployments[0].Role != "canary" || cl.Deployments[0].CanaryPercent != 10 || cl.Deployments[1].Role != "stable" || cl.Deployments[1].Label != "production" {
		t.Fatalf("deployments of support@v2: %+v", cl.Deployments)
	}
	if cl, _ = r.Chain(ctx, "support", "h1"); len(cl.Deployments) != 2 || cl.Deployments[1].Label != "staging" || cl.Deployments[1].Action != "rollback" {
		t.Fatalf("deployments of support@h1: %+v", cl.Deployments)
	}
}
