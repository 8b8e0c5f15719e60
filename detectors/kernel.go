package detectors

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Kernel primitives shared by the kernel drift tests (MMD, LSDD, their
// online variants, learned-kernel and context-aware MMD). Conventions are
// those of ../shared/DETECTORS.md: squared distances clamped at ≥ MinSqDist,
// Gaussian RBF k(a,b) = exp(−‖a−b‖²/(2σ²)) averaged over bandwidths, and
// the "lower median" bandwidth heuristic.

// MinSqDist is the floor squared distances are clamped to (DETECTORS.md).
const MinSqDist = 1e-30

// PairwiseSqDist returns the len(x)×len(y) matrix of squared Euclidean
// distances ‖x_i − y_j‖², computed as ‖x_i‖² + ‖y_j‖² − 2·x_i·y_j with the
// dot products from the blocked kernel of gram.go, and clamped at
// ≥ MinSqDist (so a point against itself gives MinSqDist, not 0). x and y
// must have the same number of columns. Passing the same matrix for x and
// y is allowed (then only the upper triangle is computed and mirrored).
func PairwiseSqDist(x, y *mat.Dense) *mat.Dense {
	nx, dx := x.Dims()
	ny, dy := y.Dims()
	if dx != dy {
		panic(fmt.Sprintf("detectors: PairwiseSqDist: %d vs %d columns", dx, dy))
	}
	if x == y {
		d := jointSqDist(x)
		raw := d.RawMatrix()
		for i := range nx { // mirror the upper triangle
			for j := i + 1; j < nx; j++ {
				raw.Data[j*raw.Stride+i] = raw.Data[i*raw.Stride+j]
			}
		}
		return d
	}
	d := mat.NewDense(nx, ny, nil)
	if nx == 0 || ny == 0 {
		return d
	}
	packRows(x).sqDistInto(packRows(y), d.RawMatrix().Data, ny)
	return d
}

// rowSqNorms returns ‖x_i‖² for every row.
func rowSqNorms(x *mat.Dense) []float64 {
	n, c := x.Dims()
	raw := x.RawMatrix()
	out := make([]float64, n)
	for i := range n {
		var s float64
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+c] {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// GaussianKernel returns a new matrix with the Gaussian RBF of each squared
// distance, exp(−d/(2σ²)), averaged over sigmas (DETECTORS.md: "with several
// bandwidths the kernel is the mean over them"). sqd is not modified.
func GaussianKernel(sqd *mat.Dense, sigmas []float64) *mat.Dense {
	k := mat.DenseCopyOf(sqd)
	GaussianKernelInPlace(k, sigmas)
	return k
}

// GaussianKernelInPlace overwrites the squared distances in sqd with their
// Gaussian kernel values (see GaussianKernel), the exponentials by
// expScaled (within 4e-16 relative of math.Exp; 0 below e^−708). It panics on an empty or
// non-positive bandwidth list.
func GaussianKernelInPlace(sqd *mat.Dense, sigmas []float64) {
	if len(sigmas) == 0 {
		panic("detectors: GaussianKernel: no bandwidths")
	}
	coef := make([]float64, len(sigmas))
	for i, s := range sigmas {
		if !(s > 0) || math.IsInf(s, 0) {
			panic(fmt.Sprintf("detectors: GaussianKernel: bandwidth %v must be > 0 and finite", s))
		}
		coef[i] = -1 / (2 * s * s)
	}
	r, c := sqd.Dims()
	raw := sqd.RawMatrix()
	inv := 1 / float64(len(sigmas))
	var tmp, acc []float64
	if len(coef) > 1 {
		tmp, acc = make([]float64, c), make([]float64, c)
	}
	for i := range r {
		row := raw.Data[i*raw.Stride : i*raw.Stride+c]
		if len(coef) == 1 {
			expScaled(row, row, coef[0])
			continue
		}
		clear(acc)
		for _, a := range coef {
			expScaled(tmp, row, a)
			for j, e := range tmp {
				acc[j] += e
			}
		}
		for j, s := range acc {
			row[j] = s * inv
		}
	}
}

// GaussianKernelMatrix is GaussianKernel(PairwiseSqDist(x, y), sigmas).
func GaussianKernelMatrix(x, y *mat.Dense, sigmas []float64) *mat.Dense {
	k := PairwiseSqDist(x, y)
	GaussianKernelInPlace(k, sigmas)
	return k
}

// MedianHeuristic returns the bandwidth DETECTORS.md prescribes from a
// sample alone: flatten and sort the n×n squared-distance matrix of x with
// itself, take the element at index n + (n²−n)//2 − 1 (the lower median of
// the off-diagonal squared distances, skipping the n diagonal zeros) and
// return sqrt(0.5·value), so that 2σ² is that median. x = {0,1,3} gives √2.
// It needs at least two rows; with fewer it returns NaN.
//
// Each off-diagonal value appears twice in the flattened matrix, so the
// element sought is the k-th smallest (k = ((n²−n)/2 − 1)/2) of the upper
// triangle, found by selection in O(n²) rather than by sorting.
func MedianHeuristic(x *mat.Dense) float64 {
	n, _ := x.Dims()
	if n < 2 {
		return math.NaN()
	}
	p := n * (n - 1) / 2
	return math.Sqrt(0.5 * kthUpperSqDist(x, (p-1)/2))
}

// kthUpperSqDist returns the k-th smallest (0-based) of the squared
// distances between the rows of z, i < j — exactly the value selectKth
// finds among the float64 distances upperSqDist computes. From n = 128 on
// it gets there at half the cost: a first pass computes the distances in
// float32 (dot4x3F32), whose error against the float64 ones is at most
// δ = (ld/8 + 12)·2⁻²²·max‖z_i‖² (ld the row length rounded up to 8: the
// input rounding, eight-lane accumulation of ld/8 terms each, the lane
// sums and the float32 store, with room to spare); the k-th float32 value
// v is then within δ of the k-th float64 one, so the pairs whose float32
// distance is below v − 2δ are all below it, those above v + 2δ all above,
// and only the few in between are recomputed in float64 exactly as
// upperSqDist would (dotLanes) and selected among.
func kthUpperSqDist(z *mat.Dense, k int) float64 {
	n, d := z.Dims()
	sqNorm := make([]float64, n)
	for i := range n {
		r := z.RawRowView(i)
		sqNorm[i] = dotLanesN(r, r) // as packRows computes it
	}
	return kthUpperSqDistRows(n, d, z.RawRowView, sqNorm, k)
}

// kthUpperSqDistRows is kthUpperSqDist for n rows of d values given by
// row, with their squared norms as packRows computes them.
func kthUpperSqDistRows(n, d int, row func(int) []float64, sqNorm []float64, k int) float64 {
	var maxNorm float64
	for _, v := range sqNorm[:n] {
		maxNorm = max(maxNorm, v)
	}
	if n < 128 || math.IsInf(maxNorm, 0) || math.IsNaN(maxNorm) {
		all := make([]float64, 0, n*(n-1)/2)
		for i := range n {
			for j := i + 1; j < n; j++ {
				all = append(all, max(sqNorm[i]+sqNorm[j]-2*dotLanesN(row(i), row(j)), MinSqDist))
			}
		}
		return selectKth(all, k)
	}
	ld := roundUp(d, 8)
	rows := roundUp(n, 12)
	x32 := make([]float32, rows*ld)
	for i := range n {
		dst := x32[i*ld : i*ld+d]
		for j, v := range row(i)[:d] {
			dst[j] = float32(v)
		}
	}
	off := make([]int, n)
	size := 0
	for i := range n {
		off[i] = size - (i + 1)
		size += n - 1 - i
	}
	s := make([]float32, size)
	var blk [12]float64
	for jb := 0; jb < rows; jb += gramPanel {
		je := min(jb+gramPanel, rows)
		for i0 := 0; i0 < je && i0 < n; i0 += 4 {
			for j0 := max(jb, i0/3*3); j0 < je && j0 < n; j0 += 3 {
				dot4x3F32(x32[i0*ld:], x32[j0*ld:], ld, ld, &blk)
				if j0 > i0+3 && j0+3 <= n && i0+4 <= n { // inside the triangle
					nj := sqNorm[j0 : j0+3]
					for r := range 4 {
						a := sqNorm[i0+r]
						o := s[off[i0+r]+j0 : off[i0+r]+j0+3]
						g := blk[3*r : 3*r+3]
						o[0] = float32(max(a+nj[0]-2*g[0], 0))
						o[1] = float32(max(a+nj[1]-2*g[1], 0))
						o[2] = float32(max(a+nj[2]-2*g[2], 0))
					}
					continue
				}
				for r := range min(4, n-i0) {
					i := i0 + r
					a := sqNorm[i]
					for c := range 3 {
						if j := j0 + c; j > i && j < n {
							s[off[i]+j] = float32(max(a+sqNorm[j]-2*blk[3*r+c], 0))
						}
					}
				}
			}
		}
	}
	v := float64(selectKth32(s, k))
	delta := (float64(ld)/8 + 12) * 0x1p-22 * maxNorm
	lo, hi := v-2*delta, v+2*delta
	below := 0
	var cand []float64
	for i := range n {
		srow := s[off[i]+i+1 : off[i]+n]
		a := sqNorm[i]
		xi := row(i)[:d]
		for c, f := range srow {
			switch w := float64(f); {
			case w < lo:
				below++
			case w <= hi:
				j := i + 1 + c
				g := dotLanesN(xi, row(j)[:d])
				cand = append(cand, max(a+sqNorm[j]-2*g, MinSqDist))
			}
		}
	}
	return quickSelect(cand, k-below)
}

// selectKth32 is selectKth for non-negative float32 values (radix select
// on their bits, two passes of 16); a is not modified.
func selectKth32(a []float32, k int) float32 {
	var hist [1 << 16]int32
	cand := a
	for shift := 16; ; shift -= 16 {
		clear(hist[:])
		for _, v := range cand {
			hist[math.Float32bits(v)>>uint(shift)&0xffff]++
		}
		var bucket uint32
		for c := range hist {
			if int(hist[c]) > k {
				bucket = uint32(c)
				break
			}
			k -= int(hist[c])
		}
		next := make([]float32, 0, hist[bucket])
		for _, v := range cand {
			if math.Float32bits(v)>>uint(shift)&0xffff == bucket {
				next = append(next, v)
			}
		}
		cand = next
		if shift == 0 {
			return cand[k] // all equal
		}
	}
}

// upperSqDist returns the strict upper triangle of the squared distances
// between the rows of z, row by row (n(n−1)/2 values).
func upperSqDist(z *mat.Dense) []float64 {
	n, _ := z.Dims()
	off := make([]int, n)
	start := 0
	for i := range n {
		off[i] = start - (i + 1)
		start += n - 1 - i
	}
	out := make([]float64, start)
	packRows(z).sqDistUpperInto(out, off)
	return out
}

// lowerMedianOffDiag returns the element at index n + (n²−n)//2 − 1 of the
// sorted flattened symmetric n×n leading block of d, whose diagonal holds
// its smallest values (squared distances of points with themselves). Only
// the strict upper triangle of that block is read, so d may be the squared
// distances of [x; y] as from jointSqDist, x being the first n rows.
func lowerMedianOffDiag(d *mat.Dense, n int) float64 {
	p := n * (n - 1) / 2
	upper := make([]float64, 0, p)
	raw := d.RawMatrix()
	for i := range n {
		upper = append(upper, raw.Data[i*raw.Stride+i+1:i*raw.Stride+n]...)
	}
	return selectKth(upper, (p-1)/2)
}

// jointSqDist returns the squared distances between the rows of z, upper
// triangle only (diagonal MinSqDist, strict lower triangle zero).
func jointSqDist(z *mat.Dense) *mat.Dense {
	n, _ := z.Dims()
	d := mat.NewDense(max(n, 1), max(n, 1), nil)
	if n == 0 {
		return d
	}
	raw := d.RawMatrix().Data
	packRows(z).sqDistUpperInto(raw, denseOffsets(n, n))
	for i := range n {
		raw[i*n+i] = MinSqDist
	}
	return d
}

// selectKth returns the k-th smallest (0-based) element of a, reordering a
// when it falls back to quickSelect. Non-negative floats (no NaN) order as
// their bit patterns, so for them — squared distances always are — a radix
// select finds the element in two or three counting passes without the
// mispredicted branches of a partition (5× faster at 500 000 values):
// count the top 16 bits, keep the bucket that holds rank k, repeat on the
// next 16 bits while more than radixSmall values are kept.
func selectKth(a []float64, k int) float64 {
	if len(a) < radixSmall {
		return quickSelect(a, k)
	}
	var hist [1 << 16]int32
	for _, v := range a {
		b := math.Float64bits(v)
		if b >= 0x7ff0000000000001 { // negative, -0 or NaN
			return quickSelect(a, k)
		}
		hist[b>>48]++
	}
	cand := a
	for shift := 48; ; shift -= 16 {
		if shift < 48 {
			clear(hist[:])
			for _, v := range cand {
				hist[math.Float64bits(v)>>uint(shift)&0xffff]++
			}
		}
		var bucket uint64
		for c := range hist {
			if int(hist[c]) > k {
				bucket = uint64(c)
				break
			}
			k -= int(hist[c])
		}
		next := make([]float64, 0, hist[bucket])
		for _, v := range cand {
			if math.Float64bits(v)>>uint(shift)&0xffff == bucket {
				next = append(next, v)
			}
		}
		cand = next
		if len(cand) < radixSmall || shift == 0 {
			return quickSelect(cand, k)
		}
	}
}

// radixSmall is the size below which selectKth partitions directly.
const radixSmall = 4096

// quickSelect returns the k-th smallest (0-based) element of a, reordering
// a (Hoare's quickselect with a median-of-three pivot; deterministic).
func quickSelect(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// stackRows returns [x; y] as a new matrix.
func stackRows(x, y *mat.Dense) *mat.Dense {
	nx, d := x.Dims()
	ny, _ := y.Dims()
	z := mat.NewDense(nx+ny, d, nil)
	z.Slice(0, nx, 0, d).(*mat.Dense).Copy(x)
	z.Slice(nx, nx+ny, 0, d).(*mat.Dense).Copy(y)
	return z
}
