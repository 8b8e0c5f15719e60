package simulate

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/internal/backoff"
	"github.com/chainwatch/chainwatch/schemas"
)

// fakeCollector records what a simulate run sends. Its traces handler
// answers the first failFirst requests with status failStatus.
type fakeCollector struct {
	mu         sync.Mutex
	requests   int
	traces     map[string]bool
	spans      int
	feedback   []schemas.Feedback
	auth       []string
	failFirst  int
	failStatus int
	retryAfter string
	rejectAll  int // status for every traces request, 0 for none
	errs       []string
}

func (c *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/v1/traces":
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			c.errs = append(c.errs, "traces Content-Type "+ct)
		}
		if c.rejectAll != 0 {
			http.Error(w, "bad request: span without a name", c.rejectAll)
			return
		}
		if c.failFirst > 0 {
			c.failFirst--
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			http.Error(w, "kafka is slow", c.failStatus)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			c.errs = append(c.errs, "decoding traces: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.traces[string(s.TraceId)] = true
					c.spans++
				}
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	case "/v1/feedback":
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			c.errs = append(c.errs, "feedback Content-Type "+ct)
		}
		var fb struct {
			Feedback []schemas.Feedback `json:"feedback"`
		}
		if err := json.Unmarshal(body, &fb); err != nil || len(fb.Feedback) == 0 {
			c.errs = append(c.errs, "decoding feedback: "+string(body))
		}
		c.feedback = append(c.feedback, fb.Feedback...)
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func startCollector(t *testing.T, c *fakeCollector) *httptest.Server {
	t.Helper()
	c.traces = map[string]bool{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(target string) Config {
	cfg := DefaultConfig()
	cfg.Target = target
	cfg.Rate = 200
	cfg.Duration = 500 * time.Millisecond
	cfg.BatchInterval = 50 * time.Millisecond
	cfg.ProgressInterval = 100 * time.Millisecond
	cfg.FeedbackRate = 0.2
	return cfg
}

func TestRunSendsTracesAndFeedback(t *testing.T) {
	c := &fakeCollector{failFirst: 1, failStatus: http.StatusServiceUnavailable, retryAfter: "1"}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.APIKey = "secret-key"
	var progress bytes.Buffer
	start := time.Now()
	st, err := Run(context.Background(), cfg, &progress)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Error(e)
	}
	want := int64(cfg.Rate * cfg.Duration.Seconds())
	if st.TracesGenerated != want || st.TracesSent != want || int64(len(c.traces)) != want {
		t.Errorf("generated %d, sent %d, collector saw %d traces; want %d", st.TracesGenerated, st.TracesSent, len(c.traces), want)
	}
	if st.SpansGenerated != int64(c.spans) {
		t.Errorf("generated %d spans, collector saw %d", st.SpansGenerated, c.spans)
	}
	if st.FeedbackGenerated == 0 || st.FeedbackSent != st.FeedbackGenerated || int64(len(c.feedback)) != st.FeedbackSent {
		t.Errorf("feedback: generated %d, sent %d, collector saw %d", st.FeedbackGenerated, st.FeedbackSent, len(c.feedback))
	}
	for _, fb := range c.feedback {
		if !c.traces[string(mustHex(t, fb.TraceID))] {
			t.Errorf("feedback for trace %s the collector never saw", fb.TraceID)
		}
	}
	if st.Retries < 1 || st.Requests != int64(c.requests) {
		t.Errorf("%d retries, %d requests (collector saw %d); want the 503 retried", st.Retries, st.Requests, c.requests)
	}
	for _, a := range c.auth {
		if a != "Bearer secret-key" {
			t.Fatalf("Authorization header %q", a)
		}
	}
	// The run stops at Duration, plus the one-second Retry-After.
	if took < cfg.Duration || took > cfg.Duration+time.Second+2*time.Second {
		t.Errorf("run took %s for a %s duration with one 1 s Retry-After", took, cfg.Duration)
	}
	if took < time.Second {
		t.Errorf("run took %s: Retry-After: 1 was not honoured", took)
	}
	out := progress.String()
	if !strings.Contains(out, "simulate: done in") || !strings.Contains(out, "sent=") {
		t.Errorf("progress output lacks progress lines or the summary:\n%s", out)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunNoAPIKeyNoHeader(t *testing.T) {
	c := &fakeCollector{}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.Duration = 100 * time.Millisecond
	if _, err := Run(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.auth {
		if a != "" {
			t.Fatalf("Authorization %q sent without an API key", a)
		}
	}
}

func TestRunCountsRejections(t *testing.T) {
	c := &fakeCollector{rejectAll: http.StatusBadRequest}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.Duration = 200 * time.Millisecond
	st, err := Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "no trace was accepted") {
		t.Errorf("Run with every batch rejected: err = %v", err)
	}
	if st.TracesRejected != st.TracesGenerated || st.TracesGenerated == 0 || st.Retries != 0 {
		t.Errorf("generated %d, rejected %d, %d retries; want all rejected without retries", st.TracesGenerated, st.TracesRejected, st.Retries)
	}
	if st.FeedbackSent != 0 || st.FeedbackFailed != st.FeedbackGenerated || len(c.feedback) != 0 {
		t.Errorf("feedback on rejected traces: %d sent, %d failed of %d", st.FeedbackSent, st.FeedbackFailed, st.FeedbackGenerated)
	}
	if !strings.Contains(st.LastError, "400") || !strings.Contains(st.LastError, "span without a name") {
		t.Errorf("LastError = %q, want the collector's answer", st.LastError)
	}
}

func TestRunRetries429WithBackoff(t *testing.T) {
	c := &fakeCollector{failFirst: 2, failStatus: http.StatusTooManyRequests}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.Duration = 100 * time.Millisecond
	cfg.Concurrency = 1
	st, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retries != 2 || st.TracesSent != st.TracesGenerated {
		t.Errorf("%d retries, %d of %d sent; want two retries and everything sent", st.Retries, st.TracesSent, st.TracesGenerated)
	}
}

func TestRunGivesUpOnUnreachableTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := testConfig("http://" + addr)
	cfg.Duration = 60 * time.Millisecond
	cfg.MaxRetries = 2
	cfg.FeedbackRate = 0
	st, err := Run(context.Background(), cfg, nil)
	if err == nil {
		t.Error("Run against an unreachable target returned no error")
	}
	if st.TracesFailed != st.TracesGenerated || st.TracesGenerated == 0 {
		t.Errorf("generated %d, failed %d", st.TracesGenerated, st.TracesFailed)
	}
	if st.Retries < 2 || !strings.Contains(st.LastError, "retries exhausted") {
		t.Errorf("%d retries, last error %q", st.Retries, st.LastError)
	}
}

func TestRunUntilCancelled(t *testing.T) {
	c := &fakeCollector{}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.Duration = 0
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %s to stop after cancellation", took)
	}
	if st.TracesGenerated < 30 || st.TracesGenerated > 70 {
		t.Errorf("%d traces in 300 ms at 200/s", st.TracesGenerated)
	}
	if st.TracesSent+st.TracesUnsent != st.TracesGenerated {
		t.Errorf("sent %d + unsent %d != generated %d", st.TracesSent, st.TracesUnsent, st.TracesGenerated)
	}
}

func TestRunShiftStarts(t *testing.T) {
	c := &fakeCollector{}
	srv := startCollector(t, c)
	cfg := testConfig(srv.URL)
	cfg.Rate = 100
	cfg.Duration = 400 * time.Millisecond
	cfg.Shift = Shift{Kind: ShiftErrorRate, At: 200 * time.Millisecond, Magnitude: 1}
	var progress bytes.Buffer
	st, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.ShiftStarted.Sub(st.Started); d < cfg.Shift.At || d >= cfg.Shift.At+10*time.Millisecond {
		t.Errorf("shift started at +%s, want +%s (the first trace at or after it, one per 10 ms)", d, cfg.Shift.At)
	}
	if !strings.Contains(progress.String(), "shift error_rate (magnitude 1) started at +200ms") {
		t.Errorf("summary does not report the shift:\n%s", progress.String())
	}

	cfg.Shift.At = time.Hour
	cfg.Duration = 0
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if st, _ := Run(ctx, cfg, nil); !st.ShiftStarted.IsZero() {
		t.Errorf("ShiftStarted = %v for a shift that never came", st.ShiftStarted)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate = 0
	if _, err := Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "simulate.rate") {
		t.Fatalf("Run with rate 0: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 1 ":                           time.Second,
		"600":                           maxRetryAfter,
		"soon":                          0,
		"-1":                            0,
		"Sun, 01 Mar 2026 12:00:05 GMT": 5 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
	} {
		// What a sender waits after a first failed attempt answered with
		// Retry-After: h (the policy caps it at maxRetryAfter); no wait of
		// the server's own when h is absent, unparsable or past.
		ra := backoff.ParseRetryAfter(h, now)
		if want == 0 {
			if ra != 0 {
				t.Errorf("Retry-After %q read as %s, want none", h, ra)
			}
			continue
		}
		if got := retryPolicy(DefaultConfig()).Delay(1, ra); got != want {
			t.Errorf("Retry-After %q: waits %s, want %s", h, got, want)
		}
	}
}
