package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/internal/backoff"
	"github.com/chainwatch/chainwatch/schemas"
)

const (
	// queueBatches bounds the batches waiting for a sender. When it is full
	// the newest batch is dropped and counted (Stats.TracesDropped): the
	// schedule never waits for the collector, so the offered rate stays
	// Config.Rate and the shift starts on time.
	queueBatches = 64
	// maxTracesPerRequest splits a tick's traces into several requests.
	maxTracesPerRequest = 500
	// maxRetryAfter caps how long a Retry-After header makes a sender wait.
	maxRetryAfter = 30 * time.Second
	backoffBase   = 100 * time.Millisecond
	backoffMax    = 5 * time.Second
	backoffJitter = 0.2 // delays drawn from [0.8·d, d]
)

// retryPolicy is a sender's: exponential from backoffBase to backoffMax with
// jitter, the collector's Retry-After honoured up to maxRetryAfter, and
// simulate.max_retries retries.
func retryPolicy(cfg Config) backoff.Policy {
	return backoff.Policy{Initial: backoffBase, Max: backoffMax, Jitter: backoffJitter,
		MaxRetryAfter: maxRetryAfter, MaxAttempts: cfg.MaxRetries + 1}
}

// Stats counts what a run did. Traces and feedback are counted per record,
// requests per HTTP request.
type Stats struct {
	Started  time.Time
	Finished time.Time
	// ShiftStarted is the scheduled time of the first trace generated with
	// the shift active (Started + Shift.At, rounded up to the next trace);
	// zero when there is no shift or the run ended before it.
	ShiftStarted time.Time

	TracesGenerated int64
	SpansGenerated  int64
	TracesSent      int64 // accepted with 2xx
	TracesRejected  int64 // answered 4xx other than 429: not retried
	TracesFailed    int64 // 5xx that is not retryable, or retries exhausted
	TracesDropped   int64 // the send queue was full
	TracesUnsent    int64 // still queued when the context was cancelled
	// SpansRejected sums the rejected_spans of 2xx partial-success answers.
	SpansRejected int64

	FeedbackGenerated int64
	FeedbackSent      int64
	FeedbackRejected  int64
	FeedbackFailed    int64 // failed, or not sent because its traces were not accepted

	Requests int64 // HTTP requests made, retries included
	Retries  int64
	// LastError is the most recent rejection or failure, for the summary.
	LastError string
}

// counters is Stats while a run is going on.
type counters struct {
	tracesSent, tracesRejected, tracesFailed, tracesDropped, tracesUnsent atomic.Int64
	spansRejected                                                         atomic.Int64
	feedbackSent, feedbackRejected, feedbackFailed                        atomic.Int64
	requests, retries                                                     atomic.Int64
	mu                                                                    sync.Mutex
	lastError                                                             string
}

func (c *counters) fail(msg string) {
	c.mu.Lock()
	c.lastError = msg
	c.mu.Unlock()
}

type batch struct {
	traces   int
	spans    int
	body     []byte
	feedback []byte // JSON, nil when none
	nFB      int
}

type sender struct {
	cfg    Config
	policy backoff.Policy
	client *http.Client
	c      *counters
}

