package sinks_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/sinks"
)

func ExampleAlertmanager() {
	cfg := sinks.Config{Alertmanager: sinks.AlertmanagerConfig{URLs: []string{"http://alertmanager:9093"}}}
	am, err := sinks.NewAlertmanager(cfg, prometheus.NewRegistry(), slog.Default())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = am.Start(ctx)

	drift := sinks.Alert{
		Labels:      map[string]string{"alertname": "ChainwatchDrift", "app": "support-bot", "monitor": "output_length_ks", "severity": "page"},
		Annotations: map[string]string{"summary": "output length drifted", "p_value": "0.0003"},
		StartsAt:    time.Now(),
	}
	_ = am.Send(ctx, []sinks.Alert{drift}) // firing: sent again every tick while it lasts

	drift.EndsAt = time.Now()
	_ = am.Send(ctx, []sinks.Alert{drift}) // resolved

	shutdownCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = am.Shutdown(shutdownCtx) // flushes; *sinks.UndeliveredError if some could not be
}
