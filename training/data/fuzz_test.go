package data

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/synth"
)

const demandHeader = "district_id,region,month,population,admissions,consumption,stockout,flood,displaced,report_date\n"

// FuzzReadCSV checks the CSV parser against encoding/csv, and the loader's
// invariants on arbitrary input, both as a whole file and after a valid
// demand header. The seed corpus is in testdata/fuzz/FuzzReadCSV.
//
//	go test ./training/data -run '^$' -fuzz FuzzReadCSV -fuzztime 60s
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(demandHeader + "D001,North,2024-01,1000,10,11.5,false,false,0,2024-02-10\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		compareWithEncodingCSV(t, data)
		for _, input := range [][]byte{data, append([]byte(demandHeader), data...)} {
			checkLoad(t, input, synth.DemandSchema())
		}
		checkLoad(t, data, synth.MalnutritionSchema())
	})
}

// compareWithEncodingCSV parses data with both readers: they must agree on
// every record, and fail on the same one. Carriage returns are left out:
// encoding/csv turns "\r\n" inside quotes into "\n", this reader keeps it.
func compareWithEncodingCSV(t *testing.T, data []byte) {
	if bytes.IndexByte(data, '\r') >= 0 {
		return
	}
	std := csv.NewReader(bytes.NewReader(data))
	std.FieldsPerRecord = -1
	ours := newCSVReader(bytes.NewReader(data))
	for n := 0; ; n++ {
		want, wantErr := std.Read()
		got, gotErr := ours.read()
		if wantErr == io.EOF || gotErr == io.EOF {
			if wantErr != gotErr {
				t.Fatalf("record %d: encoding/csv %v, ours %v (%q)", n, wantErr, gotErr, got)
			}
			return
		}
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("record %d: encoding/csv %q, %v; ours %q, %v", n, want, wantErr, got, gotErr)
		}
		if wantErr != nil {
			if !errors.Is(gotErr, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", gotErr)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("record %d: %q, encoding/csv %q", n, got, want)
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("record %d field %d: %q, encoding/csv %q", n, i, got[i], want[i])
			}
		}
	}
}

// checkLoad loads data and checks what must hold whatever the input.
func checkLoad(t *testing.T, data []byte, s *dataset.Schema) {
	f, rep, err := ReadCSV(context.Background(), bytes.NewReader(data), int64(len(data)), s, testOpts)
	if err != nil {
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrSchema) {
			t.Fatalf("error %v is neither ErrFormat nor ErrSchema", err)
		}
		return
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	_ = rep.Text()
	n := f.Len()
	if rep.Rows.Loaded != n || rep.Rows.Read != n+rep.Rows.Dropped || rep.Bytes != int64(len(data)) {
		t.Fatalf("rows %+v, frame %d, bytes %d of %d", rep.Rows, n, rep.Bytes, len(data))
	}
	for _, c := range f.Columns {
		if c.Len() != n {
			t.Fatalf("column %s has %d values, frame %d", c.Name, c.Len(), n)
		}
	}
	for _, c := range rep.Checks {
		if c.Count < len(c.Examples) || c.Count <= 0 {
			t.Fatalf("check %+v", c)
		}
		for _, e := range c.Examples {
			if e.Row < 0 || e.Row > rep.Rows.Read {
				t.Fatalf("check %s: example row %d of %d", c.Name, e.Row, rep.Rows.Read)
			}
		}
	}
	// What the Frame holds is valid: keys present and unique, values in
	// range and among the levels.
	seen := map[string]bool{}
	for i := range n {
		var key []any
		for _, k := range append(slices.Clone(s.Key), s.Time) {
			c := f.Col(k)
			if c.Missing(i) {
				t.Fatalf("row %d: key column %s missing", i, k)
			}
			key = append(key, c.Value(i))
		}
		kj, _ := json.Marshal(key)
		if seen[string(kj)] {
			t.Fatalf("key %s twice in the frame", kj)
		}
		seen[string(kj)] = true
		for j, fd := range s.Fields {
			c := f.Columns[j]
			if c.Missing(i) {
				continue
			}
			if fd.Type == dataset.String {
				if fd.Levels != nil && !slices.Contains(fd.Levels, c.String(i)) {
					t.Fatalf("row %d: %s = %q not a level", i, fd.Name, c.String(i))
				}
				continue
			}
			v := c.Num[i]
			if (fd.Min != nil && v < *fd.Min) || (fd.Max != nil && v > *fd.Max) || math.IsInf(v, 0) ||
				(fd.Type != dataset.Float && v != math.Trunc(v)) {
				t.Fatalf("row %d: %s = %v out of range or type", i, fd.Name, v)
			}
		}
	}
}
