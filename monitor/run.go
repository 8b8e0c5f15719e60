package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/chainwatch/chainwatch/detectors"
	"github.com/chainwatch/chainwatch/schemas"
)

// Runner runs one monitor for one tick. It is safe for concurrent use.
type Runner struct {
	Store     *Store
	Tokenizer Tokenizer
	Embedder  Embedder // nil: embedding features fail with a clear error
	Worker    string   // recorded with each result
}

// Timings break a run down by stage (BENCHMARKS.md reports them).
type Timings struct {
	Query, Features, Detector time.Duration
}

// Windows returns the current and reference time windows of m at tick
// (the reference is zero for a dataset reference; the current window's
// start is set after reading for count windows).
func (m Monitor) windows(tick time.Time) (curFrom, curTo, refFrom, refTo time.Time) {
	curTo = tick
	if m.Current.Size > 0 {
		curFrom = tick.Add(-m.Current.Size)
	}
	switch {
	case m.Reference.Dataset != "":
	case !m.Reference.From.IsZero():
		refFrom, refTo = m.Reference.From, m.Reference.To
	default:
		start := curFrom
		if m.Current.Size == 0 { // count window: trail the tick
			start = tick
		}
		refTo = start.Add(-m.Reference.Offset)
		refFrom = refTo.Add(-m.Reference.Size)
	}
	return
}

// seedOf makes a run's randomness a function of the monitor and the tick,
// so that re-running a tick reproduces its verdict.
func seedOf(name string, tick time.Time) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s@%d", name, tick.Unix())
	return h.Sum64()
}

// Run evaluates m (defaults filled) for the tick and returns the row for
// detector_results. It never fails: problems become Status "error" with
// the reason, thin windows Status "insufficient_data".
func (r *Runner) Run(ctx context.Context, m Monitor, tick time.Time) (schemas.DetectorResult, Timings) {
	start := time.Now()
	var tm Timings
	res := schemas.DetectorResult{
		Monitor: m.Name, MonitorVersion: m.Version(), Tick: tick.UTC(), App: m.Selector.App, Chain: m.Selector.Chain,
		Feature: m.Feature, Detector: m.Detector, Kind: m.Reference.Kind(), Worker: r.Worker, Params: "{}",
	}
	finish := func(status string, err error) (schemas.DetectorResult, Timings) {
		res.Status = status
		if err != nil {
			res.Error = err.Error()
		}
		res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		res.CreatedAt = time.Now().UTC()
		return res, tm
	}
	curFrom, curTo, refFrom, refTo := m.windows(tick)
	var cur, ref []Record
	var err error
	if m.Current.Count > 0 {
		cur, err = r.Store.LastN(ctx, m.Selector, curTo, m.Current.Count)
		if err == nil && len(cur) > 0 {
			curFrom = cur[0].Time
		}
	} else {
		cur, err = r.window(ctx, m, curFrom, curTo)
	}
	if err != nil {
		tm.Query = time.Since(start)
		return finish(schemas.RunError, fmt.Errorf("reading the current window: %w", err))
	}
	if m.Reference.Dataset != "" {
		name, version, _ := m.Reference.DatasetRef()
		var v uint32
		ref, v, err = r.Store.DatasetRecords(ctx, name, version, m.MaxSamples)
		res.Reference = fmt.Sprintf("dataset:%s@%d", name, v)
	} else {
		if m.Current.Count > 0 && m.Reference.From.IsZero() {
			refTo = curFrom.Add(-m.Reference.Offset)
			refFrom = refTo.Add(-m.Reference.Size)
		}
		ref, err = r.window(ctx, m, refFrom, refTo)
		res.Reference = fmt.Sprintf("window:%s/%s", refFrom.UTC().Format(time.RFC3339), refTo.UTC().Format(time.RFC3339))
		res.RefStart, res.RefEnd = refFrom.UTC(), refTo.UTC()
	}
	res.CurStart, res.CurEnd = curFrom.UTC(), curTo.UTC()
	tm.Query = time.Since(start)
	if err != nil {
		return finish(schemas.RunError, fmt.Errorf("reading the reference: %w", err))
	}
	res.NRef, res.NCur = uint32(len(ref)), uint32(len(cur))
	if len(ref) < m.MinRef || len(cur) < m.MinCur {
		return finish(schemas.RunInsufficientData, fmt.Errorf("reference has %d rows (min_ref %d), current %d (min_cur %d)", len(ref), m.MinRef, len(cur), m.MinCur))
	}
	t0 := time.Now()
	rs, err := extract(ctx, m.Feature, ref, r.Tokenizer, r.Embedder)
	var cs sample
	if err == nil {
		cs, err = extract(ctx, m.Feature, cur, r.Tokenizer, r.Embedder)
	}
	tm.Features = time.Since(t0)
	if err != nil {
		return finish(schemas.RunError, fmt.Errorf("computing %s: %w", m.Feature, err))
	}
	t1 := time.Now()
	dr, err := runDetector(m.Detector, m.Params, rs, cs, seedOf(m.Name, tick))
	tm.Detector = time.Since(t1)
	if err != nil {
		return finish(schemas.RunError, fmt.Errorf("running %s: %w", m.Detector, err))
	}
	fillVerdict(&res, dr)
	if r.Embedder != nil && features[m.Feature].kind == kindEmbedding {
		dr.Params["embedder"] = r.Embedder.ID()
	}
	if b, err := json.Marshal(jsonSafe(dr.Params)); err == nil {
		res.Params = string(b)
	}
	return finish(schemas.RunOK, nil)
}

// window reads m's feature source over [from, to).
func (r *Runner) window(ctx context.Context, m Monitor, from, to time.Time) ([]Record, error) {
	switch features[m.Feature].source {
	case fromFeedback:
		return r.Store.Feedback(ctx, m.Selector, from, to, m.MaxSamples)
	case fromScores:
		return r.Store.Scores(ctx, m.Selector, m.Score, from, to, m.MaxSamples)
	}
	return r.Store.Window(ctx, m.Selector, from, to, m.MaxSamples)
}

// fillVerdict copies a detector's verdict; per-feature tests (one feature
// here) report their first statistic.
func fillVerdict(res *schemas.DetectorResult, dr detectors.Result) {
	res.Statistic = dr.Statistic
	if len(dr.Statistics) > 0 {
		res.Statistic = dr.Statistics[0]
	}
	if dr.HasPValue || dr.PValues != nil {
		p := dr.PValue
		if len(dr.PValues) > 0 {
			p = dr.PValues[0]
		}
		res.PValue = &p
	}
	res.Threshold = dr.Threshold
	res.Drift = dr.Drift
}

// jsonSafe replaces NaN and ±Inf, which JSON cannot carry, by null.
func jsonSafe(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			out[k] = nil
			continue
		}
		out[k] = v
	}
	return out
}
