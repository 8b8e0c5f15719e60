package detectors

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Least-squares density difference test: the L2 distance between the two
// densities estimated directly by a kernel model of their difference
// (Sugiyama, Kanamori, Suzuki, du Plessis, Liu & Takeuchi 2013,
// "Density-Difference Estimation", Neural Computation 25), used as a drift
// statistic with a permutation null as in Bu, Lu & Zhang 2016 ("A
// pdf-free change detection test based on density difference estimation").
// Definitions — standardisation, centres, the √2σ kernel in H, the
// relative-difference rule for λ — are DETECTORS.md's.

// Defaults for LSDD.
const (
	DefaultLambdaRDMax = 0.2
	lsddStdEps         = 1e-12 // added to the reference std (DETECTORS.md)
)

// LSDDOptions configures LSDD. Zero values take the defaults: PVal
// DefaultPVal, NPermutations DefaultNPermutations, Sigma the median
// heuristic on the standardised reference, NKernelCenters n/20 (at least
// 1), LambdaRDMax DefaultLambdaRDMax.
type LSDDOptions struct {
	PVal           float64
	NPermutations  int
	Sigma          float64 // Gaussian bandwidth on the standardised features
	NKernelCenters int
	LambdaRDMax    float64
	Seed           uint64 // seeds the choice of centres and the permutations
}

// Validate reports every invalid option, naming it as the CLI spells it.
func (o LSDDOptions) Validate() error {
	var errs []error
	errs = append(errs, validatePVal(o.PVal), validateNPermutations(o.NPermutations))
	if o.Sigma < 0 || math.IsNaN(o.Sigma) || math.IsInf(o.Sigma, 0) {
		errs = append(errs, fmt.Errorf("sigma must be > 0 and finite, got %v", o.Sigma))
	}
	if o.NKernelCenters < 0 {
		errs = append(errs, fmt.Errorf("n_kernel_centers must be > 0, got %d", o.NKernelCenters))
	}
	if o.LambdaRDMax != 0 && !(o.LambdaRDMax > 0 && o.LambdaRDMax < 1) {
		errs = append(errs, fmt.Errorf("lambda_rd_max must be in (0, 1), got %v", o.LambdaRDMax))
	}
	return errors.Join(errs...)
}

func (o LSDDOptions) withDefaults(n int) LSDDOptions {
	o.PVal = orDefault(o.PVal, DefaultPVal)
	o.NPermutations = orDefault(o.NPermutations, DefaultNPermutations)
	o.NKernelCenters = orDefault(o.NKernelCenters, max(1, n/20))
	o.LambdaRDMax = orDefault(o.LambdaRDMax, DefaultLambdaRDMax)
	return o
}

// LSDD runs the least-squares density-difference test of x (reference)
// against y (current). Both are standardised by the reference's mean and
// sample standard deviation; NKernelCenters random reference rows become
// the kernel centres and leave the reference; λ is chosen from the
// permuted h's; PValue is the share of the B relabellings of the pooled
// rows whose LSDD is at least the observed one.
func LSDD(x, y *mat.Dense, o LSDDOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, fmt.Errorf("validating lsdd options: %w", err)
	}
	if err := checkSamples(x, y, 2); err != nil {
		return Result{}, err
	}
	n, _ := x.Dims()
	m, _ := y.Dims()
	o = o.withDefaults(n)
	if o.NKernelCenters > n-2 {
		return Result{}, fmt.Errorf("n_kernel_centers (%d) must leave at least 2 of the %d reference rows", o.NKernelCenters, n)
	}
	st := newStandardizer(x)
	rng := NewRand(o.Seed)
	order := rng.Perm(n)
	nc := o.NKernelCenters
	nr := n - nc
	// All rows standardised once, straight into one packed matrix: the
	// reference in the order drawn (its first nc rows the kernel centres,
	// the next nr the reference proper), then the current rows. The median
	// heuristic reads the first n rows (the pairwise distances do not
	// depend on the order), the centres' distances the rest.
	_, d := x.Dims()
	pz := newPacked(n+m+12, d) // 12 spare rows: pz.rowsFrom(nc) stays whole
	pz.n = n + m
	for r, i := range order {
		st.applyRow(pz.row(r), x.RawRowView(i))
		pz.setNorm(r)
	}
	for i := range m {
		st.applyRow(pz.row(n+i), y.RawRowView(i))
		pz.setNorm(n + i)
	}
	sigma := o.Sigma
	if sigma == 0 {
		p := n * (n - 1) / 2
		sigma = math.Sqrt(0.5 * kthUpperSqDistRows(n, d, pz.row, pz.sqNorm, (p-1)/2))
		if !(sigma > 0) {
			return Result{}, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
		}
	}
	centres := mat.NewDense(nc, d, nil)
	for r := range nc {
		copy(centres.RawRowView(r), pz.row(r))
	}
	H := lsddH(centres, sigma)
	kz := mat.NewDense(nr+m, nc, nil)
	pz.rowsFrom(nc).sqDistInto(packRows(centres), kz.RawMatrix().Data, nc)
	GaussianKernelInPlace(kz, []float64{sigma})
	hObs, hPerm := lsddPermutedH(kz, nr, m, o.NPermutations, rng)
	lambda, hinv, err := lsddSelectLambda(H, hPerm, o.LambdaRDMax)
	if err != nil {
		return Result{}, err
	}
	perm := quadForms(hPerm, hinv)
	obs := quadForms(hObs, hinv)[0]
	r := Result{
		Detector: "lsdd",
		NRef:     n,
		NCur:     m,
		Params: map[string]any{
			"sigma":            sigma,
			"p_val":            o.PVal,
			"n_permutations":   o.NPermutations,
			"n_kernel_centers": nc,
			"lambda_rd_max":    o.LambdaRDMax,
			"lambda":           lambda,
			"seed":             o.Seed,
		},
	}
	permutationResult(&r, obs, perm, o.PVal)
	return r, nil
}

