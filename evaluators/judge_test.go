package evaluators_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/evaluators/openai"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

var sampleInput = evaluators.Input{
	Input:     "What is the capital of France?",
	Output:    "The capital of France is Paris.",
	Context:   []string{"Paris is the capital and largest city of France."},
	Reference: "Paris",
}

// newClient returns an openai client for srv with fast backoff.
func newClient(t *testing.T, srv *openaitest.Server, mod func(*openai.Config)) *openai.Client {
	t.Helper()
	cfg := openai.Config{BaseURL: srv.URL, Timeout: 5 * time.Second, MaxRetries: 3, Concurrency: 4,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func judgeConfig(mod func(*evaluators.JudgeConfig)) evaluators.JudgeConfig {
	cfg := evaluators.DefaultJudgeConfig()
	cfg.Model, cfg.BaseURL = "judge-model", "http://unused.invalid/v1"
	cfg.InputUSDPerMTok, cfg.OutputUSDPerMTok = 1, 2
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func newPointwise(t *testing.T, client evaluators.ChatClient, mod func(*evaluators.JudgeConfig), opts ...evaluators.JudgeOpt) *evaluators.PointwiseJudge {
	t.Helper()
	j, err := evaluators.NewPointwiseJudge(client, evaluators.QualityRubric, judgeConfig(mod), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func evalOne(t *testing.T, ev evaluators.Evaluator, in evaluators.Input) evaluators.Result {
	t.Helper()
	rs, err := ev.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	return rs[0]
}

func TestPointwiseStrictParsing(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    float64 // 0: a failed evaluation is expected
	}{
		{"valid", `{"score": 4, "reasoning": "correct and grounded"}`, 4},
		{"valid whole float", `{"score": 5.0, "reasoning": "ok"}`, 5},
		{"json fence", "```json\n{\"score\": 2, \"reasoning\": \"vague\"}\n```", 2},
		{"bare fence", "```\n{\"score\": 3, \"reasoning\": \"ok\"}\n```", 3},
		{"prose before", `Sure! {"score": 4, "reasoning": "ok"}`, 0},
		{"prose after", `{"score": 4, "reasoning": "ok"} Hope this helps.`, 0},
		{"prose around fence", "Here:\n```json\n{\"score\": 4, \"reasoning\": \"ok\"}\n```", 0},
		{"python fence", "```python\n{\"score\": 4, \"reasoning\": \"ok\"}\n```", 0},
		{"above scale", `{"score": 6, "reasoning": "great"}`, 0},
		{"below scale", `{"score": 0, "reasoning": "bad"}`, 0},
		{"fractional", `{"score": 3.5, "reasoning": "meh"}`, 0},
		{"score as string", `{"score": "4", "reasoning": "ok"}`, 0},
		{"missing score", `{"reasoning": "ok"}`, 0},
		{"missing reasoning", `{"score": 4}`, 0},
		{"empty reasoning", `{"score": 4, "reasoning": " "}`, 0},
		{"extra field", `{"score": 4, "reasoning": "ok", "confidence": 0.9}`, 0},
		{"two objects", `{"score": 4, "reasoning": "ok"}{"score": 1, "reasoning": "no"}`, 0},
		{"array", `[{"score": 4, "reasoning": "ok"}]`, 0},
		{"not json", `4/5 — good answer`, 0},
		{"empty", ``, 0},
	}
	srv := openaitest.NewServer(t)
	j := newPointwise(t, newClient(t, srv, nil), func(c *evaluators.JudgeConfig) { c.ParseRetries, c.CacheSize = 0, 0 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Chat.Enqueue(openaitest.Answer(tt.content))
			r := evalOne(t, j, sampleInput)
			if r.Metric != "quality" {
				t.Errorf("metric %q, want quality", r.Metric)
			}
			if tt.want == 0 {
				if !r.Failed() || r.Reason != evaluators.ReasonMalformedOutput || r.Value != 0 {
					t.Errorf("want a malformed_output failure with value 0, got %+v", r)
				}
				return
			}
			if r.Failed() || r.Value != tt.want || r.Reasoning == "" {
				t.Errorf("want value %v with reasoning, got %+v", tt.want, r)
			}
		})
	}
	if srv.Chat.Pending() != 0 {
		t.Errorf("%d replies unused", srv.Chat.Pending())
	}
}

func TestPointwisePromptCarriesEverything(t *testing.T) {
	srv := openaitest.NewServer(t)
	j := newPointwise(t, newClient(t, srv, nil), nil)
	evalOne(t, j, sampleInput)
	reqs := srv.ChatRequests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests", len(reqs))
	}
	p := reqs[0].Prompt()
	for _, want := range []string{sampleInput.Input, sampleInput.Output, sampleInput.Context[0], "REFERENCE ANSWER",
		"correctness", "groundedness", "helpfulness", "safety", `{"score": <integer 1-5>`} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q", want)
		}
	}
	if reqs[0].Model != "judge-model" || reqs[0].Temperature == nil || *reqs[0].Temperature != 0 {
		t.Errorf("model %q temperature %v, want judge-model and 0", reqs[0].Model, reqs[0].Temperature)
	}
}

