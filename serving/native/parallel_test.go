package native

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// countTask counts how many times each index is computed.
type countTask struct{ hits []atomic.Int32 }

func (c *countTask) runRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

// TestParallelFor: every index is computed once, whatever the threads and
// however many loops run at once.
func TestParallelFor(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var job parallelJob
			for _, n := range []int{0, 1, 2, 7, 64, 1000} {
				for _, threads := range []int{1, 2, 3, 16} {
					task := &countTask{hits: make([]atomic.Int32, n)}
					for range 20 {
						parallelFor(&job, task, n, threads)
					}
					for i := range task.hits {
						if h := task.hits[i].Load(); h != 20 {
							t.Errorf("goroutine %d, n=%d threads=%d: index %d computed %d times, want 20", g, n, threads, i, h)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

type panicTask struct{ at int }

func (p *panicTask) runRange(lo, hi int) {
	if lo <= p.at && p.at < hi {
		panic(fmt.Sprintf("range %d-%d", lo, hi))
	}
}

// TestParallelForPanics: a panic in any range, on a worker or on the
// caller, reaches the caller (Run turns it into an error), and the workers
// go on.
func TestParallelForPanics(t *testing.T) {
	var job parallelJob
	for at := range 16 {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("panic at %d: not raised", at)
				}
			}()
			parallelFor(&job, &panicTask{at: at}, 16, 4)
		}()
	}
	task := &countTask{hits: make([]atomic.Int32, 100)}
	parallelFor(&job, task, 100, 4)
	for i := range task.hits {
		if task.hits[i].Load() != 1 {
			t.Fatalf("after panics: index %d computed %d times", i, task.hits[i].Load())
		}
	}
}

type spinTask struct{ sink atomic.Int64 }

func (s *spinTask) runRange(lo, hi int) {
	x := int64(0)
	for i := lo * 100; i < hi*100; i++ {
		x += int64(i) * int64(i)
	}
	s.sink.Add(x)
}

// BenchmarkParallelFor measures the cost of a loop split across two
// goroutines, against the same loop on one.
func BenchmarkParallelFor(b *testing.B) {
	for _, n := range []int{64, 1024} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("n=%d/threads=%d", n, threads), func(b *testing.B) {
				var job parallelJob
				task := &spinTask{}
				b.ReportAllocs()
				for b.Loop() {
					parallelFor(&job, task, n, threads)
				}
			})
		}
	}
}

// TestThreadsGiveTheSameResults: a run split across threads computes each
// row as one thread does, so the outputs are the same bit for bit (MLP:
// Gemm, Relu, Softmax; tree ensembles, regressor and classifier).
func TestThreadsGiveTheSameResults(t *testing.T) {
	models := []struct {
		name  string
		model []byte
	}{
		{"mlp", mlpModel(3, 30, 64, 32, 10)},
		{"trees", treeModel(3, 40, 5, 30)},
		{"forest", onnxtest.Marshal(onnxtest.Forest(30, 60, 7, 3))},
	}
	for _, tc := range models {
		for _, batch := range []int{63, 64, 333, 1500} {
			in := []tensor.Tensor{randomInput(4, batch, 30)}
			var want []tensor.Tensor
			for _, threads := range []int{1, 2, 3} {
				m, err := New().Load(t.Context(), tc.model, loadThreads(threads))
				if err != nil {
					t.Fatal(err)
				}
				out := outputsOf(m)
				if err := m.Run(t.Context(), in, out); err != nil {
					t.Fatal(err)
				}
				m.Close()
				if want == nil {
					want = out
					continue
				}
				for i := range out {
					if !slices.Equal(out[i].Raw, want[i].Raw) {
						t.Errorf("%s, batch %d: output %s differs with %d threads", tc.name, batch, out[i].Name, threads)
					}
				}
			}
		}
	}
}
