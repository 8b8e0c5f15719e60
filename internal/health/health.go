package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/internal/supervise"
)

// Timeouts of the health checks: each check of a /readyz gets
// DefaultReadyTimeout; /healthz, a liveness check that must answer fast
// whatever the broker does, gives each DefaultLiveTimeout.
const (
	DefaultReadyTimeout = 2 * time.Second
	DefaultLiveTimeout  = 500 * time.Millisecond
)

// Component is one part's health in the body of /healthz and /readyz.
type Component struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Optional bool   `json:"optional,omitempty"` // not needed for readiness
	State    string `json:"state,omitempty"`    // a local child's (running, restarting, failed) or the writer group's
	Error    string `json:"error,omitempty"`    // why not OK
	Restarts int    `json:"restarts,omitempty"` // of a local child
	LastExit string `json:"last_exit,omitempty"`
}

// Report is the body of /healthz and /readyz.
type Report struct {
	Ready      bool        `json:"ready"`
	Failing    []string    `json:"failing,omitempty"` // "clickhouse: why", one per required component not OK
	Components []Component `json:"components"`
}

// Check reports one component, probing it within ctx's deadline.
type Check func(ctx context.Context) Component

// Checks serves /healthz (liveness: 200 while the process serves, with the
// components' states) and /readyz (200 only when every required component
// is OK, else 503 naming each failing one).
type Checks struct {
	mu     sync.Mutex
	checks []Check
}

// New returns a Checks over checks; Add adds more.
func New(checks ...Check) *Checks { return &Checks{checks: checks} }

// Add adds checks.
func (h *Checks) Add(checks ...Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, checks...)
}

// Report runs every check at once, each with its own timeout.
func (h *Checks) Report(ctx context.Context, timeout time.Duration) Report {
	h.mu.Lock()
	checks := append([]Check(nil), h.checks...)
	h.mu.Unlock()
	r := Report{Ready: true, Components: make([]Component, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r.Components[i] = c(cctx)
		})
	}
	wg.Wait()
	for _, c := range r.Components {
		if !c.OK && !c.Optional {
			r.Ready = false
			r.Failing = append(r.Failing, c.Name+": "+c.Error)
		}
	}
	return r
}

// Healthz answers 200 with the report (checks limited to DefaultLiveTimeout).
func (h *Checks) Healthz(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, http.StatusOK, h.Report(r.Context(), DefaultLiveTimeout))
}

// Readyz answers 200 when ready, else 503, with the report.
func (h *Checks) Readyz(w http.ResponseWriter, r *http.Request) {
	rep := h.Report(r.Context(), DefaultReadyTimeout)
	code := http.StatusOK
	if !rep.Ready {
		code = http.StatusServiceUnavailable
	}
	writeHealth(w, code, rep)
}

func writeHealth(w http.ResponseWriter, code int, rep Report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}

// Kafka is "kafka": a broker answers cl's ping (an ApiVersions request).
func Kafka(cl *kgo.Client) Check {
	return func(ctx context.Context) Component {
		c := Component{Name: "kafka", OK: true}
		if err := cl.Ping(ctx); err != nil {
			c.OK, c.Error = false, "no broker answers: "+err.Error()
		}
		return c
	}
}

// ClickHouse is "clickhouse": a locally started server (child, nil for
// an external one) is running, and conn answers a ping.
func ClickHouse(conn driver.Conn, child func() supervise.Status) Check {
	return func(ctx context.Context) Component {
		c := Component{Name: "clickhouse", OK: true}
		if child != nil {
			st := child()
			c.State, c.Restarts, c.LastExit = string(st.State), st.Restarts, st.LastExit
			if st.State != supervise.Running {
				c.OK, c.Error = false, fmt.Sprintf("the local clickhouse-server is %s since %s", st.State, st.Since.Format(time.RFC3339))
				return c
			}
		}
		if err := conn.Ping(ctx); err != nil {
			c.OK, c.Error = false, "ping: "+err.Error()
		}
		return c
	}
}

// Child reports an optional local child (the local Alertmanager:
// alerts are still recorded in ClickHouse while it is away).
func Child(name string, status func() supervise.Status) Check {
	return func(context.Context) Component {
		st := status()
		c := Component{Name: name, Optional: true, State: string(st.State), Restarts: st.Restarts, LastExit: st.LastExit}
		c.OK = st.State == supervise.Running
		if !c.OK {
			c.Error = "the local " + name + " is " + string(st.State)
		}
		return c
	}
}
