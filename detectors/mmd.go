package detectors

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Maximum mean discrepancy two-sample test (Gretton, Borgwardt, Rasch,
// Schölkopf & Smola 2012, "A Kernel Two-Sample Test", JMLR 13): the
// unbiased estimate MMD²_u (their eq. 3) with a Gaussian RBF kernel and a
// permutation null, as DETECTORS.md defines it.

// DefaultNPermutations is the number of permutations B permutation tests
// default to.
const DefaultNPermutations = 100

// MMDOptions configures MMD. Zero values take the defaults: PVal
// DefaultPVal, NPermutations DefaultNPermutations, Sigma the median
// heuristic on the reference sample (MedianHeuristic).
type MMDOptions struct {
	PVal          float64   // significance level, in (0, 1)
	NPermutations int       // B
	Sigma         []float64 // Gaussian bandwidths; the kernel is the mean over them
	Seed          uint64    // seeds the permutations
}

// Validate reports every invalid option, naming it as the CLI spells it.
func (o MMDOptions) Validate() error {
	var errs []error
	errs = append(errs, validatePVal(o.PVal), validateNPermutations(o.NPermutations))
	for i, s := range o.Sigma {
		if !(s > 0) || math.IsInf(s, 0) {
			errs = append(errs, fmt.Errorf("sigma[%d] must be > 0 and finite, got %v", i, s))
		}
	}
	return errors.Join(errs...)
}

func validatePVal(p float64) error {
	if p != 0 && !(p > 0 && p < 1) {
		return fmt.Errorf("p_val must be in (0, 1), got %v", p)
	}
	return nil
}

func validateNPermutations(b int) error {
	if b < 0 {
		return fmt.Errorf("n_permutations must be > 0, got %d", b)
	}
	return nil
}

func (o MMDOptions) withDefaults() MMDOptions {
	o.PVal = orDefault(o.PVal, DefaultPVal)
	o.NPermutations = orDefault(o.NPermutations, DefaultNPermutations)
	return o
}

// MMD runs the kernel two-sample test of x (reference, n rows) against y
// (current, m rows), both with at least two rows. The squared distances
// over the pooled rows [x; y] are computed once (upper triangle, by the
// blocked kernel of gram.go); their reference block gives the median
// heuristic bandwidth, and the Gaussian kernel of them the fixed matrix
// whose block sums give the observed split and each of the B random
// relabellings (see mmdBlocks). PValue is the share of relabellings whose
// MMD²_u is at least the observed one. Memory: the upper triangle of the
// N×N float64 matrix, rows padded to 64 columns, about 4·N² bytes (17 MB
// at N = 2000), N = n + m.
// Time on one core: about 60 ms at n = m = 1000, d = 384, B = 100 on an
// AVX2 machine, growing as N²·d for the matrix and N²·B/2 for the
// relabellings (BenchmarkMMD, BENCHMARKS.md).
func MMD(x, y *mat.Dense, o MMDOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, fmt.Errorf("validating mmd options: %w", err)
	}
	if err := checkSamples(x, y, 2); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	n, _ := x.Dims()
	m, _ := y.Dims()
	N := n + m
	ld := padTo64(N)
	off, size := triangleOffsets(N, ld)
	k := make([]float64, size)
	packRows2(x, y).sqDistUpperInto(k, off)
	// One matrix serves both the bandwidth (its reference block) and the
	// kernel.
	sigma := slices.Clone(o.Sigma)
	if len(sigma) == 0 {
		p := n * (n - 1) / 2
		upper := make([]float64, 0, p)
		for i := range n {
			upper = append(upper, k[off[i]+i+1:off[i]+n]...)
		}
		s := math.Sqrt(0.5 * selectKth(upper, (p-1)/2))
		if !(s > 0) {
			return Result{}, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
		}
		sigma = []float64{s}
	}
	blk := mmdBlocksFromPadded(k, N, ld, off, sigma)
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

// mmdBlocks holds the joint kernel matrix of N pooled rows — only its
// strict upper triangle; the diagonal counts as zero, as the unbiased
// estimate excludes i = j — with its row sums r and total T.
//
// For a labelling that puts the set A (|A| = a) on one side and the rest
// (N − a) on the other, with S_A = Σ_{i≠j∈A} K_ij and R_A = Σ_{i∈A} r_i:
// Σ_{A,Ā} = R_A − S_A and S_Ā = T − 2R_A + S_A. So one relabelling costs
// the pairs of A only; the smaller side is chosen as A.
//
// k is a packed upper triangle: row i holds columns i&^63 up to ld (a
// multiple of 64, ≥ n) at k[off[i]+j], and everything in it but the strict
// upper triangle (the diagonal, the few columns left of it, the padding)
// is zero, so that S_A is a sum of masked row sums over whole 64-bit words
// of A's membership bitset (withinBatch, maskedSum).
type mmdBlocks struct {
	n, ld int
	k     []float64
	off   []int
	r     []float64
	total float64
}

// triangleOffsets lays out mmdBlocks.k: row i starts at column i&^63.
func triangleOffsets(n, ld int) (off []int, size int) {
	off = make([]int, n)
	for i := range n {
		c0 := i &^ 63
		off[i] = size - c0
		size += ld - c0
	}
	return off, size
}

// at returns K_ij for i < j.
func (b *mmdBlocks) at(i, j int) float64 { return b.k[b.off[i]+j] }

// padTo64 rounds n up to a multiple of 64 (at least 64).
func padTo64(n int) int { return max(64, (n+63)&^63) }

// sigmaOrMedian returns a copy of sigma or, if it is empty, the median
// heuristic bandwidth of the first n rows of the squared distances d
// (upper triangle, as from jointSqDist).
func sigmaOrMedian(sigma []float64, d *mat.Dense, n int) ([]float64, error) {
	if len(sigma) > 0 {
		return slices.Clone(sigma), nil
	}
	s := math.Sqrt(0.5 * lowerMedianOffDiag(d, n))
	if !(s > 0) {
		return nil, errors.New("median heuristic gave a zero bandwidth (reference rows all equal); set sigma")
	}
	return []float64{s}, nil
}

func newMMDBlocks(z *mat.Dense, sigma []float64) *mmdBlocks {
	n, _ := z.Dims()
	ld := padTo64(n)
	off, size := triangleOffsets(n, ld)
	k := make([]float64, size)
	packRows(z).sqDistUpperInto(k, off)
	return mmdBlocksFromPadded(k, n, ld, off, sigma)
}

// mmdBlocksFromSqDist turns the squared distances d (upper triangle, as
// from jointSqDist) into the kernel blocks; d is not modified.
func mmdBlocksFromSqDist(d *mat.Dense, sigma []float64) *mmdBlocks {
	n, ld, off, k := copyStrictUpper(d)
	return mmdBlocksFromPadded(k, n, ld, off, sigma)
}

// copyStrictUpper copies the strict upper triangle of the square matrix a
// into a zeroed packed triangle (see mmdBlocks), ld = padTo64(n).
func copyStrictUpper(a *mat.Dense) (n, ld int, off []int, k []float64) {
	n, _ = a.Dims()
	ld = padTo64(n)
	off, size := triangleOffsets(n, ld)
	k = make([]float64, size)
	raw := a.RawMatrix()
	for i := range n {
		copy(k[off[i]+i+1:off[i]+n], raw.Data[i*raw.Stride+i+1:i*raw.Stride+n])
	}
	return n, ld, off, k
}

// mmdBlocksFromPadded overwrites the squared distances in the strict upper
// triangle of the packed triangle k (zero elsewhere) with their Gaussian
// kernel, the mean over sigma, and completes the blocks: one pass, row by
// row, the exponentials (expScaled) and the row sums while the row is in
// the cache.
func mmdBlocksFromPadded(k []float64, n, ld int, off []int, sigma []float64) *mmdBlocks {
	coef := make([]float64, len(sigma))
	for i, s := range sigma {
		coef[i] = -1 / (2 * s * s)
	}
	inv := 1 / float64(len(sigma))
	var tmp, acc []float64
	if len(coef) > 1 {
		tmp, acc = make([]float64, n), make([]float64, n)
	}
	r := make([]float64, n)
	var total float64
	for i := range n {
		row := k[off[i]+i+1 : off[i]+n]
		if len(coef) == 1 {
			expScaled(row, row, coef[0])
		} else {
			a := acc[:len(row)]
			clear(a)
			for _, c := range coef {
				t := tmp[:len(row)]
				expScaled(t, row, c)
				for j, e := range t {
					a[j] += e
				}
			}
			for j, e := range a {
				row[j] = e * inv
			}
		}
		rest := r[i+1:]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= len(row); j += 4 {
			e := row[j : j+4 : j+4]
			s0 += e[0]
			s1 += e[1]
			s2 += e[2]
			s3 += e[3]
			q := rest[j : j+4 : j+4]
			q[0] += e[0]
			q[1] += e[1]
			q[2] += e[2]
			q[3] += e[3]
		}
		for ; j < len(row); j++ {
			s0 += row[j]
			rest[j] += row[j]
		}
		ri := (s0 + s1) + (s2 + s3)
		r[i] += ri
		total += 2 * ri
	}
	return &mmdBlocks{n: n, ld: ld, k: k, off: off, r: r, total: total}
}

// mmdBlocksFromKernel takes any symmetric kernel matrix over the pooled
// rows (e.g. a trained deep kernel's); only its strict upper triangle is
// read, and km is not modified.
func mmdBlocksFromKernel(km *mat.Dense) *mmdBlocks {
	n, ld, off, k := copyStrictUpper(km)
	return mmdBlocksFromUpper(k, n, ld, off)
}

// mmdBlocksFromUpper completes mmdBlocks from the packed triangle k (the
// strict upper triangle valid, zero elsewhere).
func mmdBlocksFromUpper(k []float64, n, ld int, off []int) *mmdBlocks {
	r := make([]float64, n)
	var total float64
	for i := range n {
		row := k[off[i] : off[i]+n] // valid from column i&^63 on
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
	return &mmdBlocks{n: n, ld: ld, k: k, off: off, r: r, total: total}
}

// within returns Σ_{i≠j∈idx} K_ij for ascending indices idx.
func (b *mmdBlocks) within(idx []int) float64 {
	var sum float64
	for a, i := range idx {
		sum += gatherSum(b.k[b.off[i]:b.off[i]+b.n], idx[a+1:])
	}
	return 2 * sum
}

// stat returns MMD²_u for the labelling that puts the ascending indices
// idx on side A: the x side if aIsX, else the y side; nx and ny are the
// side sizes.
func (b *mmdBlocks) stat(idx []int, aIsX bool, nx, ny int) float64 {
	var ra float64
	for _, i := range idx {
		ra += b.r[i]
	}
	return b.statFrom(b.within(idx), ra, aIsX, nx, ny)
}

// statFrom returns MMD²_u from S_A = Σ_{i≠j∈A} K_ij and R_A = Σ_{i∈A} r_i.
func (b *mmdBlocks) statFrom(sa, ra float64, aIsX bool, nx, ny int) float64 {
	cross := ra - sa
	sb := b.total - 2*ra + sa
	sxx, syy := sa, sb
	if !aIsX {
		sxx, syy = sb, sa
	}
	fx, fy := float64(nx), float64(ny)
	return sxx/(fx*(fx-1)) + syy/(fy*(fy-1)) - 2*cross/(fx*fy)
}

// permutationTest returns the statistic of the split "first nx rows are
// x" and those of nperm uniformly random relabellings (each a uniform
// random subset of size min(nx, ny) for the smaller side, drawn by a
// partial Fisher–Yates shuffle). The observed split and the relabellings
// go through the same batched sums (withinBatch), so a relabelling equal
// to the observed split gives exactly the observed statistic.
func (b *mmdBlocks) permutationTest(nx, ny, nperm int, rng interface{ IntN(int) int }) (float64, []float64) {
	aIsX := nx <= ny
	a := nx
	if !aIsX {
		a = ny
	}
	first := make([]int32, a)
	for i := range first {
		if aIsX {
			first[i] = int32(i)
		} else {
			first[i] = int32(nx + i)
		}
	}
	var s [1]float64
	b.withinBatch([][]int32{first}, s[:])
	obs := b.statFrom(s[0], b.sumR(first), aIsX, nx, ny)
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
			out[p0+q] = b.statFrom(sums[q], b.sumR(l), aIsX, nx, ny)
		}
	}
	return obs, out
}