func TestPointwiseRetriesMalformedOutput(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		srv.Chat.Enqueue(openaitest.Answer("I would give it a 4."), openaitest.Answer(`{"score": 9, "reasoning": "x"}`),
			openaitest.Reply{Content: `{"score": 4, "reasoning": "fine"}`, PromptTokens: 100, CompletionTokens: 10})
		j := newPointwise(t, newClient(t, srv, nil), func(c *evaluators.JudgeConfig) { c.ParseRetries = 2 })
		r := evalOne(t, j, sampleInput)
		if r.Failed() || r.Value != 4 {
			t.Fatalf("want 4, got %+v", r)
		}
		reqs := srv.ChatRequests()
		if len(reqs) != 3 {
			t.Fatalf("server saw %d requests, want 3", len(reqs))
		}
		// The re-ask shows the judge its bad answer and what was wrong.
		last := reqs[2].Messages
		if n := len(last); n != 6 || last[n-2].Role != "assistant" || !strings.Contains(last[n-1].Content, "outside the scale") {
			t.Errorf("third request's messages: %+v", last)
		}
		if r.Tokens <= 110 {
			t.Errorf("tokens %d should count all three attempts", r.Tokens)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		srv.Chat.Enqueue(openaitest.Answer("four"), openaitest.Answer("four!"), openaitest.Verdict(5, "never reached"))
		j := newPointwise(t, newClient(t, srv, nil), func(c *evaluators.JudgeConfig) { c.ParseRetries = 1 })
		r := evalOne(t, j, sampleInput)
		if !r.Failed() || r.Reason != evaluators.ReasonMalformedOutput || r.Value != 0 || !strings.Contains(r.Error, "2 attempt") {
			t.Fatalf("want malformed_output after 2 attempts, got %+v", r)
		}
		if srv.Chat.Count() != 2 {
			t.Errorf("server saw %d requests, want 2", srv.Chat.Count())
		}
		if r.CostUSD <= 0 {
			t.Errorf("failed evaluation still cost tokens, got cost %v", r.CostUSD)
		}
		// Failures are not cached: the next call asks again.
		evalOne(t, j, sampleInput)
		if srv.Chat.Count() != 3 {
			t.Errorf("failure was cached: %d requests", srv.Chat.Count())
		}
	})
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name      string
		replies   []openaitest.Reply
		retries   int
		wantValue float64
		wantFail  evaluators.Reason
		wantCount int
		minWait   time.Duration
	}{
		{"429 Retry-After seconds", []openaitest.Reply{openaitest.RateLimited("1"), openaitest.Verdict(5, "ok")}, 3, 5, "", 2, time.Second},
		{"429 retry-after-ms", []openaitest.Reply{{Status: 429, Header: map[string]string{"retry-after-ms": "300"}}, openaitest.Verdict(4, "ok")}, 3, 4, "", 2, 300 * time.Millisecond},
		{"429 every time", []openaitest.Reply{openaitest.RateLimited(""), openaitest.RateLimited(""), openaitest.RateLimited("")}, 2, 0, evaluators.ReasonRateLimited, 3, 0},
		{"503 then ok", []openaitest.Reply{openaitest.ServerError(503), openaitest.ServerError(500), openaitest.Verdict(3, "ok")}, 3, 3, "", 3, 0},
		{"400 not retried", []openaitest.Reply{{Status: http.StatusBadRequest}, openaitest.Verdict(3, "ok")}, 3, 0, evaluators.ReasonJudgeRejected, 1, 0},
		{"broken body", []openaitest.Reply{{Body: "{\"choices\": ["}, openaitest.Verdict(3, "ok")}, 3, 0, evaluators.ReasonJudgeUnavailable, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewServer(t)
			srv.Chat.Enqueue(tt.replies...)
			j := newPointwise(t, newClient(t, srv, func(c *openai.Config) { c.MaxRetries = tt.retries }), nil)
			start := time.Now()
			r := evalOne(t, j, sampleInput)
			if tt.wantFail != "" {
				if !r.Failed() || r.Reason != tt.wantFail {
					t.Errorf("want failure %q, got %+v", tt.wantFail, r)
				}
			} else if r.Failed() || r.Value != tt.wantValue {
				t.Errorf("want %v, got %+v", tt.wantValue, r)
			}
			if srv.Chat.Count() != tt.wantCount {
				t.Errorf("server saw %d requests, want %d", srv.Chat.Count(), tt.wantCount)
			}
			if tt.minWait > 0 {
				reqs := srv.ChatRequests()
				if gap := reqs[1].Received.Sub(reqs[0].Received); gap < tt.minWait {
					t.Errorf("retried after %v, Retry-After asked for %v", gap, tt.minWait)
				}
				if el := time.Since(start); el > tt.minWait+2*time.Second {
					t.Errorf("took %v", el)
				}
			}
		})
	}
}

