package native

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// nodeCase is a model of one node: inputs named in0, in1... (fed at run
// time, or initializers when konst), outputs out0, out1...
type nodeCase struct {
	op     string
	domain string
	opset  int64 // of the node's domain; 0: 17 (ai.onnx) or 3 (ai.onnx.ml)
	attrs  []*onnxpb.AttributeProto
	inputs []tensor.Tensor
	konst  []bool // inputs to pass as initializers
	nOut   int
}

func (nc nodeCase) model() []byte {
	var ins, outs []string
	var gIn, gOut []*onnxpb.ValueInfoProto
	var inits []*onnxpb.TensorProto
	for i, t := range nc.inputs {
		name := "in" + strconv.Itoa(i)
		if t.DType == tensor.Invalid {
			ins = append(ins, "")
			continue
		}
		ins = append(ins, name)
		if i < len(nc.konst) && nc.konst[i] {
			inits = append(inits, protoOf(name, t))
			continue
		}
		dims := make([]any, len(t.Shape))
		for j := range dims {
			dims[j] = nil
		}
		tt := onnxtest.TensorType(onnxpb.TensorProto_DataType(t.DType.ONNXElem()), dims...)
		if len(t.Shape) == 0 {
			tt = onnxtest.Scalar(onnxpb.TensorProto_DataType(t.DType.ONNXElem()))
		}
		gIn = append(gIn, onnxtest.Value(name, tt))
	}
	for i := 0; i < max(nc.nOut, 1); i++ {
		outs = append(outs, "out"+strconv.Itoa(i))
		gOut = append(gOut, &onnxpb.ValueInfoProto{Name: proto.String("out" + strconv.Itoa(i))})
	}
	node := onnxtest.Node(nc.op, ins, outs, nc.attrs...)
	domain := nc.domain
	if domain == "" {
		domain = onnxtest.DomainONNX
	}
	opsets := map[string]int64{onnxtest.DomainONNX: 17}
	if domain == onnxtest.DomainML {
		node.Domain = proto.String(domain)
		opsets[domain] = 3
	}
	if nc.opset != 0 {
		opsets[domain] = nc.opset
	}
	g := onnxtest.Graph("case", []*onnxpb.NodeProto{node}, gIn, gOut, inits...)
	return onnxtest.Marshal(onnxtest.Model(g, opsets, nil))
}

// protoOf is the TensorProto of t.
func protoOf(name string, t tensor.Tensor) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(t.DType.ONNXElem()), Dims: t.Shape}
	if t.DType == tensor.String {
		tp.StringData = t.Strings
	} else {
		tp.RawData = append([]byte{}, t.Raw...)
	}
	return tp
}

