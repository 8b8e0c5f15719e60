// Package chserver runs a ClickHouse server as a child process, with its own
// ports, a data directory and a config written for it. It is what
// `chainwatch up` uses for the embedded default and what the tests use for a
// throwaway server. It works with Debian's clickhouse-server 18.16 (XML config
// under <yandex>) and with current releases, which still read that root.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/local"
)

// InstallHint is printed when no clickhouse-server binary is found.
const InstallHint = "install it with: sudo apt-get install -y clickhouse-server (Debian/Ubuntu), or see https://clickhouse.com/docs/install"

// DefaultStartTimeout is how long Start waits for the server to answer.
const DefaultStartTimeout = 60 * time.Second

// Config says where the child server keeps its data and which ports it uses.
// Zero ports are chosen free at start.
type Config struct {
	Binary   string `yaml:"binary"`    // default: clickhouse-server on PATH, then /usr/sbin, /usr/bin
	DataDir  string `yaml:"data_dir"`  // default: a temporary directory removed on Stop
	TCPPort  int    `yaml:"tcp_port"`  // native protocol
	HTTPPort int    `yaml:"http_port"` // HTTP interface
	// MaxMemoryBytes caps a query's memory (max_memory_usage); default 4 GiB.
	MaxMemoryBytes int64 `yaml:"max_memory_bytes"`
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "local.clickhouse.".
func (c Config) Validate() error {
	var errs []error
	if c.TCPPort < 0 || c.TCPPort > 65535 {
		errs = append(errs, fmt.Errorf("tcp_port must be between 0 and 65535, got %d", c.TCPPort))
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("http_port must be between 0 and 65535, got %d", c.HTTPPort))
	}
	if c.MaxMemoryBytes < 0 {
		errs = append(errs, fmt.Errorf("max_memory_bytes must be >= 0, got %d", c.MaxMemoryBytes))
	}
	return errors.Join(errs...)
}

// Server is a child clickhouse-server. Its ports, data directory and config
// stay the same for its whole life; the process may change: Supervise
// starts a new one whenever the current one exits.
type Server struct {
	cfg     Config
	bin     string
	tempDir bool
	Version string // of the first run

	child supervise.Child[*proc]
	stop  sync.Once
}

