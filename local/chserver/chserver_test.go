package chserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/internal/supervise"
	"github.com/chainwatch/chainwatch/local/chserver"
)

// syncBuf is a log sink safe for the supervisor's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// query runs q over the HTTP interface at base and returns the trimmed body.
func query(base, q string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Post(base+"/?query="+url.QueryEscape(q), "text/plain", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status + ": " + string(b))
	}
	return strings.TrimSpace(string(b)), nil
}

// A supervised server that is SIGKILLed comes back on the same address with
// its data, the restart counted and logged; after Stop nothing comes back.
func TestSupervisedServerIsRestartedAfterSIGKILL(t *testing.T) {
	if _, err := chserver.FindBinary(""); err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	base, dataDir := s.HTTPAddr(), s.DataDir()
	for _, q := range []string{"CREATE TABLE default.kept (x UInt8) ENGINE = TinyLog", "INSERT INTO default.kept VALUES (7)"} {
		if _, err := query(base, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	logs := &syncBuf{}
	restarts := supervise.RestartsCounter(prometheus.NewRegistry())
	s.Supervise(supervise.Options{Initial: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil)),
		Restarts: restarts.WithLabelValues("clickhouse")})

	old := s.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil { // the server alone, as a crash would
		t.Fatal(err)
	}
	killed := time.Now()
	var got string
	for deadline := time.Now().Add(60 * time.Second); ; {
		if s.Status().State == supervise.Running && s.PID() != old {
			if got, err = query(base, "SELECT sum(x) FROM default.kept"); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not answering on %s again within 60 s: status %+v, last error %v", base, s.Status(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("answering again %s after the kill", time.Since(killed).Round(time.Millisecond))
	if got != "7" {
		t.Errorf("restarted server lost its data: sum = %q", got)
	}
	if s.HTTPAddr() != base || s.DataDir() != dataDir {
		t.Errorf("restarted on %s %s, want %s %s", s.HTTPAddr(), s.DataDir(), base, dataDir)
	}
	st := s.Status()
	if st.Restarts != 1 || !strings.Contains(st.LastExit, "killed") {
		t.Errorf("status %+v, want 1 restart after signal: killed", st)
	}
	if n := testutil.ToFloat64(restarts.WithLabelValues("clickhouse")); n != 1 {
		t.Errorf("chainwatch_local_restarts_total{child=clickhouse} = %v, want 1", n)
	}
	if l := logs.String(); !strings.Contains(l, "exited unexpectedly") || !strings.Contains(l, `child=clickhouse exit="signal: killed"`) {
		t.Errorf("the exit is not logged with the child and its status:\n%s", l)
	}

	cur := s.PID()
	s.Stop()
	if err := syscall.Kill(cur, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still there after Stop (%v)", cur, err)
	}
	time.Sleep(time.Second) // longer than the backoff
	if _, err := query(base, "SELECT 1"); err == nil {
		t.Error("something answers on the server's port after Stop: restarted")
	}
	if st := s.Status(); st.State != supervise.Stopped || st.Restarts != 1 {
		t.Errorf("status after Stop %+v", st)
	}
}

// The server runs with ClickHouse's own jemalloc setting, which the
// linked jemalloc accepts (it complains on stderr, into stdout.log, of an
// option it does not know); a MALLOC_CONF of the user's is kept instead.
func TestServerAllocatorSetting(t *testing.T) {
	if _, err := chserver.FindBinary(""); err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	start := func() (env []string, log string) {
		t.Helper()
		s, err := chserver.Start(t.Context(), chserver.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		b, err := os.ReadFile("/proc/" + strconv.Itoa(s.PID()) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		l, _ := os.ReadFile(filepath.Join(s.DataDir(), "log", "stdout.log"))
		return strings.Split(string(b), "\x00"), string(l)
	}
	env, log := start()
	if !slices.Contains(env, "MALLOC_CONF="+chserver.JemallocConf) || !slices.Contains(env, "CLICKHOUSE_WATCHDOG_ENABLE=0") {
		t.Errorf("server environment lacks MALLOC_CONF=%s or the watchdog switch: %q", chserver.JemallocConf, env)
	}
	if strings.Contains(log, "<jemalloc>") {
		t.Errorf("jemalloc refused the setting:\n%s", log)
	}
	t.Setenv("MALLOC_CONF", "dirty_decay_ms:1000")
	if env, _ := start(); !slices.Contains(env, "MALLOC_CONF=dirty_decay_ms:1000") || slices.Contains(env, "MALLOC_CONF="+chserver.JemallocConf) {
		t.Errorf("the user's MALLOC_CONF was not kept alone: %q", env)
	}
}
