package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// kernelModes runs f with the assembly kernels (where the processor has
// them) and with the portable Go code.
func kernelModes(t *testing.T, f func(t *testing.T)) {
	saved := useSIMD
	t.Cleanup(func() { useSIMD = saved })
	modes := []bool{false}
	if simdSupported() {
		modes = append(modes, true)
	}
	for _, simd := range modes {
		name := "go"
		if simd {
			name = "simd"
		}
		t.Run(name, func(t *testing.T) {
			useSIMD = simd
			f(t)
		})
	}
}

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// refGemm is Gemm in float64, row by row.
func refGemm(a, b, c []float32, cShape []int64, M, N, K int, transA, transB bool, alpha, beta float32, relu bool) []float64 {
	y := make([]float64, M*N)
	for i := range M {
		for j := range N {
			var s float64
			for k := range K {
				av, bv := a[i*K+k], b[k*N+j]
				if transA {
					av = a[k*M+i]
				}
				if transB {
					bv = b[j*K+k]
				}
				s += float64(av) * float64(bv)
			}
			s *= float64(alpha)
			if c != nil {
				var cv float32
				switch {
				case len(cShape) == 0:
					cv = c[0]
				case len(cShape) == 1:
					cv = c[j%int(cShape[0])]
				default:
					ci := 0
					if cShape[0] != 1 {
						ci = i * int(cShape[1])
					}
					if cShape[1] != 1 {
						ci += j
					}
					cv = c[ci]
				}
				s += float64(beta) * float64(cv)
			}
			if relu && s < 0 {
				s = 0
			}
			y[i*N+j] = s
		}
	}
	return y
}

// closeTo compares float32 results with a float64 reference, each a sum
// of k products whose absolute values sum to scale: float32 rounding errs
// by at most about (k+2)·2⁻²⁴·scale.
func closeTo(got []float32, want []float64, scale []float64, k int) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d elements, want %d", len(got), len(want))
	}
	for i, g := range got {
		tol := 1e-30 + float64(k+2)*0x1p-24*scale[i]
		if math.Abs(float64(g)-want[i]) > tol || math.IsNaN(float64(g)) != math.IsNaN(want[i]) {
			return fmt.Errorf("element %d: %v, want %v (±%.2g)", i, g, want[i], tol)
		}
	}
	return nil
}

func absF32(v []float32) []float32 {
	if v == nil {
		return nil
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(math.Abs(float64(x)))
	}
	return out
}

