package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/chainwatch/chainwatch/"

type listed struct {
	ImportPath string
	Imports    []string
}

// Every package imports only what its row of Rules allows, and every
// package has a row. `go list` reads the real import graph (non-test
// files), so the map cannot drift from the code.
func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		pkg := strings.TrimPrefix(p.ImportPath, module)
		allowed, ok := Rules[pkg]
		if !ok {
			t.Errorf("%s has no row in internal/layout.Rules: place it on the map (and in ARCHITECTURE.md)", pkg)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !Allowed(allowed, dep) {
				t.Errorf("%s imports %s, which its row does not allow (%v)", pkg, dep, allowed)
			}
		}
	}
	if n < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", n)
	}
}

// The collector and the writer are wired only by the pipeline, the
// benchmark and fault harnesses and the binary.
func TestOnlyTheWiringImportsCollectorAndWriter(t *testing.T) {
	for pkg, allowed := range Rules {
		switch pkg {
		case "ingest/pipeline", "ingest/bench", "ingest/faults", "cmd/chainwatch":
			continue
		}
		for _, a := range []string{"ingest/collector", "ingest/writer"} {
			if Allowed(allowed, a) {
				t.Errorf("%s may import %s: only the wiring may", pkg, a)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		dep   string
		want  bool
	}{
		{[]string{"kafka"}, "kafka", true},
		{[]string{"kafka"}, "kafka/kafkatest", false},
		{[]string{"internal/"}, "internal/health", true},
		{[]string{"internal/"}, "internalx", false},
		{[]string{"/"}, "anything/at/all", true},
		{nil, "schemas", false},
	} {
		if got := Allowed(tc.rules, tc.dep); got != tc.want {
			t.Errorf("Allowed(%v, %q) = %v, want %v", tc.rules, tc.dep, got, tc.want)
		}
	}
}
