package gbrt

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// wideData is n rows of nf features, a few missing, some of them discrete,
// and a target mixing steps, interactions and smooth terms.
func wideData(n, nf int, seed uint64) (*dataset.Matrix, []float64) {
	r := rand.New(rand.NewPCG(seed, 9))
	x := &dataset.Matrix{Cols: make([][]float32, nf), Rows: n}
	for j := range nf {
		x.Names = append(x.Names, "f"+string(rune('a'+j%26))+string(rune('0'+j/26)))
		x.Cols[j] = make([]float32, n)
	}
	y := make([]float64, n)
	for i := range n {
		for j := range nf {
			v := r.Float32()
			switch {
			case j%5 == 4:
				v = float32(r.IntN(12)) // month-like
			case j%7 == 6 && r.IntN(20) == 0:
				v = float32(math.NaN())
			}
			x.Cols[j][i] = v
		}
		a, b, c := float64(x.Cols[0][i]), float64(x.Cols[1][i]), float64(x.Cols[2][i])
		v := 10*a + 5*math.Sin(6*b) + float64(x.Cols[4][i])
		if c > 0.5 && a < 0.3 {
			v += 8
		}
		if nf > 6 && math.IsNaN(float64(x.Cols[6][i])) {
			v -= 3
		}
		y[i] = v + r.NormFloat64()
	}
	return x, y
}

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

// TestMillionRows trains 200 trees of depth 6 on 1,000,000 rows × 20
// features and checks that the heap grows by a small multiple of the
// binned data (20 MB) at most.
func TestMillionRows(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if raceEnabled {
		t.Skip("too slow under the race detector")
	}
	const n, nf = 1_000_000, 20
	x, y := wideData(n, nf, 1)
	train, valid := span(0, 900_000), span(900_000, n)
	base := heapNow()
	stop := peakHeap()
	start := time.Now()
	m, err := Train(context.Background(), x, y, train, valid, Params{Rounds: 200, EarlyStoppingRounds: 200})
	took := time.Since(start)
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	binned := uint64(n * nf)
	growth := float64(peak-base) / float64(binned)
	t.Logf("%d trees in %v on %d CPUs; heap %d MB before, peak %d MB (+%.1f× the %d MB of bins); valid MSE %.3f",
		len(m.Trees), took.Round(time.Millisecond), runtime.GOMAXPROCS(0), base>>20, peak>>20, growth, binned>>20, m.ValidLoss[m.BestRound])
	if growth > 6 {
		t.Errorf("heap grew by %.1f× the binned data", growth)
	}
	if m.ValidLoss[m.BestRound] > 1.2 {
		t.Errorf("valid MSE %.3f, noise variance 1", m.ValidLoss[m.BestRound])
	}
}
