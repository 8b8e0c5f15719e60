package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": "0.25"}, 250 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "5", "retry-after-ms": "120"}, 120 * time.Millisecond},
		{map[string]string{"Retry-After": "5", "retry-after-ms": "nope"}, 5 * time.Second},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := RetryAfter(h, now); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.h, got, tc.want)
		}
	}
}

// The cases simulate's own parser was tested with (its cap now lives in
// the Policy: simulate's TestRetryAfterCapped).
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 1 ":                           time.Second,
		"600":                           600 * time.Second,
		"soon":                          0,
		"-1":                            0,
		"0":                             0,
		"1e300":                         0,
		"Sun, 01 Mar 2026 12:00:05 GMT": 5 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
	} {
		if got := ParseRetryAfter(h, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

func TestRetryableStatus(t *testing.T) {
	retry := map[int]bool{408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true, 506: true, 507: true, 599: true}
	otlp := map[int]bool{429: true, 502: true, 503: true, 504: true}
	for code := 100; code <= 600; code++ {
		if got := RetryableStatus(code); got != retry[code] {
			t.Errorf("RetryableStatus(%d) = %v", code, got)
		}
		if got := OTLPRetryableStatus(code); got != otlp[code] {
			t.Errorf("OTLPRetryableStatus(%d) = %v", code, got)
		}
		if code == 507 {
			code = 598 // 508–597 are like 507
		}
	}
}