// Run generates traffic by cfg and sends it to cfg.Target: traces as OTLP/HTTP
// protobuf to /v1/traces, batched every cfg.BatchInterval, and feedback as
// JSON to /v1/feedback. Trace k of the run is scheduled at Started + k/Rate
// and ends then; the shift is active for traces scheduled at or after
// Started + Shift.At. It returns when cfg.Duration has passed and every
// queued batch is sent, or when ctx is done (queued batches then count as
// unsent). It writes a progress line every cfg.ProgressInterval and a final
// summary to progress, if not nil. The error is non-nil for an invalid
// config, or when traces were generated but none was accepted.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	gen, err := NewGenerator(cfg.Traffic)
	if err != nil {
		return Stats{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	c := &counters{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	s := &sender{cfg: cfg, policy: retryPolicy(cfg), client: &http.Client{Transport: tr}, c: c}
	defer tr.CloseIdleConnections()
	queue := make(chan batch, queueBatches)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range queue {
				s.send(ctx, b)
			}
		}()
	}

	var st Stats
	st.Started = time.Now()
	start := st.Started
	shift := cfg.Shift
	tick := time.NewTicker(cfg.BatchInterval)
	defer tick.Stop()
	var lastProgress time.Time = start
	var lastSent int64
	var generated int64
	done := false
	for !done {
		var now time.Time
		select {
		case <-ctx.Done():
			done = true
		case now = <-tick.C:
		}
		if done {
			break
		}
		elapsed := now.Sub(start)
		if cfg.Duration > 0 && elapsed >= cfg.Duration {
			elapsed = cfg.Duration
			done = true
		}
		due := int64(elapsed.Seconds() * cfg.Rate)
		if cfg.Duration > 0 && done {
			due = int64(cfg.Duration.Seconds() * cfg.Rate)
		}
		for generated < due {
			n := min(due-generated, maxTracesPerRequest)
			traces := make([]*Trace, n)
			for i := range traces {
				at := start.Add(time.Duration(float64(generated) / cfg.Rate * float64(time.Second)))
				active := shift.active() && at.Sub(start) >= shift.At
				if active && st.ShiftStarted.IsZero() {
					st.ShiftStarted = at
				}
				traces[i] = gen.Next(at, active)
				generated++
			}
			b, err := encode(gen, traces)
			if err != nil {
				close(queue)
				wg.Wait()
				return st, err
			}
			st.TracesGenerated += int64(b.traces)
			st.SpansGenerated += int64(b.spans)
			st.FeedbackGenerated += int64(b.nFB)
			select {
			case queue <- b:
			default:
				c.tracesDropped.Add(int64(b.traces))
			}
		}
		if cfg.ProgressInterval > 0 && now.Sub(lastProgress) >= cfg.ProgressInterval {
			sent := c.tracesSent.Load()
			rate := float64(sent-lastSent) / now.Sub(lastProgress).Seconds()
			fmt.Fprintf(progress, "simulate: %s sent=%d rejected=%d failed=%d dropped=%d retries=%d feedback=%d rate=%.1f/s shift=%s\n",
				now.Sub(start).Round(time.Second), sent, c.tracesRejected.Load(), c.tracesFailed.Load(),
				c.tracesDropped.Load(), c.retries.Load(), c.feedbackSent.Load(), rate, shiftState(shift, now.Sub(start)))
			lastProgress, lastSent = now, sent
		}
	}
	close(queue)
	wg.Wait()
	st.Finished = time.Now()
	c.collect(&st)
	fmt.Fprintln(progress, summary(cfg, st))
	if st.TracesGenerated > 0 && st.TracesSent == 0 {
		return st, fmt.Errorf("sending to %s: no trace was accepted (last error: %s)", cfg.Target, st.LastError)
	}
	return st, nil
}

func shiftState(s Shift, elapsed time.Duration) string {
	switch {
	case !s.active():
		return "none"
	case elapsed >= s.At:
		return string(s.Kind) + " active"
	}
	return fmt.Sprintf("%s at %s", s.Kind, s.At)
}

func (c *counters) collect(st *Stats) {
	st.TracesSent = c.tracesSent.Load()
	st.TracesRejected = c.tracesRejected.Load()
	st.TracesFailed = c.tracesFailed.Load()
	st.TracesDropped = c.tracesDropped.Load()
	st.TracesUnsent = c.tracesUnsent.Load()
	st.SpansRejected = c.spansRejected.Load()
	st.FeedbackSent = c.feedbackSent.Load()
	st.FeedbackRejected = c.feedbackRejected.Load()
	st.FeedbackFailed = c.feedbackFailed.Load()
	st.Requests = c.requests.Load()
	st.Retries = c.retries.Load()
	c.mu.Lock()
	st.LastError = c.lastError
	c.mu.Unlock()
}

func summary(cfg Config, st Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "simulate: done in %s: %d traces (%d spans) generated; %d sent, %d rejected, %d failed, %d dropped, %d unsent",
		st.Finished.Sub(st.Started).Round(time.Millisecond), st.TracesGenerated, st.SpansGenerated,
		st.TracesSent, st.TracesRejected, st.TracesFailed, st.TracesDropped, st.TracesUnsent)
	if st.SpansRejected > 0 {
		fmt.Fprintf(&b, " (%d spans rejected by partial success)", st.SpansRejected)
	}
	fmt.Fprintf(&b, "; feedback %d generated, %d sent, %d rejected, %d failed; %d requests, %d retries",
		st.FeedbackGenerated, st.FeedbackSent, st.FeedbackRejected, st.FeedbackFailed, st.Requests, st.Retries)
	switch {
	case !cfg.Shift.active():
	case st.ShiftStarted.IsZero():
		fmt.Fprintf(&b, "; shift %s never started", cfg.Shift.Kind)
	default:
		fmt.Fprintf(&b, "; shift %s (magnitude %g) started at +%s", cfg.Shift.Kind, cfg.Shift.EffectiveMagnitude(),
			st.ShiftStarted.Sub(st.Started).Round(time.Millisecond))
	}
	if st.LastError != "" {
		fmt.Fprintf(&b, "; last error: %s", st.LastError)
	}
	return b.String()
}

func encode(gen *Generator, traces []*Trace) (batch, error) {
	req := gen.Pack(traces)
	body, err := proto.Marshal(req)
	if err != nil {
		return batch{}, fmt.Errorf("marshalling export request: %w", err)
	}
	b := batch{traces: len(traces), body: body}
	var fbs []schemas.Feedback
	for _, t := range traces {
		b.spans += len(t.Spans)
		if t.Feedback != nil {
			fbs = append(fbs, *t.Feedback)
		}
	}
	if len(fbs) > 0 {
		b.nFB = len(fbs)
		b.feedback, err = json.Marshal(struct {
			Feedback []schemas.Feedback `json:"feedback"`
		}{fbs})
		if err != nil {
			return batch{}, fmt.Errorf("marshalling feedback: %w", err)
		}
	}
	return b, nil
}