// standardizer holds a reference's per-feature mean and sample standard
// deviation (ddof 1) plus lsddStdEps, and the reciprocal of the latter
// (standardising multiplies by it: a division per value was an eighth of
// LSDD's time; the two differ by at most an ulp).
type standardizer struct{ mean, sd, inv []float64 }

func newStandardizer(x *mat.Dense) standardizer {
	n, d := x.Dims()
	s := standardizer{mean: make([]float64, d), sd: make([]float64, d)}
	// Row by row over the raw data (each feature's sums in row order, as
	// a column loop would add them).
	for i := range n {
		for j, v := range x.RawRowView(i) {
			s.mean[j] += v
		}
	}
	for j := range s.mean {
		s.mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range x.RawRowView(i) {
			dv := v - s.mean[j]
			s.sd[j] += dv * dv
		}
	}
	s.inv = make([]float64, d)
	for j, ss := range s.sd {
		s.sd[j] = math.Sqrt(ss/float64(n-1)) + lsddStdEps
		s.inv[j] = 1 / s.sd[j]
	}
	return s
}

func (s standardizer) apply(x *mat.Dense) *mat.Dense {
	n, d := x.Dims()
	out := mat.NewDense(n, d, nil)
	for i := range n {
		s.applyRow(out.RawRowView(i), x.RawRowView(i))
	}
	return out
}

func (s standardizer) applyRow(dst, src []float64) {
	mean, inv := s.mean[:len(src)], s.inv[:len(src)]
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = (v - mean[j]) * inv[j]
	}
}

func rowsAt(x *mat.Dense, idx []int) *mat.Dense {
	_, d := x.Dims()
	out := mat.NewDense(len(idx), d, nil)
	for r, i := range idx {
		copy(out.RawRowView(r), x.RawRowView(i))
	}
	return out
}

// lsddH is H = [k_{√2σ}(c_i, c_j)], the Gaussian kernel with bandwidth
// √2·σ between the centres, without the (πσ²)^{d/2} factor.
func lsddH(centres *mat.Dense, sigma float64) *mat.Dense {
	return GaussianKernelMatrix(centres, centres, []float64{math.Sqrt2 * sigma})
}

// lsddPermutedH returns h for the split "first nx rows of kz are x" and
// for nperm random relabellings, as the rows of a 1×nc and an nperm×nc
// matrix. kz holds k(z_i, c) for the pooled rows z and the centres c;
// h = mean over the x rows − mean over the y rows. Only the smaller side
// is summed; the other follows from the column totals. The sums are one
// product of the 0/1 membership rows of all the splits with kz, taken as
// dot products of rows against kzᵀ (dotRows), so the observed split and
// the relabellings are summed alike.
func lsddPermutedH(kz *mat.Dense, nx, ny, nperm int, rng interface{ IntN(int) int }) (*mat.Dense, *mat.Dense) {
	N, nc := kz.Dims()
	tot := make([]float64, nc)
	for i := range N {
		for j, v := range kz.RawRowView(i) {
			tot[j] += v
		}
	}
	aIsX := nx <= ny
	a := nx
	if !aIsX {
		a = ny
	}
	fx, fy := float64(nx), float64(ny)
	ld := roundUp(N, 4)
	kzT := make([]float64, roundUp(nc, 3)*ld)
	for i := range N {
		for j, v := range kz.RawRowView(i) {
			kzT[j*ld+i] = v
		}
	}
	// The membership rows of the splits (row 0: the observed split), a
	// chunk at a time.
	splits := nperm + 1
	const chunk = 32
	member := make([]float64, chunk*ld)
	sums := make([]float64, splits*nc)
	perm := make([]int, N)
	for i := range perm {
		perm[i] = i
	}
	for p0 := 0; p0 < splits; p0 += chunk {
		rows := min(chunk, splits-p0)
		clear(member)
		for q := range rows {
			row := member[q*ld : (q+1)*ld]
			if p0+q == 0 {
				for i := range a {
					if aIsX {
						row[i] = 1
					} else {
						row[nx+i] = 1
					}
				}
				continue
			}
			for i := range a {
				j := i + rng.IntN(N-i)
				perm[i], perm[j] = perm[j], perm[i]
			}
			for _, i := range perm[:a] {
				row[i] = 1
			}
		}
		dotRows(member, rows, kzT, nc, ld, ld, sums[p0*nc:], nc, false)
	}
	fill := func(dst, s []float64) {
		for j, v := range s {
			if aIsX {
				dst[j] = v/fx - (tot[j]-v)/fy
			} else {
				dst[j] = (tot[j]-v)/fx - v/fy
			}
		}
	}
	obs := mat.NewDense(1, nc, nil)
	fill(obs.RawRowView(0), sums[:nc])
	hp := mat.NewDense(nperm, nc, nil) // nperm ≥ 1 after defaults
	for p := range nperm {
		fill(hp.RawRowView(p), sums[(p+1)*nc:(p+2)*nc])
	}
	return obs, hp
}