// TestGemmShapes compares Gemm on FLOAT with a float64 reference over
// random shapes (empty, single, odd, not multiples of the tile), both
// transpositions, alpha and beta, every broadcast of C, with and without a
// fused Relu, with B and C constant (packed at load) or not, on one thread
// and on several.
func TestGemmShapes(t *testing.T) {
	kernelModes(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		dims := []int{0, 1, 2, 3, 5, 6, 7, 8, 13, 16, 17, 31, 33, 64, 65, 100}
		for iter := range 400 {
			M, N, K := dims[r.IntN(len(dims))], dims[r.IntN(len(dims))], dims[r.IntN(len(dims))]
			if iter%20 == 0 {
				M = 64 + r.IntN(300) // parallel
			}
			transA, transB := r.IntN(2) == 1, r.IntN(2) == 1
			alpha, beta := float32(1), float32(1)
			if r.IntN(3) == 0 {
				alpha = float32(r.NormFloat64())
			}
			if r.IntN(3) == 0 {
				beta = float32(r.NormFloat64())
			}
			cShapes := [][]int64{nil, {}, {int64(N)}, {1, int64(N)}, {int64(M), 1}, {int64(M), int64(N)}, {1}, {1, 1}}
			cShape := cShapes[r.IntN(len(cShapes))]
			relu := r.IntN(2) == 1
			konst := r.IntN(2) == 1
			threads := 1 + r.IntN(3)
			name := fmt.Sprintf("M%d_N%d_K%d_tA%v_tB%v_a%.2g_b%.2g_C%v_relu%v_const%v_threads%d",
				M, N, K, transA, transB, alpha, beta, cShape, relu, konst, threads)

			a, b := randF32(r, M*K), randF32(r, K*N)
			var c []float32
			var ct *tensor.Tensor
			if cShape != nil {
				n := 1
				for _, d := range cShape {
					n *= int(d)
				}
				c = randF32(r, n)
				x := tensor.FromFloat32("c", cShape, c)
				ct = &x
			}
			aShape, bShape := []int64{int64(M), int64(K)}, []int64{int64(K), int64(N)}
			if transA {
				aShape = []int64{int64(K), int64(M)}
			}
			if transB {
				bShape = []int64{int64(N), int64(K)}
			}
			at, bt := tensor.FromFloat32("a", aShape, a), tensor.FromFloat32("b", bShape, b)
			k := &gemmKernel{alpha: alpha, beta: beta, transA: transA, transB: transB, relu: relu}
			if konst {
				k.prepack(&bt, ct != nil, ct)
			}
			in := []*tensor.Tensor{&at, &bt}
			if ct != nil {
				in = append(in, ct)
			}
			y := &tensor.Tensor{}
			c0 := &runCtx{st: &state{threads: threads}, sc: &scratch{}}
			if err := k.run(c0, in, []*tensor.Tensor{y}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := refGemm(a, b, c, cShape, M, N, K, transA, transB, alpha, beta, false)
			scale := refGemm(absF32(a), absF32(b), absF32(c), cShape, M, N, K, transA, transB, float32(math.Abs(float64(alpha))), float32(math.Abs(float64(beta))), false)
			if relu {
				want = refGemm(a, b, c, cShape, M, N, K, transA, transB, alpha, beta, true)
			}
			if err := closeTo(view[float32](y.Raw), want, scale, K); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The same kernel again, on the scratch of the first run.
			if err := k.run(c0, in, []*tensor.Tensor{y}); err != nil {
				t.Fatalf("%s (again): %v", name, err)
			}
			if err := closeTo(view[float32](y.Raw), want, scale, K); err != nil {
				t.Fatalf("%s (again): %v", name, err)
			}
		}
	})
}

