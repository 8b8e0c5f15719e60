package serving

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"

	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// The key matrix: no key, unknown key, a route or chain the key may not
// call, requests per minute, tokens per minute, budget — each with its
// status, OpenAI error code and (for limits) Retry-After.
func TestKeyMatrix(t *testing.T) {
	up := openaitest.NewServer(t)
	cfg := Config{
		Routes: []RouteConfig{routeTo("small", up.URL), routeTo("big", up.URL)},
		Keys: []KeyConfig{
			{Name: "team-a", SHA256: HashKey("sk-a"), Routes: []string{"small"}, RPM: 3},
			{Name: "team-b", SHA256: HashKey("sk-b"), Routes: []string{"*"}, TPM: 300},
			{Name: "team-c", SHA256: HashKey("sk-c"), Routes: []string{"*"}, BudgetTokens: 120},
		},
	}
	g := startGateway(t, cfg, Options{})
	body := func(model string, maxTokens int) string {
		return `{"model":"` + model + `","max_tokens":` + strconv.Itoa(maxTokens) + `,"messages":[{"role":"user","content":"hi"}]}`
	}
	type want struct {
		status     int
		code       string
		retryAfter bool
	}
	for _, tc := range []struct {
		name, key, body string
		want            want
	}{
		{"no key", "", body("small", 10), want{401, "missing_api_key", false}},
		{"unknown key", "sk-zzz", body("small", 10), want{401, "invalid_api_key", false}},
		{"route not allowed", "sk-a", body("big", 10), want{403, "forbidden", false}},
		{"rpm 1", "sk-a", body("small", 10), want{200, "", false}},
		{"rpm 2", "sk-a", body("small", 10), want{200, "", false}},
		{"rpm 3", "sk-a", body("small", 10), want{200, "", false}},
		{"rpm exceeded", "sk-a", body("small", 10), want{429, "rate_limit_exceeded", true}},
		{"tpm: larger than the limit", "sk-b", body("big", 400), want{429, "rate_limit_exceeded", true}},
		{"tpm fits", "sk-b", body("big", 100), want{200, "", false}},
		{"budget fits", "sk-c", body("small", 100), want{200, "", false}},
		{"budget spent", "sk-c", body("small", 100), want{429, "budget_exceeded", false}},
	} {
		resp, b := rawPost(t, g.URL+"/v1/chat/completions", tc.key, tc.body)
		if resp.StatusCode != tc.want.status || (tc.want.code != "" && !strings.Contains(b, `"code":"`+tc.want.code+`"`)) ||
			(resp.Header.Get("Retry-After") != "") != tc.want.retryAfter {
			t.Errorf("%s: %d %s (Retry-After %q), want %+v", tc.name, resp.StatusCode, b, resp.Header.Get("Retry-After"), tc.want)
		}
		if strings.Contains(b, "sk-") {
			t.Errorf("%s: the answer repeats a key: %s", tc.name, b)
		}
	}
}

// Limits hold under concurrency: N parallel calls against an RPM of k
// admit exactly k; against a TPM, the tokens admitted never exceed the
// limit by more than one call's estimate.
func TestLimitsHoldUnderConcurrency(t *testing.T) {
	up := openaitest.NewServer(t)
	up.SetResponder(func(openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Reply{Content: "ok", Delay: 400 * time.Millisecond, PromptTokens: 10, CompletionTokens: 10}
	})
	cfg := Config{
		Routes: []RouteConfig{routeTo("small", up.URL)},
		Keys: []KeyConfig{
			{Name: "rpm", SHA256: HashKey("k-rpm"), Routes: []string{"*"}, RPM: 7},
			{Name: "tpm", SHA256: HashKey("k-tpm"), Routes: []string{"*"}, TPM: 1000},
			{Name: "budget", SHA256: HashKey("k-budget"), Routes: []string{"*"}, BudgetTokens: 500},
		},
	}
	g := startGateway(t, cfg, Options{})
	for _, tc := range []struct {
		key      string
		maxTok   int
		wantOK   int // exact
		parallel int
	}{
		{"k-rpm", 10, 7, 40},
		// Each call reserves prompt (~11) + 100; actual use is 20. While
		// all are in flight, 1000/111 = 9 fit.
		{"k-tpm", 100, 9, 40},
		{"k-budget", 100, 4, 40},
	} {
		var ok, limited atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < tc.parallel; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c := client(g, tc.key)
				p := chatParams("small", "hi")
				p.MaxTokens = oai.Int(int64(tc.maxTok))
				_, err := c.Chat.Completions.New(context.Background(), p)
				var apiErr *oai.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					t.Errorf("%s: %v", tc.key, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != int64(tc.wantOK) || ok.Load()+limited.Load() != int64(tc.parallel) {
			t.Errorf("%s: %d admitted, %d limited; want exactly %d admitted", tc.key, ok.Load(), limited.Load(), tc.wantOK)
		}
	}
}

func TestLimiterWindow(t *testing.T) {
	l := newLimiter(KeyConfig{RPM: 2, TPM: 100})
	t0 := time.Unix(1000, 0)
	if l.admit(t0, 10) != nil || l.admit(t0.Add(time.Second), 10) != nil {
		t.Fatal("first two refused")
	}
	r := l.admit(t0.Add(2*time.Second), 10)
	if r == nil || r.reason != "rpm" || r.retryAfter != 58*time.Second {
		t.Fatalf("third: %+v", r)
	}
	if l.admit(t0.Add(61*time.Second), 10) != nil {
		t.Fatal("the window did not slide")
	}
	// Settled use counts for a minute; reservations until settled.
	l2 := newLimiter(KeyConfig{TPM: 100})
	if l2.admit(t0, 60) != nil {
		t.Fatal()
	}
	if r := l2.admit(t0, 60); r == nil || r.reason != "tpm" {
		t.Fatal("a reservation did not count")
	}
	l2.settle(t0, 60, 30)
	if l2.admit(t0, 60) != nil {
		t.Fatal("the settled use (30) + 60 should fit 100")
	}
}

// A key that may not call a chain is refused before the gateway retrieves
// or renders anything for it; a key that may call the chain needs no
// right to its route.
func TestChainRights(t *testing.T) {
	up := openaitest.NewServer(t)
	var retrievals atomic.Int64
	ret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		retrievals.Add(1)
		io.WriteString(w, `{"documents": ["doc"]}`)
	}))
	t.Cleanup(ret.Close)
	dir := t.TempDir()
	writeChain(t, dir, "support", strings.Replace(supportChain, "RETRIEVAL", ret.URL, 1))
	src, _ := NewDirSource(dir)
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}, Keys: []KeyConfig{
		{Name: "routes-only", SHA256: HashKey("k1"), Routes: []string{"*"}},
		{Name: "bot-only", SHA256: HashKey("k2"), Chains: []string{"support-bot"}},
	}}, Options{Chains: src})
	body := `{"model":"chain:support-bot@v1","variables":{"company":"A"},"messages":[{"role":"user","content":"hi"}]}`
	if resp, b := rawPost(t, g.URL+"/v1/chat/completions", "k1", body); resp.StatusCode != 403 || !strings.Contains(b, `may not call chain \"support-bot\"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if retrievals.Load() != 0 {
		t.Fatal("retrieved for a refused call")
	}
	if resp, b := rawPost(t, g.URL+"/v1/chat/completions", "k2", body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if resp, _ := rawPost(t, g.URL+"/v1/chat/completions", "k2", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 403 {
		t.Fatalf("bot-only called the route directly: %d", resp.StatusCode)
	}
}
