package onnxgo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	gtensor "gorgonia.org/tensor"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/ort"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// mlp is a 30→64→32→3 MLP with a fixed batch (onnx-go needs static
// shapes): Gemm, Relu, Gemm, Relu, Gemm, Softmax.
func mlp(batch int) []byte {
	r := rand.New(rand.NewPCG(2, 3))
	sizes := []int{30, 64, 32, 3}
	var nodes []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto
	x := "features"
	for i := 1; i < len(sizes); i++ {
		w := make([]float32, sizes[i]*sizes[i-1])
		for j := range w {
			w[j] = r.Float32()*2 - 1
		}
		b := make([]float32, sizes[i])
		wn, bn, out := fmt.Sprintf("W%d", i), fmt.Sprintf("B%d", i), fmt.Sprintf("h%d", i)
		inits = append(inits, onnxtest.Floats(wn, []int64{int64(sizes[i-1]), int64(sizes[i])}, w), onnxtest.Floats(bn, []int64{int64(sizes[i])}, b))
		nodes = append(nodes, onnxtest.Node("Gemm", []string{x, wn, bn}, []string{out}))
		x = out
		if i < len(sizes)-1 {
			nodes = append(nodes, onnxtest.Node("Relu", []string{x}, []string{out + "r"}))
			x = out + "r"
		}
	}
	nodes = append(nodes, onnxtest.Node("Softmax", []string{x}, []string{"probabilities"}, onnxtest.AttrInt("axis", 1)))
	g := onnxtest.Graph("mlp", nodes,
		[]*onnxpb.ValueInfoProto{onnxtest.Value("features", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, batch, 30))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("probabilities", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, batch, 3))},
		inits...)
	return onnxtest.Marshal(onnxtest.Model(g, map[string]int64{"": 11}, nil))
}

func input(batch int) []float32 {
	x := make([]float32, batch*30)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	return x
}

// BenchmarkMLP: one inference of the same MLP on the three engines.
func BenchmarkMLP(b *testing.B) {
	ctx := context.Background()
	for _, batch := range []int{1, 1024} {
		model := mlp(batch)
		x := input(batch)
		b.Run(fmt.Sprintf("onnx-go/batch=%d", batch), func(b *testing.B) {
			backend := gorgonnx.NewGraph()
			m := onnx.NewModel(backend)
			if err := m.UnmarshalBinary(model); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				// onnx-go's graph consumes its input: set it for every run.
				if err := m.SetInput(0, gtensor.New(gtensor.WithShape(batch, 30), gtensor.WithBacking(append([]float32(nil), x...)))); err != nil {
					b.Fatal(err)
				}
				if err := backend.Run(); err != nil {
					b.Fatal(err)
				}
				if _, err := m.GetOutputTensors(); err != nil {
					b.Fatal(err)
				}
			}
		})
		engines := []serving.Engine{native.New()}
		if e, err := ort.New(ort.Options{}); err == nil {
			engines = append(engines, e)
		} else if os.Getenv("LANTERN_INTEGRATION") == "1" {
			b.Fatal(err)
		}
		for _, e := range engines {
			b.Run(fmt.Sprintf("%s/batch=%d", e.Name(), batch), func(b *testing.B) {
				m, err := e.Load(ctx, model, serving.LoadOptions{IntraOpThreads: 1, InterOpThreads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				in := []tensor.Tensor{tensor.FromFloat32("features", []int64{int64(batch), 30}, x)}
				out := []tensor.Tensor{{Name: "probabilities"}}
				for b.Loop() {
					if err := m.Run(ctx, in, out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestSameAnswer checks that the three engines agree on the MLP.
func TestSameAnswer(t *testing.T) {
	model := mlp(1)
	backend := gorgonnx.NewGraph()
	m := onnx.NewModel(backend)
	if err := m.UnmarshalBinary(model); err != nil {
		t.Fatal(err)
	}
	x := input(1)
	m.SetInput(0, gtensor.New(gtensor.WithShape(1, 30), gtensor.WithBacking(append([]float32(nil), x...))))
	if err := backend.Run(); err != nil {
		t.Fatal(err)
	}
	outs, _ := m.GetOutputTensors()
	want := outs[0].Data().([]float32)
	nm, err := native.New().Load(context.Background(), model, serving.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := []tensor.Tensor{{Name: "probabilities"}}
	if err := nm.Run(context.Background(), []tensor.Tensor{tensor.FromFloat32("features", []int64{1, 30}, x)}, out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out[0].Float32s() {
		if d := v - want[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("native %v, onnx-go %v", out[0].Float32s(), want)
		}
	}
}
