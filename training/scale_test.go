package training

import (
	"context"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/synth"
)

// TestJobMillionRows trains the demand model on 1,000,000 district-months
// from a Parquet file and checks that memory stays bounded: the data is
// streamed into one columnar table (never the file twice), and the peak
// heap stays within a small multiple of that table plus the feature matrix.
// It runs without the race detector (make test runs it in a second pass),
// because the detector multiplies both time and memory.
func TestJobMillionRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1M rows: skipped under -short and -race; make test runs it without -race")
	}
	path := filepath.Join(t.TempDir(), "demand.parquet")
	w, err := data.NewWriter(context.Background(), path, synth.DemandSchema(), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := synth.Demand(synth.DemandConfig{Seed: 5, Districts: 14000, Months: 72}, w.Write)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Rows < 950_000 {
		t.Fatalf("only %d rows", st.Rows)
	}
	// A tighter GC target makes the in-use heap track what is live rather
	// than the collector's slack.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	res, err := Run(context.Background(), Config{Family: FamilyDemand, Data: path, Seed: 5, DataOptions: data.Options{AsOf: asOf}})
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	growth := float64(peak.Load()-min(peak.Load(), base.HeapInuse)) / (1 << 20)
	// The table (~12 columns, 84 MB), the feature matrix and row keys
	// (100 MB), the trainer's bins, gradients and predictions (~60 MB) and
	// the evaluation's per-row arrays make ~300 MB live for a million rows;
	// a job that copied the table or the matrix again would pass 450.
	const limitMB = 450
	t.Logf("%d rows in %s, heap growth %.0f MB (limit %d MB); %s", res.Rows, time.Since(start).Round(time.Second), growth, limitMB, res.Summary)
	if growth > limitMB {
		t.Fatalf("heap grew by %.0f MB training on %d rows", growth, res.Rows)
	}
}
