// Package backoff is chainwatch's one retry policy and loop: exponential
// delays with jitter, the server's Retry-After honoured, a permanent-error
// marker, bounds on attempts and elapsed time, and the caller's context
// obeyed throughout. The OpenAI-compatible client, the alert sinks, the
// traffic simulator and the writer retry through it; RetryableStatus and
// OTLPRetryableStatus say which HTTP answers are worth another attempt.
//
//	p := backoff.Policy{Initial: 500 * time.Millisecond, Max: 20 * time.Second, Jitter: 0.5, MaxAttempts: 4}
//	err := p.Retry(ctx, func(ctx context.Context) error {
//		resp, err := call(ctx)
//		switch {
//		case err != nil:
//			return err // retried
//		case !backoff.RetryableStatus(resp.StatusCode):
//			return backoff.Permanent(statusError(resp))
//		}
//		return backoff.WithRetryAfter(statusError(resp), backoff.RetryAfter(resp.Header, time.Now()))
//	})
package backoff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy says how long to wait between attempts and when to give up. The
// zero Policy retries forever, at once; set at least Initial.
type Policy struct {
	// Initial is the delay after the first failed attempt; it doubles after
	// each further failure, up to Max.
	Initial time.Duration
	// Max caps the exponential delay (0: no cap). A server's Retry-After
	// may ask for longer, up to MaxRetryAfter.
	Max time.Duration
	// Jitter, in [0, 1], spreads clients apart: the delay is drawn
	// uniformly from [d·(1−Jitter), d], d the exponential delay, so it
	// never exceeds Max. 0 waits exactly d; 0.5 is "equal jitter".
	Jitter float64
	// MaxRetryAfter caps how long a server's Retry-After is honoured; 0
	// takes Max (and no cap when Max is 0 too).
	MaxRetryAfter time.Duration
	// MaxAttempts bounds the attempts, the first included (0: no bound).
	MaxAttempts int
	// MaxElapsed gives up instead of waiting when the next attempt would
	// start later than MaxElapsed after the first (0: no bound).
	MaxElapsed time.Duration
	// Rand draws the jitter: Int64N(n) returns a uniform value in [0, n).
	// nil takes math/rand/v2's global source. Tests set a seeded
	// *rand.Rand for exact delays (it is not safe for concurrent use).
	Rand interface{ Int64N(n int64) int64 }
}

// Delay is the wait after the n-th failed attempt (n ≥ 1) when the server
// asked for retryAfter (0: it did not): the jittered exponential delay
// min(Initial·2ⁿ⁻¹, Max), or the server's wait (capped at MaxRetryAfter)
// when that is longer — never sooner than the server asked, never sooner
// than our own backoff.
func (p Policy) Delay(n int, retryAfter time.Duration) time.Duration {
	d := p.Initial
	for i := 1; i < n && d > 0 && (p.Max <= 0 || d < p.Max) && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if j := min(max(p.Jitter, 0), 1); j > 0 && d > 0 {
		if span := int64(float64(d) * j); span > 0 {
			d -= time.Duration(p.int64n(span + 1))
		}
	}
	if retryAfter > 0 {
		if c := p.retryAfterCap(); c > 0 {
			retryAfter = min(retryAfter, c)
		}
		d = max(d, retryAfter)
	}
	return d
}

func (p Policy) retryAfterCap() time.Duration {
	if p.MaxRetryAfter > 0 {
		return p.MaxRetryAfter
	}
	return p.Max
}

func (p Policy) int64n(n int64) int64 {
	if p.Rand != nil {
		return p.Rand.Int64N(n)
	}
	return rand.Int64N(n)
}

// Retry calls op until it returns nil, returns an error marked Permanent,
// the policy's MaxAttempts or MaxElapsed is reached, the next wait would
// pass ctx's deadline, or ctx ends. op gets ctx; it should bound each
// attempt itself (every outbound call has its own timeout) and return
// WithRetryAfter(err, d) when the server asked to wait d.
//
// The error wraps op's last error with the number of attempts ("3
// attempt(s): …"), keeping it reachable with errors.As (and Permanent's
// mark with IsPermanent). When ctx ends first, the error wraps ctx.Err()
// instead and quotes op's last error as text only, so that
// errors.Is(err, context.Canceled) tells a caller's cancellation from a
// failure of the call.
func (p Policy) Retry(ctx context.Context, op func(context.Context) error) error {
	return p.RetryNotify(ctx, op, nil)
}

// RetryNotify is Retry, calling notify before each wait with op's error,
// the number of failed attempts so far (from 1) and the wait.
func (p Policy) RetryNotify(ctx context.Context, op func(context.Context) error, notify func(err error, attempt int, wait time.Duration)) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w after %d attempt(s) (last error: %v)", cerr, attempt, err)
		}
		if IsPermanent(err) {
			return fmt.Errorf("%d attempt(s): %w", attempt, err)
		}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return fmt.Errorf("%d attempt(s): %w", attempt, err)
		}
		wait := p.Delay(attempt, RetryAfterOf(err))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%d attempt(s), next retry in %v is past the deadline: %w", attempt, wait, err)
		}
		if p.MaxElapsed > 0 && time.Since(start)+wait > p.MaxElapsed {
			return fmt.Errorf("%d attempt(s), next retry in %v would pass the %v bound: %w", attempt, wait, p.MaxElapsed, err)
		}
		if notify != nil {
			notify(err, attempt, wait)
		}
		if serr := Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w while waiting to retry after %d attempt(s) (last error: %v)", serr, attempt, err)
		}
	}
}

// Sleep waits d or until ctx ends, returning ctx.Err() then.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// permanentError marks an error that another attempt will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: Retry returns it at once. The
// mark is transparent to errors.Is and errors.As; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// afterError carries a server's requested wait.
type afterError struct {
	err   error
	after time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// WithRetryAfter attaches the wait a server asked for (its Retry-After) to
// err; Retry waits at least that long (up to Policy.MaxRetryAfter) before
// the next attempt. A d ≤ 0 or a nil err returns err unchanged.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &afterError{err: err, after: d}
}

// RetryAfterOf is the wait attached to err by WithRetryAfter, 0 if none.
func RetryAfterOf(err error) time.Duration {
	var a *afterError
	if errors.As(err, &a) {
		return a.after
	}
	return 0
}
