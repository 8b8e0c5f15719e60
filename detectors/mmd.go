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
// (current, m rows), both with at least two rows. The joint kernel matrix
// over [x; y] is built once (upper triangle only, Dsyrk + exp); the
// observed split and each of the B random relabellings then only need the
// block sums of that fixed matrix (see mmdBlocks). PValue is the share of
// relabellings whose MMD²_u is at least the observed one. Memory: the
// N×N float64 matrix, 8·N² bytes (32 MB at N = 2000), N = n + m. Time on
// one core is about 140 ms at n = m = 1000, d = 384, B = 100, growing as
// N² (BenchmarkMMD).
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
	// One Gram matrix serves both the bandwidth (its reference block) and
	// the kernel.
	d := jointSqDist(stackRows(x, y))
	sigma, err := sigmaOrMedian(o.Sigma, d, n)
	if err != nil {
		return Result{}, err
	}
	blk := mmdBlocksFromSqDist(d, sigma)
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
// strict upper triangle is used; the diagonal counts as zero, as the
// unbiased estimate excludes i = j — with its row sums r and total T.
//
// For a labelling that puts the set A (|A| = a) on one side and the rest
// (N − a) on the other, with S_A = Σ_{i≠j∈A} K_ij and R_A = Σ_{i∈A} r_i:
// Σ_{A,Ā} = R_A − S_A and S_Ā = T − 2R_A + S_A. So one relabelling costs
// a gather over the pairs of A only — the smaller side is chosen as A, so
// at most (N/2)²/2 pairs, visited row by row in increasing index order,
// which keeps the reads of each row of the triangle ordered and cache-line
// friendly.
type mmdBlocks struct {
	n     int
	k     []float64 // n×n row-major, strict upper triangle valid
	r     []float64
	total float64
}

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
	return mmdBlocksFromSqDist(jointSqDist(z), sigma)
}

// mmdBlocksFromSqDist turns the squared distances d (upper triangle, as
// from jointSqDist; overwritten) into the kernel blocks.
func mmdBlocksFromSqDist(d *mat.Dense, sigma []float64) *mmdBlocks {
	n, _ := d.Dims()
	k := d.RawMatrix().Data // stride n: gramUpper allocates it dense
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
	return mmdBlocksFromUpper(k, n)
}

// mmdBlocksFromKernel takes any symmetric kernel matrix over the pooled
// rows (e.g. a trained deep kernel's); it is overwritten.
func mmdBlocksFromKernel(km *mat.Dense) *mmdBlocks {
	n, _ := km.Dims()
	return mmdBlocksFromUpper(km.RawMatrix().Data, n)
}

// mmdBlocksFromUpper completes mmdBlocks from the strict upper triangle of
// the n×n row-major kernel k, zeroing its diagonal.
func mmdBlocksFromUpper(k []float64, n int) *mmdBlocks {
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
	return &mmdBlocks{n: n, k: k, r: r, total: total}
}

// within returns Σ_{i≠j∈idx} K_ij for ascending indices idx.
func (b *mmdBlocks) within(idx []int) float64 {
	var sum float64
	for a, i := range idx {
		sum += gatherSum(b.k[i*b.n:(i+1)*b.n], idx[a+1:])
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
// partial Fisher–Yates shuffle). The relabellings are evaluated in batches
// (see withinBatch) so that each row of the kernel matrix is read from
// memory once per batch rather than once per relabelling.
func (b *mmdBlocks) permutationTest(nx, ny, nperm int, rng interface{ IntN(int) int }) (float64, []float64) {
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

// permBatch bounds the relabellings evaluated together (their index lists,
// 4·min(n, m) bytes each, should stay in the L2 cache with a kernel row).
const permBatch = 128

// withinBatch sets sums[p] = Σ_{i≠j∈lists[p]} K_ij for ascending index
// lists. Rows are visited in order, and each row serves every list that
// contains its index — a cursor per list tracks where that list stands —
// so the N×N triangle streams through the cache once per batch.
func (b *mmdBlocks) withinBatch(lists [][]int32, sums []float64) {
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
