package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// AlertsPath is Alertmanager's API v2 endpoint for posting alerts.
const AlertsPath = "/api/v2/alerts"

// Alertmanager posts alerts to one or more Alertmanagers with API v2
// (POST /api/v2/alerts, a JSON array of postable alerts). Every alert goes
// to every Alertmanager, as Prometheus does.
//
// Queue policy: each Alertmanager has its own bounded queue
// (alerting.queue_capacity alerts) drained by one goroutine that posts
// batches of up to alerting.max_batch with a per-request timeout. While an
// Alertmanager is unreachable or answers 408, 425, 429 or 5xx (but 501 and
// 505), the batch is
// retried with exponential backoff (alerting.retry.initial doubling up to
// alerting.retry.max, or Retry-After if longer) and nothing is dropped —
// unless the queue is full: then the OLDEST alert is dropped to make room
// for the new one and counted in
// chainwatch_alerts_dropped_total{reason="queue_full"}, as Prometheus'
// notifier does (newer alerts carry the current state). The batch in flight
// counts toward the capacity and can be dropped too. A 4xx other than 408
// and 429 is permanent for its batch: logged with the response body, counted
// as reason="rejected" and not retried. An alert whose label set is already
// queued replaces the queued one (coalescing: only the newest update is
// sent; that is not counted as a drop).
type Alertmanager struct {
	d *dispatcher
}

var _ Sink = (*Alertmanager)(nil)

// NewAlertmanager builds the sink for cfg.Alertmanager.URLs with cfg's
// delivery settings, registering its metrics on reg (nil: none). log may be
// nil (slog.Default). Call Start to begin delivery.
func NewAlertmanager(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Alertmanager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Alertmanager.URLs) == 0 {
		return nil, errors.New("alerting.alertmanager.urls: at least one URL is required")
	}
	var targets []target
	for _, u := range cfg.Alertmanager.URLs {
		targets = append(targets, target{url: strings.TrimRight(u, "/") + AlertsPath, encode: encodeAlertmanager})
	}
	d, err := newDispatcher(SinkAlertmanager, cfg, targets, reg, log)
	if err != nil {
		return nil, err
	}
	return &Alertmanager{d: d}, nil
}

func encodeAlertmanager(alerts []Alert) ([]byte, error) { return json.Marshal(alerts) }

// Start begins background delivery and returns at once. The goroutines
// outlive ctx; Shutdown stops them.
func (a *Alertmanager) Start(ctx context.Context) error { return a.d.start(ctx) }

// Send validates the alerts and queues them for every Alertmanager; it does
// not wait for delivery. Invalid alerts (see Alert.Validate) are not queued
// and are named in the error; the others are. After Shutdown it returns
// ErrClosed.
func (a *Alertmanager) Send(_ context.Context, alerts []Alert) error { return a.d.send(alerts) }

// Shutdown stops accepting alerts, keeps delivering until the queues are
// empty or ctx ends, then stops. Alerts still queued are counted as dropped
// (reason="shutdown") and reported in an *UndeliveredError. Idempotent.
func (a *Alertmanager) Shutdown(ctx context.Context) error { return a.d.shutdown(ctx) }

// Flush waits until every queued alert has been delivered (or given up on)
// or ctx ends.
func (a *Alertmanager) Flush(ctx context.Context) error { return a.d.flush(ctx) }

// Pending is the number of alerts queued or in flight, counted once per
// Alertmanager.
func (a *Alertmanager) Pending() int { return a.d.pending() }
