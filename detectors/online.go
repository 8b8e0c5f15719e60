package detectors

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Online (sequential) MMD and LSDD change detectors after Cobb, Van
// Looveren & Klaise 2022, "Sequential Multivariate Change Detection with
// Calibrated and Memoryless False Detection Rates" (AISTATS): a sliding
// test window of W instances is compared with a fixed reference window,
// and time-varying thresholds, configured before deployment by simulation
// on the reference alone, make the probability of a false detection at
// each step (given none so far) 1/ERT, so that the expected run time under
// no change is ERT. The simulation follows DETECTORS.md.
//
// Time. Before the first instance the test window holds W − 1 reference
// points not in the reference window (as the simulated streams do: their
// first 2W − 1 points come from the reference). The t-th update (t = 0, 1,
// …) pushes the new instance in, drops the oldest, and flags drift iff the
// statistic exceeds thr[min(t, W − 1)]. OnlineResult.Time is t, so a
// detection at Time t means a run length of t + 1 instances.

// DefaultNBootstraps is the default number of simulated streams.
const DefaultNBootstraps = 1000

// OnlineOptions configures NewOnlineMMD and NewOnlineLSDD. ERT and
// WindowSize have no default. Cobb et al. advise NBootstraps ≥ 10·ERT.
type OnlineOptions struct {
	ERT         float64 // expected run time under no change, > 1 (fpr per step = 1/ERT)
	WindowSize  int     // W ≥ 2
	NBootstraps int     // simulated streams; default DefaultNBootstraps
	// Sigma: Gaussian bandwidths. MMD: any number (mean kernel), default
	// the median heuristic on the reference. LSDD: at most one, on the
	// standardised features, default the median heuristic there.
	Sigma          []float64
	NKernelCenters int     // LSDD only; default 2·WindowSize
	LambdaRDMax    float64 // LSDD only; default DefaultLambdaRDMax
	Seed           uint64  // seeds the reference split, centres and simulation
}

// Validate reports every invalid option, naming it as the CLI spells it.
func (o OnlineOptions) Validate() error {
	var errs []error
	if !(o.ERT > 1) || math.IsInf(o.ERT, 0) {
		errs = append(errs, fmt.Errorf("ert must be > 1 and finite, got %v", o.ERT))
	}
	if o.WindowSize < 2 {
		errs = append(errs, fmt.Errorf("window_size must be ≥ 2, got %d", o.WindowSize))
	}
	if o.NBootstraps < 0 {
		errs = append(errs, fmt.Errorf("n_bootstraps must be > 0, got %d", o.NBootstraps))
	}
	for i, s := range o.Sigma {
		if !(s > 0) || math.IsInf(s, 0) {
			errs = append(errs, fmt.Errorf("sigma[%d] must be > 0 and finite, got %v", i, s))
		}
	}
	if o.NKernelCenters < 0 {
		errs = append(errs, fmt.Errorf("n_kernel_centers must be > 0, got %d", o.NKernelCenters))
	}
	if o.LambdaRDMax != 0 && !(o.LambdaRDMax > 0 && o.LambdaRDMax < 1) {
		errs = append(errs, fmt.Errorf("lambda_rd_max must be in (0, 1), got %v", o.LambdaRDMax))
	}
	return errors.Join(errs...)
}

func (o OnlineOptions) withDefaults() OnlineOptions {
	o.NBootstraps = orDefault(o.NBootstraps, DefaultNBootstraps)
	o.NKernelCenters = orDefault(o.NKernelCenters, 2*o.WindowSize)
	o.LambdaRDMax = orDefault(o.LambdaRDMax, DefaultLambdaRDMax)
	return o
}

// OnlineResult is the outcome of one Update.
type OnlineResult struct {
	Time      int // 0-based index of the instance since construction or Reset
	Statistic float64
	Threshold float64
	Drift     bool
}