// sumR is Σ_{i∈l} r_i.
func (b *mmdBlocks) sumR(l []int32) float64 {
	var ra float64
	for _, i := range l {
		ra += b.r[i]
	}
	return ra
}

// permBatch bounds the relabellings evaluated together: their membership
// bitsets (N/8 bytes each) stay in the L1/L2 cache with a kernel row.
const permBatch = 128

// withinBatch sets sums[p] = Σ_{i≠j∈lists[p]} K_ij for ascending index
// lists. Each list becomes a membership bitset; rows are visited in order,
// and each row i serves every list that contains i with one masked sum of
// the row against the list's bitset from the word holding i on (the
// entries up to the diagonal are zero). So the triangle streams through
// the cache once per batch, and a row's sum for a list is a run of
// branch-free vector adds (maskedSum; AVX2 where the CPU has it) instead
// of a gather. Each list's sum is accumulated in the same order whatever
// the batch, so the result does not depend on the batch it ran in.
func (b *mmdBlocks) withinBatch(lists [][]int32, sums []float64) {
	nw := b.ld / 64
	bits := make([]uint64, len(lists)*nw)
	for p, l := range lists {
		w := bits[p*nw : (p+1)*nw]
		for _, i := range l {
			w[i>>6] |= 1 << (uint(i) & 63)
		}
	}
	clear(sums[:len(lists)])
	for i := range b.n {
		w0 := i >> 6
		row := b.k[b.off[i]+64*w0 : b.off[i]+b.ld]
		bit := uint64(1) << (uint(i) & 63)
		for p := range lists {
			w := bits[p*nw : (p+1)*nw]
			if w[w0]&bit == 0 {
				continue
			}
			sums[p] += maskedSum(row, w[w0:])
		}
	}
	for p := range lists {
		sums[p] *= 2
	}
}

