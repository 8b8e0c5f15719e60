package plugin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/chainwatch/chainwatch/grafana/dashboards"
	"github.com/chainwatch/chainwatch/grafana/pkg/plugin"
)

// dashboardJSON is what the panel test reads of a committed dashboard.
type dashboardJSON struct {
	UID    string `json:"uid"`
	Panels []struct {
		Type    string            `json:"type"`
		Title   string            `json:"title"`
		Targets []json.RawMessage `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name   string          `json:"name"`
			Target json.RawMessage `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
}

// testDashboardPanels runs every chainwatch query of every committed
// dashboard (panels, variables, annotations) through QueryData against the
// seeded ClickHouse, with the variables at their test values, and requires
// the fields each panel reads to be there with values. The Prometheus
// panels are grafana/dashboards' TestPrometheusPanels.
func testDashboardPanels(t *testing.T, s *seeded) {
	dir := filepath.Join("..", "..", "provisioning", "dashboards")
	specs := map[string]dashboards.Spec{}
	testVals := map[string]string{}
	for _, b := range dashboards.Boards() {
		for _, r := range b.Rows {
			for _, p := range r.Panels {
				specs[b.UID+"/"+p.Title] = p
			}
		}
		for _, v := range b.Vars {
			testVals[v.Name] = v.Test
		}
	}
	testVals["trace"] = s.traces[7].TraceIDHex()
	subst := func(raw json.RawMessage) json.RawMessage {
		out := string(raw)
		for name, v := range testVals {
			out = strings.ReplaceAll(out, `"$`+name+`"`, `"`+v+`"`)
		}
		if strings.Contains(out, `"$`) {
			t.Fatalf("a variable is left in %s", out)
		}
		return json.RawMessage(out)
	}
	exec := func(what string, raw json.RawMessage, from, to time.Time, iv time.Duration) backend.DataResponse {
		t.Helper()
		q, err := plugin.ParseQuery(subst(raw), "")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := json.Marshal(q)
		dr := run(t, s.ds, backend.DataQuery{RefID: "A", QueryType: q.QueryType, JSON: b, Interval: iv,
			TimeRange: backend.TimeRange{From: from, To: to}}).Responses["A"]
		if dr.Error != nil {
			t.Fatalf("%s: %v", what, dr.Error)
		}
		return dr
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(dashboards.Boards()) {
		t.Fatalf("%d dashboard files in %s, %d boards", len(files), dir, len(dashboards.Boards()))
	}
	panels := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboardJSON
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			dr := exec(d.UID+" variable "+v.Name, v.Query, seedStart, seedEnd, time.Minute)
			requireFields(t, d.UID+" variable "+v.Name, dr, []string{"value"})
		}
		for _, a := range d.Annotations.List {
			if len(a.Target) == 0 || !strings.Contains(string(a.Target), plugin.PluginID) {
				continue
			}
			dr := exec(d.UID+" annotation "+a.Name, a.Target, seedStart, seedEnd, time.Minute)
			requireFields(t, d.UID+" annotation "+a.Name, dr, []string{"time", "timeEnd", "title", "text", "tags"})
		}
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			spec, ok := specs[d.UID+"/"+p.Title]
			if !ok {
				t.Errorf("%s: panel %q has no Spec (regenerate the dashboards)", file, p.Title)
				continue
			}
			if spec.Description == "" {
				t.Errorf("%s: panel %q has no description", d.UID, p.Title)
			}
			for _, target := range p.Targets {
				if !strings.Contains(string(target), plugin.PluginID) {
					continue // Prometheus: TestPrometheusPanels
				}
				panels++
				what := d.UID + " panel " + p.Title
				reads := spec.Reads
				var q plugin.Query
				_ = json.Unmarshal(target, &q)
				if q.QueryType == plugin.TypeTimeSeries && q.Format != "table" {
					reads = append(append([]string{"time"}, q.Metrics...), reads...)
				}
				requireFields(t, what, exec(what, target, seedStart, seedEnd, time.Minute), reads)
				// Over a week the time series read the rollup: the same
				// fields, with values.
				if q.QueryType == plugin.TypeTimeSeries {
					requireFields(t, what+" (7 days)", exec(what, target, seedEnd.Add(-7*24*time.Hour), seedEnd, time.Hour), reads)
				}
			}
		}
	}
	if panels < 20 {
		t.Fatalf("only %d chainwatch panels found", panels)
	}
}

// requireFields fails unless every name is a field of some frame and has
// a non-null value in one of them.
func requireFields(t *testing.T, what string, dr backend.DataResponse, names []string) {
	t.Helper()
	for _, n := range names {
		found, valued := false, false
		for _, f := range dr.Frames {
			for _, fl := range f.Fields {
				if fl.Name != n {
					continue
				}
				found = true
				for i := 0; i < fl.Len() && !valued; i++ {
					if _, ok := fl.ConcreteAt(i); ok {
						valued = true
					}
				}
			}
		}
		switch {
		case !found:
			t.Errorf("%s: no field %q in the response (%d frames)", what, n, len(dr.Frames))
		case !valued:
			t.Errorf("%s: field %q has no value", what, n)
		}
	}
}
