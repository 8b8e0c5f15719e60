package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
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

// HealthReport is the body of /healthz and /readyz.
type HealthReport struct {
	Ready      bool        `json:"ready"`
	Failing    []string    `json:"failing,omitempty"` // "clickhouse: why", one per required component not OK
	Components []Component `json:"components"`
}

// HealthCheck reports one component, probing it within ctx's deadline.
type HealthCheck func(ctx context.Context) Component

// Health serves /healthz (liveness: 200 while the process serves, with the
// components' states) and /readyz (200 only when every required component
// is OK, else 503 naming each failing one).
type Health struct {
	mu     sync.Mutex
	checks []HealthCheck
}

// NewHealth returns a Health over checks; Add adds more.
func NewHealth(checks ...HealthCheck) *Health { return &Health{checks: checks} }

// Add adds checks.
func (h *Health) Add(checks ...HealthCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, checks...)
}

// Report runs every check at once, each with its own timeout.
func (h *Health) Report(ctx context.Context, timeout time.Duration) HealthReport {
	h.mu.Lock()
	checks := append([]HealthCheck(nil), h.checks...)
	h.mu.Unlock()
	r := HealthReport{Ready: true, Components: make([]Component, len(checks))}
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
func (h *Health) Healthz(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, http.StatusOK, h.Report(r.Context(), DefaultLiveTimeout))
}

// Readyz answers 200 when ready, else 503, with the report.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	rep := h.Report(r.Context(), DefaultReadyTimeout)
	code := http.StatusOK
	if !rep.Ready {
		code = http.StatusServiceUnavailable
	}
	writeHealth(w, code, rep)
}

func writeHealth(w http.ResponseWriter, code int, rep HealthReport) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}

// KafkaCheck is "kafka": a broker answers cl's ping (an ApiVersions request).
func KafkaCheck(cl *kgo.Client) HealthCheck {
	return func(ctx context.Context) Component {
		c := Component{Name: "kafka", OK: true}
		if err := cl.Ping(ctx); err != nil {
			c.OK, c.Error = false, "no broker answers: "+err.Error()
		}
		return c
	}
}

// ClickHouseCheck is "clickhouse": a locally started server (child, nil for
// an external one) is running, and conn answers a ping.
func ClickHouseCheck(conn driver.Conn, child func() supervise.Status) HealthCheck {
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

// WritersCheck is "writers": none of this process's writers has stopped,
// and the group is Stable with members (a group rebalancing, empty or dead
// consumes nothing).
func WritersCheck(writers []*Writer, adm *kadm.Client, group string) HealthCheck {
	return func(ctx context.Context) Component {
		c := Component{Name: "writers"}
		stopped := 0
		for _, w := range writers {
			select {
			case <-w.Done():
				stopped++
			default:
			}
		}
		if stopped > 0 {
			c.Error = fmt.Sprintf("%d of %d writers in this process stopped", stopped, len(writers))
			return c
		}
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			c.Error = fmt.Sprintf("describing group %s: %v", group, err)
			return c
		}
		g := gs[group]
		if g.Err != nil {
			c.Error = fmt.Sprintf("describing group %s: %v", group, g.Err)
			return c
		}
		c.State = g.State
		if g.State != "Stable" || len(g.Members) == 0 {
			c.Error = fmt.Sprintf("group %s is %s with %d members", group, g.State, len(g.Members))
			return c
		}
		c.OK = true
		return c
	}
}

// ChildCheck reports an optional local child (the local Alertmanager:
// alerts are still recorded in ClickHouse while it is away).
func ChildCheck(name string, status func() supervise.Status) HealthCheck {
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
