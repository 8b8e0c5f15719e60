// Package amserver runs a local Alertmanager as a child process: what
// `chainwatch up` starts when prometheus-alertmanager is installed and no
// alerting.alertmanager.urls are configured. Its own port, its own storage
// under the data directory, gossip off.
package amserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/local"
)

// Binaries are the names looked up on PATH, Debian's first.
var Binaries = []string{"prometheus-alertmanager", "alertmanager"}

// DefaultConfig routes every alert to a receiver with no integrations:
// alerts are visible in the UI and API (and to Grafana), nobody is paged
// until the operator adds a receiver in their own config.
const DefaultConfig = `# written by chainwatch up; replace with local.alertmanager.config_file
route:
  receiver: default
  group_by: ['alertname', 'app', 'monitor']
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: default
`

// Config says where and how to run it.
type Config struct {
	Binary     string `yaml:"binary"`      // the alertmanager executable; empty: Find
	Port       int    `yaml:"port"`        // web/API port on 127.0.0.1 (default 19093)
	ConfigFile string `yaml:"config_file"` // an Alertmanager config to use instead of DefaultConfig
	DataDir    string `yaml:"-"`
}

// DefaultPort is the local Alertmanager's port.
const DefaultPort = 19093

// Validate names the bad key relative to the section and the value given;
// the loader adds "local.alertmanager.".
func (c Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("port must be between 0 and 65535, got %d", c.Port)
	}
	return nil
}

// Server is a local Alertmanager. Its port, storage and config stay the
// same for its whole life; the process may change: Supervise starts a new
// one whenever the current one exits.
type Server struct {
	url  string
	bin  string
	args []string
	log  string // its stdout and stderr

	child supervise.Child[*proc]
	stop  sync.Once
}

// proc is one run of Alertmanager.
type proc struct {
	s    *Server
	cmd  *exec.Cmd
	done chan struct{}
}

var _ supervise.Process = (*proc)(nil)

// Find returns the Alertmanager binary on PATH, or Debian's in /usr/bin
// (local.Find).
func Find() (string, error) {
	return local.Find("", "", Binaries, "Debian/Ubuntu: apt-get install prometheus-alertmanager")
}

// Start runs Alertmanager and waits until it is ready.
func Start(ctx context.Context, c Config) (*Server, error) {
	bin := c.Binary
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	addr := "127.0.0.1:" + strconv.Itoa(c.Port)
	if err := os.MkdirAll(filepath.Join(c.DataDir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("creating alertmanager data dir: %w", err)
	}
	cfgPath := c.ConfigFile
	if cfgPath == "" {
		cfgPath = filepath.Join(c.DataDir, "alertmanager.yml")
		if err := os.WriteFile(cfgPath, []byte(DefaultConfig), 0o644); err != nil {
			return nil, fmt.Errorf("writing alertmanager config: %w", err)
		}
	}
	s := &Server{url: "http://" + addr, bin: bin, log: filepath.Join(c.DataDir, "alertmanager.log"),
		args: []string{"--config.file=" + cfgPath, "--storage.path=" + filepath.Join(c.DataDir, "data"),
			"--web.listen-address=" + addr, "--cluster.listen-address="}}
	p, err := s.launch(ctx)
	if err != nil {
		return nil, err
	}
	s.child.Set(p)
	return s, nil
}

// launch starts one run and waits until it is ready; on error nothing is
// left running.
func (s *Server) launch(ctx context.Context) (*proc, error) {
	addr := strings.TrimPrefix(s.url, "http://")
	if l, err := net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("alertmanager port %s is taken (set local.alertmanager.port): %w", addr, err)
	} else {
		l.Close()
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening alertmanager log: %w", err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", s.bin, err)
	}
	p := &proc{s: s, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(s.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("alertmanager exited during start (%v); see %s", cmd.ProcessState, s.log)
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("alertmanager not ready on %s: %w", s.url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Supervise restarts Alertmanager whenever its process exits before Stop,
// with backoff, on the same port and storage (see package supervise);
// o.Name defaults to "alertmanager". Call it once, right after Start.
// Alertmanager keeps alerts in memory: a restarted one has them again at
// the senders' next resend.
func (s *Server) Supervise(o supervise.Options) { s.child.Supervise("alertmanager", o, s.launch) }

// Status is its state for health checks: a supervised server's from its
// supervisor; an unsupervised one is running until its process exits.
func (s *Server) Status() supervise.Status { return s.child.Status() }

// PID is the current process's id.
func (s *Server) PID() int { return s.child.Current().cmd.Process.Pid }

// URL is the base URL of the API and UI.
func (s *Server) URL() string { return s.url }

// Stop ends supervision and terminates Alertmanager (SIGTERM, then SIGKILL
// after 5 s). Idempotent.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.child.Stop()
	})
}

// Done is closed when the process has exited.
func (p *proc) Done() <-chan struct{} { return p.done }

// Exited says how the process exited and quotes the end of its log.
func (p *proc) Exited() (reason, logTail string) {
	<-p.done
	reason = p.cmd.ProcessState.String()
	b, _ := os.ReadFile(p.s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return reason, string(b)
}

// Stop terminates the process (SIGTERM, then SIGKILL after 5 s) and waits.
func (p *proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