// gatherSum is Σ row[idx[j]], with four accumulators so the adds overlap.
func gatherSum[T int | int32](row []float64, idx []T) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(idx); j += 4 {
		s0 += row[idx[j]]
		s1 += row[idx[j+1]]
		s2 += row[idx[j+2]]
		s3 += row[idx[j+3]]
	}
	for ; j < len(idx); j++ {
		s0 += row[idx[j]]
	}
	return (s0 + s1) + (s2 + s3)
}

func init() {
	Register(Detector{
		Name: "mmd", Kind: Multivariate, Forms: []Form{Vectors},
		Doc: "did the distribution change in any way a Gaussian kernel sees? Unbiased MMD², permutation p-value",
		Params: []Param{pValParam(), nPermutationsParam(DefaultNPermutations),
			floatsParam("sigma", "Gaussian bandwidths, averaged; empty or 0: the median heuristic on the reference", checkSigmas)},
		Run: func(in Input) (Result, error) {
			p := in.Params
			sigma := p.Floats("sigma")
			if len(sigma) == 1 && sigma[0] == 0 {
				sigma = nil
			}
			return MMD(in.Ref.X, in.Cur.X, MMDOptions{PVal: p.Float("p_val"), NPermutations: p.Int("n_permutations"), Sigma: sigma, Seed: in.Seed})
		},
	})
}

// checkSigmas: bandwidths > 0 and finite, or a single 0 (median heuristic).
func checkSigmas(s []float64) error {
	if len(s) == 1 && s[0] == 0 {
		return nil
	}
	for _, v := range s {
		if err := positive(v); err != nil {
			return fmt.Errorf("each bandwidth %w", err)
		}
	}
	return nil
}
