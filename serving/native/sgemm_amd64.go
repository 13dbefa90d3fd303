//go:build !purego

package native

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The AVX2+FMA kernels of sgemm_amd64.s.

//go:noescape
func sgemmKernelAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, mr int, nr int, bias *float32, alpha float32, floor float32)

//go:noescape
func reluAVX2(y *float32, x *float32, n int)

//go:noescape
func stepTreesAVX2(nodes *keyNode, bases *int32, pos *int32, xk *int32, groups int)

//go:noescape
func walkCompleteAVX2(nodes *keyNode, depth int, xk *int32, feats int, offs *int32, pos *int32, groups int)

// simdSupported: x/sys/cpu reports AVX2 only when the OS saves the YMM
// registers.
func simdSupported() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// sgemmTileSIMD is sgemmTileGo with the assembly kernel.
func sgemmTileSIMD(k int, a []float32, lda int, b, c []float32, ldc, mr, nr int, bias []float32, alpha, floor float32) {
	var ap, bp *float32
	if k > 0 {
		ap, bp = &a[0], &b[0]
	}
	_ = c[(mr-1)*ldc+nr-1] // what the kernel writes is in c
	sgemmKernelAVX2(k, ap, lda, bp, unsafe.SliceData(c), ldc, mr, nr, &bias[0], alpha, floor)
}

// reluSIMD is relu on float32 with the assembly loop for the bulk.
func reluSIMD(y, x []float32) {
	x = x[:len(y)]
	n := len(y) &^ 31
	if n > 0 {
		reluAVX2(&y[0], &x[0], n)
	}
	reluF32(y[n:], x[n:])
}

// walkCompleteSIMD walks the groups of 8 rows of a complete tree with the
// assembly loop and returns how many rows it walked; pos is zero.
func walkCompleteSIMD(nodes []keyNode, depth int, xk []int32, feats int, pos []int32) int {
	groups := len(pos) / 8
	if groups == 0 || depth == 0 {
		return 0
	}
	_ = xk[groups*8*feats-1]
	var offs [8]int32
	for i := range offs {
		offs[i] = int32(i * feats)
	}
	walkCompleteAVX2(&nodes[0], depth, &xk[0], feats, &offs[0], &pos[0], groups)
	return groups * 8
}

// stepTreesSIMD steps the trees of groups of 8 with the assembly loop and
// returns how many trees it stepped.
func stepTreesSIMD(nodes []keyNode, bases, pos, xk []int32) int {
	groups := len(pos) / 8
	if groups == 0 {
		return 0
	}
	_ = bases[groups*8-1]
	stepTreesAVX2(&nodes[0], &bases[0], &pos[0], &xk[0], groups)
	return groups * 8
}
