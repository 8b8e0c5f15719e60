package chains

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// Store records chain versions and label deployments in ClickHouse.
type Store struct {
	conn driver.Conn
	now  func() time.Time
}

// NewStore is a store over a migrated database.
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn, now: time.Now} }

// Version is one stored version of a chain.
type Version struct {
	Name, Hash, Version string
	PushedBy            string
	PushedAt            time.Time
	Chain               *Chain
}

// Push records c unless its hash is stored already; new says which.
func (s *Store) Push(ctx context.Context, c *Chain, who string) (new bool, err error) {
	vs, err := s.Versions(ctx, c.Name)
	if err != nil {
		return false, err
	}
	h := c.Hash()
	for _, v := range vs {
		if v.Hash == h {
			return false, nil
		}
		if c.Version != "" && v.Version == c.Version {
			return false, fmt.Errorf("chain %s: version %q is already %s with other content; versions are immutable (give the change a new version)", c.Name, c.Version, v.Hash)
		}
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO chain_versions ("+strings.Join(schemas.ChainVersionColumns(), ", ")+")")
	if err != nil {
		return false, fmt.Errorf("preparing chain_versions insert: %w", err)
	}
	if err := b.Append(c.Name, h, c.Version, string(c.Definition()), who, s.now()); err != nil {
		return false, fmt.Errorf("appending chain version: %w", err)
	}
	if err := b.Send(); err != nil {
		return false, fmt.Errorf("inserting chain version %s: %w", c.Ref(), err)
	}
	return true, nil
}

// Versions lists a chain's versions, oldest first.
func (s *Store) Versions(ctx context.Context, name string) ([]Version, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, hash, version, definition, pushed_by, pushed_at FROM chain_versions FINAL WHERE name = ? ORDER BY pushed_at, hash", name)
	if err != nil {
		return nil, fmt.Errorf("reading chain_versions of %s: %w", name, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var def string
		if err := rows.Scan(&v.Name, &v.Hash, &v.Version, &def, &v.PushedBy, &v.PushedAt); err != nil {
			return nil, fmt.Errorf("reading chain_versions: %w", err)
		}
		if v.Chain, err = FromDefinition([]byte(def)); err != nil {
			return nil, fmt.Errorf("chain %s@%s: %w", v.Name, v.Hash, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Names lists the chains with at least one version.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT name FROM chain_versions ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("reading chain names: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ErrNotFound is a chain, version or label that does not exist.
var ErrNotFound = errors.New("not found")

// Get finds version ref of chain name: a hash (or a prefix of one, at
// least 4 digits), a human version, or "" for the newest.
func (s *Store) Get(ctx context.Context, name, ref string) (*Version, error) {
	vs, err := s.Versions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("chain %q: %w (push it first)", name, ErrNotFound)
	}
	if ref == "" {
		return &vs[len(vs)-1], nil
	}
	var found *Version
	for i := range vs {
		v := &vs[i]
		if v.Version == ref || v.Hash == ref {
			return v, nil
		}
		if len(ref) >= 4 && strings.HasPrefix(v.Hash, ref) {
			if found != nil {
				return nil, fmt.Errorf("chain %s: %q names more than one version", name, ref)
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("chain %s: version %q: %w", name, ref, ErrNotFound)
	}
	return found, nil
}

// Deployment is a label's state: the stable version and, during a canary,
// the canary version and the share of traffic it gets.
type Deployment struct {
	Name, Label   string
	Action        string // "promote" or "rollback"
	Stable        string // hash
	Canary        string // hash, "" when none
	CanaryPercent float64
	Who           string
	At            time.Time
	Seq           uint64
}

// Pick chooses the version for one request: the canary with probability
// CanaryPercent/100, else the stable one.
func (d Deployment) Pick(r *rand.Rand) (hash string, canary bool) {
	if d.Canary != "" && d.CanaryPercent > 0 {
		var u float64
		if r != nil {
			u = r.Float64()
		} else {
			u = rand.Float64()
		}
		if u*100 < d.CanaryPercent {
			return d.Canary, true
		}
	}
	return d.Stable, false
}

// History is the label's log, oldest first.
func (s *Store) History(ctx context.Context, name, label string) ([]Deployment, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, label, action, stable_hash, canary_hash, canary_percent, who, at, seq FROM chain_deployments WHERE name = ? AND label = ? ORDER BY seq", name, label)
	if err != nil {
		return nil, fmt.Errorf("reading chain_deployments of %s/%s: %w", name, label, err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		var d Deployment
		if err := rows.Scan(&d.Name, &d.Label, &d.Action, &d.Stable, &d.Canary, &d.CanaryPercent, &d.Who, &d.At, &d.Seq); err != nil {
			return nil, fmt.Errorf("reading chain_deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Current is the label's state; ErrNotFound when it was never promoted.
func (s *Store) Current(ctx context.Context, name, label string) (Deployment, error) {
	h, err := s.History(ctx, name, label)
	if err != nil {
		return Deployment{}, err
	}
	if len(h) == 0 {
		return Deployment{}, fmt.Errorf("chain %s has no label %q: %w", name, label, ErrNotFound)
	}
	return h[len(h)-1], nil
}

// Promote moves label to version ref: with canaryPercent in (0, 100) the
// current stable version keeps the rest of the traffic; 0 makes ref the
// stable version.
func (s *Store) Promote(ctx context.Context, name, ref, label string, canaryPercent float64, who string) (Deployment, error) {
	if canaryPercent < 0 || canaryPercent >= 100 {
		return Deployment{}, fmt.Errorf("canary must be in [0, 100), got %v%%", canaryPercent)
	}
	v, err := s.Get(ctx, name, ref)
	if err != nil {
		return Deployment{}, err
	}
	h, err := s.History(ctx, name, label)
	if err != nil {
		return Deployment{}, err
	}
	d := Deployment{Name: name, Label: label, Action: "promote", Stable: v.Hash, Who: who}
	if canaryPercent > 0 {
		if len(h) == 0 {
			return Deployment{}, fmt.Errorf("chain %s: label %q has no stable version for a canary to share traffic with; promote one without --canary first", name, label)
		}
		d.Stable, d.Canary, d.CanaryPercent = h[len(h)-1].Stable, v.Hash, canaryPercent
	}
	return d, s.record(ctx, &d, h)
}

// Rollback returns label to the state before its last promote (undoing
// rollbacks in between, like a stack).
func (s *Store) Rollback(ctx context.Context, name, label, who string) (Deployment, error) {
	h, err := s.History(ctx, name, label)
	if err != nil {
		return Deployment{}, err
	}
	var stack []Deployment
	for _, d := range h {
		if d.Action == "rollback" {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		stack = append(stack, d)
	}
	if len(stack) < 2 {
		return Deployment{}, fmt.Errorf("chain %s: label %q has no earlier state to roll back to", name, label)
	}
	prev := stack[len(stack)-2]
	d := Deployment{Name: name, Label: label, Action: "rollback", Stable: prev.Stable, Canary: prev.Canary, CanaryPercent: prev.CanaryPercent, Who: who}
	return d, s.record(ctx, &d, h)
}

func (s *Store) record(ctx context.Context, d *Deployment, h []Deployment) error {
	d.At = s.now().UTC().Truncate(time.Second)
	d.Seq = uint64(s.now().UnixNano())
	if len(h) > 0 && d.Seq <= h[len(h)-1].Seq {
		d.Seq = h[len(h)-1].Seq + 1
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO chain_deployments ("+strings.Join(schemas.ChainDeploymentColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing chain_deployments insert: %w", err)
	}
	if err := b.Append(d.Name, d.Label, d.Action, d.Stable, d.Canary, d.CanaryPercent, d.Who, d.At, d.Seq); err != nil {
		return fmt.Errorf("appending deployment: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("recording %s of %s/%s: %w", d.Action, d.Name, d.Label, err)
	}
	return nil
}

// Source is what the resolver reads: the store, or a test double.
type Source interface {
	Current(ctx context.Context, name, label string) (Deployment, error)
	Get(ctx context.Context, name, ref string) (*Version, error)
}

var _ Source = (*Store)(nil)

// Resolver answers label lookups from a cache. The first lookup of a
// label asks the source; after that the cached answer is served at once,
// and once it is older than TTL a single background refresh replaces it
// (stale-while-revalidate): a slow or unreachable ClickHouse never holds a
// call. When a refresh fails, the last good answer stays, the failure is
// logged and counted (Stale), and the next refresh is tried a TTL later.
// Versions are immutable and cached for good.
type Resolver struct {
	src Source
	ttl time.Duration
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	labels     map[string]labelEntry
	refreshing map[string]bool
	versions   map[string]*Chain // name@ref
	// Stale is called for each failed refresh (the last good answer kept).
	Stale func()
}

type labelEntry struct {
	d       Deployment
	fetched time.Time
}

// NewResolver caches src's answers for ttl.
func NewResolver(src Source, ttl time.Duration, log *slog.Logger) *Resolver {
	if log == nil {
		log = slog.Default()
	}
	return &Resolver{src: src, ttl: ttl, log: log, now: time.Now, labels: map[string]labelEntry{},
		refreshing: map[string]bool{}, versions: map[string]*Chain{}}
}

// Label is the label's deployment.
func (r *Resolver) Label(ctx context.Context, name, label string) (Deployment, error) {
	key := name + "\x00" + label
	r.mu.Lock()
	e, ok := r.labels[key]
	if ok {
		if r.now().Sub(e.fetched) >= r.ttl && !r.refreshing[key] {
			r.refreshing[key] = true
			go r.refresh(key, name, label, e)
		}
		r.mu.Unlock()
		return e.d, nil
	}
	r.mu.Unlock()
	d, err := r.src.Current(ctx, name, label)
	if err != nil {
		return Deployment{}, err
	}
	r.mu.Lock()
	r.labels[key] = labelEntry{d: d, fetched: r.now()}
	r.mu.Unlock()
	return d, nil
}

// refreshTimeout bounds a background refresh.
const refreshTimeout = 10 * time.Second

func (r *Resolver) refresh(key, name, label string, old labelEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	d, err := r.src.Current(ctx, name, label)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.refreshing, key)
	if err != nil {
		// Keep the last good answer; try again a TTL later.
		r.labels[key] = labelEntry{d: old.d, fetched: r.now()}
		r.log.Warn("serving the last good label resolution: refreshing it failed", "chain", name, "label", label, "stable", old.d.Stable, "canary", old.d.Canary, "err", err)
		if r.Stale != nil {
			r.Stale()
		}
		return
	}
	r.labels[key] = labelEntry{d: d, fetched: r.now()}
}

// KnownLabel says whether label of chain name has been resolved before
// (so a ref naming it need not be looked up as a version first).
func (r *Resolver) KnownLabel(name, label string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.labels[name+"\x00"+label]
	return ok
}

// Version is the chain at ref (a hash, prefix or human version).
func (r *Resolver) Version(ctx context.Context, name, ref string) (*Chain, error) {
	key := name + "@" + ref
	r.mu.Lock()
	c, ok := r.versions[key]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	v, err := r.src.Get(ctx, name, ref)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.versions[key] = v.Chain
	r.mu.Unlock()
	return v.Chain, nil
}
