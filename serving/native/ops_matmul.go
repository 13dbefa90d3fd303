package native

import (
	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainONNX, "Gemm", []int{1, 6, 7, 9, 11, 13}, buildGemm)
	register(domainONNX, "MatMul", []int{1, 9, 13}, buildMatMul)
}

// Gemm: Y = alpha * A' * B' + beta * C, A' = transA ? Aᵀ : A, likewise B'.
type gemmKernel struct {
	alpha, beta    float32
	transA, transB bool
	relu           bool // a Relu merged in by the planner (plan.fuse)

	// For FLOAT: B' packed at load time when B is a constant (packedK×packedN),
	// and the bias row of a constant C (beta·C, or -0 without C).
	packed           []float32
	packedK, packedN int
	bias             []float32
}

func buildGemm(b *builder) error {
	minIn := 3
	if b.version >= 11 {
		minIn = 2
	}
	if err := b.needInputs(minIn, 3); err != nil {
		return err
	}
	if err := b.typeIn(0, floatTypes...); err != nil {
		return err
	}
	for i := 1; i < 3; i++ {
		if b.present(i) && b.in[i].dtype != b.in[0].dtype {
			return invalidModelf("input %d is %s, want %s", i, b.in[i].dtype.ONNX(), b.in[0].dtype.ONNX())
		}
	}
	k := &gemmKernel{}
	var err error
	if k.alpha, err = b.attrs.float("alpha", 1); err != nil {
		return err
	}
	if k.beta, err = b.attrs.float("beta", 1); err != nil {
		return err
	}
	ta, err := b.attrs.int("transA", 0)
	if err != nil {
		return err
	}
	tb, err := b.attrs.int("transB", 0)
	if err != nil {
		return err
	}
	k.transA, k.transB = ta != 0, tb != 0
	for i := 0; i < 2; i++ {
		if s := b.in[i].shape; s != nil && len(s) != 2 {
			return invalidModelf("input %d has rank %d, want 2", i, len(s))
		}
	}
	out := []int64{-1, -1}
	if s := b.in[0].shape; s != nil {
		out[0] = s[boolIndex(k.transA, 1, 0)]
	}
	if s := b.in[1].shape; s != nil {
		out[1] = s[boolIndex(k.transB, 0, 1)]
	}
	if b.in[0].dtype == tensor.Float32 {
		var ct *tensor.Tensor
		if b.present(2) {
			ct = b.consts[2]
		}
		k.prepack(b.consts[1], b.present(2), ct)
	}
	b.k = k
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

// prepack packs a constant B, and makes the bias row of a constant C that
// broadcasts along the rows (or of no C).
func (k *gemmKernel) prepack(bt *tensor.Tensor, hasC bool, ct *tensor.Tensor) {
	if bt == nil || len(bt.Shape) != 2 {
		return
	}
	K, N := int(bt.Shape[0]), int(bt.Shape[1])
	if k.transB {
		K, N = N, K
	}
	k.packed = make([]float32, packedLen(K, N))
	packB(k.packed, view[float32](bt.Raw), K, N, k.transB)
	k.packedK, k.packedN = K, N
	if !hasC || k.beta == 0 {
		k.bias = make([]float32, panelsOf(N)*gemmNR)
		fillBias(k.bias, nil, 0, N, 0)
		return
	}
	if ct == nil {
		return
	}
	cCols := 1
	switch len(ct.Shape) {
	case 0:
	case 1:
		cCols = int(ct.Shape[0])
	case 2:
		if ct.Shape[0] != 1 {
			return
		}
		cCols = int(ct.Shape[1])
	default:
		return
	}
	if cCols != 1 && cCols != N {
		return // Run reports it
	}
	k.bias = make([]float32, panelsOf(N)*gemmNR)
	fillBias(k.bias, view[float32](ct.Raw), cCols, N, k.beta)
}

func boolIndex(c bool, t, f int) int {
	if c {
		return t
	}
	return f
}

func (k *gemmKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	var cc *tensor.Tensor
	if len(in) > 2 {
		cc = in[2]
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return invalidf("A and B must have rank 2, got %s and %s", shapeString(a.Shape), shapeString(b.Shape))
	}
	M, K := a.Shape[0], a.Shape[1]
	if k.transA {
		M, K = K, M
	}
	K2, N := b.Shape[0], b.Shape[1]
	if k.transB {
		K2, N = N, K2
	}
	if K != K2 {
		return invalidf("A' is %dx%d and B' is %dx%d: inner dimensions differ", M, K, K2, N)
	}
	var cRows, cCols int64 = 1, 1
	if cc != nil && k.beta != 0 {
		switch len(cc.Shape) {
		case 0:
		case 1:
			cCols = cc.Shape[0]
		case 2:
			cRows, cCols = cc.Shape[0], cc.Shape[1]
		default:
			return invalidf("C has rank %d, want at most 2", len(cc.Shape))
		}
		if cRows != 1 && cRows != M || cCols != 1 && cCols != N {
			return invalidf("C of shape %s cannot be broadcast to [%d, %d]", shapeString(cc.Shape), M, N)
		}
	} else {
		cc = nil
	}
	y := out[0]
	if _, ok := checkedElems([]int64{M, N}); !ok {
		return invalidf("output [%d, %d] is too large", M, N)
	}
	ensure2(y, a.DType, M, N)
	switch a.DType {
	case tensor.Float32:
		var cv []float32
		if cc != nil {
			cv = view[float32](cc.Raw)
		}
		k.gemmF32(c, view[float32](y.Raw), view[float32](a.Raw), view[float32](b.Raw), cv,
			int(M), int(N), int(K), int(cRows), int(cCols))
	case tensor.Float64:
		var cv []float64
		if cc != nil {
			cv = view[float64](cc.Raw)
		}
		yv := view[float64](y.Raw)
		gemm(yv, view[float64](a.Raw), view[float64](b.Raw), cv,
			int(M), int(N), int(K), int(cRows), int(cCols), k.transA, k.transB, float64(k.alpha), float64(k.beta), &c.sc.f64)
		if k.relu {
			relu(yv, yv)
		}
	}
	return nil
}

// gemmF32 is Gemm on FLOAT with the packed kernels of sgemm.go. A C that
// broadcasts along the rows is the kernel's bias; another C (a column or
// a matrix) is added afterwards, as beta·C rounded, as ONNX Runtime does.
func (k *gemmKernel) gemmF32(c *runCtx, y, a, b, cv []float32, M, N, K, cRows, cCols int) {
	sc := c.sc
	if k.transA {
		// Transpose A (K×M) into scratch so that its rows are contiguous.
		t := growT(&sc.f32, M*K)
		for kk := 0; kk < K; kk++ {
			for i, v := range a[kk*M : kk*M+M] {
				t[i*K+kk] = v
			}
		}
		a = t
	}
	packed := k.packed
	if packed == nil || k.packedK != K || k.packedN != N {
		packed = growT(&sc.f32b, packedLen(K, N))
		packB(packed, b, K, N, k.transB)
	}
	rowBias := cv == nil || cRows == 1
	bias := k.bias
	if bias == nil || len(bias) != panelsOf(N)*gemmNR {
		bias = growT(&sc.f32c, panelsOf(N)*gemmNR)
		if rowBias {
			fillBias(bias, cv, cCols, N, k.beta)
		} else {
			fillBias(bias, nil, 0, N, 0)
		}
	}
	floor := noFloor
	if k.relu && rowBias {
		floor = 0
	}
	g := &sc.gemm
	*g = sgemm{y: y, a: a, b: packed, bias: bias, M: M, N: N, K: K, alpha: k.alpha, floor: floor}
	g.run(c)
	*g = sgemm{} // drop the references to the run's buffers
	if rowBias {
		return
	}
	for i := 0; i < M; i++ {
		row := y[i*N : i*N+N]
		if cCols == 1 {
			v := float32(k.beta * cv[i])
			for j := range row {
				row[j] += v
			}
		} else {
			for j, cj := range cv[i*N : i*N+N] {
				row[j] += float32(k.beta * cj)
			}
		}
		if k.relu {
			reluF32(row, row)
		}
	}
}

// gemm computes y (M×N) = alpha * A' * B' + beta * C. The products are
// accumulated in T, in order of k, then scaled and added to C, as ONNX
// Runtime's MLAS kernels do.
func gemm[T float](y, a, b, cv []T, M, N, K, cRows, cCols int, transA, transB bool, alpha, beta T, tmp *[]T) {
	if transA {
		// Transpose A (K×M) into scratch so that its rows are contiguous.
		t := growT(tmp, M*K)
		for kk := 0; kk < K; kk++ {
			row := a[kk*M : kk*M+M]
			for i, v := range row {
				t[i*K+kk] = v
			}
		}
		a = t
	}
	if transB {
		matmulNT(y, a, b, M, N, K)
	} else {
		matmulNN(y, a, b, M, N, K)
	}
	if alpha != 1 {
		for i := range y {
			y[i] *= alpha
		}
	}
	if cv == nil {
		return
	}
	for i := 0; i < M; i++ {
		row := y[i*N : i*N+N]
		ci := 0
		if cRows != 1 {
			ci = i * cCols
		}
		switch {
		case cCols == 1 && beta == 1:
			for j := range row {
				row[j] += cv[ci]
			}
		case cCols == 1:
			for j := range row {
				row[j] += beta * cv[ci]
			}
		case beta == 1:
			cr := cv[ci : ci+N]
			for j := range row {
				row[j] += cr[j]
			}
		default:
			cr := cv[ci : ci+N]
			for j := range row {
				row[j] += beta * cr[j]
			}
		}
	}
}

func growT[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
	return *s
}

// matmulNN: y (M×N) = a (M×K) · b (K×N).
func matmulNN[T numeric](y, a, b []T, M, N, K int) {
	for i := 0; i < M; i++ {
		row := y[i*N : i*N+N]
		for j := range row {
			row[j] = 0
		}
		ar := a[i*K : i*K+K]
		for kk, av := range ar {
			br := b[kk*N : kk*N+N]
			br = br[:len(row)]
			for j, bv := range br {
				row[j] += av * bv
			}
		}
	}
}

// matmulNT: y (M×N) = a (M×K) · bᵀ, b being N×K. Four rows of a share each
// row of b.
func matmulNT[T numeric](y, a, b []T, M, N, K int) {
	i := 0
	for ; i+4 <= M; i += 4 {
		a0 := a[i*K : i*K+K]
		a1 := a[(i+1)*K : (i+1)*K+K]
		a2 := a[(i+2)*K : (i+2)*K+K]
		a3 := a[(i+3)*K : (i+3)*K+K]
		for j := 0; j < N; j++ {
			bj := b[j*K : j*K+K]
			a0, a1, a2, a3 = a0[:len(bj)], a1[:len(bj)], a2[:len(bj)], a3[:len(bj)]
			var s0, s1, s2, s3 T
			for kk, bv := range bj {
				s0 += a0[kk] * bv
				s1 += a1[kk] * bv
				s2 += a2[kk] * bv
				s3 += a3[kk] * bv
			}
			y[i*N+j] = s0
			y[(i+1)*N+j] = s1
			y[(i+2)*N+j] = s2
			y[(i+3)*N+j] = s3
		}
	}
	for ; i < M; i++ {
		ai := a[i*K : i*K+K]
		j := 0
		// Four rows of b at a time: four independent sums, each in order of k.
		for ; j+4 <= N; j += 4 {
			b0 := b[j*K : j*K+K]
			b1 := b[(j+1)*K : (j+1)*K+K]
			b2 := b[(j+2)*K : (j+2)*K+K]
			b3 := b[(j+3)*K : (j+3)*K+K]
			b1, b2, b3 = b1[:len(b0)], b2[:len(b0)], b3[:len(b0)]
			ai = ai[:len(b0)]
			var s0, s1, s2, s3 T
			for kk, av := range ai {
				s0 += av * b0[kk]
				s1 += av * b1[kk]
				s2 += av * b2[kk]
				s3 += av * b3[kk]
			}
			y[i*N+j], y[i*N+j+1], y[i*N+j+2], y[i*N+j+3] = s0, s1, s2, s3
		}
		for ; j < N; j++ {
			bj := b[j*K : j*K+K]
			ai = ai[:len(bj)]
			var s T
			for kk, bv := range bj {
				s += ai[kk] * bv
			}
			y[i*N+j] = s
		}
	}
}

// MatMul with numpy semantics: rank-1 operands are promoted and the leading
// (batch) dimensions broadcast.
type matmulKernel struct {
	// For FLOAT, a constant B of rank 1 or 2, packed at load time
	// (packedK×packedN).
	packed           []float32
	packedK, packedN int
}

func buildMatMul(b *builder) error {
	if err := b.needInputs(2, 2); err != nil {
		return err
	}
	if b.in[0].dtype != b.in[1].dtype {
		return invalidModelf("inputs are %s and %s", b.in[0].dtype.ONNX(), b.in[1].dtype.ONNX())
	}
	allowed := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64}
	if err := b.typeIn(0, allowed...); err != nil {
		return err
	}
	var out []int64
	if sa, sb := b.in[0].shape, b.in[1].shape; sa != nil && sb != nil && len(sa) > 0 && len(sb) > 0 {
		var batchA, batchB []int64
		if len(sa) > 2 {
			batchA = sa[:len(sa)-2]
		}
		if len(sb) > 2 {
			batchB = sb[:len(sb)-2]
		}
		if bs, ok := staticBroadcast(batchA, batchB); ok {
			out = append(out, bs...)
			if len(sa) > 1 {
				out = append(out, sa[len(sa)-2])
			}
			if len(sb) > 1 {
				out = append(out, sb[len(sb)-1])
			}
			if out == nil {
				out = []int64{}
			}
		}
	}
	k := &matmulKernel{}
	if bt := b.consts[1]; b.in[0].dtype == tensor.Float32 && bt != nil && (len(bt.Shape) == 1 || len(bt.Shape) == 2) {
		k.packedK, k.packedN = int(bt.Shape[0]), 1
		if len(bt.Shape) == 2 {
			k.packedN = int(bt.Shape[1])
		}
		k.packed = make([]float32, packedLen(k.packedK, k.packedN))
		packB(k.packed, view[float32](bt.Raw), k.packedK, k.packedN, false)
	}
	b.k = k
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func (k *matmulKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	ar, br := len(a.Shape), len(b.Shape)
	if ar == 0 || br == 0 {
		return invalidf("MatMul needs operands of rank 1 or more, got %s and %s", shapeString(a.Shape), shapeString(b.Shape))
	}
	M, K := int64(1), a.Shape[ar-1]
	if ar > 1 {
		M = a.Shape[ar-2]
	}
	K2, N := b.Shape[0], int64(1)
	if br > 1 {
		K2, N = b.Shape[br-2], b.Shape[br-1]
	}
	if K != K2 {
		return invalidf("shapes %s and %s: inner dimensions %d and %d differ", shapeString(a.Shape), shapeString(b.Shape), K, K2)
	}
	batchA, batchB := a.Shape[:max(ar-2, 0)], b.Shape[:max(br-2, 0)]
	bshape, dims, sa, sb, ok := planBroadcast(c.sc, batchA, batchB)
	if !ok || len(dims) > maxRank {
		return invalidf("batch dimensions of %s and %s cannot be broadcast", shapeString(a.Shape), shapeString(b.Shape))
	}
	oshape := growI64(&c.sc.i64c, len(bshape)+2)[:0]
	oshape = append(oshape, bshape...)
	if ar > 1 {
		oshape = append(oshape, M)
	}
	if br > 1 {
		oshape = append(oshape, N)
	}
	if _, ok := checkedElems(oshape); !ok {
		return invalidf("output shape %s is too large", shapeString(oshape))
	}
	y := out[0]
	ensure(y, a.DType, oshape)
	batches := numElems(bshape)
	switch a.DType {
	case tensor.Float32:
		k.matmulF32(c, view[float32](y.Raw), view[float32](a.Raw), view[float32](b.Raw), batches, int(M), int(N), int(K), br <= 2, dims, sa, sb)
	case tensor.Float64:
		batchedMatMul(view[float64](y.Raw), view[float64](a.Raw), view[float64](b.Raw), batches, int(M), int(N), int(K), dims, sa, sb)
	case tensor.Int32:
		batchedMatMul(view[int32](y.Raw), view[int32](a.Raw), view[int32](b.Raw), batches, int(M), int(N), int(K), dims, sa, sb)
	case tensor.Int64:
		batchedMatMul(view[int64](y.Raw), view[int64](a.Raw), view[int64](b.Raw), batches, int(M), int(N), int(K), dims, sa, sb)
	case tensor.Uint32:
		batchedMatMul(view[uint32](y.Raw), view[uint32](a.Raw), view[uint32](b.Raw), batches, int(M), int(N), int(K), dims, sa, sb)
	case tensor.Uint64:
		batchedMatMul(view[uint64](y.Raw), view[uint64](a.Raw), view[uint64](b.Raw), batches, int(M), int(N), int(K), dims, sa, sb)
	}
	return nil
}

// matmulF32 is MatMul on FLOAT with the packed kernels of sgemm.go. When B
// has no batch dimensions, A's batches are one matrix of batches·M rows.
func (k *matmulKernel) matmulF32(c *runCtx, y, a, b []float32, batches, M, N, K int, sameB bool, dims, sa, sb []int64) {
	if M*N == 0 || batches == 0 {
		return
	}
	sc := c.sc
	bias := growT(&sc.f32c, panelsOf(N)*gemmNR)
	fillBias(bias, nil, 0, N, 0)
	g := &sc.gemm
	defer func() { *g = sgemm{} }() // drop the references to the run's buffers
	if sameB {
		packed := k.packed
		if packed == nil || k.packedK != K || k.packedN != N {
			packed = growT(&sc.f32b, packedLen(K, N))
			packB(packed, b, K, N, false)
		}
		*g = sgemm{y: y, a: a, b: packed, bias: bias, M: batches * M, N: N, K: K, alpha: 1, floor: noFloor}
		g.run(c)
		return
	}
	packed := growT(&sc.f32b, packedLen(K, N))
	var idx [maxRank]int64
	offA, offB := int64(0), int64(0)
	for i := 0; i < batches; i++ {
		packB(packed, b[int(offB)*K*N:], K, N, false)
		*g = sgemm{y: y[i*M*N : (i+1)*M*N], a: a[int(offA)*M*K:], b: packed, bias: bias, M: M, N: N, K: K, alpha: 1, floor: noFloor}
		g.run(c)
		offA, offB = advance(idx[:len(dims)], dims, sa, sb, offA, offB)
	}
}

func batchedMatMul[T numeric](y, a, b []T, batches, M, N, K int, dims, sa, sb []int64) {
	if M*N == 0 {
		return
	}
	var idx [maxRank]int64
	offA, offB := int64(0), int64(0)
	for i := 0; i < batches; i++ {
		matmulNN(y[i*M*N:(i+1)*M*N], a[int(offA)*M*K:], b[int(offB)*K*N:], M, N, K)
		offA, offB = advance(idx[:len(dims)], dims, sa, sb, offA, offB)
	}
}