// TestMatMulShapes compares MatMul on FLOAT with a float64 reference,
// batched and broadcast, B constant or not.
func TestMatMulShapes(t *testing.T) {
	kernelModes(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		cases := []struct{ a, b []int64 }{
			{[]int64{3}, []int64{3}},
			{[]int64{3}, []int64{3, 5}},
			{[]int64{4, 3}, []int64{3}},
			{[]int64{7, 3}, []int64{3, 17}},
			{[]int64{2, 7, 3}, []int64{3, 17}},
			{[]int64{2, 1, 7, 3}, []int64{4, 3, 17}},
			{[]int64{7, 3}, []int64{2, 3, 17}},
			{[]int64{0, 3}, []int64{3, 5}},
			{[]int64{5, 0}, []int64{0, 5}},
			{[]int64{130, 40}, []int64{40, 33}},
			{[]int64{3, 100, 20}, []int64{20, 9}},
		}
		for _, tc := range cases {
			for _, konst := range []bool{false, true} {
				for _, threads := range []int{1, 3} {
					name := fmt.Sprintf("%v×%v_const%v_threads%d", tc.a, tc.b, konst, threads)
					at := tensor.FromFloat32("a", tc.a, randF32(r, numElems(tc.a)))
					bt := tensor.FromFloat32("b", tc.b, randF32(r, numElems(tc.b)))
					nc := nodeCase{op: "MatMul", inputs: []tensor.Tensor{at, bt}}
					if konst {
						nc.konst = []bool{false, true}
					}
					got := nc.mustRunThreads(t, threads)[0]
					// The reference: the generic kernel in float64, on the
					// values and on their absolute values.
					ref := matmul64(t, at, bt, false)
					wantShape(t, got, ref.Shape...)
					want, scale := view[float64](ref.Raw), view[float64](matmul64(t, at, bt, true).Raw)
					if err := closeTo(view[float32](got.Raw), want, scale, int(tc.a[len(tc.a)-1])); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
		}
	})
}

// matmul64 is MatMul of a and b (or of their absolute values) in float64.
func matmul64(t *testing.T, a, b tensor.Tensor, abs bool) tensor.Tensor {
	conv := func(x tensor.Tensor) tensor.Tensor {
		v := make([]float64, len(view[float32](x.Raw)))
		for i, f := range view[float32](x.Raw) {
			v[i] = float64(f)
			if abs {
				v[i] = math.Abs(v[i])
			}
		}
		return tensor.FromFloat64("", x.Shape, v)
	}
	return nodeCase{op: "MatMul", inputs: []tensor.Tensor{conv(a), conv(b)}}.mustRun(t)[0]
}

func loadThreads(n int) serving.LoadOptions { return serving.LoadOptions{IntraOpThreads: n} }

// mustRunThreads is mustRun with LoadOptions.IntraOpThreads.
func (nc nodeCase) mustRunThreads(t *testing.T, threads int) []tensor.Tensor {
	t.Helper()
	m, err := New().Load(t.Context(), nc.model(), loadThreads(threads))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var in []tensor.Tensor
	for i, x := range nc.inputs {
		if x.DType == tensor.Invalid || i < len(nc.konst) && nc.konst[i] {
			continue
		}
		x.Name = fmt.Sprintf("in%d", i)
		in = append(in, x)
	}
	out := outputsOf(m)
	if err := m.Run(t.Context(), in, out); err != nil {
		t.Fatalf("%s: %v", nc.op, err)
	}
	return out
}

// TestGemmReluFusion: a Relu that only reads a Gemm's output is merged
// into the Gemm; one whose input is read elsewhere too is not.
func TestGemmReluFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	w := tensor.FromFloat32("w", []int64{8, 4}, randF32(r, 32))
	bias := tensor.FromFloat32("bias", []int64{8}, randF32(r, 8))
	x := tensor.FromFloat32("x", []int64{3, 4}, randF32(r, 12))
	build := func(alsoOut bool) []byte {
		nodes := []*onnxpb.NodeProto{
			onnxtest.Node("Gemm", []string{"x", "w", "bias"}, []string{"g"}, onnxtest.AttrInt("transB", 1)),
			onnxtest.Node("Relu", []string{"g"}, []string{"y"}),
		}
		outs := []*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, nil, 8))}
		if alsoOut {
			outs = append(outs, onnxtest.Value("g", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, nil, 8)))
		}
		g := onnxtest.Graph("g", nodes,
			[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, nil, 4))}, outs,
			protoOf("w", w), protoOf("bias", bias))
		return onnxtest.Marshal(onnxtest.Model(g, map[string]int64{onnxtest.DomainONNX: 17}, nil))
	}
	want := refGemm(view[float32](x.Raw), view[float32](w.Raw), view[float32](bias.Raw), []int64{8}, 3, 8, 4, false, true, 1, 1, true)
	scale := refGemm(absF32(view[float32](x.Raw)), absF32(view[float32](w.Raw)), absF32(view[float32](bias.Raw)), []int64{8}, 3, 8, 4, false, true, 1, 1, false)
	for _, alsoOut := range []bool{false, true} {
		m := mustLoad(t, build(alsoOut)).(*Model)
		wantNodes := 1
		if alsoOut {
			wantNodes = 2
		}
		if len(m.p.nodes) != wantNodes {
			t.Errorf("output g too: %v: %d nodes, want %d", alsoOut, len(m.p.nodes), wantNodes)
		}
		out := outputsOf(m)
		x.Name = "x"
		if err := m.Run(t.Context(), []tensor.Tensor{x}, out); err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Name != "y" {
				continue
			}
			if err := closeTo(view[float32](o.Raw), want, scale, 4); err != nil {
				t.Errorf("output g too: %v: %v", alsoOut, err)
			}
		}
	}
}

