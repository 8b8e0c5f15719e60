package serving

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// replica is one upstream of a route.
type replica struct {
	route   string
	index   int
	base    string // URL ending in /v1 (no trailing slash)
	weight  int
	apiKey  string
	gpus    string // CUDA_VISIBLE_DEVICES of a supervised process, "" otherwise
	healthy atomic.Bool
	// draining replicas get no new attempts (a process being stopped).
	draining atomic.Bool
	inFlight atomic.Int64
}

func (r *replica) id() string { return r.route + "/" + strconv.Itoa(r.index) }

// usable says whether the replica may take a new attempt.
func (r *replica) usable() bool { return r.healthy.Load() && !r.draining.Load() && r.base != "" }

// route is a model route at run time.
type route struct {
	cfg      RouteConfig
	chatName string // "chat MODEL", an attempt span's name
	mu       sync.RWMutex
	replicas []*replica
}

func newRoute(rc RouteConfig) *route {
	rt := &route{cfg: rc, chatName: "chat " + rc.Model}
	for i, rep := range rc.Replicas {
		r := &replica{route: rc.Name, index: i, base: strings.TrimRight(rep.URL, "/"), weight: rep.Weight}
		if rep.APIKey != "" {
			r.apiKey = os.Getenv(rep.APIKey)
		}
		// URL replicas start healthy (the first failed attempt or check
		// says otherwise); process replicas once they are ready.
		r.healthy.Store(rep.Process == nil)
		rt.replicas = append(rt.replicas, r)
	}
	return rt
}

// order returns up to n replicas to try, drawn by weight without
// replacement among the usable ones; when none is usable, the unhealthy
// ones not draining (a health check may be stale), so that a call is
// tried rather than refused.
func (rt *route) order(n int, rng *rand.Rand) []*replica {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	var pool []*replica
	for _, r := range rt.replicas {
		if r.usable() && r.weight > 0 {
			pool = append(pool, r)
		}
	}
	if len(pool) == 0 {
		for _, r := range rt.replicas {
			if !r.draining.Load() && r.base != "" && r.weight > 0 {
				pool = append(pool, r)
			}
		}
	}
	var out []*replica
	for len(out) < n && len(pool) > 0 {
		total := 0
		for _, r := range pool {
			total += r.weight
		}
		x := rng.IntN(total)
		for i, r := range pool {
			if x < r.weight {
				out = append(out, r)
				pool = append(pool[:i:i], pool[i+1:]...)
				break
			}
			x -= r.weight
		}
	}
	return out
}

// healthLoop checks every replica of the route each interval until ctx
// ends: GET base+path, healthy on 2xx.
func (rt *route) healthLoop(ctx context.Context, hc *http.Client, onChange func(r *replica, healthy bool)) {
	t := time.NewTicker(rt.cfg.Health.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt.mu.RLock()
		reps := append([]*replica(nil), rt.replicas...)
		rt.mu.RUnlock()
		for _, r := range reps {
			if r.base == "" || r.draining.Load() {
				continue
			}
			ok := probe(ctx, hc, r.base+rt.cfg.Health.Path, r.apiKey, rt.cfg.Timeout)
			if r.healthy.Swap(ok) != ok && onChange != nil {
				onChange(r, ok)
			}
		}
	}
}

// probe is one GET with a timeout; true on 2xx.
func probe(ctx context.Context, hc *http.Client, url, key string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
