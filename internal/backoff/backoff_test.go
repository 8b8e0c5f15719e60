package backoff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// fixed is a jitter source that always draws the same fraction of its range:
// 0 draws 0 (no jitter taken off), 1 draws n−1 (all of it).
type fixed float64

func (f fixed) Int64N(n int64) int64 { return int64(float64(n-1) * float64(f)) }

func TestDelayExact(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		p    Policy
		ra   time.Duration
		want []time.Duration // after attempt 1, 2, …
	}{
		{"doubling, capped", Policy{Initial: 100 * ms, Max: 500 * ms}, 0,
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms}},
		{"no cap", Policy{Initial: time.Second}, 0,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"equal jitter, none drawn", Policy{Initial: 100 * ms, Max: time.Second, Jitter: 0.5, Rand: fixed(0)}, 0,
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second}},
		{"equal jitter, all drawn", Policy{Initial: 100 * ms, Max: time.Second, Jitter: 0.5, Rand: fixed(1)}, 0,
			[]time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 500 * ms}},
		{"20% jitter, half drawn", Policy{Initial: 100 * ms, Max: 5 * time.Second, Jitter: 0.2, Rand: fixed(0.5)}, 0,
			[]time.Duration{90 * ms, 180 * ms, 360 * ms}},
		{"Retry-After longer than backoff", Policy{Initial: 100 * ms, Max: time.Second}, 300 * ms,
			[]time.Duration{300 * ms, 300 * ms, 400 * ms}},
		{"Retry-After capped at Max", Policy{Initial: 100 * ms, Max: time.Second}, time.Hour,
			[]time.Duration{time.Second, time.Second}},
		{"Retry-After capped at MaxRetryAfter", Policy{Initial: 100 * ms, Max: 5 * time.Second, MaxRetryAfter: 30 * time.Second}, 600 * time.Second,
			[]time.Duration{30 * time.Second}},
		{"Retry-After uncapped", Policy{Initial: 100 * ms}, time.Hour,
			[]time.Duration{time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := tc.p.Delay(i+1, tc.ra); got != want {
					t.Errorf("Delay(%d, %v) = %v, want %v", i+1, tc.ra, got, want)
				}
			}
		})
	}
}

// A seeded source gives the same delays every run; the values are pinned so
// that a change of the jitter formula shows.
func TestDelaySeeded(t *testing.T) {
	p := Policy{Initial: 500 * time.Millisecond, Max: 20 * time.Second, Jitter: 0.5, Rand: rand.New(rand.NewPCG(1, 2))}
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		d := p.Delay(n, 0)
		lo := min(500*time.Millisecond<<(n-1), 20*time.Second)
		if d < lo/2 || d > lo {
			t.Fatalf("Delay(%d) = %v, outside [%v, %v]", n, d, lo/2, lo)
		}
		got = append(got, d)
	}
	q := p
	q.Rand = rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 8; n++ {
		if d := q.Delay(n, 0); d != got[n-1] {
			t.Fatalf("same seed, attempt %d: %v then %v", n, got[n-1], d)
		}
	}
	const pinned = "[307.656682ms 691.781888ms 1.215571998s 2.406806843s 7.062894918s 15.670357944s 15.000882446s 15.506161222s]"
	if s := fmt.Sprint(got); s != pinned {
		t.Errorf("seeded delays %s, pinned %s", s, pinned)
	}
}

func TestDelayHuge(t *testing.T) {
	p := Policy{Initial: time.Hour}
	if d := p.Delay(200, 0); d <= 0 {
		t.Fatalf("Delay overflowed: %v", d)
	}
}

func TestRetryNotifyWaits(t *testing.T) {
	p := Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond, MaxAttempts: 5}
	var waits []time.Duration
	var attempts []int
	calls := 0
	err := p.RetryNotify(context.Background(), func(context.Context) error {
		calls++
		if calls == 3 {
			return WithRetryAfter(errors.New("slow down"), 3*time.Millisecond)
		}
		return errors.New("boom")
	}, func(err error, attempt int, wait time.Duration) {
		attempts = append(attempts, attempt)
		waits = append(waits, wait)
	})
	if calls != 5 || !strings.HasPrefix(err.Error(), "5 attempt(s): boom") {
		t.Fatalf("%d calls, %v", calls, err)
	}
	ms := time.Millisecond
	if fmt.Sprint(waits) != fmt.Sprint([]time.Duration{ms, 2 * ms, 4 * ms, 4 * ms}) || fmt.Sprint(attempts) != "[1 2 3 4]" {
		t.Fatalf("waits %v attempts %v", waits, attempts)
	}
}

func TestRetrySucceeds(t *testing.T) {
	calls := 0
	err := Policy{Initial: time.Millisecond}.Retry(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("%d calls, %v", calls, err)
	}
}

type statusErr struct{ code int }

func (e *statusErr) Error() string { return fmt.Sprintf("status %d", e.code) }

func TestRetryPermanent(t *testing.T) {
	calls := 0
	err := Policy{Initial: time.Millisecond}.Retry(context.Background(), func(context.Context) error {
		calls++
		return Permanent(&statusErr{400})
	})
	var se *statusErr
	if calls != 1 || !IsPermanent(err) || !errors.As(err, &se) || se.code != 400 || err.Error() != "1 attempt(s): status 400" {
		t.Fatalf("%d calls, %v", calls, err)
	}
	if Permanent(nil) != nil || IsPermanent(errors.New("x")) || WithRetryAfter(nil, time.Second) != nil {
		t.Fatal("nil and unmarked errors")
	}
	if IsPermanent(WithRetryAfter(errors.New("x"), time.Second)) || RetryAfterOf(fmt.Errorf("w: %w", WithRetryAfter(errors.New("x"), time.Second))) != time.Second {
		t.Fatal("WithRetryAfter")
	}
}

func TestRetryPastDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	calls := 0
	err := Policy{Initial: time.Millisecond, MaxRetryAfter: time.Minute}.Retry(ctx, func(context.Context) error {
		calls++
		return WithRetryAfter(&statusErr{429}, 30*time.Second)
	})
	var se *statusErr
	if calls != 1 || !strings.Contains(err.Error(), "next retry in 30s is past the deadline") || !errors.As(err, &se) || time.Since(start) > time.Second {
		t.Fatalf("%d calls after %v: %v", calls, time.Since(start), err)
	}
}

func TestRetryMaxElapsed(t *testing.T) {
	calls := 0
	err := Policy{Initial: 20 * time.Millisecond, MaxElapsed: 50 * time.Millisecond}.Retry(context.Background(), func(context.Context) error {
		calls++
		return errors.New("down")
	})
	// Waits 20 ms, then 40 ms would end past 50 ms: two attempts.
	if calls != 2 || !strings.Contains(err.Error(), "would pass the 50ms bound: down") {
		t.Fatalf("%d calls: %v", calls, err)
	}
}

func TestRetryContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		err := Policy{Initial: time.Hour}.Retry(ctx, func(context.Context) error { return &statusErr{503} })
		var se *statusErr
		if !errors.Is(err, context.Canceled) || errors.As(err, &se) || !strings.Contains(err.Error(), "status 503") || time.Since(start) > time.Second {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
	})
	t.Run("ended during the attempt", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := Policy{Initial: time.Millisecond}.Retry(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("posting: %w", ctx.Err())
		})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "context deadline exceeded after 1 attempt(s)") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("Sleep", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if Sleep(ctx, time.Hour) != context.Canceled || Sleep(ctx, 0) != context.Canceled || Sleep(context.Background(), time.Millisecond) != nil {
			t.Fatal("Sleep")
		}
	})
}
