package data

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/synth"
)

// foreignRow is demand data as another tool might write it: other physical
// types, a DATE month, a TIMESTAMP report date, text admissions, an extra
// column, and no flood or displaced columns.
type foreignRow struct {
	Extra       int64     `parquet:"extra"`
	DistrictID  string    `parquet:"district_id"`
	Region      string    `parquet:"region"`
	Month       int32     `parquet:"month,date"` // days since 1970-01-01
	Population  int32     `parquet:"population"`
	Admissions  *string   `parquet:"admissions,optional"`
	Consumption float32   `parquet:"consumption"`
	Stockout    bool      `parquet:"stockout"`
	ReportDate  time.Time `parquet:"report_date,timestamp(millisecond)"`
	Note        string    `parquet:"note"`
}

func TestParquetForeignTypes(t *testing.T) {
	str := func(s string) *string { return &s }
	rows := []foreignRow{
		{1, "D001", "North", days(2024, 1, 15), 1000, str("12"), 11.5, false,
			time.Date(2024, 2, 10, 13, 0, 0, 0, time.UTC), "x"},
		{2, "D001", "North", days(2024, 2, 1), 1000, str("twelve"), 0.25, true,
			time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), "y"},
		{3, "D002", "East", days(2024, 1, 1), 2000, nil, 3, false,
			time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), "z"},
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[foreignRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, rep, err := ReadParquet(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), synth.DemandSchema(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"D001", "North", "2024-01", int64(1000), int64(12), 11.5, false, nil, nil, "2024-02-10"},
		{"D001", "North", "2024-02", int64(1000), nil, 0.25, true, nil, nil, "2024-03-10"},
		{"D002", "East", "2024-01", int64(2000), nil, 3.0, false, nil, nil, "2024-02-01"},
	}
	for i, w := range want {
		if got := f.Row(i, nil); !equalRows(got, w) {
			t.Errorf("row %d = %v, want %v", i, got, w)
		}
	}
	if rep.Count("type_error", "admissions") != 1 || rep.Count("missing_value", "admissions") != 1 {
		t.Errorf("checks:\n%s", rep.Text())
	}
	if got := rep.Ignored; len(got) != 2 || got[0] != "extra" || got[1] != "note" {
		t.Errorf("ignored %v", got)
	}
	sum := sha256.Sum256(buf.Bytes())
	if rep.SHA256 != hex.EncodeToString(sum[:]) { // skipped columns are hashed too
		t.Errorf("sha256 %s, want %x", rep.SHA256, sum)
	}
}

func days(y int, m time.Month, d int) int32 {
	return int32(dataset.DateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)))
}

func equalRows(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r     io.ReaderAt
	n     atomic.Int64
	calls atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	c.calls.Add(1)
	return n, err
}

func TestParquetReadsFileOnce(t *testing.T) {
	dir := t.TempDir()
	g := generator{synth.DemandSchema(), func(d synth.Defects, emit func([]any) error) (map[synth.Defect]int, error) {
		_, err := synth.Demand(synth.DemandConfig{Seed: 1, Districts: 1000, Months: 200, Start: "2005-01"}, emit)
		return nil, err
	}}
	path, _ := writeFile(t, dir, "demand.parquet", g, nil)
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	fi, _ := file.Stat()
	cr := &countingReaderAt{r: file}
	f, rep, err := ReadParquet(context.Background(), cr, fi.Size(), g.schema, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() < 190_000 {
		t.Fatalf("%d rows", f.Len())
	}
	read, size := cr.n.Load(), fi.Size()
	t.Logf("file %d bytes, read %d bytes in %d calls", size, read, cr.calls.Load())
	if read > size+256<<10 || read < size {
		t.Errorf("read %d bytes of a %d-byte file: want each byte once (plus the footer)", read, size)
	}
	if calls := cr.calls.Load(); calls > size/(1<<20)+20 {
		t.Errorf("%d reads: want a few large ones (ranged GETs on S3)", calls)
	}
	_ = rep
}

func frameBytes(f *dataset.Frame) int64 {
	var n int64
	for _, c := range f.Columns {
		n += int64(cap(c.Num))*8 + int64(cap(c.Codes))*4
		for _, s := range c.Dict {
			n += int64(len(s)) + 16
		}
	}
	return n
}