// onlineThresholds turns simulated trajectories (stats[b][w], one row per
// bootstrap stream, w = 0..W−1) into per-step thresholds: thr[w] is the
// type-7 (1 − fpr) quantile of the streams not yet past an earlier
// threshold, after which the streams with stat ≥ thr[w] are dropped. Should
// every stream be dropped, later thresholds repeat the last one.
func onlineThresholds(stats [][]float64, fpr float64) []float64 {
	w := len(stats[0])
	thr := make([]float64, w)
	alive := slices.Clone(stats)
	buf := make([]float64, 0, len(stats))
	for t := range w {
		if len(alive) == 0 {
			thr[t] = thr[t-1]
			continue
		}
		buf = buf[:0]
		for _, s := range alive {
			buf = append(buf, s[t])
		}
		slices.Sort(buf)
		thr[t] = quantile7(buf, 1-fpr)
		keep := alive[:0]
		for _, s := range alive {
			if s[t] < thr[t] {
				keep = append(keep, s)
			}
		}
		alive = keep
	}
	return thr
}

// ---------------------------------------------------------------- MMD

// OnlineMMD is the sequential MMD detector. The statistic is MMD²_u
// between the reference window (N − (2W − 1) reference rows) and the test
// window. Update costs O((N + W)·d): the new instance's kernel values
// against the reference window (for the cross term) and against the W − 1
// other window members; nothing else is recomputed.
type OnlineMMD struct {
	w       int
	coef    []float64 // −1/(2σ²) per bandwidth
	sigma   []float64
	thr     []float64
	ref     *mat.Dense // reference window rows
	refNorm []float64
	sxxTerm float64 // Σ_{i≠j} K_xx / (n(n−1)), fixed

	init     *mat.Dense // the W − 1 reference rows the test window starts with
	initA    []float64  // their Σ_i k(·, ref_i)
	initWin  []float64  // their (W−1)×(W−1) kernel matrix, row-major
	t        int
	win      [][]float64 // ring buffer of window rows
	wn       []float64   // their squared norms
	a        []float64   // Σ_i k(win_j, ref_i)
	kw       []float64   // W×W kernel among window slots, zero diagonal
	head     int         // slot of the oldest member
	syy, sxy float64
	scratch  []float64
}

