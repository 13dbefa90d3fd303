package gbrt

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkTrain trains 200 trees of depth 6 (up to 64 leaves) on 20
// features. peak-MB is the heap's growth over the data during training;
// bins-MB the binned data.
//
//	go test -run '^$' -bench Train -benchtime 1x ./training/gbrt
func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			x, y := wideData(n, 20, 1)
			p := Params{Rounds: 200, MaxDepth: 6}
			var peak uint64
			for b.Loop() {
				base := heapNow()
				stop := peakHeap()
				if _, err := Train(context.Background(), x, y, nil, nil, p); err != nil {
					b.Fatal(err)
				}
				if top := stop(); top > base {
					peak = max(peak, top-base)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
			b.ReportMetric(float64(n*20)/(1<<20), "bins-MB")
		})
	}
}
