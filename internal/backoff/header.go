package backoff

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter is how long an HTTP answer asks the client to wait: OpenAI's
// retry-after-ms when present, else Retry-After (ParseRetryAfter); 0 when
// neither is present, parsable and in the future. Callers cap it (see
// Policy.MaxRetryAfter).
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return ParseRetryAfter(h.Get("Retry-After"), now)
}

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): delay
// seconds (fractions accepted, as some servers send them) or an HTTP date.
// It is 0 when v is empty, unparsable, not positive or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < float64(1<<63-1)/float64(time.Second) {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RetryableStatus reports whether an HTTP status is worth another attempt
// at a plain HTTP API (the OpenAI-compatible clients, the alert sinks):
//
//   - 408 Request Timeout, 425 Too Early and 429 Too Many Requests: the
//     server says "not now";
//   - every 5xx except 501 Not Implemented and 505 HTTP Version Not
//     Supported, which say the server will never do this request.
//
// 409 Conflict is not retried: on a generic API it means the state the
// request assumed is gone, and sending it again does not change that
// (OpenAI's own SDK retries it for a lock timeout of its API, which the
// servers chainwatch talks to do not have). Every other status, 2xx and 3xx
// included, is not retryable.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// OTLPRetryableStatus is the OTLP/HTTP exporter's rule (OTLP
// specification, "Retryable Response Codes"): 429, 502, 503 and 504 are
// retried; every other status, 500 included, is not. The traffic simulator
// follows it because it speaks OTLP/HTTP to the collector, as a real
// exporter would.
func OTLPRetryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Truncate cuts s to n bytes, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