func (nc nodeCase) run(t *testing.T) ([]tensor.Tensor, error) {
	t.Helper()
	m, err := New().Load(context.Background(), nc.model(), serving.LoadOptions{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var in []tensor.Tensor
	for i, x := range nc.inputs {
		if x.DType == tensor.Invalid || i < len(nc.konst) && nc.konst[i] {
			continue
		}
		x.Name = "in" + strconv.Itoa(i)
		in = append(in, x)
	}
	out := outputsOf(m)
	err = m.Run(context.Background(), in, out)
	return out, err
}

func (nc nodeCase) mustRun(t *testing.T) []tensor.Tensor {
	t.Helper()
	out, err := nc.run(t)
	if err != nil {
		t.Fatalf("%s: %v", nc.op, err)
	}
	return out
}

func f32(shape []int64, v ...float32) tensor.Tensor { return tensor.FromFloat32("", shape, v) }
func i64(shape []int64, v ...int64) tensor.Tensor   { return tensor.FromInt64("", shape, v) }
func sh(d ...int64) []int64                         { return d }

func i32(shape []int64, v ...int32) tensor.Tensor {
	t := tensor.Tensor{DType: tensor.Int32, Shape: shape}
	t.SetLen(len(v))
	copy(t.Int32s(), v)
	return t
}

func strs(shape []int64, v ...string) tensor.Tensor {
	t := tensor.Tensor{DType: tensor.String, Shape: shape}
	for _, s := range v {
		t.Strings = append(t.Strings, []byte(s))
	}
	return t
}

func wantShape(t *testing.T, got tensor.Tensor, shape ...int64) {
	t.Helper()
	if !equalShapes(got.Shape, shape) || got.Shape == nil {
		t.Fatalf("shape %v, want %v", got.Shape, shape)
	}
}

func wantF32(t *testing.T, got tensor.Tensor, want ...float32) {
	t.Helper()
	g := got.Float32s()
	if len(g) != len(want) {
		t.Fatalf("got %v, want %v", g, want)
	}
	for i := range want {
		if !(g[i] == want[i] || math.IsNaN(float64(g[i])) && math.IsNaN(float64(want[i])) ||
			math.Abs(float64(g[i]-want[i])) <= 1e-6+1e-5*math.Abs(float64(want[i]))) {
			t.Fatalf("got %v, want %v", g, want)
		}
	}
}

func wantI64(t *testing.T, got tensor.Tensor, want ...int64) {
	t.Helper()
	if g := got.Int64s(); !slices.Equal(g, want) {
		t.Fatalf("got %v, want %v", g, want)
	}
}

func wantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, serving.ErrInvalidInput) {
		t.Fatalf("%s: error %v, want one wrapping ErrInvalidInput", what, err)
	}
}

func TestBinaryBroadcasting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  tensor.Tensor
		shape []int64
		want  []float32
	}{
		{"row", f32(sh(2, 3), 1, 2, 3, 4, 5, 6), f32(sh(3), 10, 20, 30), sh(2, 3), []float32{11, 22, 33, 14, 25, 36}},
		{"column", f32(sh(2, 3), 1, 2, 3, 4, 5, 6), f32(sh(2, 1), 10, 20), sh(2, 3), []float32{11, 12, 13, 24, 25, 26}},
		{"outer", f32(sh(2, 1), 1, 2), f32(sh(1, 3), 10, 20, 30), sh(2, 3), []float32{11, 21, 31, 12, 22, 32}},
		{"scalar", f32(sh(), 1), f32(sh(2, 2), 1, 2, 3, 4), sh(2, 2), []float32{2, 3, 4, 5}},
		{"scalars", f32(sh(), 1), f32(sh(), 2), sh(), []float32{3}},
		{"rank3", f32(sh(2, 1, 2), 1, 2, 3, 4), f32(sh(3, 1), 10, 20, 30), sh(2, 3, 2),
			[]float32{11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34}},
		{"empty", f32(sh(0, 3)), f32(sh(3), 1, 2, 3), sh(0, 3), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := nodeCase{op: "Add", inputs: []tensor.Tensor{tc.a, tc.b}}.mustRun(t)
			wantShape(t, out[0], tc.shape...)
			wantF32(t, out[0], tc.want...)
		})
	}
	_, err := nodeCase{op: "Add", inputs: []tensor.Tensor{f32(sh(2, 3), 1, 2, 3, 4, 5, 6), f32(sh(2), 1, 2)}}.run(t)
	wantInvalid(t, err, "incompatible shapes")

	// Integer division truncates; by zero is an error, not a panic.
	out := nodeCase{op: "Div", inputs: []tensor.Tensor{i64(sh(3), 7, -7, 9), i64(sh(3), 2, 2, -4)}}.mustRun(t)
	wantI64(t, out[0], 3, -3, -2)
	_, err = nodeCase{op: "Div", inputs: []tensor.Tensor{i64(sh(2), 1, 2), i64(sh(2), 1, 0)}}.run(t)
	wantInvalid(t, err, "division by zero")
	out = nodeCase{op: "Sub", inputs: []tensor.Tensor{i32(sh(2), math.MinInt32, 5), i32(sh(), 1)}}.mustRun(t)
	if g := out[0].Int32s(); g[0] != math.MaxInt32 || g[1] != 4 {
		t.Fatalf("int32 wrap: %v", g)
	}

	// Opset 6: B broadcast to A at an axis.
	out = nodeCase{op: "Mul", opset: 6, attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("broadcast", 1), onnxtest.AttrInt("axis", 0)},
		inputs: []tensor.Tensor{f32(sh(2, 3), 1, 2, 3, 4, 5, 6), f32(sh(2), 10, 100)}}.mustRun(t)
	wantF32(t, out[0], 10, 20, 30, 400, 500, 600)
}