// NewOnlineMMD configures the thresholds by simulation on ref (see the
// package notes above and DETECTORS.md) and returns a detector whose test
// window starts with W − 1 reference points. The reference needs more than
// 2W rows; the simulation keeps the full N×N reference kernel matrix in
// memory while it runs.
func NewOnlineMMD(ref *mat.Dense, o OnlineOptions) (*OnlineMMD, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("validating online mmd options: %w", err)
	}
	o = o.withDefaults()
	if ref == nil {
		return nil, errors.New("a reference sample is required")
	}
	N, _ := ref.Dims()
	W := o.WindowSize
	nr := N - (2*W - 1)
	if nr < 2 {
		return nil, fmt.Errorf("window_size %d needs a reference of more than %d rows, got %d", W, 2*W, N)
	}
	sq := jointSqDist(ref)
	sigma, err := sigmaOrMedian(o.Sigma, sq, N)
	if err != nil {
		return nil, err
	}
	blk := mmdBlocksFromSqDist(sq, sigma)
	rng := NewRand(o.Seed)
	kAt := func(i, j int) float64 {
		switch {
		case i < j:
			return blk.at(i, j)
		case j < i:
			return blk.at(j, i)
		}
		return 0
	}
	// Simulation: each bootstrap is a random ordered choice of 2W − 1
	// stream rows (a partial Fisher–Yates shuffle from the end), the rest
	// being the reference window.
	ls := 2*W - 1
	perm := make([]int, N)
	for i := range perm {
		perm[i] = i
	}
	ks := make([]float64, ls*ls)
	as := make([]float64, ls)
	fn, fw := float64(nr), float64(W)
	stats := make([][]float64, o.NBootstraps)
	for b := range stats {
		for i := N - 1; i >= nr; i-- {
			j := rng.IntN(i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		s := perm[nr:]
		var sumR, sumSS float64
		for p, i := range s {
			sumR += blk.r[i]
			var rowS float64
			for q, j := range s {
				v := kAt(i, j)
				ks[p*ls+q] = v
				rowS += v
			}
			as[p] = blk.r[i] - rowS
			sumSS += rowS
		}
		sxx := blk.total - 2*sumR + sumSS
		row := make([]float64, W)
		var syy, sxy float64
		for p := range W {
			sxy += as[p]
			for q := range W {
				syy += ks[p*ls+q]
			}
		}
		for w := range W {
			if w > 0 { // slide: drop w−1, add w+W−1
				o, n := w-1, w+W-1
				sxy += as[n] - as[o]
				for q := w; q < n; q++ {
					syy += 2 * (ks[n*ls+q] - ks[o*ls+q])
				}
			}
			row[w] = sxx/(fn*(fn-1)) + syy/(fw*(fw-1)) - 2*sxy/(fn*fw)
		}
		stats[b] = row
	}
	thr := onlineThresholds(stats, 1/o.ERT)

	// Live state: a seeded split of the reference.
	order := rng.Perm(N)
	refIdx := slices.Clone(order[:nr])
	slices.Sort(refIdx)
	initIdx := order[nr : nr+W-1]
	det := &OnlineMMD{
		w:     W,
		sigma: sigma,
		thr:   thr,
		ref:   rowsAt(ref, refIdx),
		init:  rowsAt(ref, initIdx),
	}
	det.coef = make([]float64, len(sigma))
	for i, s := range sigma {
		det.coef[i] = -1 / (2 * s * s)
	}
	det.sxxTerm = blk.within(refIdx) / (fn * (fn - 1))
	det.refNorm = rowSqNorms(det.ref)
	inRef := make([]bool, N)
	for _, i := range refIdx {
		inRef[i] = true
	}
	det.initA = make([]float64, W-1)
	det.initWin = make([]float64, (W-1)*(W-1))
	for p, i := range initIdx {
		for j := range N {
			if inRef[j] {
				det.initA[p] += kAt(i, j)
			}
		}
		for q, j := range initIdx {
			det.initWin[p*(W-1)+q] = kAt(i, j)
		}
	}
	det.scratch = make([]float64, nr)
	det.Reset()
	return det, nil
}

// Thresholds returns the configured per-step thresholds thr[0..W−1].
func (m *OnlineMMD) Thresholds() []float64 { return slices.Clone(m.thr) }

// Sigma returns the bandwidths in use.
func (m *OnlineMMD) Sigma() []float64 { return slices.Clone(m.sigma) }

// Reset restarts the stream: time 0, test window = the W − 1 initial
// reference points.
func (m *OnlineMMD) Reset() {
	W := m.w
	m.t = 0
	m.win = make([][]float64, W)
	m.a = make([]float64, W)
	m.wn = make([]float64, W)
	m.kw = make([]float64, W*W)
	// slots 1..W−1 hold the initial points; slot 0 is the next to be
	// overwritten (the "oldest", empty).
	m.head = 0
	m.syy, m.sxy = 0, 0
	for p := range W - 1 {
		m.win[p+1] = slices.Clone(m.init.RawRowView(p)) // owned: Update overwrites slots
		m.wn[p+1] = floats.Dot(m.win[p+1], m.win[p+1])
		m.a[p+1] = m.initA[p]
		m.sxy += m.initA[p]
		for q := range W - 1 {
			v := m.initWin[p*(W-1)+q]
			m.kw[(p+1)*W+q+1] = v
			m.syy += v
		}
	}
}

func (m *OnlineMMD) kernel(sq float64) float64 {
	if sq < MinSqDist {
		sq = MinSqDist
	}
	if len(m.coef) == 1 {
		return math.Exp(m.coef[0] * sq)
	}
	var s float64
	for _, c := range m.coef {
		s += math.Exp(c * sq)
	}
	return s / float64(len(m.coef))
}

// Update adds one instance (len(x) = d) to the test window and tests.
func (m *OnlineMMD) Update(x []float64) OnlineResult {
	W := m.w
	xn := floats.Dot(x, x)
	// cross term against the reference window
	blas64.Gemv(blas.NoTrans, 1, m.ref.RawMatrix(), blas64.Vector{N: len(x), Inc: 1, Data: x},
		0, blas64.Vector{N: len(m.scratch), Inc: 1, Data: m.scratch})
	var a float64
	for i, g := range m.scratch {
		a += m.kernel(xn + m.refNorm[i] - 2*g)
	}
	// replace the oldest slot
	s := m.head
	if m.win[s] != nil {
		m.sxy -= m.a[s]
		for q := range W {
			m.syy -= 2 * m.kw[s*W+q]
		}
	}
	if m.win[s] == nil {
		m.win[s] = make([]float64, len(x))
	}
	copy(m.win[s], x)
	m.wn[s] = xn
	m.a[s] = a
	m.sxy += a
	for q := range W {
		var v float64
		if q != s && m.win[q] != nil {
			v = m.kernel(xn + m.wn[q] - 2*floats.Dot(x, m.win[q]))
		}
		m.kw[s*W+q], m.kw[q*W+s] = v, v
		m.syy += 2 * v
	}
	m.head = (s + 1) % W
	fn := float64(m.ref.RawMatrix().Rows)
	fw := float64(W)
	stat := m.sxxTerm + m.syy/(fw*(fw-1)) - 2*m.sxy/(fn*fw)
	thr := m.thr[min(m.t, W-1)]
	r := OnlineResult{Time: m.t, Statistic: stat, Threshold: thr, Drift: stat > thr}
	m.t++
	return r
}

// --------------------------------------------------------------- LSDD

// OnlineLSDD is the sequential LSDD detector. Features are standardised
// by the reference; NKernelCenters random reference rows become the kernel
// centres and leave the reference (as in LSDD); λ and H_λ⁻¹ are fixed once,
// by the relative-difference rule over 100 random half-splits of the
// remaining reference. The statistic is hᵀH_λ⁻¹h with h = mean k(·, C)
// over the reference window − mean over the test window; the reference
// mean is fixed, the window sum is updated by one add and one subtract, so
// an Update costs O(n_c·d + n_c²) whatever W and N (plus an O(n_c·W)
// re-summation of the window once every W updates, O(n_c) amortised).
type OnlineLSDD struct {
	w      int
	sigma  float64
	lambda float64
	thr    []float64
	st     standardizer
	cent   *mat.Dense
	hinv   *mat.Dense
	refMu  []float64 // mean kernel row of the reference window
	initK  *mat.Dense
	t      int
	kwin   [][]float64 // ring buffer of the window members' kernel rows
	head   int
	sum    []float64
	h, hz  []float64
	xs     []float64
}

// NewOnlineLSDD configures the thresholds by simulation on ref and returns
// a detector whose test window starts with W − 1 reference points. The
// reference needs more than n_kernel_centers + 2W rows.
func NewOnlineLSDD(ref *mat.Dense, o OnlineOptions) (*OnlineLSDD, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("validating online lsdd options: %w", err)
	}
	if len(o.Sigma) > 1 {
		return nil, fmt.Errorf("sigma: online lsdd takes one bandwidth, got %d", len(o.Sigma))
	}
	o = o.withDefaults()
	if ref == nil {
		return nil, errors.New("a reference sample is required")
	}
	N, _ := ref.Dims()
	W, nc := o.WindowSize, o.NKernelCenters
	np := N - nc         // reference rows left after taking the centres
	nr := np - (2*W - 1) // reference window size
	if nr < 2 {
		return nil, fmt.Errorf("window_size %d and n_kernel_centers %d need a reference of more than %d rows, got %d", W, nc, nc+2*W, N)
	}
	st := newStandardizer(ref)
	xs := st.apply(ref)
	var sigma float64
	if len(o.Sigma) == 1 {
		sigma = o.Sigma[0]
	} else {
		sigma = MedianHeuristic(xs)
		if !(sigma > 0) {
			return nil, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
		}
	}
	rng := NewRand(o.Seed)
	order := rng.Perm(N)
	cent := rowsAt(xs, order[:nc])
	kr := GaussianKernelMatrix(rowsAt(xs, order[nc:]), cent, []float64{sigma}) // np×nc
	H := lsddH(cent, sigma)
	_, hSplits := lsddPermutedH(kr, np/2, np-np/2, 100, rng)
	lambda, hinv, err := lsddSelectLambda(H, hSplits, o.LambdaRDMax)
	if err != nil {
		return nil, err
	}
	tot := make([]float64, nc)
	for i := range np {
		floats.Add(tot, kr.RawRowView(i))
	}
	// Simulation, as for OnlineMMD, on the kernel rows.
	perm := make([]int, np)
	for i := range perm {
		perm[i] = i
	}
	mu := make([]float64, nc)
	win := make([]float64, nc)
	h := make([]float64, nc)
	hz := make([]float64, nc)
	stats := make([][]float64, o.NBootstraps)
	for b := range stats {
		for i := np - 1; i >= nr; i-- {
			j := rng.IntN(i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		s := perm[nr:]
		copy(mu, tot)
		for _, i := range s {
			floats.Sub(mu, kr.RawRowView(i))
		}
		floats.Scale(1/float64(nr), mu)
		clear(win)
		for _, i := range s[:W] {
			floats.Add(win, kr.RawRowView(i))
		}
		row := make([]float64, W)
		for w := range W {
			if w > 0 {
				floats.Sub(win, kr.RawRowView(s[w-1]))
				floats.Add(win, kr.RawRowView(s[w+W-1]))
			}
			row[w] = lsddQuad(hinv, mu, win, W, h, hz)
		}
		stats[b] = row
	}
	thr := onlineThresholds(stats, 1/o.ERT)

	// Live split of the non-centre reference rows.
	live := rng.Perm(np)
	refMu := make([]float64, nc)
	for _, i := range live[:nr] {
		floats.Add(refMu, kr.RawRowView(i))
	}
	floats.Scale(1/float64(nr), refMu)
	det := &OnlineLSDD{
		w: W, sigma: sigma, lambda: lambda, thr: thr, st: st, cent: cent, hinv: hinv,
		refMu: refMu, initK: rowsAt(kr, live[nr:nr+W-1]),
		h: h, hz: hz, xs: make([]float64, len(st.mean)),
	}
	det.Reset()
	return det, nil
}

// lsddQuad returns hᵀ·hinv·h for h = mu − win/W (h, hz are scratch).
func lsddQuad(hinv *mat.Dense, mu, win []float64, W int, h, hz []float64) float64 {
	inv := 1 / float64(W)
	for j := range h {
		h[j] = mu[j] - win[j]*inv
	}
	blas64.Gemv(blas.NoTrans, 1, hinv.RawMatrix(), blas64.Vector{N: len(h), Inc: 1, Data: h},
		0, blas64.Vector{N: len(hz), Inc: 1, Data: hz})
	return floats.Dot(h, hz)
}

// Thresholds returns the configured per-step thresholds thr[0..W−1].
func (l *OnlineLSDD) Thresholds() []float64 { return slices.Clone(l.thr) }

// Sigma and Lambda return the bandwidth and regulariser in use.
func (l *OnlineLSDD) Sigma() float64  { return l.sigma }
func (l *OnlineLSDD) Lambda() float64 { return l.lambda }

// Reset restarts the stream: time 0, test window = the W − 1 initial
// reference points.
func (l *OnlineLSDD) Reset() {
	_, nc := l.initK.Dims()
	l.t = 0
	l.kwin = make([][]float64, l.w)
	l.head = 0
	l.sum = make([]float64, nc)
	for p := range l.w - 1 {
		l.kwin[p+1] = slices.Clone(l.initK.RawRowView(p))
		floats.Add(l.sum, l.kwin[p+1])
	}
}

// Update adds one instance (len(x) = d, raw features) and tests.
func (l *OnlineLSDD) Update(x []float64) OnlineResult {
	l.st.applyRow(l.xs, x)
	s := l.head
	if old := l.kwin[s]; old != nil {
		floats.Sub(l.sum, old)
	} else {
		l.kwin[s] = make([]float64, len(l.sum))
	}
	k := l.kwin[s]
	coef := -1 / (2 * l.sigma * l.sigma)
	for j := range k {
		c := l.cent.RawRowView(j)
		var d float64
		for i, v := range l.xs {
			e := v - c[i]
			d += e * e
		}
		k[j] = math.Exp(coef * max(d, MinSqDist))
	}
	floats.Add(l.sum, k)
	l.head = (s + 1) % l.w
	if l.head == 0 { // once per W updates, drop the rounding the adds and subtracts accumulated
		clear(l.sum)
		for _, r := range l.kwin {
			if r != nil {
				floats.Add(l.sum, r)
			}
		}
	}
	stat := lsddQuad(l.hinv, l.refMu, l.sum, l.w, l.h, l.hz)
	thr := l.thr[min(l.t, l.w-1)]
	r := OnlineResult{Time: l.t, Statistic: stat, Threshold: thr, Drift: stat > thr}
	l.t++
	return r
}

func init() {
	for _, name := range []string{"mmd_online", "lsdd_online"} {
		Register(Detector{
			Name: name, Kind: Online, Forms: []Form{Vectors},
			Doc: "has the stream changed since the reference, checked after every instance? Sliding-window " +
				strings.ToUpper(strings.TrimSuffix(name, "_online")) + " with thresholds for an expected run time",
			Params: []Param{
				floatParam("ert", DefaultERT, "expected run time (instances) to a false alarm with no change", func(v float64) error {
					if !(v > 1) || math.IsInf(v, 0) {
						return fmt.Errorf("must be > 1 and finite, got %v", v)
					}
					return nil
				}),
				intParam("window_size", DefaultWindowSize, "instances in the sliding window", atLeast(2)),
				intParam("n_bootstraps", DefaultNBootstraps, "simulated streams that set the thresholds (advised ≥ 10·ert)", atLeast(1))},
			Run: func(in Input) (Result, error) { return runOnline(name, in) },
		})
	}
}

// Defaults of the online detectors' registrations (OnlineOptions has none).
const (
	DefaultERT        = 100
	DefaultWindowSize = 10
)

// runOnline feeds the current sample to an online detector one row at a
// time, as a stream, and reports the last update, whether and when
// (detection_time, -1 for never) a threshold was first crossed, and the
// trajectories of the statistic and the thresholds.
func runOnline(name string, in Input) (Result, error) {
	p := in.Params
	o := OnlineOptions{ERT: p.Float("ert"), WindowSize: p.Int("window_size"), NBootstraps: p.Int("n_bootstraps"), Seed: in.Seed}
	ref, stream := in.Ref.X, in.Cur.X
	if ref == nil || stream == nil {
		return Result{}, fmt.Errorf("%s: reference and current samples are required", name)
	}
	var det interface {
		Update(x []float64) OnlineResult
	}
	var err error
	if name == "mmd_online" {
		det, err = NewOnlineMMD(ref, o)
	} else {
		det, err = NewOnlineLSDD(ref, o)
	}
	if err != nil {
		return Result{}, err
	}
	n, _ := stream.Dims()
	nr, _ := ref.Dims()
	stats, thrs := make([]float64, 0, n), make([]float64, 0, n)
	detectedAt := -1
	var last OnlineResult
	for i := 0; i < n; i++ {
		last = det.Update(stream.RawRowView(i))
		stats, thrs = append(stats, last.Statistic), append(thrs, last.Threshold)
		if last.Drift && detectedAt < 0 {
			detectedAt = i
		}
	}
	return Result{
		Detector: name, Statistic: last.Statistic, Threshold: last.Threshold, Drift: detectedAt >= 0,
		NRef: nr, NCur: n,
		Params: map[string]any{"ert": o.ERT, "window_size": o.WindowSize, "n_bootstraps": o.NBootstraps, "seed": in.Seed,
			"detection_time": detectedAt, "statistics": stats, "thresholds": thrs},
	}, nil
}
