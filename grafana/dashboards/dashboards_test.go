package dashboards_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chainwatch/chainwatch/grafana/dashboards"
)

const committed = "../provisioning/dashboards"

// The committed JSON is what the code generates: edit boards.go and run
// `go run ./grafana/dashboards/gen`, never the JSON.
func TestCommittedJSONIsGenerated(t *testing.T) {
	files, err := dashboards.Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Errorf("%s: %v (run go run ./grafana/dashboards/gen)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what boards.go generates: run go run ./grafana/dashboards/gen", name)
		}
	}
	all, _ := filepath.Glob(filepath.Join(committed, "*.json"))
	if len(all) != len(files) {
		t.Errorf("%d JSON files in %s, %d generated: remove the stale ones", len(all), committed, len(files))
	}
}

// Every panel says what it shows and what to do, and has exactly one query.
func TestPanelsAreDescribed(t *testing.T) {
	titles := map[string]bool{}
	for _, b := range dashboards.Boards() {
		n := 0
		for _, r := range b.Rows {
			for _, p := range r.Panels {
				n++
				key := b.UID + "/" + p.Title
				if titles[key] {
					t.Errorf("%s: two panels titled %q", b.UID, p.Title)
				}
				titles[key] = true
				if len(p.Description) < 60 {
					t.Errorf("%s: %q needs a description of what it shows and what to do when it looks wrong", b.UID, p.Title)
				}
				if (p.Query == nil) == (p.PromQL == "") {
					t.Errorf("%s: %q needs exactly one of Query and PromQL", b.UID, p.Title)
				}
				if p.Query != nil && len(p.Reads) == 0 && p.Kind != dashboards.TimeSeries {
					t.Errorf("%s: %q does not say which fields it reads", b.UID, p.Title)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s has no panels", b.UID)
		}
	}
}