func TestUnaryAndClip(t *testing.T) {
	nan := float32(math.NaN())
	x := f32(sh(5), -2, -0.5, 0, 3, nan)
	wantF32(t, nodeCase{op: "Relu", inputs: []tensor.Tensor{x}}.mustRun(t)[0], 0, 0, 0, 3, nan)
	wantF32(t, nodeCase{op: "Sigmoid", inputs: []tensor.Tensor{f32(sh(3), -100, 0, 100)}}.mustRun(t)[0], 0, 0.5, 1)
	wantF32(t, nodeCase{op: "Tanh", inputs: []tensor.Tensor{f32(sh(2), 0, 100)}}.mustRun(t)[0], 0, 1)
	// Clip: attributes before opset 11, inputs after (either may be omitted).
	wantF32(t, nodeCase{op: "Clip", opset: 6, attrs: []*onnxpb.AttributeProto{onnxtest.AttrFloat("min", -1), onnxtest.AttrFloat("max", 1)},
		inputs: []tensor.Tensor{x}}.mustRun(t)[0], -1, -0.5, 0, 1, nan)
	wantF32(t, nodeCase{op: "Clip", inputs: []tensor.Tensor{x, {}, f32(sh(), 1)}}.mustRun(t)[0], -2, -0.5, 0, 1, nan)
	out := nodeCase{op: "Clip", inputs: []tensor.Tensor{i64(sh(3), -5, 0, 5), i64(sh(), -1), i64(sh(), 2)}}.mustRun(t)
	wantI64(t, out[0], -1, 0, 2)
	_, err := nodeCase{op: "Clip", inputs: []tensor.Tensor{x, f32(sh(2), 0, 1)}}.run(t)
	wantInvalid(t, err, "non-scalar min")
}

func TestGemmAndMatMul(t *testing.T) {
	a := f32(sh(2, 3), 1, 2, 3, 4, 5, 6)
	b := f32(sh(3, 2), 1, 0, 0, 1, 1, 1)
	out := nodeCase{op: "Gemm", inputs: []tensor.Tensor{a, b, f32(sh(2), 10, 20)}}.mustRun(t)
	wantShape(t, out[0], 2, 2)
	wantF32(t, out[0], 14, 25, 20, 31)
	// transA, transB, alpha, beta, C of shape [M, 1].
	at := f32(sh(3, 2), 1, 4, 2, 5, 3, 6)
	bt := f32(sh(2, 3), 1, 0, 1, 0, 1, 1)
	out = nodeCase{op: "Gemm", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("transA", 1), onnxtest.AttrInt("transB", 1),
		onnxtest.AttrFloat("alpha", 2), onnxtest.AttrFloat("beta", 0.5)},
		inputs: []tensor.Tensor{at, bt, f32(sh(2, 1), 2, 4)}}.mustRun(t)
	wantF32(t, out[0], 9, 11, 22, 24)
	// Empty batch.
	out = nodeCase{op: "Gemm", inputs: []tensor.Tensor{f32(sh(0, 3)), b}}.mustRun(t)
	wantShape(t, out[0], 0, 2)
	_, err := nodeCase{op: "Gemm", inputs: []tensor.Tensor{a, a}}.run(t)
	wantInvalid(t, err, "inner dimensions")

	// MatMul: 1-D promotion and batch broadcasting.
	out = nodeCase{op: "MatMul", inputs: []tensor.Tensor{f32(sh(3), 1, 2, 3), b}}.mustRun(t)
	wantShape(t, out[0], 2)
	wantF32(t, out[0], 4, 5)
	out = nodeCase{op: "MatMul", inputs: []tensor.Tensor{a, f32(sh(3), 1, 1, 1)}}.mustRun(t)
	wantShape(t, out[0], 2)
	wantF32(t, out[0], 6, 15)
	batched := f32(sh(2, 1, 2, 3), 1, 2, 3, 4, 5, 6, 0, 0, 0, 1, 1, 1)
	out = nodeCase{op: "MatMul", inputs: []tensor.Tensor{batched, f32(sh(3, 3, 1), 1, 0, 0, 0, 1, 0, 0, 0, 1)}}.mustRun(t)
	wantShape(t, out[0], 2, 3, 2, 1)
	wantF32(t, out[0], 1, 4, 2, 5, 3, 6, 0, 1, 0, 1, 0, 1)
	out = nodeCase{op: "MatMul", inputs: []tensor.Tensor{i64(sh(1, 2), 2, 3), i64(sh(2, 1), 4, 5)}}.mustRun(t)
	wantI64(t, out[0], 23)
}

