//go:build !amd64 || purego

package native

// Without the assembly kernels (other architectures, or the purego build
// tag), the portable Go code runs.

func simdSupported() bool { return false }

func sgemmTileSIMD(k int, a []float32, lda int, b, c []float32, ldc, mr, nr int, bias []float32, alpha, floor float32) {
	sgemmTileGo(k, a, lda, b, c, ldc, mr, nr, bias, alpha, floor)
}

func reluSIMD(y, x []float32) { reluF32(y, x) }

func walkCompleteSIMD(nodes []keyNode, depth int, xk []int32, feats int, pos []int32) int { return 0 }

func stepTreesSIMD(nodes []keyNode, bases, pos, xk []int32) int { return 0 }
