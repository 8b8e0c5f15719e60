//go:build !purego

package detectors

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels of simd_amd64.s; without AVX2 and
// FMA (x86 CPUs before 2013), or built with -tags purego, the portable
// twins in simd.go run, with identical results.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX512 selects the AVX-512 masked sum (merge-masked adds, about 2×
// the AVX2 one on the relabelling sums); same results.
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F

//go:noescape
func dot4x3AVX(a, b *float64, ld, k int, out *[12]float64)

//go:noescape
func maskedSumAVX(row *float64, bits *uint64, nw int, lut *[16][4]uint64) float64

//go:noescape
func maskedSumAVX512(row *float64, bits *uint64, nw int) float64

func dot4x3(a, b []float64, ld, k int, out *[12]float64) {
	if useAVX2 {
		_ = a[3*ld+k-1]
		_ = b[2*ld+k-1]
		dot4x3AVX(&a[0], &b[0], ld, k, out)
		return
	}
	dot4x3Go(a, b, ld, k, out)
}

func maskedSum(row []float64, bits []uint64) float64 {
	if useAVX2 {
		if len(bits) == 0 {
			return 0
		}
		_ = row[64*len(bits)-1]
		if useAVX512 {
			return maskedSumAVX512(&row[0], &bits[0], len(bits))
		}
		return maskedSumAVX(&row[0], &bits[0], len(bits), &nibbleMasks)
	}
	return maskedSumGo(row, bits)
}

//go:noescape
func expScaledAVX(dst, src *float64, n int, c float64, tab *expTable)

// expScaled sets dst[j] = exp(c·src[j]) as expScaledGo; dst may be src.
func expScaled(dst, src []float64, c float64) {
	n := len(src) &^ 3
	if useAVX2 && n > 0 {
		_ = dst[n-1]
		expScaledAVX(&dst[0], &src[0], n, c, &expTab)
		expScaledGo(dst[n:], src[n:], c)
		return
	}
	expScaledGo(dst, src, c)
}

//go:noescape
func dot4x3F32AVX(a, b *float32, ld, k int, out *[12]float64)

func dot4x3F32(a, b []float32, ld, k int, out *[12]float64) {
	if useAVX2 {
		_ = a[3*ld+k-1]
		_ = b[2*ld+k-1]
		dot4x3F32AVX(&a[0], &b[0], ld, k, out)
		return
	}
	dot4x3F32Go(a, b, ld, k, out)
}
