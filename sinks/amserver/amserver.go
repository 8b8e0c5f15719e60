// Package amserver runs a local Alertmanager as a child process: what
// `chainwatch up` starts when prometheus-alertmanager is installed and no
// alerting.alertmanager.urls are configured. Its own port, its own storage
// under the data directory, gossip off.
package amserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
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

// Server is a running Alertmanager.
type Server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Find returns the Alertmanager binary on PATH, or Debian's in /usr/bin.
func Find() (string, error) {
	for _, b := range Binaries {
		if p, err := exec.LookPath(b); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/prometheus-alertmanager"); err == nil {
		return "/usr/bin/prometheus-alertmanager", nil
	}
	return "", errors.New("no prometheus-alertmanager on PATH (Debian/Ubuntu: apt-get install prometheus-alertmanager)")
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
	if l, err := net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("alertmanager port %s is taken (set local.alertmanager.port): %w", addr, err)
	} else {
		l.Close()
	}
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
	logf, err := os.OpenFile(filepath.Join(c.DataDir, "alertmanager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening alertmanager log: %w", err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.path="+filepath.Join(c.DataDir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{url: "http://" + addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(s.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("alertmanager exited during start (%v); see %s", cmd.ProcessState, filepath.Join(c.DataDir, "alertmanager.log"))
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("alertmanager not ready on %s: %w", s.url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the base URL of the API and UI.
func (s *Server) URL() string { return s.url }

// Stop terminates it (SIGTERM, then SIGKILL after 5 s).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
