// Package httpretry holds what chainwatch's HTTP clients (the embedding
// and chat clients, the alert sinks) share about retrying: how long the
// server asked to wait, and how much of an error body to quote.
package httpretry

import (
	"net/http"
	"strconv"
	"time"
)

// RetryAfter reads OpenAI's retry-after-ms, else Retry-After as (possibly
// fractional) seconds or an HTTP date; 0 when absent, unparsable or past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Truncate cuts s to n bytes, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
