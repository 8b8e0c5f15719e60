//go:build !purego

package detectors

import "testing"

// TestMaskedSumKernels: both assembly masked sums (AVX2 where the CPU has
// it, AVX-512 where it has that) equal the portable one bit for bit.
func TestMaskedSumKernels(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU")
	}
	rng := NewRand(19)
	for _, nw := range []int{1, 2, 5, 33} {
		row := make([]float64, 64*nw)
		bits := make([]uint64, nw)
		for i := range row {
			row[i] = rng.Float64() * float64(1+rng.IntN(1000))
		}
		for i := range bits {
			bits[i] = rng.Uint64()
		}
		bits[0] |= 1 << 63
		want := maskedSumGo(row, bits)
		if got := maskedSumAVX(&row[0], &bits[0], nw, &nibbleMasks); got != want {
			t.Errorf("nw=%d: AVX2 %v, portable %v", nw, got, want)
		}
		if !useAVX512 {
			continue
		}
		if got := maskedSumAVX512(&row[0], &bits[0], nw); got != want {
			t.Errorf("nw=%d: AVX-512 %v, portable %v", nw, got, want)
		}
	}
}