// outcome of one record batch's delivery.
type outcome int

const (
	sent outcome = iota
	rejected
	failed
	cancelled
)

func (s *sender) send(ctx context.Context, b batch) {
	if ctx.Err() != nil {
		s.c.tracesUnsent.Add(int64(b.traces))
		return
	}
	out, body := s.post(ctx, "/v1/traces", "application/x-protobuf", b.body)
	switch out {
	case sent:
		s.c.tracesSent.Add(int64(b.traces))
		var resp coltracepb.ExportTraceServiceResponse
		if len(body) > 0 && proto.Unmarshal(body, &resp) == nil {
			if ps := resp.GetPartialSuccess(); ps.GetRejectedSpans() > 0 {
				s.c.spansRejected.Add(ps.GetRejectedSpans())
				s.c.fail("partial success: " + ps.GetErrorMessage())
			}
		}
	case rejected:
		s.c.tracesRejected.Add(int64(b.traces))
	case failed:
		s.c.tracesFailed.Add(int64(b.traces))
	case cancelled:
		s.c.tracesUnsent.Add(int64(b.traces))
	}
	// Feedback follows its traces, as a user's click follows the answer;
	// feedback on traces the collector did not take is not sent.
	if b.feedback == nil || out == cancelled {
		return
	}
	if out != sent {
		s.c.feedbackFailed.Add(int64(b.nFB))
		return
	}
	switch out, _ := s.post(ctx, "/v1/feedback", "application/json", b.feedback); out {
	case sent:
		s.c.feedbackSent.Add(int64(b.nFB))
	case rejected:
		s.c.feedbackRejected.Add(int64(b.nFB))
	case failed, cancelled:
		s.c.feedbackFailed.Add(int64(b.nFB))
	}
}

// post sends body to the target's path, retrying network errors and the
// statuses OTLP/HTTP calls retryable (backoff.OTLPRetryableStatus: 429,
// 502, 503, 504) through the sender's backoff.Policy. It returns the
// response body of a 2xx answer.
func (s *sender) post(ctx context.Context, path, contentType string, body []byte) (outcome, []byte) {
	url := strings.TrimRight(s.cfg.Target, "/") + path
	var r attemptResult
	err := s.policy.RetryNotify(ctx, func(ctx context.Context) error {
		r = s.try(ctx, url, contentType, body)
		switch {
		case r.out == sent:
			return nil
		case r.out == cancelled:
			return backoff.Permanent(context.Canceled)
		case !r.retry:
			return backoff.Permanent(errors.New(r.msg))
		}
		return backoff.WithRetryAfter(errors.New(r.msg), r.wait)
	}, func(error, int, time.Duration) { s.c.retries.Add(1) })
	switch {
	case err == nil:
		return sent, r.body
	case r.out == cancelled || (ctx.Err() != nil && errors.Is(err, ctx.Err())):
		return cancelled, nil // cancelled during an attempt or while waiting to retry
	}
	if r.retry {
		r.msg += " (retries exhausted)"
	}
	if r.msg != "" {
		s.c.fail(r.msg)
	}
	return r.out, r.body
}

type attemptResult struct {
	out   outcome
	retry bool          // the failure is retryable
	wait  time.Duration // the server's Retry-After, 0 if none (the policy caps it)
	body  []byte        // of a 2xx answer
	msg   string        // what went wrong, for Stats.LastError
}

// try makes one request.
func (s *sender) try(ctx context.Context, url, contentType string, body []byte) attemptResult {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return attemptResult{out: failed, msg: fmt.Sprintf("building request: %v", err)}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "chainwatch-simulate")
	if s.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	}
	s.c.requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return attemptResult{out: cancelled}
		}
		return attemptResult{out: failed, retry: true, msg: fmt.Sprintf("POST %s: %v", url, err)}
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return attemptResult{out: sent, body: respBody}
	case backoff.OTLPRetryableStatus(code):
		return attemptResult{out: failed, retry: true, wait: backoff.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			msg: statusMessage(url, resp.Status, respBody)}
	case code >= 400 && code < 500:
		return attemptResult{out: rejected, msg: statusMessage(url, resp.Status, respBody)}
	}
	// Any other status, 500 included: OTLP/HTTP says not to retry.
	return attemptResult{out: failed, msg: statusMessage(url, resp.Status, respBody)}
}

func statusMessage(url, status string, body []byte) string {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" || !isPrintable(msg) {
		return fmt.Sprintf("POST %s: %s", url, status)
	}
	return fmt.Sprintf("POST %s: %s: %s", url, status, msg)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}
