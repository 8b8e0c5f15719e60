package detectors

// The implementation of MMD, its kernel helpers, LSDD and the context-aware
// statistic (oldCmmdStat) as they stood
// before issue 16 (commit dbcda53), kept verbatim (identifiers prefixed
// "old") as a test oracle: the fast paths must agree with it within 1e-6
// relative (oracle_test.go).

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

func oldMMD(x, y *mat.Dense, o MMDOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, fmt.Errorf("validating mmd options: %w", err)
	}
	if err := checkSamples(x, y, 2); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	n, _ := x.Dims()
	m, _ := y.Dims()
	// One Gram matrix serves both the bandwidth (its reference block) and
	// the kernel.
	d := oldJointSqDist(stackRows(x, y))
	sigma, err := oldSigmaOrMedian(o.Sigma, d, n)
	if err != nil {
		return Result{}, err
	}
	blk := oldMmdBlocksFromSqDist(d, sigma)
	obs, perm := blk.permutationTest(n, m, o.NPermutations, NewRand(o.Seed))
	r := Result{
		Detector: "mmd",
		NRef:     n,
		NCur:     m,
		Params: map[string]any{
			"sigma":          sigma,
			"p_val":          o.PVal,
			"n_permutations": o.NPermutations,
			"seed":           o.Seed,
		},
	}
	permutationResult(&r, obs, perm, o.PVal)
	return r, nil
}

func oldSigmaOrMedian(sigma []float64, d *mat.Dense, n int) ([]float64, error) {
	if len(sigma) > 0 {
		return slices.Clone(sigma), nil
	}
	s := math.Sqrt(0.5 * oldLowerMedianOffDiag(d, n))
	if !(s > 0) {
		return nil, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
	}
	return []float64{s}, nil
}

func oldMmdBlocksFromSqDist(d *mat.Dense, sigma []float64) *oldMmdBlocks {
	n, _ := d.Dims()
	k := d.RawMatrix().Data // stride n: oldGramUpper allocates it dense
	coef := make([]float64, len(sigma))
	for i, s := range sigma {
		coef[i] = -1 / (2 * s * s)
	}
	inv := 1 / float64(len(sigma))
	for i := range n {
		row := k[i*n : (i+1)*n]
		for j := i + 1; j < n; j++ {
			v := row[j]
			var e float64
			if len(coef) == 1 {
				e = math.Exp(coef[0] * v)
			} else {
				for _, c := range coef {
					e += math.Exp(c * v)
				}
				e *= inv
			}
			row[j] = e
		}
	}
	return oldMmdBlocksFromUpper(k, n)
}

func oldMmdBlocksFromUpper(k []float64, n int) *oldMmdBlocks {
	r := make([]float64, n)
	var total float64
	for i := range n {
		row := k[i*n : (i+1)*n]
		row[i] = 0
		var ri float64
		for _, e := range row[i+1:] {
			ri += e
		}
		for j := i + 1; j < n; j++ {
			r[j] += row[j]
		}
		r[i] += ri
		total += 2 * ri
	}
	return &oldMmdBlocks{n: n, k: k, r: r, total: total}
}

func (b *oldMmdBlocks) within(idx []int) float64 {
	var sum float64
	for a, i := range idx {
		sum += gatherSum(b.k[i*b.n:(i+1)*b.n], idx[a+1:])
	}
	return 2 * sum
}

func (b *oldMmdBlocks) stat(idx []int, aIsX bool, nx, ny int) float64 {
	var ra float64
	for _, i := range idx {
		ra += b.r[i]
	}
	return b.statFrom(b.within(idx), ra, aIsX, nx, ny)
}

func (b *oldMmdBlocks) statFrom(sa, ra float64, aIsX bool, nx, ny int) float64 {
	cross := ra - sa
	sb := b.total - 2*ra + sa
	sxx, syy := sa, sb
	if !aIsX {
		sxx, syy = sb, sa
	}
	fx, fy := float64(nx), float64(ny)
	return sxx/(fx*(fx-1)) + syy/(fy*(fy-1)) - 2*cross/(fx*fy)
}

