package runner

// Sampler decides which traces are evaluated: per app and chain, a rate;
// per trace, a hash of its id. The decision depends on nothing else, so a
// restarted runner (or another runner of the group) samples the very same
// traces, and all the evaluated spans of a trace are evaluated together.
type Sampler struct {
	rate    float64
	exact   map[[2]string]float64 // app, chain
	byApp   map[string]float64
	byChain map[string]float64
	kinds   map[string]bool
}

// NewSampler builds the sampler of c (defaults applied by the caller).
func NewSampler(c SampleConfig) *Sampler {
	s := &Sampler{rate: c.Rate, exact: map[[2]string]float64{}, byApp: map[string]float64{}, byChain: map[string]float64{}, kinds: map[string]bool{}}
	for _, o := range c.Overrides {
		switch {
		case o.App != "" && o.Chain != "":
			s.exact[[2]string{o.App, o.Chain}] = o.Rate
		case o.App != "":
			s.byApp[o.App] = o.Rate
		default:
			s.byChain[o.Chain] = o.Rate
		}
	}
	for _, k := range c.ComponentKinds {
		s.kinds[k] = true
	}
	return s
}

// Rate is the sampling rate of app and chain.
func (s *Sampler) Rate(app, chain string) float64 {
	if r, ok := s.exact[[2]string{app, chain}]; ok {
		return r
	}
	if r, ok := s.byApp[app]; ok {
		return r
	}
	if r, ok := s.byChain[chain]; ok {
		return r
	}
	return s.rate
}

// Sampled reports whether the trace is evaluated at app and chain's rate.
func (s *Sampler) Sampled(app, chain, traceID string) bool {
	r := s.Rate(app, chain)
	return r > 0 && (r >= 1 || TraceFraction(traceID) < r)
}

// Evaluable reports whether a span of this kind with this output is a
// candidate at all: its component kind is configured and it has output.
func (s *Sampler) Evaluable(kind, output string) bool {
	return output != "" && s.kinds[kind]
}

// TraceFraction maps a trace id to [0, 1), uniformly for random ids: FNV-1a
// over the id's text, finished with SplitMix64's mixer so that ids that
// share a prefix still spread. It is the sampling key; it is exported so
// that tests and operators can tell which traces a rate selects.
func TraceFraction(traceID string) float64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(traceID); i++ {
		h ^= uint64(traceID[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}
