package serving

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// Hot reload: a good config takes effect (on SIGHUP and on a file change);
// a bad one is refused with its reason and the running config keeps
// serving; keys keep their usage across a reload.
func TestHotReload(t *testing.T) {
	a, b := openaitest.NewServer(t), openaitest.NewServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "serving.yaml")
	write := func(url string, extra string) {
		t.Helper()
		text := "routes:\n  - name: small\n    replicas: [{url: " + url + "}]\n" + extra
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a.URL, "")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	g := startGateway(t, cfg, Options{Metrics: m})
	hup := make(chan os.Signal, 1)
	results := make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Watch(ctx, path, hup, 20*time.Millisecond, func(err error) { results <- err })
	call := func() {
		t.Helper()
		if resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	wait := func() error {
		t.Helper()
		select {
		case err := <-results:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no reload")
			return nil
		}
	}
	call()
	// A file change to upstream b is picked up.
	write(b.URL, "")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	call()
	if a.Chat.Count() != 1 || b.Chat.Count() != 1 {
		t.Fatalf("a %d, b %d", a.Chat.Count(), b.Chat.Count())
	}
	// A bad config is refused, saying why; b keeps serving.
	write(a.URL, "  - name: broken\n    replicas: []\n")
	err = wait()
	if err == nil || !strings.Contains(err.Error(), "routes[1].replicas: a route needs at least one replica") {
		t.Fatalf("bad config: %v", err)
	}
	call()
	if b.Chat.Count() != 2 || a.Chat.Count() != 1 {
		t.Fatalf("after a bad config: a %d, b %d", a.Chat.Count(), b.Chat.Count())
	}
	// SIGHUP reloads even an unchanged file.
	write(a.URL, "")
	wait()
	hup <- os.Interrupt
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("rejected")); got != 1 {
		t.Fatalf("rejected reloads %v", got)
	}
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("applied")); got != 3 {
		t.Fatalf("applied reloads %v", got)
	}
}

// Keys keep their usage across a reload that keeps them.
func TestReloadKeepsKeyUsage(t *testing.T) {
	up := openaitest.NewServer(t)
	cfg := Config{Routes: []RouteConfig{routeTo("small", up.URL)}, Keys: []KeyConfig{{Name: "k", SHA256: HashKey("sk"), Routes: []string{"*"}, RPM: 1}}}
	g := startGateway(t, cfg, Options{})
	body := `{"model":"small","messages":[{"role":"user","content":"hi"}]}`
	if resp, _ := rawPost(t, g.URL+"/v1/chat/completions", "sk", body); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if err := g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if resp, _ := rawPost(t, g.URL+"/v1/chat/completions", "sk", body); resp.StatusCode != 429 {
		t.Fatalf("the reload reset the key's limit: %d", resp.StatusCode)
	}
}
