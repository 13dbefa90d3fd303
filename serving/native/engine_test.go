package native

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

func TestUnsupportedOperators(t *testing.T) {
	g := onnxtest.Graph("g", []*onnxpb.NodeProto{
		onnxtest.Node("LSTM", []string{"x"}, []string{"y"}),
		onnxtest.Node("Relu", []string{"y"}, []string{"z"}),
		onnxtest.Node("Resize", []string{"z"}, []string{"w"}),
		onnxtest.Node("LSTM", []string{"w"}, []string{"v"}),
	}, []*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 1))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("v", onnxtest.TensorType(onnxpb.TensorProto_FLOAT))})
	model := onnxtest.Marshal(onnxtest.Model(g, map[string]int64{"": 14}, nil))
	e := New()
	missing, err := e.Unsupported(model)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ai.onnx/LSTM (opset 14)", "ai.onnx/Resize (opset 14)"}; !slices.Equal(missing, want) {
		t.Fatalf("missing %q, want %q", missing, want)
	}
	_, err = e.Load(context.Background(), model, serving.LoadOptions{})
	if !errors.Is(err, serving.ErrUnsupported) {
		t.Fatalf("load: %v", err)
	}
	if want := "native engine does not implement: ai.onnx/LSTM (opset 14), ai.onnx/Resize (opset 14)"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	var ue *UnsupportedError
	if !errors.As(err, &ue) || len(ue.Missing) != 2 {
		t.Fatalf("error %v is not an *UnsupportedError with 2 items", err)
	}

	// An opset newer than the engine knows, another domain, a subgraph, a
	// type the engine does not compute on.
	for _, tc := range []struct {
		name  string
		model *onnxpb.ModelProto
		want  string
	}{
		{"opset 26", onnxtest.Model(oneNode("Relu", ""), map[string]int64{"": 26}, nil), "ai.onnx/Relu (opset 26)"},
		{"domain", onnxtest.Model(oneNode("FusedGemm", "com.microsoft"), map[string]int64{"": 17, "com.microsoft": 1}, nil), "com.microsoft/FusedGemm (opset 1)"},
		{"dtype", onnxtest.Model(oneNodeTyped("Gemm", onnxpb.TensorProto_INT32), nil, nil), "ai.onnx/Gemm (opset 13) on INT32"},
		{"sequence input", seqInput(), `graph input "x" of type seq(tensor(FLOAT))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), onnxtest.Marshal(tc.model), serving.LoadOptions{})
			if !errors.Is(err, serving.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrUnsupported saying %q", err, tc.want)
			}
		})
	}
	if _, err := e.Unsupported([]byte("not a model")); !errors.Is(err, onnx.ErrInvalidModel) {
		t.Fatalf("garbage: %v", err)
	}
}

func oneNode(op, domain string) *onnxpb.GraphProto {
	n := onnxtest.Node(op, []string{"x"}, []string{"y"})
	if domain != "" {
		n.Domain = proto.String(domain)
	}
	return onnxtest.Graph("g", []*onnxpb.NodeProto{n},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 2))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT))})
}

func oneNodeTyped(op string, dt onnxpb.TensorProto_DataType) *onnxpb.GraphProto {
	return onnxtest.Graph("g", []*onnxpb.NodeProto{onnxtest.Node(op, []string{"a", "b"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("a", onnxtest.TensorType(dt, 2, 2)), onnxtest.Value("b", onnxtest.TensorType(dt, 2, 2))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(dt))})
}

func seqInput() *onnxpb.ModelProto {
	g := onnxtest.Graph("g", nil,
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.SequenceType(onnxtest.TensorType(onnxpb.TensorProto_FLOAT)))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.SequenceType(onnxtest.TensorType(onnxpb.TensorProto_FLOAT)))})
	return onnxtest.Model(g, nil, nil)
}

func TestOperators(t *testing.T) {
	ops := Operators()
	for _, want := range []string{"ai.onnx/Gemm 1,6,7,9,11,13", "ai.onnx.ml/TreeEnsemble 5", "ai.onnx.ml/LabelEncoder 1,2,4"} {
		if !slices.Contains(ops, want) {
			t.Errorf("Operators() lacks %q: %q", want, ops)
		}
	}
}

func TestTopologicalOrder(t *testing.T) {
	g := onnxtest.Graph("g", []*onnxpb.NodeProto{
		onnxtest.Node("Relu", []string{"y"}, []string{"z"}),
		onnxtest.Node("Relu", []string{"x"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 2))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("z", onnxtest.TensorType(onnxpb.TensorProto_FLOAT))})
	_, err := New().Load(context.Background(), onnxtest.Marshal(onnxtest.Model(g, nil, nil)), serving.LoadOptions{})
	if !errors.Is(err, serving.ErrUnsupported) || !strings.Contains(err.Error(), "not in topological order") {
		t.Fatalf("error %v", err)
	}
	g.Node = g.Node[:1]
	_, err = New().Load(context.Background(), onnxtest.Marshal(onnxtest.Model(g, nil, nil)), serving.LoadOptions{})
	if !errors.Is(err, onnx.ErrInvalidModel) {
		t.Fatalf("undefined value: %v", err)
	}
}

func TestInputErrors(t *testing.T) {
	m := mustLoad(t, mlpModel(1, 4, 3))
	ctx := context.Background()
	good := randomInput(1, 2, 4)
	out := outputsOf(m)
	for _, tc := range []struct {
		name string
		in   []tensor.Tensor
		out  []tensor.Tensor
		want string
	}{
		{"shape", []tensor.Tensor{randomInput(1, 2, 5)}, out, `input "features": expected shape [-1, 4], got [2, 5]`},
		{"rank", []tensor.Tensor{tensor.FromFloat32("features", []int64{8}, make([]float32, 8))}, out, `expected shape [-1, 4], got [8]`},
		{"datatype", []tensor.Tensor{tensor.FromFloat64("features", []int64{1, 4}, make([]float64, 4))}, out, `input "features": expected datatype FP32, got FP64`},
		{"missing", nil, out, `missing input "features" (FP32 [-1, 4])`},
		{"unknown", []tensor.Tensor{good, tensor.FromFloat32("extra", []int64{1}, []float32{1})}, out, `unknown input "extra" (the model's inputs are "features" (FP32 [-1, 4]))`},
		{"twice", []tensor.Tensor{good, good}, out, `input "features" is given twice`},
		{"data", []tensor.Tensor{{Name: "features", DType: tensor.Float32, Shape: []int64{1, 4}, Raw: make([]byte, 12)}}, out, "needs 16 bytes"},
		{"no outputs", []tensor.Tensor{good}, nil, "no outputs requested"},
		{"unknown output", []tensor.Tensor{good}, []tensor.Tensor{{Name: "nope"}}, `unknown output "nope"`},
		{"output twice", []tensor.Tensor{good}, []tensor.Tensor{{Name: "label"}, {Name: "label"}}, `output "label" is requested twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Run(ctx, tc.in, tc.out)
			wantInvalid(t, err, tc.name)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	// Unaligned data is copied, not refused.
	buf := make([]byte, 17)
	unaligned := tensor.Tensor{Name: "features", DType: tensor.Float32, Shape: []int64{1, 4}, Raw: buf[1:]}
	if err := m.Run(ctx, []tensor.Tensor{unaligned}, out); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Run(cctx, []tensor.Tensor{good}, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	m.Close()
	if err := m.Run(ctx, []tensor.Tensor{good}, out); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

// TestOptionalInputs: IR 3 models list their initializers as inputs; those
// are optional, with the initializer as default, and not in Inputs().
func TestOptionalInputs(t *testing.T) {
	layer := onnxtest.Dense{W: [][]float32{{1, 0}, {0, 1}}, B: []float32{0, 0}}
	m := mustLoad(t, onnxtest.Marshal(onnxtest.LegacyIR3(onnxtest.MLPClassifier(nil, nil, layer))))
	if in := m.Inputs(); len(in) != 1 || in[0].Name != "features" {
		t.Fatalf("inputs %+v", in)
	}
	x := tensor.FromFloat32("features", []int64{1, 2}, []float32{1, 3})
	out := []tensor.Tensor{{Name: "label"}}
	if err := m.Run(context.Background(), []tensor.Tensor{x}, out); err != nil {
		t.Fatal(err)
	}
	wantI64(t, out[0], 1)
	bias := tensor.FromFloat32("fc0.bias", []int64{2}, []float32{5, 0})
	if err := m.Run(context.Background(), []tensor.Tensor{x, bias}, out); err != nil {
		t.Fatal(err)
	}
	wantI64(t, out[0], 0)
}

func TestZipMapOutputInfo(t *testing.T) {
	m := mustLoad(t, logregModel(1, 3, 2))
	var found bool
	for _, o := range m.Outputs() {
		if o.Name == onnxtest.OutputSkProbs {
			found = true
			if o.DType != tensor.Float32 || !slices.Equal(o.Shape, []int64{-1, 2}) || !slices.Equal(o.Labels, []string{"0", "1"}) {
				t.Fatalf("ZipMap output %+v", o)
			}
		}
	}
	if !found {
		t.Fatal("no ZipMap output")
	}
	// Through an Identity, the labels follow.
	lr := onnxtest.LogisticRegression([]string{"a", "b"}, [][]float32{{1, 2}, {3, 4}}, []float32{0, 0}, []int64{7, 8})
	lr.Graph.Node = append(lr.Graph.Node, onnxtest.Node("Identity", []string{onnxtest.OutputSkProbs}, []string{"renamed"}))
	lr.Graph.Output[1].Name = proto.String("renamed")
	m = mustLoad(t, onnxtest.Marshal(lr))
	if o := m.Outputs()[1]; o.Name != "renamed" || !slices.Equal(o.Labels, []string{"7", "8"}) {
		t.Fatalf("renamed ZipMap output %+v", o)
	}
	out := outputsOf(m)
	if err := m.Run(context.Background(), []tensor.Tensor{tensor.FromFloat32("features", []int64{1, 2}, []float32{1, -1})}, out); err != nil {
		t.Fatal(err)
	}
	wantShape(t, out[1], 1, 2)
}

// TestPlanning checks constant folding and buffer reuse.
func TestPlanning(t *testing.T) {
	// Reshape(x, Concat(Constant, Constant)) and a chain of Relus.
	nodes := []*onnxpb.NodeProto{
		onnxtest.Node("Constant", nil, []string{"c1"}, onnxtest.AttrInts("value_ints", -1)),
		onnxtest.Node("Constant", nil, []string{"c2"}, onnxtest.AttrInts("value_ints", 2)),
		onnxtest.Node("Concat", []string{"c1", "c2"}, []string{"shape"}, onnxtest.AttrInt("axis", 0)),
		onnxtest.Node("Reshape", []string{"x", "shape"}, []string{"r0"}),
	}
	nodes = append(nodes,
		onnxtest.Node("Relu", []string{"x"}, []string{""}),        // no output
		onnxtest.Node("Sigmoid", []string{"x"}, []string{"dead"})) // output unused
	prev := "r0"
	for i := 1; i <= 6; i++ {
		name := "r" + string(rune('0'+i))
		nodes = append(nodes, onnxtest.Node("Relu", []string{prev}, []string{name}))
		prev = name
	}
	g := onnxtest.Graph("g", nodes, []*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n", 4))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value(prev, onnxtest.TensorType(onnxpb.TensorProto_FLOAT, nil, 2))})
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(onnxtest.Marshal(onnxtest.Model(g, nil, nil)), &mp); err != nil {
		t.Fatal(err)
	}
	p, err := compile(&mp)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.nodes) != 7 { // Reshape + 6 Relu; the constants are folded, the dead nodes dropped
		t.Fatalf("%d nodes after folding, want 7", len(p.nodes))
	}
	if p.nSlots != 2 { // Reshape shares x; the Relus alternate between two buffers
		t.Fatalf("%d buffers, want 2", p.nSlots)
	}
	m := newModel(p, 0)
	out := []tensor.Tensor{{Name: prev}}
	if err := m.Run(context.Background(), []tensor.Tensor{tensor.FromFloat32("x", []int64{1, 4}, []float32{-1, 2, -3, 4})}, out); err != nil {
		t.Fatal(err)
	}
	wantShape(t, out[0], 2, 2)
	wantF32(t, out[0], 0, 2, 0, 4)
}

// TestConcurrentRuns runs one model from many goroutines with different
// batch sizes and checks each result against a sequential run.
func TestConcurrentRuns(t *testing.T) {
	for _, model := range [][]byte{mlpModel(3, 8, 16, 3), treeModel(3, 20, 4, 8), logregModel(3, 8, 3)} {
		m := mustLoad(t, model)
		want := map[int][]tensor.Tensor{}
		for batch := 0; batch < 6; batch++ {
			out := outputsOf(m)
			if err := m.Run(context.Background(), []tensor.Tensor{randomInput(uint64(batch), batch, 8)}, out); err != nil {
				t.Fatal(err)
			}
			want[batch] = out
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := outputsOf(m)
				for i := 0; i < 50; i++ {
					batch := (g + i) % 6
					if err := m.Run(context.Background(), []tensor.Tensor{randomInput(uint64(batch), batch, 8)}, out); err != nil {
						errs <- err
						return
					}
					for j := range out {
						if err := compareTensors(&out[j], &want[batch][j], 0, 0); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}

// TestStringOutputsAreCopies: the caller owns the bytes of string outputs.
func TestStringOutputsAreCopies(t *testing.T) {
	nc := mlCase("LabelEncoder", attrList{onnxtest.AttrInts("keys_int64s", 1), onnxtest.AttrStrings("values_strings", "one")}, 1, i64(sh(2), 1, 2))
	m := mustLoad(t, nc.model())
	out := outputsOf(m)
	in := []tensor.Tensor{i64(sh(2), 1, 2)}
	in[0].Name = "in0"
	for range 2 {
		if err := m.Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		if string(out[0].Strings[0]) != "one" || string(out[0].Strings[1]) != "_Unused" {
			t.Fatalf("got %q", out[0].Strings)
		}
		out[0].Strings[0][0] = 'X' // must not reach the model
	}
}

// TestRepositoryModels loads the models of internal/onnx/testdata and runs
// them on zeros, as the serving layer's warm-up does.
func TestRepositoryModels(t *testing.T) {
	files, _ := filepath.Glob("../../internal/onnx/testdata/*.onnx")
	if len(files) == 0 {
		t.Skip("no models in internal/onnx/testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m := mustLoad(t, data)
			var in []tensor.Tensor
			for _, info := range m.Inputs() {
				shape := make([]int64, len(info.Shape))
				for i, d := range info.Shape {
					shape[i] = max(d, 1)
				}
				x := tensor.Tensor{Name: info.Name, DType: info.DType, Shape: shape}
				x.SetLen(int(tensor.NumElements(shape)))
				in = append(in, x)
			}
			if err := m.Run(context.Background(), in, outputsOf(m)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
