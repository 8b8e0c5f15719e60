package detectors

import "gonum.org/v1/gonum/mat"

// Blocked dot products for the kernel matrices (issue 16). Rows are copied
// into a zero-padded buffer (stride a multiple of 4, row count a multiple
// of 12) so that every call of the 4×3 micro-kernel dot4x3 is whole; the
// j rows are taken in panels of gramPanel rows, which stay in the L2 cache
// while every i row streams past them. Each dot product is computed the
// same way wherever it falls (dotLanes' order), so x_i·x_j is the same
// number in any block, on any CPU.

// gramPanel is the number of j rows per cache panel (a multiple of 12:
// 96 rows of 384 float64 are 288 KiB).
const gramPanel = 96

// packed is a row-major copy of a matrix with padded stride and rows.
type packed struct {
	buf    []float64
	ld, n  int // stride (multiple of 4), real rows
	nPad   int // rows allocated, a multiple of 12
	d      int
	sqNorm []float64
}

func packRows(z *mat.Dense) packed { return packRows2(z, nil) }

// newPacked allocates a zeroed packed matrix of n rows of d columns.
func newPacked(n, d int) packed {
	ld := max(4, (d+3)&^3)
	np := (n + 11) / 12 * 12
	return packed{buf: make([]float64, np*ld), ld: ld, n: n, nPad: np, d: d, sqNorm: make([]float64, n)}
}

// row returns row i (d values) for filling; call setNorm(i) after.
func (p packed) row(i int) []float64 { return p.buf[i*p.ld : i*p.ld+p.d] }

// rowsFrom is the packed matrix of rows r.. of p (sharing its storage);
// p needs 12 rows past its last (see LSDD) so that it stays whole.
func (p packed) rowsFrom(r int) packed {
	return packed{buf: p.buf[r*p.ld:], ld: p.ld, n: p.n - r, nPad: (p.nPad - r) / 12 * 12, d: p.d, sqNorm: p.sqNorm[r:]}
}

func (p packed) setNorm(i int) {
	r := p.buf[i*p.ld : (i+1)*p.ld]
	p.sqNorm[i] = dotLanes(r, r)
}

// packRows2 packs the rows of z followed by those of y (nil: none), which
// must have as many columns.
func packRows2(z, y *mat.Dense) packed {
	n, d := z.Dims()
	nz := n
	if y != nil {
		ny, _ := y.Dims()
		n += ny
	}
	p := newPacked(n, d)
	for i := range n {
		if i < nz {
			copy(p.row(i), z.RawRowView(i))
		} else {
			copy(p.row(i), y.RawRowView(i-nz))
		}
		p.setNorm(i)
	}
	return p
}

// sqDistUpperInto writes the clamped squared distances
// ‖z_i‖² + ‖z_j‖² − 2·z_i·z_j (at least MinSqDist) of the packed rows into
// out[rowOff[i]+j] for j > i; nothing else in out is touched.
func (p packed) sqDistUpperInto(out []float64, rowOff []int) {
	var blk [12]float64
	n, ld := p.n, p.ld
	for jb := 0; jb < p.nPad; jb += gramPanel {
		je := min(jb+gramPanel, p.nPad)
		for i0 := 0; i0 < je && i0 < n; i0 += 4 {
			if i0+4 > p.nPad { // nPad is a multiple of 12, so of 4: never
				break
			}
			for j0 := max(jb, i0/3*3); j0 < je; j0 += 3 {
				if j0 >= n {
					break
				}
				dot4x3(p.buf[i0*ld:], p.buf[j0*ld:], ld, ld, &blk)
				if j0 > i0+3 && j0+3 <= n && i0+4 <= n { // inside the triangle
					nj := p.sqNorm[j0 : j0+3]
					for r := range 4 {
						a := p.sqNorm[i0+r]
						o := out[rowOff[i0+r]+j0 : rowOff[i0+r]+j0+3]
						g := blk[3*r : 3*r+3]
						o[0] = max(a+nj[0]-2*g[0], MinSqDist)
						o[1] = max(a+nj[1]-2*g[1], MinSqDist)
						o[2] = max(a+nj[2]-2*g[2], MinSqDist)
					}
					continue
				}
				for r := range 4 {
					i := i0 + r
					if i >= n {
						break
					}
					a := p.sqNorm[i]
					for c := range 3 {
						j := j0 + c
						if j <= i || j >= n {
							continue
						}
						out[rowOff[i]+j] = max(a+p.sqNorm[j]-2*blk[3*r+c], MinSqDist)
					}
				}
			}
		}
	}
}

// denseOffsets are the row offsets of an n-row matrix with stride ld.
func denseOffsets(n, ld int) []int {
	off := make([]int, n)
	for i := range off {
		off[i] = i * ld
	}
	return off
}

// sqDistInto writes the clamped squared distances between the packed rows
// of p (rows of out) and q (columns) into out[i·ldo+j].
func (p packed) sqDistInto(q packed, out []float64, ldo int) {
	if p.ld != q.ld {
		panic("detectors: sqDistInto: column counts differ")
	}
	var blk [12]float64
	ld := p.ld
	for jb := 0; jb < q.nPad; jb += gramPanel {
		je := min(jb+gramPanel, q.nPad)
		for i0 := 0; i0 < p.n; i0 += 4 {
			for j0 := jb; j0 < je && j0 < q.n; j0 += 3 {
				dot4x3(p.buf[i0*ld:], q.buf[j0*ld:], ld, ld, &blk)
				for r := range min(4, p.n-i0) {
					i := i0 + r
					a := p.sqNorm[i]
					for c := range min(3, q.n-j0) {
						j := j0 + c
						v := a + q.sqNorm[j] - 2*blk[3*r+c]
						if v < MinSqDist {
							v = MinSqDist
						}
						out[i*ldo+j] = v
					}
				}
			}
		}
	}
}

// dotRows sets out[i·ldo+j] = Σ_{l<k} a[i·ld+l]·b[j·ld+l] for i < na,
// j < nb. a needs roundUp(na, 4) rows and b roundUp(nb, 3) (zero beyond
// na and nb), k a multiple of 4; with upper set, only j ≥ i is written
// (a and b then the same matrix).
func dotRows(a []float64, na int, b []float64, nb, ld, k int, out []float64, ldo int, upper bool) {
	var blk [12]float64
	for i0 := 0; i0 < na; i0 += 4 {
		j0 := 0
		if upper {
			j0 = i0 / 3 * 3
		}
		for ; j0 < nb; j0 += 3 {
			dot4x3(a[i0*ld:], b[j0*ld:], ld, k, &blk)
			for r := range min(4, na-i0) {
				i := i0 + r
				for c := range min(3, nb-j0) {
					if j := j0 + c; !upper || j >= i {
						out[i*ldo+j] = blk[3*r+c]
					}
				}
			}
		}
	}
}