func TestSoftmaxAxisSemantics(t *testing.T) {
	x := f32(sh(1, 2, 2), 1, 2, 3, 4)
	// Opset 13: along the last axis.
	out := nodeCase{op: "Softmax", inputs: []tensor.Tensor{x}}.mustRun(t)
	e1 := float32(1 / (1 + math.E))
	wantF32(t, out[0], e1, 1-e1, e1, 1-e1)
	// Opset 11, axis 1: the input is coerced to [1, 4].
	out = nodeCase{op: "Softmax", opset: 11, attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", 1)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	s := math.Exp(1) + math.Exp(2) + math.Exp(3) + math.Exp(4)
	wantF32(t, out[0], float32(math.Exp(1)/s), float32(math.Exp(2)/s), float32(math.Exp(3)/s), float32(math.Exp(4)/s))
	out = nodeCase{op: "LogSoftmax", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", -2)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	l := float32(math.Log(1 + math.Exp(2)))
	wantF32(t, out[0], -l, -l, 2-l, 2-l)
	out = nodeCase{op: "Softmax", inputs: []tensor.Tensor{f32(sh(0, 3))}}.mustRun(t)
	wantShape(t, out[0], 0, 3)
}

func TestArgMax(t *testing.T) {
	x := f32(sh(2, 3), 1, 5, 5, 7, 2, 7)
	out := nodeCase{op: "ArgMax", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", -1), onnxtest.AttrInt("keepdims", 0)},
		inputs: []tensor.Tensor{x}}.mustRun(t)
	wantShape(t, out[0], 2)
	wantI64(t, out[0], 1, 0)
	out = nodeCase{op: "ArgMax", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", 1), onnxtest.AttrInt("select_last_index", 1)},
		inputs: []tensor.Tensor{x}}.mustRun(t)
	wantShape(t, out[0], 2, 1)
	wantI64(t, out[0], 2, 2)
	_, err := nodeCase{op: "ArgMax", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", 1)}, inputs: []tensor.Tensor{f32(sh(2, 0))}}.run(t)
	wantInvalid(t, err, "empty axis")
}

func TestShapeOps(t *testing.T) {
	x := f32(sh(2, 3), 1, 2, 3, 4, 5, 6)
	out := nodeCase{op: "Reshape", inputs: []tensor.Tensor{x, i64(sh(3), 0, -1, 1)}}.mustRun(t)
	wantShape(t, out[0], 2, 3, 1)
	out = nodeCase{op: "Reshape", inputs: []tensor.Tensor{x, i64(sh(2), 3, -1)}, konst: []bool{false, true}}.mustRun(t)
	wantShape(t, out[0], 3, 2)
	wantF32(t, out[0], 1, 2, 3, 4, 5, 6)
	// allowzero: 0 is a zero dimension (opset 14), not a copy.
	out = nodeCase{op: "Reshape", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("allowzero", 1)},
		inputs: []tensor.Tensor{f32(sh(0, 3)), i64(sh(2), 3, 0)}}.mustRun(t)
	wantShape(t, out[0], 3, 0)
	_, err := nodeCase{op: "Reshape", inputs: []tensor.Tensor{x, i64(sh(2), 4, -1)}}.run(t)
	wantInvalid(t, err, "bad reshape")
	// Opset 1: the shape is an attribute.
	out = nodeCase{op: "Reshape", opset: 1, attrs: []*onnxpb.AttributeProto{onnxtest.AttrInts("shape", 6)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	wantShape(t, out[0], 6)

	out = nodeCase{op: "Flatten", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", -1)}, inputs: []tensor.Tensor{f32(sh(2, 1, 3), 1, 2, 3, 4, 5, 6)}}.mustRun(t)
	wantShape(t, out[0], 2, 3)
	out = nodeCase{op: "Flatten", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", 0)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	wantShape(t, out[0], 1, 6)

	// Squeeze/Unsqueeze: axes as attribute (opset 11) and input (13+).
	out = nodeCase{op: "Squeeze", opset: 11, attrs: []*onnxpb.AttributeProto{onnxtest.AttrInts("axes", -2)}, inputs: []tensor.Tensor{f32(sh(2, 1, 3), 1, 2, 3, 4, 5, 6)}}.mustRun(t)
	wantShape(t, out[0], 2, 3)
	out = nodeCase{op: "Squeeze", inputs: []tensor.Tensor{f32(sh(1, 2, 1), 1, 2)}}.mustRun(t)
	wantShape(t, out[0], 2)
	_, err = nodeCase{op: "Squeeze", inputs: []tensor.Tensor{x, i64(sh(1), 0)}}.run(t)
	wantInvalid(t, err, "squeeze a dimension of 2")
	out = nodeCase{op: "Unsqueeze", inputs: []tensor.Tensor{x, i64(sh(2), -1, 0)}}.mustRun(t)
	wantShape(t, out[0], 1, 2, 3, 1)
	out = nodeCase{op: "Unsqueeze", opset: 11, attrs: []*onnxpb.AttributeProto{onnxtest.AttrInts("axes", 0)}, inputs: []tensor.Tensor{f32(sh(), 7)}}.mustRun(t)
	wantShape(t, out[0], 1)

	out = nodeCase{op: "Concat", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", -1)},
		inputs: []tensor.Tensor{f32(sh(2, 1), 1, 2), f32(sh(2, 0)), f32(sh(2, 2), 3, 4, 5, 6)}}.mustRun(t)
	wantShape(t, out[0], 2, 3)
	wantF32(t, out[0], 1, 3, 4, 2, 5, 6)
	out = nodeCase{op: "Concat", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", 0)},
		inputs: []tensor.Tensor{strs(sh(1), "a"), strs(sh(2), "b", "c")}}.mustRun(t)
	if got := out[0].Strings; len(got) != 3 || string(got[2]) != "c" {
		t.Fatalf("string concat: %q", got)
	}

	out = nodeCase{op: "Shape", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("start", -2), onnxtest.AttrInt("end", 100)},
		inputs: []tensor.Tensor{f32(sh(4, 0, 3))}}.mustRun(t)
	wantI64(t, out[0], 0, 3)

	out = nodeCase{op: "Gather", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("axis", -1)},
		inputs: []tensor.Tensor{x, i64(sh(2, 2), -1, 0, 1, 1)}}.mustRun(t)
	wantShape(t, out[0], 2, 2, 2)
	wantF32(t, out[0], 3, 1, 2, 2, 6, 4, 5, 5)
	_, err = nodeCase{op: "Gather", inputs: []tensor.Tensor{x, i64(sh(1), 2)}}.run(t)
	wantInvalid(t, err, "index out of range")
	out = nodeCase{op: "Identity", inputs: []tensor.Tensor{strs(sh(2), "x", "y")}}.mustRun(t)
	if string(out[0].Strings[1]) != "y" {
		t.Fatalf("identity of strings: %q", out[0].Strings)
	}
}

func TestCast(t *testing.T) {
	to := func(e onnxpb.TensorProto_DataType) *onnxpb.AttributeProto { return onnxtest.AttrInt("to", int64(e)) }
	nan := float32(math.NaN())
	x := f32(sh(6), 1.9, -1.9, 0, nan, float32(math.Inf(1)), 1e10)
	out := nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_INT32)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	if g := out[0].Int32s(); g[0] != 1 || g[1] != -1 || g[2] != 0 {
		t.Fatalf("float to int32 truncates: %v", g)
	}
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_BOOL)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	if g := out[0].Raw; !slices.Equal(g, []byte{1, 1, 0, 1, 1, 1}) {
		t.Fatalf("float to bool: %v", g)
	}
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_STRING)}, inputs: []tensor.Tensor{x}}.mustRun(t)
	want := []string{"1.9", "-1.9", "0", "NaN", "INF", "1e+10"}
	for i, s := range out[0].Strings {
		if string(s) != want[i] {
			t.Fatalf("float to string: %q, want %q", out[0].Strings, want)
		}
	}
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_FLOAT)},
		inputs: []tensor.Tensor{strs(sh(5), " 2.5", "1.5abc", "-inf", "NaN", "1e3")}}.mustRun(t)
	wantF32(t, out[0], 2.5, 1.5, float32(math.Inf(-1)), nan, 1000)
	_, err := nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_FLOAT)}, inputs: []tensor.Tensor{strs(sh(1), "abc")}}.run(t)
	wantInvalid(t, err, "not a number")
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_INT64)}, inputs: []tensor.Tensor{strs(sh(2), "42", " -7x")}}.mustRun(t)
	wantI64(t, out[0], 42, -7)
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_STRING)}, inputs: []tensor.Tensor{i64(sh(2), -3, 1<<40)}}.mustRun(t)
	if string(out[0].Strings[0]) != "-3" || string(out[0].Strings[1]) != "1099511627776" {
		t.Fatalf("int64 to string: %q", out[0].Strings)
	}
	// FLOAT16 round trip, and the STRING "to" of opset 1.
	out = nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_FLOAT16)}, inputs: []tensor.Tensor{f32(sh(3), 1.5, 65504, 1e-8)}}.mustRun(t)
	back := nodeCase{op: "Cast", attrs: []*onnxpb.AttributeProto{to(onnxpb.TensorProto_FLOAT)}, inputs: []tensor.Tensor{out[0]}}.mustRun(t)
	wantF32(t, back[0], 1.5, 65504, 0)
	out = nodeCase{op: "Cast", opset: 1, attrs: []*onnxpb.AttributeProto{onnxtest.AttrString("to", "DOUBLE")}, inputs: []tensor.Tensor{f32(sh(1), 0.5)}}.mustRun(t)
	if out[0].DType != tensor.Float64 || out[0].Float64s()[0] != 0.5 {
		t.Fatalf("opset 1 cast: %v %v", out[0].DType, out[0].Float64s())
	}
}

func TestConstant(t *testing.T) {
	for _, a := range []*onnxpb.AttributeProto{
		onnxtest.AttrFloats("value_floats", 1, 2),
		onnxtest.AttrInts("value_ints", 1, 2),
		onnxtest.AttrStrings("value_strings", "a", "b"),
		{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: onnxtest.Floats("", []int64{2}, []float32{1, 2})},
	} {
		out := nodeCase{op: "Constant", attrs: []*onnxpb.AttributeProto{a}}.mustRun(t)
		wantShape(t, out[0], 2)
	}
	out := nodeCase{op: "Constant", attrs: []*onnxpb.AttributeProto{onnxtest.AttrInt("value_int", 7)}}.mustRun(t)
	wantShape(t, out[0], []int64{}...)
	wantI64(t, out[0], 7)
}
