package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookVersion is the version field of the webhook body.
const WebhookVersion = "1"

// WebhookPayload is the JSON body the Webhook sink posts:
//
//	{"version":"1","alerts":[{"status":"firing","labels":{...},"annotations":{...},
//	  "startsAt":"...","endsAt":"...","generatorURL":"..."}]}
//
// status is "resolved" when endsAt is set and not after the time of the
// request, else "firing"; zero times are left out.
type WebhookPayload struct {
	Version string         `json:"version"`
	Alerts  []WebhookAlert `json:"alerts"`
}

// WebhookAlert is an Alert with its status at the time it was posted.
type WebhookAlert struct {
	Status string `json:"status"`
	Alert
}

// Webhook posts alerts as a WebhookPayload to one URL, with the configured
// headers. It shares Alertmanager's queue, batching and retry policy (see
// Alertmanager): a bounded queue that drops the oldest alert when full,
// retries with backoff on network errors and backoff.RetryableStatus (408,
// 425, 429, 5xx but 501 and 505), and gives up on any other status.
type Webhook struct {
	d *dispatcher
}

var _ Sink = (*Webhook)(nil)

// NewWebhook builds the sink for cfg.Webhook with cfg's delivery settings,
// registering its metrics on reg (nil: none). log may be nil.
func NewWebhook(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Webhook.URL == "" {
		return nil, errors.New("alerting.webhook.url is required")
	}
	h := http.Header{}
	for k, v := range cfg.Webhook.Headers {
		h.Set(k, v)
	}
	d, err := newDispatcher(SinkWebhook, cfg, []target{{url: cfg.Webhook.URL, headers: h, encode: encodeWebhook}}, reg, log)
	if err != nil {
		return nil, err
	}
	return &Webhook{d: d}, nil
}

func encodeWebhook(alerts []Alert) ([]byte, error) {
	now := time.Now()
	p := WebhookPayload{Version: WebhookVersion, Alerts: make([]WebhookAlert, len(alerts))}
	for i, a := range alerts {
		st := "firing"
		if a.Resolved(now) {
			st = "resolved"
		}
		p.Alerts[i] = WebhookAlert{Status: st, Alert: a}
	}
	return json.Marshal(p)
}

// Start begins background delivery and returns at once.
func (w *Webhook) Start(ctx context.Context) error { return w.d.start(ctx) }

// Send validates the alerts and queues the valid ones; see Alertmanager.Send.
func (w *Webhook) Send(_ context.Context, alerts []Alert) error { return w.d.send(alerts) }

// Shutdown flushes until ctx ends, then stops; see Alertmanager.Shutdown.
func (w *Webhook) Shutdown(ctx context.Context) error { return w.d.shutdown(ctx) }

// Flush waits until the queue is empty or ctx ends.
func (w *Webhook) Flush(ctx context.Context) error { return w.d.flush(ctx) }

// Pending is the number of alerts queued or in flight.
func (w *Webhook) Pending() int { return w.d.pending() }

// New builds the sinks cfg configures: an Alertmanager sink when
// alerting.alertmanager.urls is set and a Webhook when alerting.webhook.url
// is. None is not an error.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) ([]Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var out []Sink
	if len(cfg.Alertmanager.URLs) > 0 {
		am, err := NewAlertmanager(cfg, reg, log)
		if err != nil {
			return nil, err
		}
		out = append(out, am)
	}
	if cfg.Webhook.URL != "" {
		wh, err := NewWebhook(cfg, reg, log)
		if err != nil {
			return nil, err
		}
		out = append(out, wh)
	}
	return out, nil
}
