package serving

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/chainwatch/chainwatch/serving/chains"
)

// DirSource serves the chains of a folder as they are on disk: the one
// version each file holds, whatever ref names it (a hash or human version
// that is not the file's is not found). For development and for gateways
// without ClickHouse; a deployment uses StoreSource.
type DirSource struct {
	mu     sync.RWMutex
	chains map[string]*chains.Chain
}

// NewDirSource loads dir.
func NewDirSource(dir string) (*DirSource, error) {
	d := &DirSource{}
	return d, d.Reload(dir)
}

// Reload reads dir again; on error the chains loaded before stay.
func (d *DirSource) Reload(dir string) error {
	cs, err := chains.Load(dir)
	if err != nil {
		return err
	}
	m := make(map[string]*chains.Chain, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	d.mu.Lock()
	d.chains = m
	d.mu.Unlock()
	return nil
}

// Resolve implements ChainSource.
func (d *DirSource) Resolve(_ context.Context, name, ref string) (*chains.Chain, string, bool, error) {
	d.mu.RLock()
	c := d.chains[name]
	d.mu.RUnlock()
	if c == nil {
		return nil, "", false, fmt.Errorf("chain %q: %w", name, chains.ErrNotFound)
	}
	if ref != "" && ref != c.Version && ref != c.Hash() {
		return nil, "", false, fmt.Errorf("chain %s: version %q: %w (this gateway serves the chain files as they are: %s)", name, ref, chains.ErrNotFound, c.Ref())
	}
	return c, "", false, nil
}

// Names implements ChainSource.
func (d *DirSource) Names() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]string, 0, len(d.chains))
	for n := range d.chains {
		out = append(out, n)
	}
	return out
}

// StoreSource serves versions recorded with `chainwatch chains push` and
// moved by promote/rollback: "chain:NAME" is the default label,
// "chain:NAME@REF" a version (human version or hash) when one matches,
// else a label. Label answers come through a Resolver (cached, last good
// kept when ClickHouse is unreachable).
type StoreSource struct {
	res          *chains.Resolver
	names        func(context.Context) ([]string, error)
	defaultLabel string

	mu       sync.Mutex
	rng      *rand.Rand
	lastName []string
	namesAt  time.Time
}

// NewStoreSource answers from store through a resolver caching for ttl.
func NewStoreSource(res *chains.Resolver, names func(context.Context) ([]string, error), defaultLabel string) *StoreSource {
	return &StoreSource{res: res, names: names, defaultLabel: defaultLabel, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))}
}

// Resolve implements ChainSource.
func (s *StoreSource) Resolve(ctx context.Context, name, ref string) (*chains.Chain, string, bool, error) {
	// A ref is a version when one matches, else a label; a ref already
	// resolved as a label is not looked up as a version again (no query
	// per call, and it keeps resolving from the last good answer while
	// ClickHouse is down).
	var verErr error
	if ref != "" && !s.res.KnownLabel(name, ref) {
		c, err := s.res.Version(ctx, name, ref)
		if err == nil {
			return c, "", false, nil
		}
		verErr = err
	}
	label := ref
	if label == "" {
		label = s.defaultLabel
	}
	d, err := s.res.Label(ctx, name, label)
	if err != nil {
		if verErr != nil && !errors.Is(verErr, chains.ErrNotFound) {
			return nil, "", false, verErr // ClickHouse failing, not a missing version
		}
		if errors.Is(err, chains.ErrNotFound) && ref != "" {
			return nil, "", false, fmt.Errorf("chain %s: %q is neither a version nor a label: %w", name, ref, chains.ErrNotFound)
		}
		return nil, "", false, err
	}
	s.mu.Lock()
	hash, canary := d.Pick(s.rng)
	s.mu.Unlock()
	c, err := s.res.Version(ctx, name, hash)
	if err != nil {
		return nil, "", false, err
	}
	return c, label, canary, nil
}

// Names implements ChainSource (refreshed at most every 10 s, the last
// good list kept).
func (s *StoreSource) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.namesAt) > 10*time.Second && s.names != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if n, err := s.names(ctx); err == nil {
			s.lastName, s.namesAt = n, time.Now()
		}
	}
	return append([]string(nil), s.lastName...)
}

var (
	_ ChainSource = (*DirSource)(nil)
	_ ChainSource = (*StoreSource)(nil)
)
