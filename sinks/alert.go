// Package sinks delivers chainwatch's alerts to the systems that page people:
// Prometheus Alertmanager (API v2) and a generic JSON webhook.
//
// Both sinks share one delivery machinery: Send validates the alerts and puts
// them on a bounded in-memory queue per destination, and a background
// goroutine per destination posts them in batches, retrying with capped
// exponential backoff while the destination is down. See Alertmanager for
// the queue policy and README.md for the metrics.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert is one alert in Alertmanager's model: an identity (the label set),
// descriptive annotations and the interval it is active in.
//
// A firing alert is sent again by the caller for as long as its condition
// lasts, with the same labels. A resolved alert is the same labels with
// EndsAt set to the time it resolved (not after now). A zero EndsAt lets
// Alertmanager resolve the alert by itself after its resolve_timeout (5m by
// default) if it is not sent again; a firing alert may instead carry an
// EndsAt in the future, as Prometheus does (a few refresh intervals ahead).
//
// A zero StartsAt is filled in by Send with the time of Send (or with EndsAt
// if that has already passed), so an alert delivered late, after an outage,
// still starts when it was raised. Alertmanager would otherwise use the time
// it received the alert, or — Alertmanager 0.25 — EndsAt, when EndsAt is
// set. Alertmanager keeps the earliest StartsAt of the updates it merges.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Resolved reports whether the alert has ended by now.
func (a Alert) Resolved(now time.Time) bool {
	return !a.EndsAt.IsZero() && !a.EndsAt.After(now)
}

// Validate checks what Alertmanager would reject: an empty label set, label
// or annotation names outside [a-zA-Z_][a-zA-Z0-9_]*, values that are not
// UTF-8, and an EndsAt before StartsAt.
func (a Alert) Validate() error {
	if len(a.Labels) == 0 {
		return errors.New("alert has no labels")
	}
	for _, set := range []struct {
		what string
		m    map[string]string
	}{{"label", a.Labels}, {"annotation", a.Annotations}} {
		for k, v := range set.m {
			if !ValidLabelName(k) {
				return fmt.Errorf("invalid %s name %q", set.what, k)
			}
			if !utf8.ValidString(v) {
				return fmt.Errorf("%s %q: value is not valid UTF-8", set.what, k)
			}
		}
	}
	if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return fmt.Errorf("endsAt %s is before startsAt %s", a.EndsAt.Format(time.RFC3339), a.StartsAt.Format(time.RFC3339))
	}
	return nil
}

// ValidLabelName is Prometheus' legacy label-name rule
// ([a-zA-Z_][a-zA-Z0-9_]*), which Alertmanager 0.25 enforces on labels and
// annotations: the one rule for every label name chainwatch sends.
func ValidLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// key identifies an alert by its label set, as Alertmanager's fingerprint
// does.
func (a Alert) key() string {
	names := slices.Sorted(maps.Keys(a.Labels))
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0xff)
		b.WriteString(a.Labels[n])
		b.WriteByte(0xff)
	}
	return b.String()
}

// prepared copies the maps, so a caller may reuse its own after Send, and
// fills in a zero StartsAt (see Alert).
func (a Alert) prepared(now time.Time) Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Annotations = maps.Clone(a.Annotations)
	if a.StartsAt.IsZero() {
		a.StartsAt = now
		if !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
			a.StartsAt = a.EndsAt
		}
	}
	return a
}

// Sink delivers alerts somewhere. Send must return quickly (implementations
// queue); Start begins background delivery and Shutdown flushes what is
// queued until its context ends. Shutdown is idempotent.
type Sink interface {
	Start(ctx context.Context) error
	Send(ctx context.Context, alerts []Alert) error
	Shutdown(ctx context.Context) error
}

// ErrClosed is returned by Send after Shutdown has begun.
var ErrClosed = errors.New("alert sink is shut down")

// UndeliveredError is what Shutdown returns when alerts were still queued
// when its context ended (or the sink was never started).
type UndeliveredError struct {
	Sink  string // "alertmanager" or "webhook"
	Count int    // alerts not delivered, counted once per destination
	Err   error  // the context's error, if that is why
}

// Error says which sink and how many alerts.
func (e *UndeliveredError) Error() string {
	s := fmt.Sprintf("%s sink shut down with %d alerts undelivered", e.Sink, e.Count)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the context's error, if any.
func (e *UndeliveredError) Unwrap() error { return e.Err }
