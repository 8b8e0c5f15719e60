package amserver

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
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