// lsddLambdas are the regulariser candidates 4^−i, i = 0..9, largest first.
var lsddLambdas = func() []float64 {
	l := make([]float64, 10)
	for i := range l {
		l[i] = math.Pow(4, -float64(i))
	}
	return l
}()

// lsddSelectLambda picks the first (largest) candidate λ whose relative
// difference rd = 1 − ωᵀHω/hᵀω, ω = (H+λI)⁻¹h, averaged over the rows of
// hs, is below rdMax (the last candidate when none is), and returns it
// with H_λ⁻¹ = 2M − MHM, M = (H+λI)⁻¹.
func lsddSelectLambda(H, hs *mat.Dense, rdMax float64) (float64, *mat.Dense, error) {
	var lambda float64
	var M *mat.Dense
	for _, lambda = range lsddLambdas {
		var err error
		M, err = lsddRegInverse(H, lambda)
		if err != nil {
			return 0, nil, err
		}
		if lsddMeanRD(H, M, hs) < rdMax {
			break
		}
	}
	return lambda, lsddHinv(H, M), nil
}

// lsddRegInverse returns M = (H + λI)⁻¹ by Cholesky.
func lsddRegInverse(H *mat.Dense, lambda float64) (*mat.Dense, error) {
	nc, _ := H.Dims()
	s := mat.NewSymDense(nc, nil)
	for i := range nc {
		for j := i; j < nc; j++ {
			v := H.At(i, j)
			if i == j {
				v += lambda
			}
			s.SetSym(i, j, v)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(s) {
		return nil, fmt.Errorf("lsdd: H + %gI is not positive definite", lambda)
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, fmt.Errorf("inverting H + %gI: %w", lambda, err)
	}
	return mat.DenseCopyOf(&inv), nil
}

// lsddMeanRD averages 1 − ωᵀHω/hᵀω over the rows h of hs, ω = Mh.
func lsddMeanRD(H, M, hs *mat.Dense) float64 {
	var om, hom mat.Dense
	om.Mul(hs, M) // rows ωᵀ (M symmetric)
	hom.Mul(&om, H)
	b, nc := hs.Dims()
	var s float64
	for p := range b {
		h, w, hw := hs.RawRowView(p), om.RawRowView(p), hom.RawRowView(p)
		var num, den float64
		for j := range nc {
			num += hw[j] * w[j]
			den += h[j] * w[j]
		}
		s += 1 - num/den
	}
	return s / float64(b)
}

// lsddHinv returns 2M − MHM.
func lsddHinv(H, M *mat.Dense) *mat.Dense {
	var hm, mhm mat.Dense
	hm.Mul(H, M)
	mhm.Mul(M, &hm)
	out := mat.DenseCopyOf(M)
	out.Scale(2, out)
	out.Sub(out, &mhm)
	return out
}

// quadForms returns hᵀAh for every row h of hs.
func quadForms(hs, A *mat.Dense) []float64 {
	var ha mat.Dense
	ha.Mul(hs, A)
	b, nc := hs.Dims()
	out := make([]float64, b)
	for p := range b {
		h, a := hs.RawRowView(p), ha.RawRowView(p)
		var s float64
		for j := range nc {
			s += h[j] * a[j]
		}
		out[p] = s
	}
	return out
}

func init() {
	Register(Detector{
		Name: "lsdd", Kind: Multivariate, Forms: []Form{Vectors},
		Doc: "did the density change? Least-squares density difference on standardised features, permutation p-value",
		Params: []Param{pValParam(), nPermutationsParam(DefaultNPermutations),
			floatParam("sigma", 0, "Gaussian bandwidth on the standardised features; 0: the median heuristic", nonNegative),
			intParam("n_kernel_centers", 0, "reference rows used as kernel centres; 0: n/20", atLeast(0)),
			floatParam("lambda_rd_max", DefaultLambdaRDMax, "largest relative difference allowed by the regulariser", inUnitInterval)},
		Run: func(in Input) (Result, error) {
			p := in.Params
			return LSDD(in.Ref.X, in.Cur.X, LSDDOptions{PVal: p.Float("p_val"), NPermutations: p.Int("n_permutations"), Sigma: p.Float("sigma"),
				NKernelCenters: p.Int("n_kernel_centers"), LambdaRDMax: p.Float("lambda_rd_max"), Seed: in.Seed})
		},
	})
}
