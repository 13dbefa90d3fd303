package data

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/training/synth"
)

// TestLoadMillionRowsBoundedMemory loads a 1,000,000-row demand dataset
// from CSV and from Parquet and checks that loading allocates little beyond
// the Frame itself: no copy of the file, no second copy of the columns.
// Under the race detector it uses 100,000 rows.
func TestLoadMillionRowsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 rows: skipped with -short")
	}
	districts := 4100 // × 250 months, less 2% missing reports: just over a million rows
	if raceEnabled {
		districts = 410
	}
	cfg := synth.DemandConfig{Seed: 1, Districts: districts, Months: 250, Start: "2000-01"}
	dir := t.TempDir()
	ctx := context.Background()
	paths := map[Format]string{CSV: filepath.Join(dir, "demand.csv"), Parquet: filepath.Join(dir, "demand.parquet")}
	start := time.Now()
	var writers []*Writer
	for _, f := range []Format{CSV, Parquet} {
		w, err := NewWriter(ctx, paths[f], synth.DemandSchema(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		writers = append(writers, w)
	}
	st, err := synth.Demand(cfg, func(row []any) error {
		for _, w := range writers {
			if err := w.Write(row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range writers {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writers = nil
	t.Logf("generated %d rows into CSV and Parquet in %v", st.Rows, time.Since(start).Round(time.Millisecond))
	if !raceEnabled && st.Rows < 1_000_000 {
		t.Fatalf("%d rows, want a million", st.Rows)
	}
	for _, f := range []Format{CSV, Parquet} {
		t.Run(string(f), func(t *testing.T) {
			fi, err := os.Stat(paths[f])
			if err != nil {
				t.Fatal(err)
			}
			size := fi.Size()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			frame, rep, err := Load(ctx, paths[f], synth.DemandSchema(), Options{AsOf: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			total := int64(after.TotalAlloc - before.TotalAlloc)
			runtime.GC()
			var live runtime.MemStats
			runtime.ReadMemStats(&live)
			retained := int64(live.HeapAlloc) - int64(before.HeapAlloc)
			runtime.KeepAlive(frame)
			fb := frameBytes(frame)
			overhead := total - fb
			t.Logf("%s: %d rows, file %.1f MB, %v (%.0f rows/s, %.1f MB/s); allocated %.1f MB (%.2f× file, %.2f× frame), retained %.1f MB, Frame %.1f MB, overhead %.1f MB (%.1f B/row), %d allocations",
				f, frame.Len(), mb(size), elapsed.Round(time.Millisecond), float64(frame.Len())/elapsed.Seconds(), mb(size)/elapsed.Seconds(),
				mb(total), float64(total)/float64(size), float64(total)/float64(fb), mb(retained), mb(fb), mb(overhead),
				float64(overhead)/float64(frame.Len()), after.Mallocs-before.Mallocs)
			if rep.Rows.Read != st.Rows || frame.Len() != st.Rows {
				t.Errorf("rows %+v, generated %d", rep.Rows, st.Rows)
			}
			if raceEnabled {
				return // the race detector's own allocations blur the numbers
			}
			// What is not the Frame: a key table (8 bytes a slot), read
			// buffers, a few Parquet pages. A copy of the file, or of the
			// columns, would add at least the file's or the Frame's size.
			if perRow := float64(overhead) / float64(frame.Len()); perRow > 32 {
				t.Errorf("%.1f bytes allocated per row beyond the Frame, want at most 32", perRow)
			}
			if f == CSV && float64(total) > 2*float64(size) {
				t.Errorf("allocated %.1f MB for a %.1f MB CSV file, want under 2×", mb(total), mb(size))
			}
			if float64(retained) > 1.3*float64(fb) {
				t.Errorf("retained %.1f MB for a %.1f MB Frame", mb(retained), mb(fb))
			}
			if elapsed > 20*time.Second {
				t.Errorf("load took %v", elapsed)
			}
		})
	}
}

func mb(n int64) float64 { return float64(n) / 1e6 }
