package native

import (
	"context"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// BenchmarkRun measures one Run at batch 1 and 1024 of: a tree ensemble
// regressor (100 trees of depth 6 over 30 features), an MLP classifier
// (30→64→32→3, Gemm/Relu/Softmax/ArgMax) and a logistic regression
// (LinearClassifier + ZipMap, 30 features, 3 classes).
func BenchmarkRun(b *testing.B) {
	models := []struct {
		name  string
		model []byte
	}{
		{"trees100x6", treeModel(1, 100, 6, 30)},
		{"mlp30-64-32-3", mlpModel(1, 30, 64, 32, 3)},
		{"logreg30x3", logregModel(1, 30, 3)},
	}
	ctx := context.Background()
	for _, tc := range models {
		m := mustLoad(b, tc.model)
		for _, batch := range []int{1, 1024} {
			b.Run(tc.name+"/batch"+strconv.Itoa(batch), func(b *testing.B) {
				in := []tensor.Tensor{randomInput(2, batch, 30)}
				out := outputsOf(m)
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
