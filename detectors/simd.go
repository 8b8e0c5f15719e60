package detectors

import "math"

// Portable twins of the AVX2 kernels in simd_amd64.s. Each performs the
// same floating-point operations in the same order as its assembly twin —
// fused multiply-adds (math.FMA) in four lanes, the same reduction tree —
// so a result does not depend on which one ran (TestSIMDMatchesPortable).

// dot4x3Go sets out[3r+c] = Σ_{l<k} a[r·ld+l]·b[c·ld+l] for r < 4, c < 3;
// k is a multiple of 4.
func dot4x3Go(a, b []float64, ld, k int, out *[12]float64) {
	for r := range 4 {
		ar := a[r*ld : r*ld+k]
		for c := range 3 {
			out[3*r+c] = dotLanes(ar, b[c*ld:c*ld+k])
		}
	}
}

// dotLanes is Σ a[l]·b[l] accumulated by FMA in lanes l%4, reduced as
// (l0+l2)+(l1+l3); len(a) is a multiple of 4 and len(b) ≥ len(a).
func dotLanes(a, b []float64) float64 {
	var s0, s1, s2, s3 float64
	b = b[:len(a)]
	for l := 0; l+4 <= len(a); l += 4 {
		s0 = math.FMA(a[l], b[l], s0)
		s1 = math.FMA(a[l+1], b[l+1], s1)
		s2 = math.FMA(a[l+2], b[l+2], s2)
		s3 = math.FMA(a[l+3], b[l+3], s3)
	}
	return (s0 + s2) + (s1 + s3)
}

// nibbleMasks[b] has all 64 bits of lane l set iff bit l of b is.
var nibbleMasks = func() (m [16][4]uint64) {
	for b := range 16 {
		for l := range 4 {
			if b>>l&1 == 1 {
				m[b][l] = ^uint64(0)
			}
		}
	}
	return m
}()

// maskedSumGo is Σ row[j] over the set bits j of bits (row holds at least
// 64·len(bits) values), accumulated in lanes j%16 where an unset bit adds
// +0, then ((A0+A1)+(A2+A3)) over the four 4-lane groups and (l0+l2)+(l1+l3).
func maskedSumGo(row []float64, bits []uint64) float64 {
	var s [16]float64
	for w, word := range bits {
		r := row[64*w : 64*w+64]
		for j, v := range r {
			if word>>uint(j)&1 == 0 {
				v = 0
			}
			s[j&15] += v
		}
	}
	var v [4]float64
	for l := range 4 {
		v[l] = (s[l] + s[4+l]) + (s[8+l] + s[12+l])
	}
	return (v[0] + v[2]) + (v[1] + v[3])
}
