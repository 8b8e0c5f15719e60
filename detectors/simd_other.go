//go:build !amd64 || purego

package detectors

const useAVX2 = false

func dot4x3(a, b []float64, ld, k int, out *[12]float64) { dot4x3Go(a, b, ld, k, out) }

func maskedSum(row []float64, bits []uint64) float64 { return maskedSumGo(row, bits) }

func expScaled(dst, src []float64, c float64) { expScaledGo(dst, src, c) }

func dot4x3F32(a, b []float32, ld, k int, out *[12]float64) { dot4x3F32Go(a, b, ld, k, out) }
