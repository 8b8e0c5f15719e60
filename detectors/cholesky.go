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

// cholLower factors the n×n symmetric positive definite matrix A, whose
// lower triangle a holds (stride lda), into the lower triangular R
// (R·Rᵀ = A) stored in r (stride ld, zeroed, ≥ roundUp(n, 12) rows); inv
// (length ≥ n) receives 1/R_ii. Unless rt is nil, it also receives (same
// stride, zeroed) the reversed transpose of R, rt(n−1−j, n−1−i) = R_ij,
// lower triangular too, for solving Rᵀ·x = b forward (see reverseTranspose).
// It reports false if A is not (numerically) positive definite.
func cholLower(n int, a []float64, lda int, r []float64, ld int, inv, rt []float64) bool {
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
			// R's entries in the columns j0.. of the rows j0+1, j0+2.
			var q10, q20, q21 float64
			if jn > 1 {
				q10 = r[(j0+1)*ld+j0]
			}
			if jn > 2 {
				q20, q21 = r[(j0+2)*ld+j0], r[(j0+2)*ld+j0+1]
			}
			for ii := range in {
				i := i0 + ii
				ai := a[i*lda+j0 : i*lda+j0+jn]
				ri := r[i*ld+j0 : i*ld+j0+jn]
				x0 := (ai[0] - blk[3*ii]) * inv[j0]
				ri[0] = x0
				if jn > 1 {
					x1 := (ai[1] - blk[3*ii+1] - x0*q10) * inv[j0+1]
					ri[1] = x1
					if jn > 2 {
						ri[2] = (ai[2] - blk[3*ii+2] - x0*q20 - x1*q21) * inv[j0+2]
					}
				}
				if rt != nil {
					for jj, v := range ri {
						rt[(n-1-j0-jj)*ld+n-1-i] = v
					}
				}
			}
		}
		// The diagonal block: prefix dot products (k < i0) of its rows
		// with columns i0..i0+2 (blk) and i0+1..i0+3 (blk2).
		var blk2 [12]float64
		if i0 > 0 {
			dot4x3(r[i0*ld:], r[i0*ld:], ld, i0, &blk)
			dot4x3(r[i0*ld:], r[(i0+1)*ld:], ld, i0, &blk2)
		} else {
			blk, blk2 = [12]float64{}, [12]float64{}
		}
		for j := i0; j < i0+in; j++ {
			rj := r[j*ld : j*ld+j+1]
			for i := j; i < i0+in; i++ {
				ri := r[i*ld : i*ld+j+1]
				pre := blk2[3*(i-i0)+2] // column i0+3
				if j < i0+3 {
					pre = blk[3*(i-i0)+j-i0]
				}
				s := a[i*lda+j] - pre
				for k := i0; k < j; k++ {
					s -= ri[k] * rj[k]
				}
				if i == j {
					if !(s > 0) {
						return false
					}
					ri[i] = math.Sqrt(s)
					inv[i] = 1 / ri[i]
				} else {
					ri[j] = s * inv[j]
				}
				if rt != nil {
					rt[(n-1-j)*ld+n-1-i] = ri[j]
				}
			}
		}
	}
	return true
}

// solveLowerT solves R·Y = B for h right-hand sides given transposed: bt
// (stride ldb) holds Bᵀ, and yt (stride ld, zeroed, ≥ roundUp(h, 4) rows)
// receives Yᵀ. R is n×n lower triangular as from cholLower, inv its
// reciprocal diagonal.
func solveLowerT(n, h int, r, inv, bt []float64, ldb int, yt []float64, ld int) {
	// Right-hand sides in panels of 32 rows of yt, which stay in the L2
	// cache while R streams past them once per panel.
	for c := 0; c < h; c += 32 {
		solveLowerTPanel(n, c, min(c+32, h), r, inv, bt, ldb, yt, ld)
	}
}

// solveLowerTPanel is solveLowerT for the right-hand sides cb ≤ c < ce
// (cb a multiple of 4).
func solveLowerTPanel(n, cb, ce int, r, inv, bt []float64, ldb int, yt []float64, ld int) {
	var blk [12]float64
	h := ce
	for i0 := 0; i0 < n; i0 += 3 {
		in := min(3, n-i0)
		kl := roundUp(i0, 4)
		// The block's rows of R from column i0 on: r0 = [R_i0,i0],
		// r1 = [R_i0+1,i0, R_i0+1,i0+1], r2 likewise.
		var r10, r20, r21 float64
		d0 := inv[i0]
		var d1, d2 float64
		if in > 1 {
			r10, d1 = r[(i0+1)*ld+i0], inv[i0+1]
		}
		if in > 2 {
			r20, r21, d2 = r[(i0+2)*ld+i0], r[(i0+2)*ld+i0+1], inv[i0+2]
		}
		for c0 := cb; c0 < h; c0 += 4 {
			if kl > 0 {
				dot4x3(yt[c0*ld:], r[i0*ld:], ld, kl, &blk)
			} else {
				blk = [12]float64{}
			}
			for cc := range min(4, h-c0) {
				c := c0 + cc
				b := bt[c*ldb+i0 : c*ldb+i0+in]
				y := yt[c*ld+i0 : c*ld+i0+in]
				y0 := (b[0] - blk[3*cc]) * d0
				y[0] = y0
				if in > 1 {
					y1 := (b[1] - blk[3*cc+1] - r10*y0) * d1
					y[1] = y1
					if in > 2 {
						y[2] = (b[2] - blk[3*cc+2] - r20*y0 - r21*y1) * d2
					}
				}
			}
		}
	}
}
