package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/schemas"
)

// Compile-time checks: the handlers Grafana calls and the disposer its
// instance manager calls when settings change.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured instance: a connection pool to ClickHouse
// and the reader over it.
type Datasource struct {
	settings Settings
	conn     driver.Conn
	reader   *query.Reader
}

// NewDatasource is the instance factory datasource.Manage calls. It opens
// the pool without connecting (clickhouse-go dials on first use), so a
// ClickHouse that is down at start-up is reported by each query and by
// CheckHealth, not by a failed instance.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	st, err := LoadSettings(s)
	if err != nil {
		return nil, err
	}
	return Open(st)
}

// Open returns a datasource over the ClickHouse st names.
func Open(st Settings) (*Datasource, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	conn, err := chgo.Open(&chgo.Options{
		Addr:         []string{st.Address},
		Auth:         chgo.Auth{Database: st.Database, Username: st.User, Password: st.Password},
		DialTimeout:  5 * time.Second,
		MaxOpenConns: 8,
		MaxIdleConns: 4,
	})
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %s: %w", st.Address, err)
	}
	return &Datasource{settings: st, conn: conn, reader: query.NewReader(conn)}, nil
}

// Dispose closes the pool (Grafana calls it when the settings change).
func (d *Datasource) Dispose() { d.conn.Close() }

// QueryData answers each query on its own: one that fails has its error
// in its own response (backend.ErrDataResponse), and the others still
// answer.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, dq := range req.Queries {
		resp.Responses[dq.RefID] = d.query(ctx, dq)
	}
	return resp, nil
}

// queryError is an error caused by the query itself (a 400), as opposed
// to ClickHouse failing (a 500).
type queryError struct{ err error }

func (e queryError) Error() string { return e.err.Error() }

func badQuery(format string, args ...any) error { return queryError{fmt.Errorf(format, args...)} }

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := ParseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			fmt.Sprintf("query %s: %v", dq.RefID, err))
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.timeout()+5*time.Second)
	defer cancel()
	frames, err := d.run(ctx, q, dq)
	if err != nil {
		status := backend.StatusInternal
		var ex *chgo.Exception
		if _, ok := err.(queryError); ok || isUserError(err) || q.QueryType == TypeSQL && errors.As(err, &ex) {
			// A raw SQL the server refuses (syntax, unknown column,
			// readonly) is the query's fault too.
			status = backend.StatusBadRequest
		}
		return backend.ErrDataResponseWithSource(status, backend.ErrorSourceDownstream,
			fmt.Sprintf("query %s (%s): %v", dq.RefID, q.QueryType, err))
	}
	return backend.DataResponse{Frames: frames}
}

// isUserError says whether err is the query's fault: a selector field that
// does not apply, a malformed trace id, a raw SQL refused before it ran or
// by the server.
func isUserError(err error) bool {
	s := err.Error()
	return strings.Contains(s, query.ErrNotApplicable.Error()) || strings.Contains(s, query.ErrTraceID.Error()) ||
		strings.HasPrefix(s, "raw sql: ") && !strings.Contains(s, "reading row") || strings.HasPrefix(s, "grouping: ") ||
		strings.HasPrefix(s, "selector: ")
}

// interval is Grafana's interval rounded to whole seconds (at least one).
func interval(dq backend.DataQuery) time.Duration {
	iv := dq.Interval.Round(time.Second)
	if iv < time.Second {
		iv = time.Second
	}
	return iv
}

func (d *Datasource) run(ctx context.Context, q Query, dq backend.DataQuery) (framesT, error) {
	sel := q.selector()
	sel.From, sel.To = dq.TimeRange.From.UTC(), dq.TimeRange.To.UTC()
	switch q.QueryType {
	case TypeTimeSeries:
		return d.timeSeries(ctx, q, sel, dq)
	case TypeDrift:
		return d.drift(ctx, q, sel)
	case TypeAlerts:
		return d.alerts(ctx, q, sel)
	case TypeQuality:
		return d.quality(ctx, q, sel, dq)
	case TypeTraces:
		return d.traces(ctx, q, sel)
	case TypeTrace:
		return d.trace(ctx, q, sel)
	case TypeSQL:
		return d.rawSQL(ctx, q, dq)
	case TypeVariable:
		l, _ := query.ParseList(q.List)
		vals, err := d.reader.Values(ctx, l, query.ListFilter{Selector: sel, Evaluator: q.Evaluator})
		if err != nil {
			return nil, err
		}
		return framesT{valuesFrame(vals)}, nil
	}
	return nil, badQuery("unknown query type %q", q.QueryType)
}

// CheckHealth reports ClickHouse's version and chainwatch's schema
// version, and says exactly what is wrong when either is missing.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fail := func(format string, args ...any) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, args...)}, nil
	}
	var version string
	if err := d.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return fail("cannot reach ClickHouse at %s (database %s, user %s): %v", d.settings.Address, d.settings.Database, d.settings.User, err)
	}
	var tables uint64
	if err := d.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'").Scan(&tables); err != nil {
		return fail("ClickHouse %s: reading system.tables: %v", version, err)
	}
	if tables == 0 {
		return fail("ClickHouse %s is reachable, but database %s has no chainwatch schema (no schema_migrations table): run `chainwatch migrate` against it, or point the datasource at chainwatch's database", version, d.settings.Database)
	}
	var schema uint32
	if err := d.conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&schema); err != nil {
		return fail("ClickHouse %s: reading schema_migrations: %v", version, err)
	}
	want := LatestSchema()
	if int(schema) < want {
		return fail("ClickHouse %s, chainwatch schema version %d: this plugin needs version %d; run `chainwatch migrate` (or restart `chainwatch up`, which migrates)", version, schema, want)
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("ClickHouse %s, chainwatch schema version %d, database %s", version, schema, d.settings.Database)}, nil
}

// LatestSchema is the newest migration this plugin's queries need.
func LatestSchema() int {
	n := 0
	for _, m := range schemas.Migrations {
		if m.Version > n {
			n = m.Version
		}
	}
	return n
}

// CallResource serves the editor's lists: GET /lists/{list}?app=&chain=…
// (query.Lists) answers a JSON array of strings; GET /lists names the
// lists.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	reply := func(status int, v any) error {
		body, _ := json.Marshal(v)
		return sender.Send(&backend.CallResourceResponse{Status: status,
			Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: body})
	}
	if req.Method != http.MethodGet {
		return reply(http.StatusMethodNotAllowed, map[string]string{"error": "only GET is served"})
	}
	path := strings.Trim(req.Path, "/")
	if path == "lists" {
		return reply(http.StatusOK, query.Lists)
	}
	name, ok := strings.CutPrefix(path, "lists/")
	if !ok {
		return reply(http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no resource %q: GET lists or lists/{list}", req.Path)})
	}
	l, err := query.ParseList(name)
	if err != nil {
		return reply(http.StatusNotFound, map[string]string{"error": err.Error()})
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return reply(http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("bad url %q: %v", req.URL, err)})
	}
	p := u.Query()
	f := query.ListFilter{Selector: query.Selector{App: p.Get("app"), Environment: p.Get("environment"),
		Chain: p.Get("chain"), ChainVersion: p.Get("chainVersion")}, Evaluator: p.Get("evaluator")}
	vals, err := d.reader.Values(ctx, l, f)
	if err != nil {
		return reply(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	return reply(http.StatusOK, vals)
}
