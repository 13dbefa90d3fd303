package mlp

import (
	"context"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// peakHeap samples the live heap every millisecond until stop is called,
// and returns the highest value seen.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

func heapNow() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// wide7 is n rows of 7 features (the malnutrition shape) and 3 classes
// cut from a non-linear score.
func wide7(n int) (*dataset.Matrix, []int) {
	r := rand.New(rand.NewPCG(1, 7))
	x := &dataset.Matrix{Rows: n}
	for j := range 7 {
		x.Names = append(x.Names, "f"+strconv.Itoa(j))
		x.Cols = append(x.Cols, make([]float32, n))
	}
	y := make([]int, n)
	for i := range n {
		s := 0.0
		for j := range 7 {
			v := r.NormFloat64()
			x.Cols[j][i] = float32(v)
			s += v * v / float64(j+1)
		}
		switch {
		case s < 1:
			y[i] = 0
		case s < 2.5:
			y[i] = 1
		default:
			y[i] = 2
		}
	}
	return x, y
}

// BenchmarkTrain runs 5 epochs (hidden [32], batches of 128) over 7
// features. peak-MB is the heap's growth over the data during training.
//
//	go test -run '^$' -bench Train -benchtime 1x ./training/mlp
func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			x, y := wide7(n)
			p := Params{MaxEpochs: 5, Seed: 1}
			var peak uint64
			var last *Model
			for b.Loop() {
				base := heapNow()
				stop := peakHeap()
				m, err := Train(context.Background(), x, y, classes3, nil, nil, p)
				if err != nil {
					b.Fatal(err)
				}
				if top := stop(); top > base {
					peak = max(peak, top-base)
				}
				last = m
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
			b.ReportMetric(last.TrainLoss[len(last.TrainLoss)-1], "train-loss")
		})
	}
}
