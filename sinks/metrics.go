package sinks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	promreg "github.com/chainwatch/chainwatch/internal/metrics"
)

// Sink names, the values of the metrics' sink label.
const (
	SinkAlertmanager = "alertmanager"
	SinkWebhook      = "webhook"
)

// Reasons, the bounded values of the reason label.
const (
	// Dropped alerts (chainwatch_alerts_dropped_total).
	ReasonQueueFull = "queue_full" // oldest dropped to make room
	ReasonRejected  = "rejected"   // a 4xx (other than 408/429): permanent for the batch
	ReasonShutdown  = "shutdown"   // still queued when Shutdown's context ended

	// Failed requests (chainwatch_alert_send_errors_total); ReasonRejected too.
	ReasonConnection = "connection" // no answer: refused, reset, DNS
	ReasonTimeout    = "timeout"    // no answer within alerting.timeout
	ReasonThrottled  = "http_429"   // 429, 408 or 425: retried, honouring Retry-After
	ReasonServer     = "http_5xx"   // retried (but 501 and 505: rejected)
	ReasonEncode     = "encode"     // the batch could not be encoded (permanent)
)

type metrics struct {
	sent     *prometheus.CounterVec
	errors   *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	queueLen *prometheus.GaugeVec
}

// newMetrics registers the series on reg (nil: not registered). Several
// sinks may share one registry: a series already registered is reused.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: promreg.Namespace, Subsystem: "alerts", Name: "sent_total",
			Help: "Alerts accepted by a destination (2xx), counted once per destination.",
		}, []string{"sink"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: promreg.Namespace, Subsystem: "alert", Name: "send_errors_total",
			Help: "Failed alert requests, by reason; all but rejected and encode are retried.",
		}, []string{"sink", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: promreg.Namespace, Subsystem: "alerts", Name: "dropped_total",
			Help: "Alerts given up on, by reason: queue_full (oldest dropped), rejected (4xx), shutdown.",
		}, []string{"sink", "reason"}),
		queueLen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: promreg.Namespace, Subsystem: "alert", Name: "queue_length",
			Help: "Alerts queued or in flight, summed over the sink's destinations.",
		}, []string{"sink"}),
	}
	if err := errors.Join(promreg.Register(reg, &m.sent), promreg.Register(reg, &m.errors),
		promreg.Register(reg, &m.dropped), promreg.Register(reg, &m.queueLen)); err != nil {
		return nil, err
	}
	return m, nil
}