// proc is one run of the server.
type proc struct {
	s       *Server
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

var _ supervise.Process = (*proc)(nil)

// FindBinary returns the clickhouse-server binary to run (local.Find):
// explicit, else clickhouse-server on PATH or in /usr/sbin…, else a
// single-binary `clickhouse` install.
func FindBinary(explicit string) (string, error) {
	return local.Find(explicit, "clickhouse.local.binary", []string{"clickhouse-server", "clickhouse"}, InstallHint)
}

// Start writes a config and starts the server, returning once it answers
// queries or ctx ends. It is not supervised until Supervise.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	bin, err := FindBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, bin: bin}
	if s.cfg.DataDir == "" {
		d, err := os.MkdirTemp("", "chainwatch-clickhouse-")
		if err != nil {
			return nil, fmt.Errorf("creating clickhouse data dir: %w", err)
		}
		s.cfg.DataDir, s.tempDir = d, true
	}
	if s.cfg.DataDir, err = filepath.Abs(s.cfg.DataDir); err != nil {
		return nil, err
	}
	if s.cfg.TCPPort == 0 {
		if s.cfg.TCPPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if s.cfg.HTTPPort == 0 {
		if s.cfg.HTTPPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if s.cfg.MaxMemoryBytes == 0 {
		s.cfg.MaxMemoryBytes = 4 << 30
	}
	p, err := s.launch(ctx)
	if err != nil {
		if s.tempDir {
			_ = os.RemoveAll(s.cfg.DataDir)
		}
		return nil, err
	}
	s.child.Set(p)
	return s, nil
}

// launch starts one run on the server's ports and data and waits until it
// answers; on error nothing is left running.
func (s *Server) launch(ctx context.Context) (*proc, error) {
	for _, port := range []int{s.cfg.TCPPort, s.cfg.HTTPPort} {
		// A server already on the port would answer the readiness check
		// in our child's place.
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil, fmt.Errorf("clickhouse port %d is taken (another ClickHouse or chainwatch running?): %w", port, err)
		}
		l.Close()
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	args := []string{"--config-file=" + filepath.Join(s.cfg.DataDir, "config.xml")}
	if filepath.Base(s.bin) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	logf, err := os.OpenFile(filepath.Join(s.cfg.DataDir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse stdout log: %w", err)
	}
	p := &proc{s: s, cmd: exec.Command(s.bin, args...), done: make(chan struct{})}
	p.cmd.Dir = s.cfg.DataDir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = childEnv(os.Environ())
	// Its own process group, and killed with us on Linux, so a crashed
	// parent leaves no server behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", s.bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		// Whatever the server left in its group goes with it, so that
		// the next run finds its ports free.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		logf.Close()
		close(p.done)
	}()
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// JemallocConf is the allocator setting ClickHouse compiles into its own
// builds (ClickHouse's contrib/jemalloc-cmake/CMakeLists.txt, for Linux:
// one arena per CPU, no separate arena for large allocations, freed pages
// kept 5 s before they are given back; ClickHouse issue 11121 has the
// motivation). Debian's clickhouse-server 18.16 links the system jemalloc
// without it, and jemalloc's defaults give the pages of every allocation
// over 8 MiB back at once — the column buffers of each insert and merge —
// so the next one faults them in again, zeroed. `bench ingest` on the
// 2-core machine (2026-12-06): ClickHouse took 183k–213k page faults a
// second without it and 83k–118k with it, 12.6–14.1 against 10.4–11.5 µs
// of CPU a span, for the same peak memory (612–743 against 672–751 MiB);
// see BENCHMARKS.md. A MALLOC_CONF already in the environment is kept as
// it is.
const JemallocConf = "percpu_arena:percpu,oversize_threshold:0,muzzy_decay_ms:5000,dirty_decay_ms:5000"

// childEnv is the server's environment: ours, without ClickHouse's own
// watchdog (newer releases fork one that restarts the server itself;
// chainwatch supervises it instead, Supervise, so that a restart is logged
// and counted), with JemallocConf unless MALLOC_CONF is set.
func childEnv(env []string) []string {
	out := append(env[:len(env):len(env)], "CLICKHOUSE_WATCHDOG_ENABLE=0")
	for _, kv := range env {
		if strings.HasPrefix(kv, "MALLOC_CONF=") {
			return out
		}
	}
	return append(out, "MALLOC_CONF="+JemallocConf)
}

// Supervise restarts the server whenever its process exits before Stop,
// with backoff, on the same ports and data (see package supervise);
// o.Name defaults to "clickhouse". Call it once, right after Start.
func (s *Server) Supervise(o supervise.Options) { s.child.Supervise("clickhouse", o, s.launch) }

// Status is the server's state for health checks: a supervised server's
// from its supervisor; an unsupervised one is running until its process
// exits, then failed.
func (s *Server) Status() supervise.Status { return s.child.Status() }

func (s *Server) current() *proc { return s.child.Current() }

// Addr is the native-protocol address, host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.cfg.TCPPort) }

// HTTPAddr is the HTTP interface's base URL.
func (s *Server) HTTPAddr() string { return fmt.Sprintf("http://127.0.0.1:%d", s.cfg.HTTPPort) }

// PID is the current process's id.
func (s *Server) PID() int { return s.current().cmd.Process.Pid }

// DataDir is where the server keeps its data, config and logs.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// Done is closed when the current process has exited.
func (s *Server) Done() <-chan struct{} { return s.current().done }

// Kill stops the current process abruptly (SIGKILL), keeping its data:
// tests use it to take storage away under load. Restart starts an
// unsupervised server again on the same ports; a supervised one is
// restarted by its supervisor.
func (s *Server) Kill() {
	p := s.current()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Restart starts a stopped, unsupervised server again with the same data
// and ports.
func (s *Server) Restart(ctx context.Context) (*Server, error) {
	cfg := s.cfg
	n, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n.tempDir = s.tempDir
	s.tempDir = false
	return n, nil
}

// Stop ends supervision and terminates the server (SIGTERM, then SIGKILL
// after 10 s), and removes a temporary data directory. It is idempotent.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.child.Stop()
		if s.tempDir {
			_ = os.RemoveAll(s.cfg.DataDir)
		}
	})
}

// Done is closed when the process has exited.
func (p *proc) Done() <-chan struct{} { return p.done }

// Exited says how the process exited and quotes the end of its log.
func (p *proc) Exited() (reason, logTail string) {
	<-p.done
	reason = "exit status 0"
	if p.waitErr != nil {
		reason = p.waitErr.Error()
	}
	return reason, p.s.tailLog()
}

// Stop terminates the process (SIGTERM to its group, then SIGKILL after
// 10 s) and waits for it.
func (p *proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) waitReady(ctx context.Context) error {
	s := p.s
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := s.HTTPAddr() + "/?query=SELECT%20version()"
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if s.Version == "" {
					s.Version = strings.TrimSpace(string(body))
				}
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("clickhouse-server exited during start (%v); its log: %s", p.waitErr, s.tailLog())
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server did not answer on %s within %s: %w; its log: %s", s.HTTPAddr(), DefaultStartTimeout, ctx.Err(), s.tailLog())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) tailLog() string {
	for _, name := range []string{"err.log", "stdout.log"} {
		b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "log", name))
		if err == nil && len(b) > 0 {
			if len(b) > 2000 {
				b = b[len(b)-2000:]
			}
			return string(b)
		}
	}
	return "(empty)"
}

func (s *Server) writeConfig() error {
	d := s.cfg.DataDir
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return fmt.Errorf("creating clickhouse dir: %w", err)
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<!-- written by chainwatch; regenerated at every start -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
`, d, s.cfg.TCPPort, s.cfg.HTTPPort)
	users := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>%d</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`, s.cfg.MaxMemoryBytes)
	if err := os.WriteFile(filepath.Join(d, "config.xml"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("writing clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, "users.xml"), []byte(users), 0o644); err != nil {
		return fmt.Errorf("writing clickhouse users config: %w", err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
