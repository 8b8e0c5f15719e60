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

// dotLanesN is dotLanes for any length: the missing elements of the last
// group of four count as zeros, which leave their lanes unchanged, so it
// equals dotLanes of the rows zero-padded to a multiple of 4.
func dotLanesN(a, b []float64) float64 {
	var s [4]float64
	n := len(a) &^ 3
	b = b[:len(a)]
	for l := 0; l < n; l += 4 {
		s[0] = math.FMA(a[l], b[l], s[0])
		s[1] = math.FMA(a[l+1], b[l+1], s[1])
		s[2] = math.FMA(a[l+2], b[l+2], s[2])
		s[3] = math.FMA(a[l+3], b[l+3], s[3])
	}
	for l := n; l < len(a); l++ {
		s[l-n] = math.FMA(a[l], b[l], s[l-n])
	}
	return (s[0] + s[2]) + (s[1] + s[3])
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

// Exponential for the Gaussian kernels: exp(x) = 2^k·e^r with
// k = round(x·log2 e) and r = x − k·ln 2 (|r| ≤ ln2/2, ln 2 split in two
// parts as in fdlibm's exp), e^r by its Taylor polynomial to degree 13
// (truncation below 1e-17 relative) in Horner form with fused
// multiply-adds. It agrees with math.Exp to a few units in the last place;
// for x < −708 it returns 0 where math.Exp returns a value below 3.3e-308.
const (
	log2e  = 1.4426950408889634
	ln2Hi  = 6.93147180369123816490e-01
	ln2Lo  = 1.90821492927058770002e-10
	expCut = -708.0
)

// expTaylor[i] = 1/(13−i)!, highest degree first.
var expTaylor = func() (c [14]float64) {
	f := 1.0
	for i := 0; i <= 13; i++ {
		if i > 0 {
			f *= float64(i)
		}
		c[13-i] = 1 / f
	}
	return c
}()

// expTable is the assembly kernel's constants, each in four lanes.
type expTable [20][4]uint64

var expTab = func() (t expTable) {
	set := func(i int, v float64) {
		for l := range 4 {
			t[i][l] = math.Float64bits(v)
		}
	}
	set(0, log2e)
	set(1, ln2Hi)
	set(2, ln2Lo)
	set(3, expCut)
	for l := range 4 {
		t[4][l] = 1023
	}
	for i, c := range expTaylor {
		set(5+i, c)
	}
	return t
}()

// expScaledGo sets dst[j] = exp(c·src[j]) (see expTaylor) for x = c·src[j]
// ≤ 709; x NaN gives an unspecified value.
func expScaledGo(dst, src []float64, c float64) {
	for j, v := range src {
		x := c * v
		k := math.RoundToEven(x * log2e)
		r := math.FMA(-k, ln2Hi, x)
		r = math.FMA(-k, ln2Lo, r)
		p := expTaylor[0]
		for _, t := range expTaylor[1:] {
			p = math.FMA(r, p, t)
		}
		e := p * math.Float64frombits(uint64(int64(k)+1023)<<52)
		if x < expCut {
			e = 0
		}
		dst[j] = e
	}
}

// dot4x3F32Go is dot4x3 in float32 with eight lanes (k a multiple of 8),
// used only where an error bound, not bit-identity, is needed
// (medianSqDist): the assembly twin fuses the multiply-adds, this one
// does not, and both stay within the bound there.
func dot4x3F32Go(a, b []float32, ld, k int, out *[12]float64) {
	for r := range 4 {
		ar := a[r*ld : r*ld+k]
		for c := range 3 {
			br := b[c*ld : c*ld+k]
			var s [8]float32
			for l := 0; l+8 <= k; l += 8 {
				for q := range 8 {
					s[q] += ar[l+q] * br[l+q]
				}
			}
			out[3*r+c] = float64(((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])))
		}
	}
}