func TestClientRetryAfterPastDeadline(t *testing.T) {
	srv := openaitest.NewServer(t)
	srv.Chat.Enqueue(openaitest.RateLimited("30"), openaitest.Verdict(5, "ok"))
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Chat(ctx, evaluators.ChatRequest{Model: "m", Messages: []evaluators.Message{{Role: "user", Content: "hi"}}})
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != 30*time.Second {
		t.Fatalf("want the 429 with its Retry-After, got %v", err)
	}
	if time.Since(start) > 400*time.Millisecond || srv.Chat.Count() != 1 {
		t.Errorf("should give up at once when Retry-After is past the deadline (%v, %d requests)", time.Since(start), srv.Chat.Count())
	}
}

func TestJudgeTimeouts(t *testing.T) {
	t.Run("every attempt times out", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		srv.Chat.Enqueue(openaitest.SlowAnswer(5*time.Second, `{"score": 5, "reasoning": "late"}`), openaitest.SlowAnswer(5*time.Second, `{"score": 5, "reasoning": "late"}`))
		j := newPointwise(t, newClient(t, srv, func(c *openai.Config) { c.Timeout, c.MaxRetries = 100*time.Millisecond, 1 }), nil)
		start := time.Now()
		r := evalOne(t, j, sampleInput)
		if !r.Failed() || r.Reason != evaluators.ReasonTimeout {
			t.Errorf("want a timeout failure, got %+v", r)
		}
		if srv.Chat.Count() != 2 {
			t.Errorf("server saw %d requests, want 2", srv.Chat.Count())
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("took %v; the per-attempt timeout was not applied", el)
		}
	})
	t.Run("slow then fast", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		srv.Chat.Enqueue(openaitest.SlowAnswer(5*time.Second, `{"score": 5, "reasoning": "late"}`), openaitest.Verdict(2, "on time"))
		j := newPointwise(t, newClient(t, srv, func(c *openai.Config) { c.Timeout = 100 * time.Millisecond }), nil)
		r := evalOne(t, j, sampleInput)
		if r.Failed() || r.Value != 2 {
			t.Errorf("want 2 from the retry, got %+v", r)
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		srv.Chat.Enqueue(openaitest.SlowAnswer(5*time.Second, `{"score": 5, "reasoning": "late"}`))
		j := newPointwise(t, newClient(t, srv, nil), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		rs, err := j.Evaluate(ctx, sampleInput)
		if !errors.Is(err, context.DeadlineExceeded) || rs != nil {
			t.Errorf("want ctx's error and no results (nothing to record), got %v, %+v", err, rs)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(openaitest.ChatRequest) openaitest.Reply {
		return openaitest.SlowAnswer(50*time.Millisecond, openaitest.DefaultContent)
	}))
	c := newClient(t, srv, func(c *openai.Config) { c.Concurrency = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := c.Chat(context.Background(), evaluators.ChatRequest{Model: "m",
				Messages: []evaluators.Message{{Role: "user", Content: fmt.Sprint(i)}}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := srv.Chat.MaxInFlight(); got != 2 {
		t.Errorf("max in flight %d, want 2", got)
	}
}

func TestJudgeBudget(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Reply{Content: `{"score": 4, "reasoning": "ok"}`, PromptTokens: 60, CompletionTokens: 10}
	}))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	j := newPointwise(t, newClient(t, srv, nil), func(c *evaluators.JudgeConfig) { c.TokensPerHour = 100 }, evaluators.WithClock(clock))
	in := func(i int) evaluators.Input { x := sampleInput; x.Output = fmt.Sprint("answer ", i); return x }

	for i := range 2 { // 70 tokens, then 140: the second call starts under the limit
		if r := evalOne(t, j, in(i)); r.Failed() || r.Tokens != 70 {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	rs, err := j.Evaluate(context.Background(), in(2))
	if !errors.Is(err, evaluators.ErrBudgetExhausted) || rs != nil {
		t.Fatalf("want ErrBudgetExhausted and no results, got %v %+v", err, rs)
	}
	if !strings.Contains(err.Error(), "140 of 100 tokens") {
		t.Errorf("error should say what was spent: %v", err)
	}
	if srv.Chat.Count() != 2 {
		t.Errorf("server saw %d requests after refusal, want 2", srv.Chat.Count())
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	if r := evalOne(t, j, in(3)); r.Failed() {
		t.Errorf("an hour later the budget should allow again: %+v", r)
	}
	// A shared budget spans judges.
	shared := evaluators.NewTokenBudget(50, nil)
	j1 := newPointwise(t, newClient(t, srv, nil), nil, evaluators.WithBudget(shared))
	j2, err := evaluators.NewPairwiseJudge(newClient(t, srv, nil), evaluators.QualityRubric, judgeConfig(nil), evaluators.WithBudget(shared))
	if err != nil {
		t.Fatal(err)
	}
	evalOne(t, j1, in(4))
	x := in(5)
	x.Alternative = "other"
	if _, err := j2.Evaluate(context.Background(), x); !errors.Is(err, evaluators.ErrBudgetExhausted) {
		t.Errorf("shared budget: want ErrBudgetExhausted from the second judge, got %v", err)
	}
}

func TestJudgeCache(t *testing.T) {
	srv := openaitest.NewServer(t)
	client := newClient(t, srv, nil)
	j := newPointwise(t, client, func(c *evaluators.JudgeConfig) { c.CacheSize = 2 })

	first := evalOne(t, j, sampleInput)
	if first.Cached || first.CostUSD <= 0 {
		t.Fatalf("first call: %+v", first)
	}
	second := evalOne(t, j, sampleInput)
	if srv.Chat.Count() != 1 {
		t.Errorf("cache miss: server saw %d requests, want 1", srv.Chat.Count())
	}
	if !second.Cached || second.Value != first.Value || second.Reasoning != first.Reasoning || second.CostUSD != 0 {
		t.Errorf("cached result %+v, first %+v", second, first)
	}

	for _, mod := range []func(*evaluators.Input){
		func(in *evaluators.Input) { in.Output += "!" },
		func(in *evaluators.Input) { in.Input += "?" },
		func(in *evaluators.Input) { in.Context = append([]string{"other"}, in.Context...) },
		func(in *evaluators.Input) { in.Reference = "Lyon" },
	} {
		in := sampleInput
		in.Context = append([]string(nil), in.Context...)
		mod(&in)
		before := srv.Chat.Count()
		evalOne(t, j, in)
		if srv.Chat.Count() != before+1 {
			t.Errorf("changed input %+v hit the cache", in)
		}
	}
	// Capacity 2: sampleInput was evicted by the four new inputs.
	evalOne(t, j, sampleInput)
	if srv.Chat.Count() != 6 {
		t.Errorf("LRU bound: server saw %d requests, want 6", srv.Chat.Count())
	}
	// Another rubric version is another cache entry.
	r2 := evaluators.QualityRubric
	r2.Version = "2"
	j2, err := evaluators.NewPointwiseJudge(client, r2, judgeConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	if j2.Version() == j.Version() {
		t.Fatalf("versions equal: %s", j.Version())
	}
	evalOne(t, j2, sampleInput)
	if srv.Chat.Count() != 7 {
		t.Errorf("new version should miss: %d requests", srv.Chat.Count())
	}
}

// sxsResponder plays a judge that prefers the answer containing good, or a
// position-biased judge when good is empty (always "1").
func sxsResponder(good string, tieOnSecond bool) openaitest.Responder {
	var mu sync.Mutex
	n := 0
	return func(req openaitest.ChatRequest) openaitest.Reply {
		mu.Lock()
		n++
		call := n
		mu.Unlock()
		p := req.Prompt()
		if good == "" {
			return openaitest.PairVerdict("1", "the first one reads better")
		}
		if tieOnSecond && call == 2 {
			return openaitest.PairVerdict("tie", "both fine")
		}
		first := p[strings.Index(p, "ANSWER 1:"):strings.Index(p, "ANSWER 2:")]
		if strings.Contains(first, good) {
			return openaitest.PairVerdict("1", "first is right")
		}
		return openaitest.PairVerdict("2", "second is right")
	}
}

func TestPairwisePositionSwap(t *testing.T) {
	a, b := "Paris.", "Lyon."
	tests := []struct {
		name     string
		resp     openaitest.Responder
		wantVal  float64
		wantConf float64
	}{
		{"consistent judge prefers A", sxsResponder("Paris", false), evaluators.SxSWin, 1},
		{"consistent judge prefers B", sxsResponder("Lyon", false), evaluators.SxSLoss, 1},
		{"position-biased judge", sxsResponder("", false), evaluators.SxSTie, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.WithResponder(tt.resp))
			j, err := evaluators.NewPairwiseJudge(newClient(t, srv, nil), evaluators.QualityRubric, judgeConfig(nil))
			if err != nil {
				t.Fatal(err)
			}
			in := evaluators.Input{Input: "Capital of France?", Output: a, Alternative: b}
			rs, err := j.Evaluate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Metric != "quality_sxs" || rs[1].Metric != "quality_sxs_confidence" {
				t.Fatalf("results %+v", rs)
			}
			if rs[0].Value != tt.wantVal || rs[1].Value != tt.wantConf {
				t.Errorf("outcome %v confidence %v, want %v %v (%s)", rs[0].Value, rs[1].Value, tt.wantVal, tt.wantConf, rs[0].Reasoning)
			}
			// The server saw both orderings.
			var aFirst, bFirst int
			for _, r := range srv.ChatRequests() {
				p := r.Prompt()
				ia, ib := strings.Index(p, a), strings.Index(p, b)
				if ia < 0 || ib < 0 {
					t.Fatalf("prompt lacks an answer: %s", p)
				}
				if ia < ib {
					aFirst++
				} else {
					bFirst++
				}
			}
			if aFirst != 1 || bFirst != 1 {
				t.Errorf("orderings seen: A first %d, B first %d; want 1 and 1", aFirst, bFirst)
			}
			// Cached: no more requests.
			if _, err := j.Evaluate(context.Background(), in); err != nil || srv.Chat.Count() != 2 {
				t.Errorf("second evaluation: err %v, %d requests", err, srv.Chat.Count())
			}
		})
	}
	t.Run("missing alternative", func(t *testing.T) {
		srv := openaitest.NewServer(t)
		j, _ := evaluators.NewPairwiseJudge(newClient(t, srv, nil), evaluators.QualityRubric, judgeConfig(nil))
		rs, err := j.Evaluate(context.Background(), evaluators.Input{Input: "q", Output: "a"})
		if err != nil || len(rs) != 2 || !rs[0].Failed() || rs[0].Reason != evaluators.ReasonMissingInput || srv.Chat.Count() != 0 {
			t.Errorf("got %+v %v, %d requests", rs, err, srv.Chat.Count())
		}
	})
	t.Run("malformed in one ordering", func(t *testing.T) {
		srv := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
			if strings.Index(r.Prompt(), a) < strings.Index(r.Prompt(), b) {
				return openaitest.Answer(`{"winner": "A", "reasoning": "wrong label"}`)
			}
			return openaitest.PairVerdict("2", "ok")
		}))
		j, _ := evaluators.NewPairwiseJudge(newClient(t, srv, nil), evaluators.QualityRubric, judgeConfig(func(c *evaluators.JudgeConfig) { c.ParseRetries = 1 }))
		rs, err := j.Evaluate(context.Background(), evaluators.Input{Input: "q", Output: a, Alternative: b})
		if err != nil || len(rs) != 2 || !rs[0].Failed() || rs[0].Reason != evaluators.ReasonMalformedOutput || rs[0].Value != 0 {
			t.Errorf("got %+v %v", rs, err)
		}
		if srv.Chat.Count() != 3 { // 2 attempts for (A,B), 1 for (B,A)
			t.Errorf("server saw %d requests, want 3", srv.Chat.Count())
		}
	})
}

func TestJudgeConfigValidate(t *testing.T) {
	if err := judgeConfig(nil).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*evaluators.JudgeConfig)
		want string
	}{
		{"model", func(c *evaluators.JudgeConfig) { c.Model = "" }, "model must be set"},
		{"base_url", func(c *evaluators.JudgeConfig) { c.BaseURL = "localhost:8000" }, "base_url must be an http(s) URL with a host, got \"localhost:8000\""},
		{"timeout", func(c *evaluators.JudgeConfig) { c.Timeout = 0 }, "timeout must be > 0, got 0s"},
		{"max_retries", func(c *evaluators.JudgeConfig) { c.MaxRetries = -1 }, "max_retries must be >= 0, got -1"},
		{"concurrency", func(c *evaluators.JudgeConfig) { c.Concurrency = 0 }, "concurrency must be >= 1, got 0"},
		{"tokens_per_hour", func(c *evaluators.JudgeConfig) { c.TokensPerHour = -5 }, "tokens_per_hour must be >= 0 (0 is unlimited), got -5"},
		{"cache_size", func(c *evaluators.JudgeConfig) { c.CacheSize = -1 }, "cache_size must be >= 0 (0 disables the cache), got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := judgeConfig(tt.mod).Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want an error naming %s, got %v", tt.want, err)
			}
		})
	}
}

