package linear

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"
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

// BenchmarkTrain fits 3 classes on 7 features (the malnutrition shape).
// peak-MB is the heap's growth over the data during training.
//
//	go test -run '^$' -bench Train -benchtime 1x ./training/linear
func BenchmarkTrain(b *testing.B) {
	mu := []float64{30, 0.5, 135, 11, 88, 0.02, 15}
	sd := []float64{15, 0.5, 12, 3, 10, 0.1, 1.5}
	coef := [][]float64{{0, 0, 0.2, 0, 0, -3, 0.5}, {0, 0, 0, 0, 0, 0, 0}, {0, 0.1, -0.2, 0.1, -0.02, 3, -0.5}}
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			x, y := softmaxData(n, 1, mu, sd, coef, []float64{-30, 0, 30})
			var peak uint64
			iters := 0
			for b.Loop() {
				base := heapNow()
				stop := peakHeap()
				m, err := Train(context.Background(), x, y, classes3, nil, DefaultParams())
				if err != nil {
					b.Fatal(err)
				}
				if top := stop(); top > base {
					peak = max(peak, top-base)
				}
				iters = m.Iterations
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
			b.ReportMetric(float64(iters), "iterations")
		})
	}
}
