package native

import (
	"context"
	"testing"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// TestRunAllocatesNothing: with fixed input shapes and recycled out tensors,
// a Run allocates nothing once warm.
func TestRunAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	models := []struct {
		name     string
		model    []byte
		features int
	}{
		{"mlp", mlpModel(1, 30, 64, 32, 3), 30},
		{"trees", treeModel(1, 100, 6, 30), 30},
		{"logreg", logregModel(1, 30, 3), 30},
	}
	ctx := context.Background()
	for _, tc := range models {
		m := mustLoad(t, tc.model)
		for _, batch := range []int{1, 64} {
			in := []tensor.Tensor{randomInput(2, batch, tc.features)}
			out := outputsOf(m)
			for range 3 {
				if err := m.Run(ctx, in, out); err != nil {
					t.Fatalf("%s batch %d: %v", tc.name, batch, err)
				}
			}
			allocs := testing.AllocsPerRun(50, func() {
				if err := m.Run(ctx, in, out); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s at batch %d: %v allocations per Run, want 0", tc.name, batch, allocs)
			}
		}
	}
}
