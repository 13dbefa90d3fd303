package native

import (
	"math"
	"os"
)

// Float32 matrix products (Gemm, MatMul) in the manner of ONNX Runtime's
// MLAS: B' (the weights, constant for most models) is packed once, at load
// time, into panels of gemmNR columns, and a micro-kernel computes tiles of
// gemmMR×gemmNR elements of the result in registers, then stores
// max(floor, alpha·acc + bias) — so that a Gemm's bias and a Relu that
// follows it cost nothing more. The kernel is AVX2+FMA assembly on amd64
// processors that have it (sgemm_amd64.s), portable Go elsewhere.
//
// Each element is a sum of products accumulated in float32, in order of k
// (with fused multiply-adds in the assembly kernel, as MLAS does), then
// scaled by alpha and added to the bias.

const (
	gemmMR = 6  // rows of a tile
	gemmNR = 16 // columns of a tile, and of a panel of packed B

	// gemmPanelBytes bounds the packed panels a sweep over the rows reads,
	// so that they stay in the L2 cache.
	gemmPanelBytes = 256 << 10
)

// useSIMD selects the assembly kernels where the processor has them.
// LANTERN_NATIVE_SIMD=0 turns them off; tests switch it to compare both.
var useSIMD = simdSupported() && os.Getenv("LANTERN_NATIVE_SIMD") != "0"

// negZero is the bias that adds nothing: x + -0 is x for every x, -0
// included.
var negZero = float32(math.Copysign(0, -1))

// noFloor is the floor that changes nothing (a Relu's is 0).
var noFloor = float32(math.Inf(-1))

// panelsOf is the number of panels of N columns.
func panelsOf(N int) int { return (N + gemmNR - 1) / gemmNR }

// packedLen is the length of B' (K×N) packed.
func packedLen(K, N int) int { return panelsOf(N) * gemmNR * K }

// packB packs B' = transB ? Bᵀ : B (K×N; B is N×K when transB) into dst,
// panel after panel: panel p holds, for k = 0..K-1, the elements
// p*gemmNR..p*gemmNR+15 of row k of B', zero past N.
func packB(dst, b []float32, K, N int, transB bool) {
	dst = dst[:packedLen(K, N)]
	for p := range panelsOf(N) {
		j0 := p * gemmNR
		nr := min(gemmNR, N-j0)
		pan := dst[p*K*gemmNR : (p+1)*K*gemmNR]
		for k := range K {
			row := pan[k*gemmNR : k*gemmNR+gemmNR]
			if transB {
				for j := range nr {
					row[j] = b[(j0+j)*K+k]
				}
			} else {
				copy(row, b[k*N+j0:k*N+j0+nr])
			}
			clear(row[nr:])
		}
	}
}

// fillBias writes the bias row of a Gemm into dst (panelsOf(N)*gemmNR
// elements): beta·C broadcast along the rows, C having cCols (1 or N)
// columns; without C, or past N, -0.
func fillBias(dst, c []float32, cCols, N int, beta float32) {
	dst = dst[:panelsOf(N)*gemmNR]
	for j := range dst {
		dst[j] = negZero
	}
	switch {
	case c == nil:
	case cCols == 1:
		v := beta * c[0]
		for j := range N {
			dst[j] = v
		}
	default:
		for j, v := range c[:N] {
			dst[j] = beta * v
		}
	}
}

// sgemm is one product y (M×N, row-major) = max(floor, alpha·a·b + bias),
// a being M×K row-major and b packed. Its rows go by blocks of gemmMR, and
// a range of blocks is a unit of work for parallelFor.
type sgemm struct {
	y, a, b, bias []float32
	M, N, K       int
	alpha, floor  float32
}

// blocks is the number of row blocks.
func (g *sgemm) blocks() int { return (g.M + gemmMR - 1) / gemmMR }

// run computes the product on up to threads goroutines.
func (g *sgemm) run(c *runCtx) {
	if g.M == 0 || g.N == 0 {
		return
	}
	n := g.blocks()
	if g.M >= parallelRows && g.M*g.N*g.K >= gemmParallelWork {
		if threads := c.threads(); threads > 1 {
			parallelFor(c.job(), g, n, threads)
			return
		}
	}
	g.runRange(0, n)
}

// gemmParallelWork is the number of multiply-adds from which a product is
// split across threads: a few microseconds of work with the AVX2 kernel,
// for a parallel loop that costs about one.
const gemmParallelWork = 1 << 16

