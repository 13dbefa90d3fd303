//go:build !purego

#include "textflag.h"

// The AVX2+FMA kernels of sgemm_amd64.go. Plan 9 operand order: the
// destination is last (VFMADD231PS b, a, acc is acc += a*b; VMAXPS v, f, d
// is d = f > v ? f : v).

// func sgemmKernelAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, mr int, nr int, bias *float32, alpha float32, floor float32)
//
// A 6×16 tile of C: rows 0..mr-1, columns 0..nr-1 of C (row stride ldc)
// get max(floor, alpha·(A·B) + bias). A is mr rows of k elements (row
// stride lda; rows past mr read row 0 and are not stored), B a packed
// panel of k rows of 16 elements, bias 16 elements. The products of each
// element are accumulated with fused multiply-adds in order of k. A tile
// of 8 columns or fewer computes only those; a tile narrower than 16 is
// written through the frame, in pieces of 8, 4, 2 and 1 columns (masked
// stores, VMASKMOVPS, are slow on AMD processors).
TEXT ·sgemmKernelAVX2(SB), $384-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), DX
	SHLQ $2, DX
	MOVQ b+24(FP), BX
	MOVQ mr+48(FP), R12
	MOVQ nr+56(FP), R13

	// Row pointers SI, DI, R8..R11; a row at or past mr reads row 0.
	LEAQ (SI)(DX*1), DI
	CMPQ R12, $2
	CMOVQLT SI, DI
	LEAQ (SI)(DX*2), R8
	CMPQ R12, $3
	CMOVQLT SI, R8
	LEAQ (DX)(DX*2), AX
	LEAQ (SI)(AX*1), R9
	CMPQ R12, $4
	CMOVQLT SI, R9
	LEAQ (SI)(DX*4), R10
	CMPQ R12, $5
	CMOVQLT SI, R10
	LEAQ (AX)(DX*2), AX
	LEAQ (SI)(AX*1), R11
	CMPQ R12, $6
	CMOVQLT SI, R11

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	XORQ AX, AX
	TESTQ CX, CX
	JEQ epilogue
	CMPQ R13, $8
	JLE loop8

loop:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	VBROADCASTSS (SI)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS (DI)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS (R8)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS (R9)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS (R10)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS (R11)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ $64, BX
	ADDQ $4, AX
	DECQ CX
	JNE  loop
	JMP  epilogue

loop8:
	// Columns 0..7 only.
	VMOVUPS (BX), Y12
	VBROADCASTSS (SI)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y0
	VBROADCASTSS (DI)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y2
	VBROADCASTSS (R8)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y4
	VBROADCASTSS (R9)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VBROADCASTSS (R10)(AX*1), Y14
	VFMADD231PS Y12, Y14, Y8
	VBROADCASTSS (R11)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y10
	ADDQ $64, BX
	ADDQ $4, AX
	DECQ CX
	JNE  loop8

epilogue:
	// acc = max(floor, alpha*acc + bias): the product is rounded before
	// the bias is added, as ONNX Runtime scales then adds C.
	MOVQ bias+64(FP), DX
	VMOVUPS (DX), Y12
	VMOVUPS 32(DX), Y13
	VBROADCASTSS alpha+72(FP), Y14
	VBROADCASTSS floor+76(FP), Y15

#define SCALE(A0, A1) \
	VMULPS Y14, A0, A0; \
	VMULPS Y14, A1, A1; \
	VADDPS Y12, A0, A0; \
	VADDPS Y13, A1, A1; \
	VMAXPS A0, Y15, A0; \
	VMAXPS A1, Y15, A1

	SCALE(Y0, Y1)
	SCALE(Y2, Y3)
	SCALE(Y4, Y5)
	SCALE(Y6, Y7)
	SCALE(Y8, Y9)
	SCALE(Y10, Y11)

	MOVQ c+32(FP), DI
	MOVQ ldc+40(FP), DX
	SHLQ $2, DX
	CMPQ R13, $16
	JLT  partial

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	CMPQ R12, $1
	JLE done
	ADDQ DX, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	CMPQ R12, $2
	JLE done
	ADDQ DX, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	CMPQ R12, $3
	JLE done
	ADDQ DX, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	CMPQ R12, $4
	JLE done
	ADDQ DX, DI
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	CMPQ R12, $5
	JLE done
	ADDQ DX, DI
	VMOVUPS Y10, (DI)
	VMOVUPS Y11, 32(DI)

done:
	VZEROUPPER
	RET

partial:
	// The tile to the frame, then nr columns of each of the mr rows to C.
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y1, 32(SP)
	VMOVUPS Y2, 64(SP)
	VMOVUPS Y3, 96(SP)
	VMOVUPS Y4, 128(SP)
	VMOVUPS Y5, 160(SP)
	VMOVUPS Y6, 192(SP)
	VMOVUPS Y7, 224(SP)
	VMOVUPS Y8, 256(SP)
	VMOVUPS Y9, 288(SP)
	VMOVUPS Y10, 320(SP)
	VMOVUPS Y11, 352(SP)
	MOVQ SP, SI

partrow:
	MOVQ R13, CX
	XORQ AX, AX
	CMPQ CX, $8
	JLT  part4
	VMOVUPS (SI), Y12
	VMOVUPS Y12, (DI)
	MOVQ $32, AX
	SUBQ $8, CX

part4:
	CMPQ CX, $4
	JLT  part2
	VMOVUPS (SI)(AX*1), X12
	VMOVUPS X12, (DI)(AX*1)
	ADDQ $16, AX
	SUBQ $4, CX

part2:
	CMPQ CX, $2
	JLT  part1
	MOVQ (SI)(AX*1), R8
	MOVQ R8, (DI)(AX*1)
	ADDQ $8, AX
	SUBQ $2, CX

