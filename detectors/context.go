package detectors

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// Context-aware MMD (Cobb & Van Looveren 2022, "Context-Aware Drift
// Detection", ICML), as DETECTORS.md defines it. The question is whether
// p(x | c) changed while the distribution of contexts c may change: the
// statistic compares the two windows' conditional mean embeddings of x
// given c (kernel ridge regressions, one per window) at contexts held out
// of the current window, and its null distribution comes from conditional
// permutations — each row's window label redrawn from a calibrated
// estimate of P(current | c) — so a shift in p(c) alone does not raise it.
// The formulas are the paper's (their eqs. 5–8 and Algorithm 1); the code
// is ours.

// Defaults of ContextMMDOptions (the paper's and DETECTORS.md's).
const (
	DefaultContextNPermutations = 1000
	DefaultContextPropCHeld     = 0.25
	DefaultContextNFolds        = 5
	// contextLambdaGrid is the number of candidates 2^-i, i = 0..19, for
	// the ridge regularisers.
	contextLambdaGrid = 20
	// contextClfCentres bounds the Nyström centres of the propensity model.
	contextClfCentres = 50
)

// ContextMMDOptions configures ContextMMD. Zero values take the defaults.
type ContextMMDOptions struct {
	PVal          float64    `yaml:"p_val"`
	NPermutations int        `yaml:"n_permutations"` // conditional permutations B (default 1000)
	PropCHeld     float64    `yaml:"prop_c_held"`    // share of the current window's contexts held out to evaluate the statistic at
	NFolds        int        `yaml:"n_folds"`        // cross-validation folds for λ and the propensity model
	SigmaX        float64    `yaml:"sigma"`          // bandwidth on x; 0: median heuristic on the pooled x
	SigmaC        float64    `yaml:"sigma_c"`        // bandwidth on c; 0: median heuristic on the pooled c
	Lambda        [2]float64 `yaml:"lambda"`         // ridge regularisers (reference, current); 0: cross-validated
	Seed          uint64     `yaml:"seed"`
}

