// Package plugin is chainwatch's Grafana datasource backend: QueryData over
// chainwatch's ClickHouse tables through package query (time series,
// drift, alerts as annotations, quality, trace search, one trace as a
// traces frame, read-only raw SQL with macros, variables), CheckHealth
// (ClickHouse's version and chainwatch's schema version) and CallResource
// (the query editor's lists).
//
// Drawn on: the data frame conventions of Grafana's plugin SDK docs (time
// series frames with labels, the traces frame's fields as Grafana's Trace
// view reads them). No code is copied from Grafana (AGPL) or its ClickHouse
// datasource.
package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/chainwatch/chainwatch/query"
)

// PluginID is the plugin's id in plugin.json.
const PluginID = "chainwatch-chainwatch-datasource"

// Settings are a datasource instance's configuration: jsonData, and the
// password from secureJsonData.
type Settings struct {
	// Address is ClickHouse's native protocol host:port.
	Address  string `json:"address"`
	Database string `json:"database"`
	User     string `json:"user"`
	// MaxRows bounds raw SQL results and trace searches; 0: the defaults
	// (query.DefaultRawMaxRows).
	MaxRows int `json:"maxRows"`
	// TimeoutSeconds bounds each query on the server; 0: 30 s.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Prices are USD per million tokens by requested model, for the
	// estimated_cost metric; a model without a price is named in a notice
	// and costs nothing in the sums.
	Prices map[string]Price `json:"prices"`

	Password string `json:"-"`
}

// Price is what a model's tokens cost, in USD per million.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// Defaults for Settings.
const (
	DefaultDatabase = "chainwatch"
	DefaultUser     = "default"
	DefaultTimeout  = 30 * time.Second
)

// LoadSettings reads an instance's settings, filling defaults and naming
// what is missing or invalid.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var st Settings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &st); err != nil {
			return st, fmt.Errorf("datasource settings: jsonData is not valid JSON: %w", err)
		}
	}
	st.Password = s.DecryptedSecureJSONData["password"]
	if st.Database == "" {
		st.Database = DefaultDatabase
	}
	if st.User == "" {
		st.User = DefaultUser
	}
	return st, st.Validate()
}

// Validate names each invalid setting.
func (s Settings) Validate() error {
	var errs []string
	if s.Address == "" {
		errs = append(errs, "address is required (ClickHouse's native protocol host:port, e.g. 127.0.0.1:9000)")
	} else if !strings.Contains(s.Address, ":") {
		errs = append(errs, fmt.Sprintf("address must be host:port, got %q", s.Address))
	}
	if s.MaxRows < 0 || s.MaxRows > query.MaxRawMaxRows {
		errs = append(errs, fmt.Sprintf("maxRows must be in 0..%d, got %d", query.MaxRawMaxRows, s.MaxRows))
	}
	for m, p := range s.Prices {
		if p.Input < 0 || p.Output < 0 {
			errs = append(errs, fmt.Sprintf("prices[%q] must be >= 0, got %+v", m, p))
		}
	}
	if s.TimeoutSeconds < 0 {
		errs = append(errs, fmt.Sprintf("timeoutSeconds must be >= 0, got %d", s.TimeoutSeconds))
	}
	if len(errs) > 0 {
		return fmt.Errorf("datasource settings: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (s Settings) timeout() time.Duration {
	if s.TimeoutSeconds > 0 {
		return time.Duration(s.TimeoutSeconds) * time.Second
	}
	return DefaultTimeout
}
