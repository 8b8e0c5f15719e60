//go:build !purego

#include "textflag.h"

// AVX2+FMA kernels for kernel.go's Gram matrix and mmd.go's masked
// permutation sums. Each computes exactly what its portable twin in
// simd.go computes, operation for operation (same lanes, same fused
// multiply-adds, same reduction order), so the two give identical bits;
// TestSIMDMatchesPortable checks it.

// func dot4x3AVX(a, b *float64, ld, k int, out *[12]float64)
// out[3r+c] = Σ_l a[r·ld+l]·b[c·ld+l], l < k, k a multiple of 4: lane
// l%4 accumulates by FMA, then (l0+l2)+(l1+l3).
TEXT ·dot4x3AVX(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ ld+16(FP), R8
	SHLQ $3, R8
	MOVQ k+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (SI)(R8*2), R9
	LEAQ (DI)(R8*2), R10
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	VXORPD Y12, Y12, Y12
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14
	VXORPD Y15, Y15, Y15
	SHRQ $2, CX
	JZ   reduce

loop:
	VMOVUPD (DI), Y0
	VMOVUPD (DI)(R8*1), Y1
	VMOVUPD (R10), Y2
	VMOVUPD (SI), Y3
	VFMADD231PD Y0, Y3, Y4
	VFMADD231PD Y1, Y3, Y5
	VFMADD231PD Y2, Y3, Y6
	VMOVUPD (SI)(R8*1), Y3
	VFMADD231PD Y0, Y3, Y7
	VFMADD231PD Y1, Y3, Y8
	VFMADD231PD Y2, Y3, Y9
	VMOVUPD (R9), Y3
	VFMADD231PD Y0, Y3, Y10
	VFMADD231PD Y1, Y3, Y11
	VFMADD231PD Y2, Y3, Y12
	VMOVUPD (R9)(R8*1), Y3
	VFMADD231PD Y0, Y3, Y13
	VFMADD231PD Y1, Y3, Y14
	VFMADD231PD Y2, Y3, Y15
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  loop

reduce:
#define RED(Y, X, off) \
	VEXTRACTF128 $1, Y, X0; \
	VADDPD       X0, X, X0; \
	VPERMILPD    $1, X0, X1; \
	VADDSD       X1, X0, X0; \
	MOVSD        X0, off(DX)

	RED(Y4, X4, 0)
	RED(Y5, X5, 8)
	RED(Y6, X6, 16)
	RED(Y7, X7, 24)
	RED(Y8, X8, 32)
	RED(Y9, X9, 40)
	RED(Y10, X10, 48)
	RED(Y11, X11, 56)
	RED(Y12, X12, 64)
	RED(Y13, X13, 72)
	RED(Y14, X14, 80)
	RED(Y15, X15, 88)
	VZEROUPPER
	RET

// func maskedSumAVX(row *float64, bits *uint64, nw int, lut *[16][4]uint64) float64
// Σ row[j] over the set bits j of bits[0:nw] (row has 64·nw elements):
// element j goes to lane j%16 (four 4-lane accumulators), masked-out
// elements add +0; then ((A0+A1)+(A2+A3)) lane-wise and (l0+l2)+(l1+l3).
TEXT ·maskedSumAVX(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ bits+8(FP), BX
	MOVQ nw+16(FP), CX
	MOVQ lut+24(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	TESTQ CX, CX
	JZ    mdone

#define STEP(off, acc, tmp) \
	MOVQ    DX, R8; \
	ANDQ    $15, R8; \
	SHLQ    $5, R8; \
	VMOVUPD (DI)(R8*1), tmp; \
	VANDPD  off(SI), tmp, tmp; \
	VADDPD  tmp, acc, acc; \
	SHRQ    $4, DX

mword:
	MOVQ (BX), DX
	STEP(0, Y0, Y4)
	STEP(32, Y1, Y5)
	STEP(64, Y2, Y6)
	STEP(96, Y3, Y7)
	STEP(128, Y0, Y4)
	STEP(160, Y1, Y5)
	STEP(192, Y2, Y6)
	STEP(224, Y3, Y7)
	STEP(256, Y0, Y4)
	STEP(288, Y1, Y5)
	STEP(320, Y2, Y6)
	STEP(352, Y3, Y7)
	STEP(384, Y0, Y4)
	STEP(416, Y1, Y5)
	STEP(448, Y2, Y6)
	STEP(480, Y3, Y7)
	ADDQ $512, SI
	ADDQ $8, BX
	DECQ CX
	JNZ  mword

mdone:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VZEROUPPER
	MOVSD X0, ret+32(FP)
	RET

// func expScaledAVX(dst, src *float64, n int, c float64, tab *expTable)
// dst[j] = exp(c·src[j]) for j < n, n a multiple of 4, as expScaledGo.
TEXT ·expScaledAVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD c+24(FP), Y15
	MOVQ tab+32(FP), R8
	VMOVUPD 0(R8), Y14   // log2(e)
	VMOVUPD 32(R8), Y13  // ln2 high part
	VMOVUPD 64(R8), Y12  // ln2 low part
	VMOVUPD 96(R8), Y11  // cut-off −708
	VMOVUPD 128(R8), Y10 // int64 1023
	SHRQ $2, CX
	JZ   edone

eloop:
	VMULPD       (SI), Y15, Y0
	VMULPD       Y0, Y14, Y1
	VROUNDPD     $0, Y1, Y1
	VMOVAPD      Y0, Y2
	VFNMADD231PD Y13, Y1, Y2
	VFNMADD231PD Y12, Y1, Y2
	VMOVUPD      160(R8), Y3
	VFMADD213PD  192(R8), Y2, Y3
	VFMADD213PD  224(R8), Y2, Y3
	VFMADD213PD  256(R8), Y2, Y3
	VFMADD213PD  288(R8), Y2, Y3
	VFMADD213PD  320(R8), Y2, Y3
	VFMADD213PD  352(R8), Y2, Y3
	VFMADD213PD  384(R8), Y2, Y3
	VFMADD213PD  416(R8), Y2, Y3
	VFMADD213PD  448(R8), Y2, Y3
	VFMADD213PD  480(R8), Y2, Y3
	VFMADD213PD  512(R8), Y2, Y3
	VFMADD213PD  544(R8), Y2, Y3
	VFMADD213PD  576(R8), Y2, Y3
	VCVTPD2DQY   Y1, X5
	VPMOVSXDQ    X5, Y5
	VPADDQ       Y10, Y5, Y5
	VPSLLQ       $52, Y5, Y5
	VMULPD       Y5, Y3, Y3
	VCMPPD       $1, Y11, Y0, Y6
	VANDNPD      Y3, Y6, Y3
	VMOVUPD      Y3, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          eloop

edone:
	VZEROUPPER
	RET

// func dot4x3F32AVX(a, b *float32, ld, k int, out *[12]float64)
// As dot4x3 in float32 with eight lanes (k a multiple of 8); each sum is
// reduced lane-wise as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)) and widened.
TEXT ·dot4x3F32AVX(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ k+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (SI)(R8*2), R9
	LEAQ (DI)(R8*2), R10
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	SHRQ $3, CX
	JZ   freduce

floop:
	VMOVUPS (DI), Y0
	VMOVUPS (DI)(R8*1), Y1
	VMOVUPS (R10), Y2
	VMOVUPS (SI), Y3
	VFMADD231PS Y0, Y3, Y4
	VFMADD231PS Y1, Y3, Y5
	VFMADD231PS Y2, Y3, Y6
	VMOVUPS (SI)(R8*1), Y3
	VFMADD231PS Y0, Y3, Y7
	VFMADD231PS Y1, Y3, Y8
	VFMADD231PS Y2, Y3, Y9
	VMOVUPS (R9), Y3
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y1, Y3, Y11
	VFMADD231PS Y2, Y3, Y12
	VMOVUPS (R9)(R8*1), Y3
	VFMADD231PS Y0, Y3, Y13
	VFMADD231PS Y1, Y3, Y14
	VFMADD231PS Y2, Y3, Y15
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  floop

freduce:
#define FRED(Y, X, off) \
	VEXTRACTF128 $1, Y, X0; \
	VADDPS       X0, X, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0; \
	VCVTSS2SD    X0, X0, X0; \
	MOVSD        X0, off(DX)

	FRED(Y4, X4, 0)
	FRED(Y5, X5, 8)
	FRED(Y6, X6, 16)
	FRED(Y7, X7, 24)
	FRED(Y8, X8, 32)
	FRED(Y9, X9, 40)
	FRED(Y10, X10, 48)
	FRED(Y11, X11, 56)
	FRED(Y12, X12, 64)
	FRED(Y13, X13, 72)
	FRED(Y14, X14, 80)
	FRED(Y15, X15, 88)
	VZEROUPPER
	RET

// func maskedSumAVX512(row *float64, bits *uint64, nw int) float64
// maskedSumAVX with AVX-512 merge-masked adds: the same sixteen lanes
// (element j in lane j%16: two 8-lane accumulators) and the same reduction;
// a masked-out element leaves its lane as it is, where maskedSumAVX adds
// +0 — the same value, as no lane holds −0.
TEXT ·maskedSumAVX512(SB), NOSPLIT, $0-32
	MOVQ   row+0(FP), SI
	MOVQ   bits+8(FP), BX
	MOVQ   nw+16(FP), CX
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	TESTQ  CX, CX
	JZ     zdone

zword:
	KMOVW    0(BX), K1
	KSHIFTRW $8, K1, K2
	VADDPD   0(SI), Z0, K1, Z0
	VADDPD   64(SI), Z1, K2, Z1
	KMOVW    2(BX), K3
	KSHIFTRW $8, K3, K4
	VADDPD   128(SI), Z0, K3, Z0
	VADDPD   192(SI), Z1, K4, Z1
	KMOVW    4(BX), K1
	KSHIFTRW $8, K1, K2
	VADDPD   256(SI), Z0, K1, Z0
	VADDPD   320(SI), Z1, K2, Z1
	KMOVW    6(BX), K3
	KSHIFTRW $8, K3, K4
	VADDPD   384(SI), Z0, K3, Z0
	VADDPD   448(SI), Z1, K4, Z1
	ADDQ     $512, SI
	ADDQ     $8, BX
	DECQ     CX
	JNZ      zword

zdone:
	VEXTRACTF64X4 $1, Z0, Y2
	VADDPD        Y2, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y3
	VADDPD        Y3, Y1, Y1
	VADDPD        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPD        X1, X0, X0
	VPERMILPD     $1, X0, X1
	VADDSD        X1, X0, X0
	VZEROUPPER
	MOVSD         X0, ret+24(FP)
	RET
