//go:build cgo

package ort

import (
	"context"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// One inference at batch 1 and 1024, the out tensors recycled between runs.
// Run with -benchmem: the allocations are onnxruntime_go's (it copies every
// output ONNX Runtime allocates into Go memory) and Lantern's few.

func BenchmarkRiskMLP(b *testing.B) {
	benchModel(b, fixture(b, "risk_mlp.onnx"), 4, "probabilities", "label")
}

func BenchmarkIrisZipMap(b *testing.B) {
	benchModel(b, fixture(b, "iris_logreg.onnx"), 4, "output_probability", "output_label")
}

// BenchmarkForest: a TreeEnsembleRegressor of 100 trees of depth 6 over 10 features.
func BenchmarkForest(b *testing.B) {
	benchModel(b, newForest(100, 6, 10, 3).model(), 10, "prediction")
}

func benchModel(b *testing.B, model []byte, width int, outputs ...string) {
	e := testEngine(b)
	// ONNX Runtime's default intra-op pool (one thread per core) against one thread.
	for _, threads := range []int{0, 1} {
		name := "threads=" + strconv.Itoa(threads)
		if threads == 0 {
			name = "threads=default"
		}
		m := load(b, e, model, serving.LoadOptions{IntraOpThreads: threads})
		for _, batch := range []int{1, 1024} {
			b.Run(name+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
				x := make([]float32, batch*width)
				for i := range x {
					x[i] = float32(i%97) / 97
				}
				in := []tensor.Tensor{tensor.FromFloat32("features", []int64{int64(batch), int64(width)}, x)}
				out := make([]tensor.Tensor, len(outputs))
				for i, name := range outputs {
					out[i].Name = name
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if err := m.Run(ctx, in, out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(batch), "ns/row")
			})
		}
	}
}
