package serving

import (
	"bytes"
	"context"
	"os"
	"time"
)

// DefaultWatchInterval is how often Watch looks at the config file.
const DefaultWatchInterval = 2 * time.Second

// Watch reloads the serving config from path whenever a value arrives on
// hup (SIGHUP) or the file's content changes (checked every interval),
// until ctx ends. A config that fails to load or validate is refused, the
// running one kept, and the reason logged (and counted in
// chainwatch_serving_config_reloads_total{result="rejected"}); after says
// what happened to each reload (nil: nothing).
func (g *Gateway) Watch(ctx context.Context, path string, hup <-chan os.Signal, interval time.Duration, after func(error)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	last, _ := os.ReadFile(path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			forced = true
		case <-t.C:
		}
		cur, err := os.ReadFile(path)
		if err == nil && !forced && bytes.Equal(cur, last) {
			continue
		}
		if err == nil {
			last = cur
		}
		err = g.ReloadFile(path)
		if after != nil {
			after(err)
		}
	}
}

// ReloadFile loads path and applies it (Reload), logging the outcome.
func (g *Gateway) ReloadFile(path string) error {
	cfg, err := LoadConfig(path)
	if err == nil {
		err = g.Reload(cfg)
	} else {
		g.m.reloads.WithLabelValues("rejected").Inc()
	}
	if err != nil {
		g.log.Error("serving config not reloaded; the running config stays", "path", path, "err", err)
		return err
	}
	g.log.Info("serving config reloaded", "path", path, "routes", len(cfg.Routes), "keys", len(cfg.Keys))
	return nil
}