// Validate reports every invalid field, naming its YAML key.
func (o ContextMMDOptions) Validate() error {
	errs := []error{validatePVal(o.PVal), validateNPermutations(o.NPermutations)}
	if o.PropCHeld != 0 && !(o.PropCHeld > 0 && o.PropCHeld < 1) {
		errs = append(errs, fmt.Errorf("prop_c_held must be in (0, 1), got %v", o.PropCHeld))
	}
	if o.NFolds != 0 && o.NFolds < 2 {
		errs = append(errs, fmt.Errorf("n_folds must be ≥ 2, got %d", o.NFolds))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"sigma", o.SigmaX}, {"sigma_c", o.SigmaC}, {"lambda[0]", o.Lambda[0]}, {"lambda[1]", o.Lambda[1]}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be > 0 and finite, got %v", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

func (o ContextMMDOptions) withDefaults() ContextMMDOptions {
	o.PVal = orDefault(o.PVal, DefaultPVal)
	o.NPermutations = orDefault(o.NPermutations, DefaultContextNPermutations)
	o.PropCHeld = orDefault(o.PropCHeld, DefaultContextPropCHeld)
	o.NFolds = orDefault(o.NFolds, DefaultContextNFolds)
	return o
}

// ContextMMD tests whether p(x | c) differs between the reference (x, cx)
// and the current window (y, cy), allowing p(c) to differ. Rows of x and
// cx (and of y and cy) correspond. PropCHeld of the current rows are held
// out (their contexts are where the conditional embeddings are compared;
// their x is not used); the rest join the reference in the pooled sample.
// Bandwidths and λ are chosen once, on the observed split, and reused for
// every permutation. Params report them and the held-out count.
//
// Cost: each of the B permutations solves two ridge systems of the size of
// its windows, O(B·N³) for N pooled rows (N ≈ 400: about a second per
// 1000 permutations per core; BenchmarkContextMMD). Permutations run on
// GOMAXPROCS goroutines; the labels are drawn up front, so the result does
// not depend on scheduling.
func ContextMMD(x, y, cx, cy *mat.Dense, o ContextMMDOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, fmt.Errorf("validating context_mmd options: %w", err)
	}
	if err := checkSamples(x, y, 2); err != nil {
		return Result{}, err
	}
	if cx == nil || cy == nil {
		return Result{}, errors.New("context_mmd needs the contexts of both samples")
	}
	if err := checkSamples(cx, cy, 2); err != nil {
		return Result{}, fmt.Errorf("contexts: %w", err)
	}
	o = o.withDefaults()
	n, _ := x.Dims()
	m, _ := y.Dims()
	if r, _ := cx.Dims(); r != n {
		return Result{}, fmt.Errorf("reference has %d rows but %d contexts", n, r)
	}
	if r, _ := cy.Dims(); r != m {
		return Result{}, fmt.Errorf("current sample has %d rows but %d contexts", m, r)
	}
	nHeld := int(float64(m) * o.PropCHeld)
	if nHeld < 1 || m-nHeld < o.NFolds || n < o.NFolds {
		return Result{}, fmt.Errorf("context_mmd needs at least %d reference rows and, after holding out prop_c_held %v, %d current rows (got %d and %d)",
			o.NFolds, o.PropCHeld, o.NFolds, n, m-nHeld)
	}
	rng := NewRand(o.Seed)
	perm := rng.Perm(m)
	held, keep := perm[:nHeld], perm[nHeld:]
	xAll := stackRows(x, rowsAt(y, keep))
	cAll := stackRows(cx, rowsAt(cy, keep))
	cHeld := rowsAt(cy, held)
	N := n + len(keep)

	sx, sc := o.SigmaX, o.SigmaC
	var err error
	if sx == 0 {
		if sx, err = pooledMedianSigma(xAll); err != nil {
			return Result{}, fmt.Errorf("sigma: %w", err)
		}
	}
	if sc == 0 {
		if sc, err = pooledMedianSigma(cAll); err != nil {
			return Result{}, fmt.Errorf("sigma_c: %w", err)
		}
	}
	K := GaussianKernelMatrix(xAll, xAll, []float64{sx})
	L := GaussianKernelMatrix(cAll, cAll, []float64{sc})
	lHeld := GaussianKernelMatrix(cHeld, cAll, []float64{sc})

	side := make([]bool, N) // true: current window
	for i := n; i < N; i++ {
		side[i] = true
	}
	lam := o.Lambda
	for s := range 2 {
		if lam[s] == 0 {
			idx := sideIndex(side, s == 1)
			lam[s] = pickContextLambda(subMatrix(K, idx, idx), subMatrix(L, idx, idx), o.NFolds, rng)
		}
	}
	obs, err := cmmdStat(K, L, lHeld, side, lam)
	if err != nil {
		return Result{}, err
	}

	prop := contextPropensities(L, side, o.NFolds, rng)
	labels := make([][]bool, o.NPermutations)
	for b := range labels {
		labels[b] = redrawLabels(prop, rng)
	}
	permuted := make([]float64, o.NPermutations)
	errs := make([]error, o.NPermutations)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), o.NPermutations)
	for w := range workers {
		wg.Go(func() {
			ws := newCmmdWork(N, lHeld)
			for b := w; b < o.NPermutations; b += workers {
				permuted[b], errs[b] = ws.stat(K, L, labels[b], lam)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	var pmin, pmax float64 = 1, 0
	for _, p := range prop {
		pmin, pmax = math.Min(pmin, p), math.Max(pmax, p)
	}
	r := Result{
		Detector: "context_mmd",
		NRef:     n,
		NCur:     m,
		Params: map[string]any{
			"p_val":          o.PVal,
			"n_permutations": o.NPermutations,
			"prop_c_held":    o.PropCHeld,
			"n_folds":        o.NFolds,
			"n_held":         nHeld,
			"sigma":          sx,
			"sigma_c":        sc,
			"lambda":         []float64{lam[0], lam[1]},
			"propensity_min": pmin,
			"propensity_max": pmax,
			"seed":           o.Seed,
		},
	}
	permutationResult(&r, obs, permuted, o.PVal)
	return r, nil
}

// pooledMedianSigma is the context-aware test's bandwidth rule
// (DETECTORS.md): the element at index ⌊N²/2⌋ of the sorted flattened
// N×N squared-distance matrix of z, diagonal included, and σ =
// sqrt(0.5·that value). The N diagonal zeros come first and every
// off-diagonal value twice, so it is the ⌊(⌊N²/2⌋ − N)/2⌋-th smallest of
// the strict upper triangle.
func pooledMedianSigma(z *mat.Dense) (float64, error) {
	n, _ := z.Dims()
	k := (n*n/2 - n) / 2
	if n < 2 || k < 0 {
		return math.NaN(), errors.New("need at least two rows")
	}
	s := math.Sqrt(0.5 * kthUpperSqDist(z, k))
	if !(s > 0) {
		return s, errors.New("median heuristic gave a zero bandwidth (rows nearly all equal); set it")
	}
	return s, nil
}

// sideIndex lists the rows whose label equals cur.
func sideIndex(side []bool, cur bool) []int {
	var idx []int
	for i, s := range side {
		if s == cur {
			idx = append(idx, i)
		}
	}
	return idx
}

// subMatrix returns a[rows, cols] as a new matrix.
func subMatrix(a *mat.Dense, rows, cols []int) *mat.Dense {
	out := mat.NewDense(len(rows), len(cols), nil)
	for i, r := range rows {
		src := a.RawRowView(r)
		dst := out.RawRowView(i)
		for j, c := range cols {
			dst[j] = src[c]
		}
	}
	return out
}

// cmmdStat is the statistic for the labelling side (true: current window):
// with A_s = L(C_held, C_s)·(L_s + n_s·λ_s·I)⁻¹ the ridge weights of the
// conditional mean embedding of window s at each held-out context,
// T = (1/h)·Σ_held ‖μ̂_0(c*) − μ̂_1(c*)‖²
//
//	= (1/h)·[Σ K_00∘A_0ᵀA_0 + Σ K_11∘A_1ᵀA_1 − 2·Σ K_01∘A_0ᵀA_1]
//
// (DETECTORS.md's form, computed as cmmdWork describes; the permutation
// workers keep one cmmdWork each).
func cmmdStat(K, L, lHeld *mat.Dense, side []bool, lam [2]float64) (float64, error) {
	return newCmmdWork(len(side), lHeld).stat(K, L, side, lam)
}

// cmmdWork is one worker's scratch for the context statistic: the
// Cholesky factor, its reversed transpose and the transposed right-hand
// sides of each window's ridge system, and the weights W (N rows of h).
//
// Per relabelling, for each window s (n_s rows): factor L_s + n_s·λ_s·I =
// R·Rᵀ (cholLower, n_s³/6 multiply-adds), solve R·Y = L(C_s, C_held) and
// Rᵀ·A = Y (two triangular solves, h·n_s²/2 each; the second as a forward
// solve with the reversed transpose), and place ±A_s in W's rows. Then
// T·h = Σ_{i,j} K_ij·(w_i·w_j) with W's Gram matrix taken in 4×3 blocks
// over the upper triangle (N²·h/2), never forming K·W. Everything but the
// O(N²) bookkeeping runs in the dot4x3 kernel; in all about 8 M
// multiply-adds at N = 350, h = 50, against 16 M for the LAPACK-style
// Potrf/Potrs plus a full K·W product it replaces.
type cmmdWork struct {
	lHeld              *mat.Dense
	h, hld             int
	a, r, rrev         []float64
	bt, yt, ytr, zt, w []float64
	inv, invr          []float64
	idx                [2][]int
}

func newCmmdWork(N int, lHeld *mat.Dense) *cmmdWork {
	h, _ := lHeld.Dims()
	ld, rows, hrows := roundUp(N, 4), roundUp(N, 12), roundUp(h, 4)
	return &cmmdWork{
		lHeld: lHeld, h: h, hld: hrows,
		a: make([]float64, rows*ld), r: make([]float64, rows*ld), rrev: make([]float64, rows*ld),
		bt: make([]float64, hrows*ld), yt: make([]float64, hrows*ld), ytr: make([]float64, hrows*ld), zt: make([]float64, hrows*ld),
		w:   make([]float64, rows*hrows),
		inv: make([]float64, N), invr: make([]float64, N),
	}
}

func (ws *cmmdWork) stat(K, L *mat.Dense, side []bool, lam [2]float64) (float64, error) {
	N := len(side)
	h, hld := ws.h, ws.hld
	ws.idx[0], ws.idx[1] = ws.idx[0][:0], ws.idx[1][:0]
	for i, cur := range side {
		if cur {
			ws.idx[1] = append(ws.idx[1], i)
		} else {
			ws.idx[0] = append(ws.idx[0], i)
		}
	}
	clear(ws.w)
	lraw, hraw := L.RawMatrix(), ws.lHeld.RawMatrix()
	for s, sign := range [2]float64{1, -1} {
		idx := ws.idx[s]
		ns := len(idx)
		ld, rows, hrows := roundUp(ns, 4), roundUp(ns, 12), roundUp(h, 4)
		// A = L_s + n_s·λ_s·I (lower triangle), Bᵀ = L(C_held, C_s).
		a := ws.a[:rows*ld]
		mu := float64(ns) * lam[s]
		for i, row := range idx {
			src := lraw.Data[row*lraw.Stride : row*lraw.Stride+lraw.Cols]
			dst := a[i*ld : i*ld+i+1]
			for j := range dst {
				dst[j] = src[idx[j]]
			}
			dst[i] += mu
		}
		bt := ws.bt[:hrows*ld]
		for c := range h {
			src := hraw.Data[c*hraw.Stride : c*hraw.Stride+hraw.Cols]
			dst := bt[c*ld : c*ld+ns]
			for i, row := range idx {
				dst[i] = src[row]
			}
		}
		r := ws.r[:rows*ld]
		clear(r)
		rrev := ws.rrev[:rows*ld]
		clear(rrev)
		if !cholLower(ns, a, ld, r, ld, ws.inv, rrev) {
			return math.NaN(), fmt.Errorf("context kernel ridge system of window %d is not positive definite (λ %v)", s, lam[s])
		}
		yt := ws.yt[:hrows*ld]
		clear(yt)
		solveLowerT(ns, h, r, ws.inv, bt, ld, yt, ld)
		// Rᵀ·A = Y as a forward solve in reversed order (rrev).
		for i := range ns {
			ws.invr[i] = ws.inv[ns-1-i]
		}
		ytr := ws.ytr[:hrows*ld]
		for c := range h {
			y, dst := yt[c*ld:c*ld+ns], ytr[c*ld:c*ld+ns]
			for i := range dst {
				dst[i] = y[ns-1-i]
			}
		}
		zt := ws.zt[:hrows*ld]
		clear(zt)
		solveLowerT(ns, h, rrev, ws.invr, ytr, ld, zt, ld)
		// A_s(i, c) = Z(ns−1−i, c); W's row idx[i] is ±A_s's row i.
		for c := range h {
			z := zt[c*ld : c*ld+ns]
			for i, row := range idx {
				ws.w[row*hld+c] = sign * z[ns-1-i]
			}
		}
	}
	kraw := K.RawMatrix()
	var diag, off float64
	var blk [12]float64
	// W's rows in panels of gramPanel (L2-resident), as in gram.go.
	for jb := 0; jb < N; jb += gramPanel {
		je := min(jb+gramPanel, N)
		for i0 := 0; i0 < je; i0 += 4 {
			for j0 := max(jb, i0/3*3); j0 < je; j0 += 3 {
				dot4x3(ws.w[i0*hld:], ws.w[j0*hld:], hld, hld, &blk)
				if j0 > i0+3 && j0+3 <= N && i0+4 <= N { // inside the triangle
					var t float64
					for rr := range 4 {
						k := kraw.Data[(i0+rr)*kraw.Stride+j0 : (i0+rr)*kraw.Stride+j0+3]
						t += k[0]*blk[3*rr] + k[1]*blk[3*rr+1] + k[2]*blk[3*rr+2]
					}
					off += t
					continue
				}
				for rr := range min(4, N-i0) {
					i := i0 + rr
					krow := kraw.Data[i*kraw.Stride : i*kraw.Stride+N]
					for cc := range 3 {
						switch j := j0 + cc; {
						case j == i:
							diag += krow[j] * blk[3*rr+cc]
						case j > i && j < N:
							off += krow[j] * blk[3*rr+cc]
						}
					}
				}
			}
		}
	}
	return (diag + 2*off) / float64(h), nil
}

// pickContextLambda chooses λ from 2^−i, i = 0..19, by k-fold
// cross-validation of the kernel ridge regression of φ(x) on c in the
// RKHS of K: for each out-of-fold row j, with weights
// w_j = (L_if + n_if·λ·I)⁻¹·L(c_if, c_j), the error
// ‖φ(x_j) − Σ_i w_ij φ(x_i)‖² = K_jj − 2·K(x_if, x_j)ᵀw_j + w_jᵀK_if w_j.
// One eigendecomposition of L_if per fold serves every λ.
func pickContextLambda(K, L *mat.Dense, folds int, rng interface{ Perm(int) []int }) float64 {
	n, _ := K.Dims()
	perm := rng.Perm(n)
	fs := n / folds
	loss := make([]float64, contextLambdaGrid)
	for f := range folds {
		oof := perm[f*fs : (f+1)*fs]
		inf := append(append([]int(nil), perm[:f*fs]...), perm[(f+1)*fs:]...)
		ni := len(inf)
		var eig mat.EigenSym
		if !eig.Factorize(mat.NewSymDense(ni, subMatrix(L, inf, inf).RawMatrix().Data), true) {
			continue
		}
		var u mat.Dense
		eig.VectorsTo(&u)
		vals := eig.Values(nil)
		var v, ck, g, tmp mat.Dense
		v.Mul(u.T(), subMatrix(L, inf, oof))  // ni × no
		ck.Mul(u.T(), subMatrix(K, inf, oof)) // ni × no
		tmp.Mul(subMatrix(K, inf, inf), &u)
		g.Mul(u.T(), &tmp) // ni × ni
		no := len(oof)
		// Per λ, with d_r = 1/(max(val_r, 0) + n_i·λ) and dv = diag(d)·v,
		// e = Σ_c [K_cc − 2·Σ_r ck_rc·dv_rc + dv_cᵀ·g·dv_c]
		//   = Σ_c K_cc − 2·Σ_r d_r·m_r + Σ_{r,s} d_r·d_s·P_rs
		// with m_r = Σ_c ck_rc·v_rc and P = g ∘ (v·vᵀ), both free of λ:
		// O(n_i²) per λ once P is formed (v·vᵀ by dotRows).
		ld := roundUp(no, 4)
		vp := make([]float64, roundUp(ni, 12)*ld)
		vr, cr := v.RawMatrix(), ck.RawMatrix()
		m := make([]float64, ni)
		for r := range ni {
			row := vr.Data[r*vr.Stride : r*vr.Stride+no]
			copy(vp[r*ld:], row)
			for c, x := range row {
				m[r] += cr.Data[r*cr.Stride+c] * x
			}
		}
		P := make([]float64, ni*ni)
		dotRows(vp, ni, vp, ni, ld, ld, P, ni, true)
		gr := g.RawMatrix()
		for r := range ni {
			for c := r; c < ni; c++ {
				P[r*ni+c] *= gr.Data[r*gr.Stride+c]
			}
		}
		var kdiag float64
		for c := range no {
			kdiag += K.At(oof[c], oof[c])
		}
		d := make([]float64, ni)
		for li := range contextLambdaGrid {
			lam := math.Pow(2, -float64(li))
			for r := range ni {
				d[r] = 1 / (math.Max(vals[r], 0) + float64(ni)*lam)
			}
			lin, quad := 0.0, 0.0
			for r := range ni {
				lin += d[r] * m[r]
				row := P[r*ni : (r+1)*ni]
				var t float64
				for c := r + 1; c < ni; c++ {
					t += row[c] * d[c]
				}
				quad += d[r] * (row[r]*d[r] + 2*t)
			}
			loss[li] += kdiag - 2*lin + quad
		}
	}
	best := 0
	for i, l := range loss {
		if l < loss[best] {
			best = i
		}
	}
	return math.Pow(2, -float64(best))
}

// contextPropensities estimates P(current window | c_i) for every pooled
// row by kernel logistic regression on the context kernel: Nyström
// features f(c) = L(c, centres)β + b over up to contextClfCentres random
// centres, a ridge penalty (ρ/2)·βᵀL_MM β, fitted by Newton's method. ρ is
// chosen from a small grid by cross-validated log-loss, and each row's
// propensity is predicted by the model fitted without its fold
// (cross-fitting), which keeps the estimates calibrated where an in-sample
// fit would push them towards 0 and 1. The reference's SVM with Platt
// scaling serves the same purpose (DETECTORS.md). Propensities are clipped
// to [0.01, 0.99].
func contextPropensities(L *mat.Dense, side []bool, folds int, rng interface{ Perm(int) []int }) []float64 {
	n := len(side)
	centres := rng.Perm(n)[:min(n, contextClfCentres)]
	phi := subMatrix(L, seq(n), centres)
	lmm := subMatrix(L, centres, centres)
	y := make([]float64, n)
	for i, s := range side {
		if s {
			y[i] = 1
		}
	}
	perm := rng.Perm(n)
	fold := make([]int, n)
	for i, p := range perm {
		fold[p] = i % folds
	}
	var best []float64
	bestLoss := math.Inf(1)
	for _, rho := range []float64{1e-3, 1e-2, 1e-1, 1} {
		pred := make([]float64, n)
		for f := range folds {
			var tr, te []int
			for i := range n {
				if fold[i] == f {
					te = append(te, i)
				} else {
					tr = append(tr, i)
				}
			}
			beta := fitKernelLogistic(subMatrix(phi, tr, seq(len(centres))), lmm, pick(y, tr), rho*float64(len(tr)))
			for _, i := range te {
				pred[i] = logisticAt(phi.RawRowView(i), beta)
			}
		}
		var ll float64
		for i, p := range pred {
			p = math.Min(math.Max(p, 1e-12), 1-1e-12)
			ll -= y[i]*math.Log(p) + (1-y[i])*math.Log(1-p)
		}
		if ll < bestLoss {
			bestLoss, best = ll, pred
		}
	}
	for i, p := range best {
		best[i] = math.Min(math.Max(p, 0.01), 0.99)
	}
	return best
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = v[j]
	}
	return out
}

// logisticAt is sigmoid(φ·β[:M] + β[M]).
func logisticAt(phi, beta []float64) float64 {
	s := beta[len(phi)]
	for i, v := range phi {
		s += v * beta[i]
	}
	return sigmoid(s)
}

// fitKernelLogistic minimises Σ logloss(y_i, sigmoid(φ_iβ + b)) +
// (ρ/2)·βᵀGβ by Newton's method with step halving (at most 50 steps); the
// intercept b is unpenalised. It returns (β, b).
func fitKernelLogistic(phi, g *mat.Dense, y []float64, rho float64) []float64 {
	n, m := phi.Dims()
	p := m + 1
	// x = [φ 1], so that the linear predictor is x·β.
	x := mat.NewDense(n, p, nil)
	x.Slice(0, n, 0, m).(*mat.Dense).Copy(phi)
	for i := range n {
		x.Set(i, m, 1)
	}
	pen := mat.NewDense(p, p, nil)
	pen.Slice(0, m, 0, m).(*mat.Dense).Scale(rho, g)
	beta := mat.NewVecDense(p, nil)
	z := mat.NewVecDense(n, nil)
	var gb mat.VecDense
	obj := func(b *mat.VecDense) float64 {
		z.MulVec(x, b)
		var s float64
		for i := range n {
			// log(1 + e^z) − y·z, computed stably.
			s += softplus(z.AtVec(i)) - y[i]*z.AtVec(i)
		}
		gb.MulVec(pen, b)
		return s + 0.5*mat.Dot(b, &gb)
	}
	cur := obj(beta)
	resid := mat.NewVecDense(n, nil)
	// √w·x transposed, padded for dotRows: hess = xwᵀ·xw is the Gram
	// matrix of its rows.
	ldw := roundUp(n, 4)
	xwT := make([]float64, roundUp(p, 12)*ldw)
	grad := mat.NewVecDense(p, nil)
	hess := mat.NewSymDense(p, nil)
	step := mat.NewVecDense(p, nil)
	next := mat.NewVecDense(p, nil)
	for range 50 {
		z.MulVec(x, beta)
		for i := range n {
			pr := sigmoid(z.AtVec(i))
			resid.SetVec(i, pr-y[i])
			w := math.Sqrt(pr * (1 - pr))
			for j, v := range x.RawRowView(i) {
				xwT[j*ldw+i] = w * v
			}
		}
		// grad = xᵀ(p − y) + pen·β; hess = xᵀWx + pen (+ jitter).
		grad.MulVec(x.T(), resid)
		gb.MulVec(pen, beta)
		grad.AddVec(grad, &gb)
		hr := hess.RawSymmetric()
		dotRows(xwT, p, xwT, p, ldw, ldw, hr.Data, hr.Stride, true)
		for a := range p {
			row := hr.Data[a*hr.Stride : a*hr.Stride+p]
			for b, pv := range pen.RawRowView(a)[a:] {
				row[a+b] += pv
			}
			row[a] += 1e-8
		}
		tri, ok := lapack64.Potrf(hess.RawSymmetric())
		if !ok {
			break
		}
		step.CopyVec(grad)
		lapack64.Potrs(tri, blas64.General{Rows: p, Cols: 1, Stride: 1, Data: step.RawVector().Data})
		t, improved := 1.0, false
		for range 30 {
			next.AddScaledVec(beta, -t, step)
			if v := obj(next); v <= cur {
				improved = cur-v > 1e-10*math.Max(1, math.Abs(cur))
				cur = v
				beta.CopyVec(next)
				break
			}
			t /= 2
		}
		if !improved {
			break
		}
	}
	return beta.RawVector().Data
}

// redrawLabels draws each row's window from Bernoulli(prop_i), redrawing
// until each window has at least two rows.
func redrawLabels(prop []float64, rng interface{ Float64() float64 }) []bool {
	side := make([]bool, len(prop))
	for {
		c := 0
		for i, p := range prop {
			side[i] = rng.Float64() < p
			if side[i] {
				c++
			}
		}
		if c >= 2 && len(prop)-c >= 2 {
			return side
		}
	}
}

func init() {
	Register(Detector{
		Name: "context_mmd", Kind: Context, Forms: []Form{Vectors},
		Doc: "did the data change given its context, allowing the mix of contexts to change? Conditional MMD with conditional permutations",
		Params: []Param{pValParam(), nPermutationsParam(DefaultContextNPermutations),
			floatParam("prop_c_held", DefaultContextPropCHeld, "share of the current contexts held out to evaluate the statistic at", inUnitInterval),
			intParam("n_folds", DefaultContextNFolds, "cross-validation folds for λ and the propensity model", atLeast(2)),
			floatParam("sigma", 0, "bandwidth on x; 0: the median heuristic on the pooled x", nonNegative),
			floatParam("sigma_c", 0, "bandwidth on the contexts; 0: the median heuristic on the pooled contexts", nonNegative),
			floatsParam("lambda", "ridge regularisers: one value, or reference,current; empty: cross-validated", checkLambda)},
		Run: func(in Input) (Result, error) {
			if in.Ref.Context == nil || in.Cur.Context == nil {
				return Result{}, fmt.Errorf("context_mmd %w", errNoContext)
			}
			p := in.Params
			o := ContextMMDOptions{PVal: p.Float("p_val"), NPermutations: p.Int("n_permutations"),
				PropCHeld: p.Float("prop_c_held"), NFolds: p.Int("n_folds"),
				SigmaX: p.Float("sigma"), SigmaC: p.Float("sigma_c"), Seed: in.Seed}
			switch lam := p.Floats("lambda"); len(lam) {
			case 1:
				o.Lambda = [2]float64{lam[0], lam[0]}
			case 2:
				o.Lambda = [2]float64{lam[0], lam[1]}
			}
			return ContextMMD(in.Ref.X, in.Cur.X, in.Ref.Context, in.Cur.Context, o)
		},
	})
}

// checkLambda: at most two regularisers, each ≥ 0 (0: cross-validated).
func checkLambda(l []float64) error {
	if len(l) > 2 {
		return fmt.Errorf("takes one value or two (reference,current), got %d", len(l))
	}
	for _, v := range l {
		if err := nonNegative(v); err != nil {
			return err
		}
	}
	return nil
}
