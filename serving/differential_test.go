package serving_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/ort"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// diffCase is a model and inputs to run on both engines.
type diffCase struct {
	name   string
	model  []byte
	inputs []tensor.Tensor // nil: random inputs from the model's signature
}

func diffCases(t *testing.T) []diffCase {
	var cases []diffCase
	files, _ := filepath.Glob("../internal/onnx/testdata/*.onnx")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, diffCase{name: filepath.Base(f), model: b})
	}
	cases = append(cases,
		diffCase{name: "forest-100x6", model: onnxtest.Marshal(onnxtest.Forest(30, 100, 6, 1))},
		diffCase{name: "mlp-30-64-32-3", model: onnxtest.Marshal(onnxtest.RandomMLP(2, 30, 64, 32, 3))},
	)
	dirs, _ := filepath.Glob("native/testdata/ml/*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "model.onnx"))
		if err != nil {
			continue
		}
		var in []tensor.Tensor
		pbs, _ := filepath.Glob(filepath.Join(d, "test_data_set_0", "input_*.pb"))
		for _, p := range pbs {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var tp onnxpb.TensorProto
			if err := proto.Unmarshal(raw, &tp); err != nil {
				t.Fatal(err)
			}
			x, err := tensor.FromProto(&tp)
			if err != nil {
				t.Fatal(err)
			}
			in = append(in, *x)
		}
		cases = append(cases, diffCase{name: "ml/" + filepath.Base(d), model: b, inputs: in})
	}
	return cases
}

// ortLacks lists cases ONNX Runtime 1.30 cannot run, with the reason.
var ortLacks = map[string]string{
	"ml/label_encoder_v4_nan_key": "ONNX Runtime 1.30 has no LabelEncoder(4) kernel for float keys; the native engine's expected values come from the specification",
}

// TestEnginesAgree runs every test model through the native engine and
// ONNX Runtime and requires the same outputs (1e-5 relative for floats,
// exact for integers and strings).
func TestEnginesAgree(t *testing.T) {
	ortEngine, err := ort.New(ort.Options{})
	if err != nil {
		if os.Getenv("LANTERN_INTEGRATION") == "1" {
			t.Fatalf("ONNX Runtime: %v", err)
		}
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	nat := native.New()
	ctx := context.Background()
	cases := diffCases(t)
	if len(cases) < 40 {
		t.Fatalf("only %d cases found", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := ortLacks[c.name]; ok {
				t.Skip(why)
			}
			nm, err := nat.Load(ctx, c.model, serving.LoadOptions{})
			if err != nil {
				t.Fatalf("native: %v", err)
			}
			defer nm.Close()
			om, err := ortEngine.Load(ctx, c.model, serving.LoadOptions{IntraOpThreads: 1})
			if err != nil {
				t.Fatalf("onnxruntime: %v", err)
			}
			defer om.Close()
			in := c.inputs
			if in == nil {
				in = randomInputs(t, nm.Inputs(), 7)
			}
			got := runAll(t, nm, in)
			want := runAll(t, om, in)
			for i := range want {
				if err := agree(&got[i], &want[i]); err != nil {
					t.Errorf("output %q: %v", want[i].Name, err)
				}
			}
		})
	}
}

func runAll(t *testing.T, m serving.Model, in []tensor.Tensor) []tensor.Tensor {
	t.Helper()
	var out []tensor.Tensor
	for _, o := range m.Outputs() {
		out = append(out, tensor.Tensor{Name: o.Name})
	}
	if err := m.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func randomInputs(t *testing.T, infos []tensor.Info, rows int64) []tensor.Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	var in []tensor.Tensor
	for _, info := range infos {
		shape := make([]int64, len(info.Shape))
		for i, d := range info.Shape {
			shape[i] = d
			if d < 0 {
				shape[i] = rows
			}
		}
		x := tensor.Tensor{Name: info.Name, DType: info.DType, Shape: shape}
		n := int(tensor.NumElements(shape))
		x.SetLen(n)
		switch info.DType {
		case tensor.Float32:
			for i := range x.Float32s() {
				x.Float32s()[i] = r.Float32()*4 - 2
			}
		case tensor.Float64:
			for i := range x.Float64s() {
				x.Float64s()[i] = r.Float64()*4 - 2
			}
		case tensor.Int64:
			for i := range x.Int64s() {
				x.Int64s()[i] = r.Int64N(5)
			}
		default:
			t.Fatalf("no random inputs of type %s", info.DType.OIP())
		}
		in = append(in, x)
	}
	return in
}

func agree(got, want *tensor.Tensor) error {
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		return fmt.Errorf("native %s %v, onnxruntime %s %v", got.DType.OIP(), got.Shape, want.DType.OIP(), want.Shape)
	}
	close := func(a, b float64) bool {
		if math.IsNaN(a) || math.IsNaN(b) {
			return math.IsNaN(a) && math.IsNaN(b)
		}
		return math.Abs(a-b) <= 1e-5*math.Max(math.Abs(a), math.Abs(b))+1e-6
	}
	switch got.DType {
	case tensor.Float32:
		g, w := got.Float32s(), want.Float32s()
		for i := range w {
			if !close(float64(g[i]), float64(w[i])) {
				return fmt.Errorf("element %d: native %g, onnxruntime %g", i, g[i], w[i])
			}
		}
	case tensor.Float64:
		g, w := got.Float64s(), want.Float64s()
		for i := range w {
			if !close(g[i], w[i]) {
				return fmt.Errorf("element %d: native %g, onnxruntime %g", i, g[i], w[i])
			}
		}
	case tensor.String:
		for i := range want.Strings {
			if string(got.Strings[i]) != string(want.Strings[i]) {
				return fmt.Errorf("element %d: native %q, onnxruntime %q", i, got.Strings[i], want.Strings[i])
			}
		}
	default:
		if string(got.Raw) != string(want.Raw) {
			return fmt.Errorf("native %v, onnxruntime %v differ", got.Raw, want.Raw)
		}
	}
	return nil
}
