package amserver

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/internal/supervise"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestStartServesAPIAndRefusesATakenPort(t *testing.T) {
	if _, err := Find(); err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	s, err := Start(t.Context(), Config{Port: port, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get(s.URL() + "/api/v2/status")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %v %v", resp, err)
	}
	resp.Body.Close()
	if b, err := os.ReadFile(dir + "/alertmanager.yml"); err != nil || !strings.Contains(string(b), "receiver: default") {
		t.Fatalf("config not written: %v", err)
	}
	if _, err := Start(t.Context(), Config{Port: port, DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("second server on the same port: %v", err)
	}
}

// A supervised Alertmanager that is SIGKILLed is ready again on its port,
// the restart counted; after Stop it stays down.
func TestSupervisedRestartAfterSIGKILL(t *testing.T) {
	if _, err := Find(); err != nil {
		t.Skip(err) // Alertmanager is optional for chainwatch up
	}
	s, err := Start(t.Context(), Config{Port: freePort(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	restarts := supervise.RestartsCounter(prometheus.NewRegistry())
	s.Supervise(supervise.Options{Initial: 100 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		Restarts: restarts.WithLabelValues("alertmanager")})
	ready := func() bool {
		resp, err := (&http.Client{Timeout: time.Second}).Get(s.URL() + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	old := s.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !(s.Status().State == supervise.Running && s.PID() != old && ready()) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready again within 30 s: %+v", s.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Status(); st.Restarts != 1 || !strings.Contains(st.LastExit, "killed") {
		t.Errorf("status %+v, want 1 restart after signal: killed", st)
	}
	if n := testutil.ToFloat64(restarts.WithLabelValues("alertmanager")); n != 1 {
		t.Errorf("chainwatch_local_restarts_total{child=alertmanager} = %v, want 1", n)
	}
	s.Stop()
	time.Sleep(500 * time.Millisecond)
	if ready() {
		t.Error("alertmanager answers after Stop: restarted")
	}
}
