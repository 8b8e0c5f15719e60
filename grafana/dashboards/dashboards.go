// Package dashboards is chainwatch's Grafana dashboards as code, built with
// github.com/grafana/grafana-foundation-sdk/go and rendered to JSON under
// grafana/provisioning/dashboards/ by grafana/dashboards/gen (`make
// dashboards`). A test renders them again and compares with the committed
// files; another runs every panel's query (grafana/pkg/plugin's tests for
// the chainwatch datasource, this package's for Prometheus).
//
// Every panel is declared by a Spec: its title, description (what it shows
// and what to do when it looks wrong), its query, and the fields it reads
// (which the tests require to be present and non-empty).
package dashboards

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/chainwatch/chainwatch/grafana/pkg/plugin"
)

// The provisioned datasources' uids (grafana/provisioning/datasources).
const (
	ChainwatchUID = "chainwatch"
	PrometheusUID = "prometheus"
)

var (
	cwRef   = common.DataSourceRef{Type: ptr(plugin.PluginID), Uid: ptr(ChainwatchUID)}
	promRef = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr(PrometheusUID)}
)

func ptr[T any](v T) *T { return &v }

// Target is a chainwatch datasource query in a dashboard: the plugin's
// query model with Grafana's refId and datasource.
type Target struct {
	RefID string
	plugin.Query
}

var _ variants.Dataquery = Target{}

func (Target) ImplementsDataqueryVariant()                {}
func (t Target) Equals(o variants.Dataquery) bool         { return reflect.DeepEqual(t, o) }
func (Target) DataqueryType() string                      { return plugin.PluginID }
func (Target) Validate() error                            { return nil }
func (t Target) Build() (variants.Dataquery, error)       { return t, nil }
func (t Target) builder() cog.Builder[variants.Dataquery] { return t }

// MarshalJSON writes the query's fields beside refId and datasource, as
// Grafana stores a panel target.
func (t Target) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(t.Query)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["refId"] = t.RefID
	m["datasource"] = cwRef
	return json.Marshal(m)
}

// Kind is a panel's visualisation.
type Kind string

// The panel kinds used.
const (
	TimeSeries Kind = "timeseries"
	Table      Kind = "table"
	Histogram  Kind = "histogram"
	Traces     Kind = "traces"
)

// Spec is one panel.
type Spec struct {
	Title       string
	Description string // what it shows; what to do when it looks wrong
	Kind        Kind
	Unit        string
	Width       uint32 // of 24; 0: 12
	// Query is the chainwatch query, or PromQL (and its legend) for a
	// Prometheus panel: exactly one is set.
	Query  *plugin.Query
	PromQL string
	Legend string
	// Reads are the fields the panel shows (chainwatch queries): the tests
	// require each in the result, with a value. A table shows exactly
	// these, in this order (an organize transformation).
	Reads []string
	// Links are data links (title → url) on the panel's fields.
	Links [][2]string
}

// Row is a titled group of panels; Title "" puts them at the top.
type Row struct {
	Title  string
	Panels []Spec
}

// Var is a dashboard variable: a chainwatch list (query.Lists), or a text
// box when List is "".
type Var struct {
	Name, Label string
	List        string
	// Depends are the variables the list is narrowed by (e.g. versions by
	// $app and $chain).
	Depends []string
	// Test is the value the panel tests substitute ("" is All or empty).
	Test string
}

// Board is one dashboard.
type Board struct {
	UID, Title, File string
	Description      string
	Tags             []string
	Vars             []Var
	Alerts           bool // drift alerts as annotations
	Rows             []Row
}

// Build renders b with the foundation SDK.
func (b Board) Build() (dashboard.Dashboard, error) {
	db := dashboard.NewDashboardBuilder(b.Title).Uid(b.UID).Description(b.Description).Tags(b.Tags).
		Time("now-6h", "now").Refresh("1m").Timezone("browser").Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("chainwatch").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"chainwatch"}).AsDropdown(true).IncludeVars(true).KeepTime(true))
	for _, v := range b.Vars {
		if v.List == "" {
			db.WithVariable(dashboard.NewTextBoxVariableBuilder(v.Name).Label(v.Label).DefaultValue(dashboard.StringOrMap{String: ptr("")}))
			continue
		}
		q := map[string]any{"queryType": plugin.TypeVariable, "list": v.List, "refId": "variable"}
		for _, d := range v.Depends {
			q[camel(d)] = "$" + d
		}
		db.WithVariable(dashboard.NewQueryVariableBuilder(v.Name).Label(v.Label).Datasource(cwRef).
			Query(dashboard.StringOrMap{Map: q}).Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).IncludeAll(true).AllValue("").
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr("All")}, Value: dashboard.StringOrArrayOfString{String: ptr("$__all")}}))
	}
	if b.Alerts {
		db.Annotation(dashboard.NewAnnotationQueryBuilder().Name("Drift alerts").Datasource(cwRef).Enable(true).
			IconColor("red").Target(Target{RefID: "alerts", Query: plugin.Query{QueryType: plugin.TypeAlerts, App: "$app", Monitor: "$monitor"}}))
	}
	for _, r := range b.Rows {
		if r.Title != "" {
			db.WithRow(dashboard.NewRowBuilder(r.Title))
		}
		for _, s := range r.Panels {
			db.WithPanel(s.panel())
		}
	}
	return db.Build()
}

// camel is a variable's name as the query model's JSON key.
func camel(v string) string {
	switch v {
	case "chain_version":
		return "chainVersion"
	}
	return v
}

func (s Spec) panel() *dashboard.PanelBuilder {
	w := s.Width
	if w == 0 {
		w = 12
	}
	h := uint32(8)
	if s.Kind == Traces {
		h = 16
	}
	p := dashboard.NewPanelBuilder().Type(string(s.Kind)).Title(s.Title).Description(s.Description).Span(w).Height(h)
	if s.Unit != "" {
		p.Unit(s.Unit)
	}
	if s.Query != nil {
		p.Datasource(cwRef).WithTarget(Target{RefID: "A", Query: *s.Query})
	} else {
		p.Datasource(promRef).WithTarget(prometheus.NewDataqueryBuilder().RefId("A").Expr(s.PromQL).LegendFormat(s.Legend).Range())
	}
	if s.Kind == Table && len(s.Reads) > 0 {
		idx := map[string]int{}
		for i, r := range s.Reads {
			idx[r] = i
		}
		p.WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"indexByName": idx, "excludeByName": map[string]bool{}}})
		// Show only the fields read: the others are excluded by a
		// filterFieldsByName transformation naming the kept ones.
		p.WithTransformation(dashboard.DataTransformerConfig{Id: "filterFieldsByName", Options: map[string]any{"include": map[string]any{"names": s.Reads}}})
	}
	if len(s.Links) > 0 {
		var ls []cog.Builder[dashboard.DashboardLink]
		for _, l := range s.Links {
			ls = append(ls, dashboard.NewDashboardLinkBuilder(l[0]).Url(l[1]))
		}
		p.DataLinks(ls)
	}
	return p
}

// Render returns every board's JSON by file name.
func Render() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, b := range Boards() {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
		}
		j, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
		}
		out[b.File] = append(j, '\n')
	}
	return out, nil
}

// Files lists the rendered files' names, sorted.
func Files() []string {
	var fs []string
	for _, b := range Boards() {
		fs = append(fs, b.File)
	}
	sort.Strings(fs)
	return fs
}