// runRange computes the row blocks [lo, hi).
func (g *sgemm) runRange(lo, hi int) {
	r0, r1 := lo*gemmMR, min(hi*gemmMR, g.M)
	N, K := g.N, g.K
	panels := panelsOf(N)
	group := panels
	if K > 0 {
		group = max(1, gemmPanelBytes/(K*gemmNR*4))
	}
	simd := useSIMD
	for p0 := 0; p0 < panels; p0 += group {
		p1 := min(p0+group, panels)
		for i := r0; i < r1; i += gemmMR {
			mr := min(gemmMR, r1-i)
			a := g.a[i*K:]
			y := g.y[i*N:]
			for p := p0; p < p1; p++ {
				j := p * gemmNR
				nr := min(gemmNR, N-j)
				b := g.b[p*K*gemmNR:]
				if simd {
					sgemmTileSIMD(K, a, K, b, y[j:], N, mr, nr, g.bias[j:], g.alpha, g.floor)
				} else {
					sgemmTileGo(K, a, K, b, y[j:], N, mr, nr, g.bias[j:], g.alpha, g.floor)
				}
			}
		}
	}
}

// sgemmTileGo computes a tile in Go: rows 0..mr-1, columns 0..nr-1 of c
// (row stride ldc) = max(floor, alpha·a·b + bias), a being mr rows of k
// elements (row stride lda), b a packed panel; floor is 0 (a Relu) or
// -Inf. Three rows by two columns at a time (dot3x2), then a row by four
// columns (dot1x4).
func sgemmTileGo(k int, a []float32, lda int, b, c []float32, ldc, mr, nr int, bias []float32, alpha, floor float32) {
	b = b[:k*gemmNR]
	bias = bias[:gemmNR]
	relu := floor == 0
	store := func(r, j int, v float32) {
		v = float32(alpha*v) + bias[j]
		if relu {
			v = relu32(v)
		}
		c[r*ldc+j] = v
	}
	r := 0
	for ; r+3 <= mr; r += 3 {
		a0, a1, a2 := a[r*lda:r*lda+k], a[(r+1)*lda:(r+1)*lda+k], a[(r+2)*lda:(r+2)*lda+k]
		for j := 0; j < nr; j += 2 {
			var s [6]float32
			if k > 0 {
				s = dot3x2(a0, a1, a2, b[j:])
			}
			for i := range 3 {
				store(r+i, j, s[2*i])
				if j+1 < nr {
					store(r+i, j+1, s[2*i+1])
				}
			}
		}
	}
	for ; r < mr; r++ {
		a0 := a[r*lda : r*lda+k]
		for j := 0; j < nr; j += 4 {
			var s [4]float32
			if k > 0 {
				s = dot1x4(a0, b[j:])
			}
			for jj := range min(4, nr-j) {
				store(r, j+jj, s[jj])
			}
		}
	}
}

// dot3x2 returns the sums of products of rows a0, a1, a2 (of one length)
// with the first two columns of b, a packed panel. A function of its own,
// so that the six sums stay in registers.
func dot3x2(a0, a1, a2, b []float32) [6]float32 {
	var s0, s1, t0, t1, u0, u1 float32
	a1, a2 = a1[:len(a0)], a2[:len(a0)]
	o := 0
	for kk, x := range a0 {
		b0, b1 := b[o], b[o+1]
		y, z := a1[kk], a2[kk]
		s0 += x * b0
		s1 += x * b1
		t0 += y * b0
		t1 += y * b1
		u0 += z * b0
		u1 += z * b1
		o += gemmNR
	}
	return [6]float32{s0, s1, t0, t1, u0, u1}
}

// dot1x4 returns the sums of products of row a0 with the first four
// columns of b, a packed panel.
func dot1x4(a0, b []float32) [4]float32 {
	var s0, s1, s2, s3 float32
	o := 0
	for _, x := range a0 {
		bk := b[o : o+4]
		s0 += x * bk[0]
		s1 += x * bk[1]
		s2 += x * bk[2]
		s3 += x * bk[3]
		o += gemmNR
	}
	return [4]float32{s0, s1, s2, s3}
}

// relu32 is v < 0 ? 0 : v (NaN and -0 kept) without a jump: the signs of
// the products of a layer are random, and a branch on them mispredicts
// half the time.
func relu32(v float32) float32 {
	b := math.Float32bits(v)
	if b-0x80000001 <= 0x7f7fffff { // -Inf <= v < 0: sign set, not -0, not NaN
		b = 0
	}
	return math.Float32frombits(b)
}

// reluF32 is Relu on float32 with relu32.
func reluF32(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = relu32(v)
	}
}
