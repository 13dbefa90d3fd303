package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/ort"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// BenchmarkEngine is the raw engine time of one inference of the serving
// benchmark's models, native vs ONNX Runtime (1 intra-op thread, as a
// server with one model per core would run it), at batch 1 and 1024.
func BenchmarkEngine(b *testing.B) {
	models := map[string][]byte{
		"forest": onnxtest.Marshal(onnxtest.Forest(30, 100, 6, 1)),
		"mlp":    onnxtest.Marshal(onnxtest.RandomMLP(2, 30, 64, 32, 3)),
	}
	engines := []serving.Engine{native.New()}
	if e, err := ort.New(ort.Options{}); err == nil {
		engines = append(engines, e)
	} else if os.Getenv("LANTERN_INTEGRATION") == "1" {
		b.Fatalf("ONNX Runtime: %v (run make onnxruntime)", err)
	}
	ctx := context.Background()
	for _, name := range []string{"forest", "mlp"} {
		for _, e := range engines {
			m, err := e.Load(ctx, models[name], serving.LoadOptions{IntraOpThreads: 1, InterOpThreads: 1})
			if err != nil {
				b.Fatal(err)
			}
			for _, batch := range []int{1, 1024} {
				b.Run(fmt.Sprintf("%s/%s/batch=%d", name, e.Name(), batch), func(b *testing.B) {
					x := make([]float32, batch*30)
					for i := range x {
						x[i] = float32(i%97) / 97
					}
					in := []tensor.Tensor{tensor.FromFloat32("features", []int64{int64(batch), 30}, x)}
					var out []tensor.Tensor
					for _, o := range m.Outputs() {
						out = append(out, tensor.Tensor{Name: o.Name})
					}
					b.ReportAllocs()
					for b.Loop() {
						if err := m.Run(ctx, in, out); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			m.Close()
		}
	}
}