func TestPointwiseConcurrentUse(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithResponder(func(r openaitest.ChatRequest) openaitest.Reply {
		return openaitest.SlowAnswer(5*time.Millisecond, `{"score": 5, "reasoning": "ok"}`)
	}))
	j := newPointwise(t, newClient(t, srv, func(c *openai.Config) { c.Concurrency = 3 }), nil)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			in := sampleInput
			in.Output = fmt.Sprint("answer ", i%4)
			rs, err := j.Evaluate(context.Background(), in)
			if err != nil || len(rs) != 1 || rs[0].Failed() || rs[0].Value != 5 {
				t.Errorf("%+v %v", rs, err)
			}
		})
	}
	wg.Wait()
	if n := srv.Chat.Count(); n < 4 || n > 24 {
		t.Errorf("server saw %d requests for 4 distinct inputs", n)
	}
	if srv.Chat.MaxInFlight() > 3 {
		t.Errorf("max in flight %d > concurrency 3", srv.Chat.MaxInFlight())
	}
	// Everything is cached now.
	before := srv.Chat.Count()
	for i := range 4 {
		in := sampleInput
		in.Output = fmt.Sprint("answer ", i)
		if r := evalOne(t, j, in); !r.Cached {
			t.Errorf("input %d not cached", i)
		}
	}
	if srv.Chat.Count() != before {
		t.Errorf("cache misses after warm-up: %d → %d", before, srv.Chat.Count())
	}
}