func (b *oldMmdBlocks) permutationTest(nx, ny, nperm int, rng interface{ IntN(int) int }) (float64, []float64) {
	aIsX := nx <= ny
	a := nx
	if !aIsX {
		a = ny
	}
	idx := make([]int, a)
	for i := range idx {
		if aIsX {
			idx[i] = i
		} else {
			idx[i] = nx + i
		}
	}
	obs := b.stat(idx, aIsX, nx, ny)
	perm := make([]int, b.n)
	for i := range perm {
		perm[i] = i
	}
	mask := make([]bool, b.n)
	out := make([]float64, nperm)
	batch := min(nperm, permBatch)
	lists := make([][]int32, batch)
	for i := range lists {
		lists[i] = make([]int32, a)
	}
	sums := make([]float64, batch)
	for p0 := 0; p0 < nperm; p0 += batch {
		bl := lists[:min(batch, nperm-p0)]
		for _, l := range bl {
			for i := range a {
				j := i + rng.IntN(b.n-i)
				perm[i], perm[j] = perm[j], perm[i]
			}
			clear(mask)
			for _, i := range perm[:a] {
				mask[i] = true
			}
			k := 0
			for i, in := range mask {
				if in {
					l[k] = int32(i)
					k++
				}
			}
		}
		b.withinBatch(bl, sums)
		for q, l := range bl {
			var ra float64
			for _, i := range l {
				ra += b.r[i]
			}
			out[p0+q] = b.statFrom(sums[q], ra, aIsX, nx, ny)
		}
	}
	return obs, out
}

func (b *oldMmdBlocks) withinBatch(lists [][]int32, sums []float64) {
	cur := make([]int, len(lists))
	clear(sums)
	for i := range b.n {
		row := b.k[i*b.n : (i+1)*b.n]
		for p, l := range lists {
			c := cur[p]
			if c >= len(l) || int(l[c]) != i {
				continue
			}
			cur[p] = c + 1
			sums[p] += 2 * gatherSum(row, l[c+1:])
		}
	}
}

type oldMmdBlocks struct {
	n     int
	k     []float64 // n×n row-major, strict upper triangle valid
	r     []float64
	total float64
}

func oldGramUpper(x *mat.Dense) *mat.Dense {
	n, c := x.Dims()
	g := mat.NewDense(n, n, nil)
	if n == 0 || c == 0 {
		return g
	}
	xr := x.RawMatrix()
	blas64.Syrk(blas.NoTrans, 1, xr, 0, blas64.Symmetric{
		Uplo: blas.Upper, N: n, Stride: n, Data: g.RawMatrix().Data,
	})
	return g
}

func oldSqDistFromGramUpper(g *mat.Dense) {
	n, _ := g.Dims()
	raw := g.RawMatrix()
	nrm := make([]float64, n)
	for i := range n {
		nrm[i] = raw.Data[i*raw.Stride+i]
	}
	for i := range n {
		row := raw.Data[i*raw.Stride : i*raw.Stride+n]
		a := nrm[i]
		row[i] = MinSqDist
		for j := i + 1; j < n; j++ {
			v := a + nrm[j] - 2*row[j]
			if v < MinSqDist {
				v = MinSqDist
			}
			row[j] = v
		}
	}
}

func oldLowerMedianOffDiag(d *mat.Dense, n int) float64 {
	p := n * (n - 1) / 2
	upper := make([]float64, 0, p)
	raw := d.RawMatrix()
	for i := range n {
		upper = append(upper, raw.Data[i*raw.Stride+i+1:i*raw.Stride+n]...)
	}
	return selectKth(upper, (p-1)/2)
}

func oldJointSqDist(z *mat.Dense) *mat.Dense {
	d := oldGramUpper(z)
	oldSqDistFromGramUpper(d)
	return d
}

func oldMedianHeuristic(x *mat.Dense) float64 {
	n, _ := x.Dims()
	if n < 2 {
		return math.NaN()
	}
	return math.Sqrt(0.5 * oldLowerMedianOffDiag(oldJointSqDist(x), n))
}

func oldGaussianKernelMatrix(x, y *mat.Dense, sigmas []float64) *mat.Dense {
	k := oldPairwiseSqDist(x, y)
	GaussianKernelInPlace(k, sigmas)
	return k
}

