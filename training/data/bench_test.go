package data

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lantern-mlops/lantern/training/synth"
)

// benchSizes are demand datasets of 250 months: about 100,000 and 1,000,000 rows.
var benchSizes = []struct {
	name      string
	districts int
}{{"100k", 410}, {"1M", 4100}}

func benchDemand(districts int) synth.DemandConfig {
	return synth.DemandConfig{Seed: 1, Districts: districts, Months: 250, Start: "2000-01"}
}

// BenchmarkLoad loads demand data from local CSV and Parquet files:
//
//	go test ./training/data -run '^$' -bench Load -benchtime 5x
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	for _, size := range benchSizes {
		paths := map[Format]string{}
		var rows int
		for _, f := range []Format{CSV, Parquet} {
			paths[f] = filepath.Join(dir, fmt.Sprintf("demand-%s.%s", size.name, f))
			w, err := NewWriter(context.Background(), paths[f], synth.DemandSchema(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			st, err := synth.Demand(benchDemand(size.districts), w.Write)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			rows = st.Rows
		}
		for _, f := range []Format{CSV, Parquet} {
			b.Run(fmt.Sprintf("%s/%s", f, size.name), func(b *testing.B) {
				fi, err := os.Stat(paths[f])
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(fi.Size())
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := Load(context.Background(), paths[f], synth.DemandSchema(), testOpts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// BenchmarkWrite writes 100,000 generated demand rows (generation included).
func BenchmarkWrite(b *testing.B) {
	for _, f := range []Format{CSV, Parquet} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			var rows int
			for b.Loop() {
				w, err := NewStreamWriter(io.Discard, f, synth.DemandSchema())
				if err != nil {
					b.Fatal(err)
				}
				st, err := synth.Demand(benchDemand(410), w.Write)
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				rows = st.Rows
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