part1:
	TESTQ CX, CX
	JEQ  partnext
	MOVL (SI)(AX*1), R8
	MOVL R8, (DI)(AX*1)

partnext:
	ADDQ $64, SI
	ADDQ DX, DI
	DECQ R12
	JNE  partrow
	JMP  done

// func reluAVX2(y *float32, x *float32, n int)
//
// y[i] = x[i] < 0 ? 0 : x[i] for i < n, n a multiple of 32: VMAXPS with 0
// as first operand keeps NaN and -0, as the Go loop does.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JEQ  reludone
	VXORPS Y15, Y15, Y15

reluloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMAXPS Y0, Y15, Y0
	VMAXPS Y1, Y15, Y1
	VMAXPS Y2, Y15, Y2
	VMAXPS Y3, Y15, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNE  reluloop
	VZEROUPPER

reludone:
	RET

// func walkCompleteAVX2(nodes *keyNode, depth int, xk *int32, feats int, offs *int32, pos *int32, groups int)
//
// depth levels of a complete tree for groups of 8 rows of keys (feats a
// row, from xk): pos[i] (zero on entry) becomes 2·pos[i]+1, or +2 when
// the row's key of the node's feature is greater than the node's key.
// offs holds 0, feats, ..., 7·feats. Level by level, so that the walks of
// the groups overlap. A node (feature, key) is gathered as one 8-byte
// element, two gathers of 4 rather than two of 8: gathers cost by the
// element; the lanes then come in the order 0 1 4 5 2 3 6 7 until the
// comparison is put back in order.
TEXT ·walkCompleteAVX2(SB), NOSPLIT, $0-56
	MOVQ nodes+0(FP), SI
	MOVQ depth+8(FP), CX
	MOVQ xk+16(FP), DX
	MOVQ feats+24(FP), R10
	SHLQ $5, R10 // the keys of 8 rows, in bytes
	MOVQ offs+32(FP), AX
	VMOVDQU (AX), Y15
	VPERMQ $0xD8, Y15, Y13
	MOVQ pos+40(FP), DI
	MOVQ groups+48(FP), R9
	VPCMPEQD Y14, Y14, Y14 // -1
	TESTQ CX, CX
	JEQ  walkdone
	TESTQ R9, R9
	JEQ  walkdone

walklevel:
	MOVQ DI, R11
	MOVQ DX, R12
	MOVQ R9, R13

walkgroup:
	VMOVDQU (R11), Y0
	VEXTRACTI128 $1, Y0, X8
	VMOVDQA Y14, Y1
	VPGATHERDQ Y1, (SI)(X0*8), Y2 // rows 0-3: feature, key
	VMOVDQA Y14, Y3
	VPGATHERDQ Y3, (SI)(X8*8), Y4 // rows 4-7
	VSHUFPS $0x88, Y4, Y2, Y5 // features of rows 0 1 4 5 | 2 3 6 7
	VSHUFPS $0xDD, Y4, Y2, Y4 // keys, in that order
	VPADDD Y13, Y5, Y5 // Y13: the offsets of the rows, in that order
	VMOVDQA Y14, Y1
	VPGATHERDD Y1, (R12)(Y5*4), Y6 // the rows' keys
	VPCMPGTD Y4, Y6, Y7 // -1 where x > key
	VPERMQ $0xD8, Y7, Y7 // rows in order
	VPADDD Y0, Y0, Y0
	VPSUBD Y7, Y0, Y0
	VPSUBD Y14, Y0, Y0
	VMOVDQU Y0, (R11)
	ADDQ $32, R11
	ADDQ R10, R12
	DECQ R13
	JNE  walkgroup
	DECQ CX
	JNE  walklevel

walkdone:
	VZEROUPPER
	RET

// func stepTreesAVX2(nodes *keyNode, bases *int32, pos *int32, xk *int32, groups int)
//
// One level of 8·groups complete trees for one row of keys xk: the node
// of tree j is nodes[bases[j]+pos[j]], and pos[j] becomes 2·pos[j]+1, or
// +2 when the row's key of the node's feature is greater than its key.
TEXT ·stepTreesAVX2(SB), NOSPLIT, $0-40
	MOVQ nodes+0(FP), SI
	MOVQ bases+8(FP), BX
	MOVQ pos+16(FP), DI
	MOVQ xk+24(FP), DX
	MOVQ groups+32(FP), CX
	VPCMPEQD Y14, Y14, Y14 // -1
	TESTQ CX, CX
	JEQ  stepdone

steploop:
	VMOVDQU (DI), Y0
	VMOVDQU (BX), Y1
	VPADDD Y0, Y1, Y1
	VEXTRACTI128 $1, Y1, X9
	VMOVDQA Y14, Y2
	VPGATHERDQ Y2, (SI)(X1*8), Y3 // trees 0-3: feature, key
	VMOVDQA Y14, Y4
	VPGATHERDQ Y4, (SI)(X9*8), Y5 // trees 4-7
	VSHUFPS $0x88, Y5, Y3, Y6 // features of trees 0 1 4 5 | 2 3 6 7
	VSHUFPS $0xDD, Y5, Y3, Y5 // keys, in that order
	VMOVDQA Y14, Y2
	VPGATHERDD Y2, (DX)(Y6*4), Y7 // the row's keys
	VPCMPGTD Y5, Y7, Y8 // -1 where x > key
	VPERMQ $0xD8, Y8, Y8 // trees in order
	VPADDD Y0, Y0, Y0
	VPSUBD Y8, Y0, Y0
	VPSUBD Y14, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, BX
	DECQ CX
	JNE  steploop
	VZEROUPPER

stepdone:
	RET