// TestReluKeepsNaNAndNegativeZero: Relu (fused or not, SIMD or not) maps
// x < 0 to 0 and keeps everything else, NaN and -0 included.
func TestReluKeepsNaNAndNegativeZero(t *testing.T) {
	kernelModes(t, func(t *testing.T) {
		nan := float32(math.NaN())
		in := []float32{-1, 2, nan, negZero, float32(math.Inf(-1)), float32(math.Inf(1)), -1e-40, 3}
		x := make([]float32, 0, 40)
		for len(x) < 40 {
			x = append(x, in...)
		}
		out := nodeCase{op: "Relu", inputs: []tensor.Tensor{f32(sh(40), x...)}}.mustRun(t)[0]
		for i, v := range view[float32](out.Raw) {
			want := x[i]
			if want < 0 {
				want = 0
			}
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Fatalf("Relu(%v) = %v, want %v", x[i], v, want)
			}
		}
		// Fused: the kernel's floor, on products x·1 (summed from +0).
		b := make([]float32, packedLen(1, 1))
		packB(b, []float32{1}, 1, 1, false)
		bias := make([]float32, gemmNR)
		fillBias(bias, nil, 0, 1, 0)
		g := sgemm{y: make([]float32, len(x)), a: x, b: b, bias: bias, M: len(x), N: 1, K: 1, alpha: 1, floor: 0}
		g.runRange(0, g.blocks())
		for i, v := range g.y {
			want := 0 + x[i]
			if want < 0 {
				want = 0
			}
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Fatalf("fused Relu(%v) = %v, want %v", x[i], v, want)
			}
		}
	})
}

// TestGemmFloat64 checks Gemm on DOUBLE (the generic kernel) against the
// reference, with a fused Relu.
func TestGemmFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 4}, {0, 3, 2}} {
		M, N, K := sz[0], sz[1], sz[2]
		for _, relu := range []bool{false, true} {
			a, b, c := randF32(r, M*K), randF32(r, N*K), randF32(r, N)
			to64 := func(v []float32, shape ...int64) tensor.Tensor {
				w := make([]float64, len(v))
				for i, x := range v {
					w[i] = float64(x)
				}
				return tensor.FromFloat64("", shape, w)
			}
			at, bt, ct := to64(a, int64(M), int64(K)), to64(b, int64(N), int64(K)), to64(c, int64(N))
			k := &gemmKernel{alpha: 1, beta: 1, transB: true, relu: relu}
			y := &tensor.Tensor{}
			if err := k.run(&runCtx{st: &state{threads: 1}, sc: &scratch{}}, []*tensor.Tensor{&at, &bt, &ct}, []*tensor.Tensor{y}); err != nil {
				t.Fatal(err)
			}
			want := refGemm(a, b, c, []int64{int64(N)}, M, N, K, false, true, 1, 1, relu)
			for i, v := range view[float64](y.Raw) {
				if math.Abs(v-want[i]) > 1e-9 {
					t.Fatalf("%v relu %v: element %d: %v, want %v", sz, relu, i, v, want[i])
				}
			}
		}
	}
}

// BenchmarkSgemm measures the products of the benchmark MLP's layers at
// batch 1024 and 1, on one thread and on two.
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{1024, 64, 30}, {1024, 32, 64}, {1024, 3, 32}, {1, 64, 30}} {
		M, N, K := sz[0], sz[1], sz[2]
		a, w := randF32(r, M*K), randF32(r, K*N)
		packed := make([]float32, packedLen(K, N))
		packB(packed, w, K, N, false)
		bias := make([]float32, panelsOf(N)*gemmNR)
		fillBias(bias, nil, 0, N, 0)
		y := make([]float32, M*N)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", M, N, K, threads), func(b *testing.B) {
				c := &runCtx{st: &state{threads: threads}, sc: &scratch{}}
				for b.Loop() {
					c.sc.gemm = sgemm{y: y, a: a, b: packed, bias: bias, M: M, N: N, K: K, alpha: 1, floor: noFloor}
					c.sc.gemm.run(c)
				}
				b.ReportMetric(float64(2*M*N*K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
