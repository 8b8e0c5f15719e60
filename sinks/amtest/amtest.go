// Package amtest gives tests a real Alertmanager: Debian's
// prometheus-alertmanager (0.25) started as a child process with its own
// storage directory, port and configuration, routing every alert to a
// webhook receiver inside the test so notifications can be observed.
//
// The binary is the one named by CHAINWATCH_TEST_ALERTMANAGER, else
// prometheus-alertmanager or alertmanager on PATH, else
// /usr/bin/prometheus-alertmanager. Without one the test fails, unless
// CHAINWATCH_TEST_ALLOW_SKIP is set; then it is skipped.
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/local/amserver"
)

// EnvBinary names the environment variable with the binary's path.
const EnvBinary = "CHAINWATCH_TEST_ALERTMANAGER"

// GroupWait and GroupInterval are the route's timings: short, so
// notifications reach the receiver within a couple of seconds.
const (
	GroupWait     = time.Second
	GroupInterval = time.Second
)

// Server is a running Alertmanager.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	hook *httptest.Server

	mu    sync.Mutex
	notes []Notification

	srv *amserver.Server
}

// GettableAlert is an alert as GET /api/v2/alerts returns it.
type GettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       AlertStatus       `json:"status"`
	Receivers    []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

// AlertStatus is a gettable alert's status; State is "active",
// "suppressed" or "unprocessed".
type AlertStatus struct {
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
}

// Notification is what Alertmanager's webhook receiver posts (version 4).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []NotifiedAlert   `json:"alerts"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
}

// NotifiedAlert is one alert in a Notification.
type NotifiedAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// FindBinary returns the Alertmanager binary to run.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	p, err := amserver.Find()
	if err != nil {
		return "", fmt.Errorf("%w (or set %s)", err, EnvBinary)
	}
	return p, nil
}

// Start starts an Alertmanager for the test; tb.Cleanup kills it and
// removes its files.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := FindBinary()
	if err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			tb.Skipf("no alertmanager: %v", err)
		}
		tb.Fatalf("starting alertmanager for tests: %v", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	s.hook = httptest.NewServer(http.HandlerFunc(s.receive))
	tb.Cleanup(s.hook.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := s.writeConfig(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop) // runs before TempDir's removal
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// URL is the Alertmanager's base URL, e.g. http://127.0.0.1:40123.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// Dir is the storage directory (config, data, log).
func (s *Server) Dir() string { return s.dir }

func (s *Server) writeConfig() error {
	cfg := fmt.Sprintf(`# written by chainwatch's amtest
route:
  receiver: hook
  group_by: ['alertname']
  group_wait: %s
  group_interval: %s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, promDuration(GroupWait), promDuration(GroupInterval), s.hook.URL+"/")
	if err := os.WriteFile(filepath.Join(s.dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing alertmanager config: %w", err)
	}
	return nil
}

func promDuration(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

func (s *Server) start() error {
	srv, err := amserver.Start(context.Background(), amserver.Config{Binary: s.bin, Port: s.port,
		ConfigFile: filepath.Join(s.dir, "alertmanager.yml"), DataDir: s.dir})
	if err != nil {
		return fmt.Errorf("%w; its log: %s", err, s.tailLog())
	}
	s.srv = srv
	return nil
}

// Stop terminates Alertmanager (SIGTERM, SIGKILL after 5 s), keeping its
// port and storage for Restart: tests use it to simulate an outage.
// Alertmanager keeps alerts in memory only, so they are gone after Restart.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Stop()
		s.srv = nil
	}
}

// Restart starts a stopped Alertmanager again on the same port and storage
// (it stops a running one first).
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.tb.Fatalf("restarting alertmanager: %v", err)
	}
}

// Alerts returns the alerts GET /api/v2/alerts lists (its defaults: active,
// silenced, inhibited and unprocessed; Alertmanager leaves out alerts whose
// endsAt has passed).
func (s *Server) Alerts(ctx context.Context) ([]GettableAlert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("getting alerts: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("getting alerts: %s: %s", resp.Status, body)
	}
	var out []GettableAlert
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decoding alerts: %w", err)
	}
	return out, nil
}

// Notifications returns what the webhook receiver has received so far.
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.notes...)
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	var n Notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.notes = append(s.notes, n)
	s.mu.Unlock()
}

func (s *Server) tailLog() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "alertmanager.log"))
	if err != nil || len(b) == 0 {
		return "(empty)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