func oldPairwiseSqDist(x, y *mat.Dense) *mat.Dense {
	nx, dx := x.Dims()
	ny, dy := y.Dims()
	if dx != dy {
		panic(fmt.Sprintf("detectors: oldPairwiseSqDist: %d vs %d columns", dx, dy))
	}
	if x == y {
		d := oldGramUpper(x)
		oldSqDistFromGramUpper(d)
		raw := d.RawMatrix()
		for i := range nx { // mirror the upper triangle
			for j := i + 1; j < nx; j++ {
				raw.Data[j*raw.Stride+i] = raw.Data[i*raw.Stride+j]
			}
		}
		return d
	}
	d := mat.NewDense(nx, ny, nil)
	d.Mul(x, y.T())
	xn := rowSqNorms(x)
	yn := rowSqNorms(y)
	raw := d.RawMatrix()
	for i := range nx {
		row := raw.Data[i*raw.Stride : i*raw.Stride+ny]
		a := xn[i]
		for j, g := range row {
			v := a + yn[j] - 2*g
			if v < MinSqDist {
				v = MinSqDist
			}
			row[j] = v
		}
	}
	return d
}

func oldLSDD(x, y *mat.Dense, o LSDDOptions) (Result, error) {
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
	xs, ys := st.apply(x), st.apply(y)
	sigma := o.Sigma
	if sigma == 0 {
		sigma = oldMedianHeuristic(xs)
		if !(sigma > 0) {
			return Result{}, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
		}
	}
	rng := NewRand(o.Seed)
	order := rng.Perm(n)
	nc := o.NKernelCenters
	centres := rowsAt(xs, order[:nc])
	xr := rowsAt(xs, order[nc:])
	nr := n - nc

	H := oldLsddH(centres, sigma)
	kz := oldGaussianKernelMatrix(stackRows(xr, ys), centres, []float64{sigma})
	hObs, hPerm := oldLsddPermutedH(kz, nr, m, o.NPermutations, rng)
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

func oldLsddPermutedH(kz *mat.Dense, nx, ny, nperm int, rng interface{ IntN(int) int }) (*mat.Dense, *mat.Dense) {
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
	fill := func(dst []float64, idx []int) {
		clear(dst)
		for _, i := range idx {
			for j, v := range kz.RawRowView(i) {
				dst[j] += v
			}
		}
		for j, s := range dst {
			if aIsX {
				dst[j] = s/fx - (tot[j]-s)/fy
			} else {
				dst[j] = (tot[j]-s)/fx - s/fy
			}
		}
	}
	idx := make([]int, a)
	for i := range idx {
		if aIsX {
			idx[i] = i
		} else {
			idx[i] = nx + i
		}
	}
	obs := mat.NewDense(1, nc, nil)
	fill(obs.RawRowView(0), idx)
	perm := make([]int, N)
	for i := range perm {
		perm[i] = i
	}
	hp := mat.NewDense(nperm, nc, nil) // nperm ≥ 1 after defaults
	for p := range nperm {
		for i := range a {
			j := i + rng.IntN(N-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		fill(hp.RawRowView(p), perm[:a])
	}
	return obs, hp
}

func oldLsddH(centres *mat.Dense, sigma float64) *mat.Dense {
	return oldGaussianKernelMatrix(centres, centres, []float64{math.Sqrt2 * sigma})
}

func oldCmmdStat(K, L, lHeld *mat.Dense, side []bool, lam [2]float64) (float64, error) {
	h, _ := lHeld.Dims()
	idx := [2][]int{sideIndex(side, false), sideIndex(side, true)}
	var a [2]*mat.Dense // A_sᵀ, n_s × h
	all := make([]int, h)
	for i := range all {
		all[i] = i
	}
	for s := range 2 {
		ns := len(idx[s])
		reg := subMatrix(L, idx[s], idx[s])
		for i := range ns {
			reg.Set(i, i, reg.At(i, i)+float64(ns)*lam[s])
		}
		// Potrf/Potrs directly: mat.Cholesky would also estimate the
		// condition number, a third of the cost here.
		tri, ok := lapack64.Potrf(blas64.Symmetric{N: ns, Stride: ns, Data: reg.RawMatrix().Data, Uplo: blas.Upper})
		if !ok {
			return math.NaN(), fmt.Errorf("context kernel ridge system of window %d is not positive definite (λ %v)", s, lam[s])
		}
		a[s] = mat.NewDense(ns, h, nil)
		a[s].Copy(subMatrix(lHeld, all, idx[s]).T())
		lapack64.Potrs(tri, a[s].RawMatrix())
	}
	// μ̂_0(c*) − μ̂_1(c*) = Σ_i w_i φ(x_i) with w = A_0 on window 0's rows
	// and −A_1 on window 1's, so T = (1/h)·Σ_held wᵀKw = (1/h)·Σ W∘(KW):
	// one product with the whole K, no per-block gathers.
	N := len(side)
	w := mat.NewDense(N, h, nil)
	for s, sign := range [2]float64{1, -1} {
		for r, i := range idx[s] {
			dst, src := w.RawRowView(i), a[s].RawRowView(r)
			for j, v := range src {
				dst[j] = sign * v
			}
		}
	}
	var kw mat.Dense
	kw.Mul(K, w)
	var sum float64
	rw, rk := w.RawMatrix(), kw.RawMatrix()
	for i, v := range rw.Data {
		sum += v * rk.Data[i]
	}
	return sum / float64(h), nil
}

func oldContextMMD(x, y, cx, cy *mat.Dense, o ContextMMDOptions) (Result, error) {
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
		if sx, err = oldPooledMedianSigma(xAll); err != nil {
			return Result{}, fmt.Errorf("sigma: %w", err)
		}
	}
	if sc == 0 {
		if sc, err = oldPooledMedianSigma(cAll); err != nil {
			return Result{}, fmt.Errorf("sigma_c: %w", err)
		}
	}
	K := oldGaussianKernelMatrix(xAll, xAll, []float64{sx})
	L := oldGaussianKernelMatrix(cAll, cAll, []float64{sc})
	lHeld := oldGaussianKernelMatrix(cHeld, cAll, []float64{sc})

	side := make([]bool, N) // true: current window
	for i := n; i < N; i++ {
		side[i] = true
	}
	lam := o.Lambda
	for s := range 2 {
		if lam[s] == 0 {
			idx := sideIndex(side, s == 1)
			lam[s] = oldPickContextLambda(subMatrix(K, idx, idx), subMatrix(L, idx, idx), o.NFolds, rng)
		}
	}
	obs, err := oldCmmdStat(K, L, lHeld, side, lam)
	if err != nil {
		return Result{}, err
	}

	prop := oldContextPropensities(L, side, o.NFolds, rng)
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
			for b := w; b < o.NPermutations; b += workers {
				permuted[b], errs[b] = oldCmmdStat(K, L, lHeld, labels[b], lam)
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

func oldPooledMedianSigma(z *mat.Dense) (float64, error) {
	n, _ := z.Dims()
	k := (n*n/2 - n) / 2
	if n < 2 || k < 0 {
		return math.NaN(), errors.New("need at least two rows")
	}
	d := oldJointSqDist(z)
	upper := make([]float64, 0, n*(n-1)/2)
	raw := d.RawMatrix()
	for i := range n {
		upper = append(upper, raw.Data[i*raw.Stride+i+1:i*raw.Stride+n]...)
	}
	s := math.Sqrt(0.5 * selectKth(upper, k))
	if !(s > 0) {
		return s, errors.New("median heuristic gave a zero bandwidth (rows nearly all equal); set it")
	}
	return s, nil
}

func oldPickContextLambda(K, L *mat.Dense, folds int, rng interface{ Perm(int) []int }) float64 {
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
		dv := mat.NewDense(ni, no, nil)
		var gdv mat.Dense
		for li := range contextLambdaGrid {
			lam := math.Pow(2, -float64(li))
			for r := range ni {
				dd := 1 / (math.Max(vals[r], 0) + float64(ni)*lam)
				for c := range no {
					dv.Set(r, c, dd*v.At(r, c))
				}
			}
			gdv.Mul(&g, dv)
			var e float64
			for c := range no {
				e += K.At(oof[c], oof[c])
				for r := range ni {
					e += -2*ck.At(r, c)*dv.At(r, c) + dv.At(r, c)*gdv.At(r, c)
				}
			}
			loss[li] += e
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

func oldContextPropensities(L *mat.Dense, side []bool, folds int, rng interface{ Perm(int) []int }) []float64 {
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
			beta := oldFitKernelLogistic(subMatrix(phi, tr, seq(len(centres))), lmm, pick(y, tr), rho*float64(len(tr)))
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

func oldFitKernelLogistic(phi, g *mat.Dense, y []float64, rho float64) []float64 {
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
	xw := mat.NewDense(n, p, nil)
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
				xw.Set(i, j, w*v)
			}
		}
		// grad = xᵀ(p − y) + pen·β; hess = xᵀWx + pen (+ jitter).
		grad.MulVec(x.T(), resid)
		gb.MulVec(pen, beta)
		grad.AddVec(grad, &gb)
		hess.SymOuterK(1, xw.T())
		for a := range p {
			for b := a; b < p; b++ {
				v := hess.At(a, b) + pen.At(a, b)
				if a == b {
					v += 1e-8
				}
				hess.SetSym(a, b, v)
			}
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
