package detectors

import "math"

// Dense Cholesky factorisation and triangular solves for the context-aware
// MMD's per-permutation ridge systems (issue 16). Row-major, with the bulk
// of the work — dot products of row prefixes — done by the 4×3
// micro-kernel dot4x3, the rest by scalar in-block corrections. Matrices
// are stored with stride ld (a multiple of 4) in zeroed buffers of at
// least roundUp(n, 12) rows: entries not yet computed are zero, which is
// what lets a prefix dot product run past its end to a multiple of 4.
//
// The algorithms are the textbook left-looking (Cholesky–Crout) and
// substitution forms (Golub & Van Loan, "Matrix Computations", 4th ed.,
// algorithms 4.2.1 and 3.1.1–3.1.2); the blocking is ours.

func roundUp(n, k int) int { return (n + k - 1) / k * k }

// cholLower factors the n×n symmetric positive definite matrix whose
// lower triangle a(i, j), j ≤ i, returns, into the lower triangular R
// (R·Rᵀ = A) stored in r (stride ld, zeroed, ≥ roundUp(n, 12) rows). It
// reports false if A is not (numerically) positive definite.
func cholLower(n int, a func(i, j int) float64, r []float64, ld int) bool {
	var blk [12]float64
	for i0 := 0; i0 < n; i0 += 4 {
		in := min(4, n-i0)
		for j0 := 0; j0 < i0; j0 += 3 {
			jn := min(3, i0-j0)
			kl := roundUp(j0, 4)
			if kl > 0 {
				dot4x3(r[i0*ld:], r[j0*ld:], ld, kl, &blk)
			} else {
				blk = [12]float64{}
			}
			for jj := range jn {
				j := j0 + jj
				rj := r[j*ld : j*ld+j+1]
				d := rj[j]
				for ii := range in {
					i := i0 + ii
					ri := r[i*ld : i*ld+j]
					s := a(i, j) - blk[3*ii+jj]
					for k := j0; k < j; k++ {
						s -= ri[k] * rj[k]
					}
					r[i*ld+j] = s / d
				}
			}
		}
		for j := i0; j < i0+in; j++ {
			rj := r[j*ld : j*ld+j+1]
			for i := j; i < i0+in; i++ {
				ri := r[i*ld : i*ld+j+1]
				s := a(i, j) - dotLanes(ri[:i0], rj[:i0])
				for k := i0; k < j; k++ {
					s -= ri[k] * rj[k]
				}
				if i == j {
					if !(s > 0) {
						return false
					}
					r[i*ld+i] = math.Sqrt(s)
				} else {
					r[i*ld+j] = s / rj[j]
				}
			}
		}
	}
	return true
}

// solveLowerT solves R·Y = B for h right-hand sides given transposed:
// bt(c, i) is B's entry (i, c), and yt (stride ld, zeroed, ≥ roundUp(h, 4)
// rows) receives Yᵀ. R is n×n lower triangular as from cholLower.
func solveLowerT(n, h int, r []float64, bt func(c, i int) float64, yt []float64, ld int) {
	var blk [12]float64
	for i0 := 0; i0 < n; i0 += 3 {
		in := min(3, n-i0)
		kl := roundUp(i0, 4)
		for c0 := 0; c0 < h; c0 += 4 {
			if kl > 0 {
				dot4x3(yt[c0*ld:], r[i0*ld:], ld, kl, &blk)
			} else {
				blk = [12]float64{}
			}
			for ii := range in {
				i := i0 + ii
				ri := r[i*ld : i*ld+i+1]
				for cc := range min(4, h-c0) {
					c := c0 + cc
					y := yt[c*ld : c*ld+i+1]
					s := bt(c, i) - blk[3*cc+ii]
					for k := i0; k < i; k++ {
						s -= ri[k] * y[k]
					}
					y[i] = s / ri[i]
				}
			}
		}
	}
}

// reverseTranspose writes P·Rᵀ·P (P the order reversal), lower triangular
// again, into out (stride ld, zeroed): out(i, k) = R(n−1−k, n−1−i).
func reverseTranspose(n int, r []float64, out []float64, ld int) {
	for i := range n {
		row := out[i*ld : i*ld+i+1]
		for k := range row {
			row[k] = r[(n-1-k)*ld+n-1-i]
		}
	}
}
