package data

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/synth"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func TestMain(m *testing.M) { miniotest.Main(m) }

// asOf is after every date the generators produce with their default start
// (reports on 2025-12 come in by May 2026).
var asOf = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

var testOpts = Options{AsOf: asOf}

// generator writes a synthetic dataset through emit.
type generator struct {
	schema *dataset.Schema
	gen    func(d synth.Defects, emit func([]any) error) (map[synth.Defect]int, error)
}

var (
	demandGen = generator{synth.DemandSchema(), func(d synth.Defects, emit func([]any) error) (map[synth.Defect]int, error) {
		st, err := synth.Demand(synth.DemandConfig{Seed: 42, Defects: d}, emit)
		return st.Injected, err
	}}
	malnutritionGen = generator{synth.MalnutritionSchema(), func(d synth.Defects, emit func([]any) error) (map[synth.Defect]int, error) {
		st, err := synth.Malnutrition(synth.MalnutritionConfig{Seed: 42, Records: 6000, Defects: d}, emit)
		return st.Injected, err
	}}
)

// writeFile generates g into dir/name and returns the path and the
// defects injected.
func writeFile(t testing.TB, dir, name string, g generator, d synth.Defects) (string, map[synth.Defect]int) {
	t.Helper()
	path := filepath.Join(dir, name)
	w, err := NewWriter(context.Background(), path, g.schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	injected, err := g.gen(d, w.Write)
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, injected
}

func load(t testing.TB, uri string, s *dataset.Schema) (*dataset.Frame, *Report) {
	t.Helper()
	f, rep, err := Load(context.Background(), uri, s, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return f, rep
}

// frameDiff describes the first difference between two frames, "" if equal.
func frameDiff(a, b *dataset.Frame) string {
	if len(a.Columns) != len(b.Columns) {
		return fmt.Sprintf("%d columns vs %d", len(a.Columns), len(b.Columns))
	}
	if a.Len() != b.Len() {
		return fmt.Sprintf("%d rows vs %d", a.Len(), b.Len())
	}
	for j, ca := range a.Columns {
		cb := b.Columns[j]
		if ca.Name != cb.Name || ca.Type != cb.Type {
			return fmt.Sprintf("column %d: %s %s vs %s %s", j, ca.Name, ca.Type, cb.Name, cb.Type)
		}
		for i := range a.Len() {
			va, vb := ca.Value(i), cb.Value(i)
			if fa, ok := va.(float64); ok {
				if fb, ok := vb.(float64); ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb)) {
					continue
				}
			}
			if va != vb {
				return fmt.Sprintf("row %d, %s: %#v vs %#v", i, ca.Name, va, vb)
			}
		}
	}
	return ""
}

// defectCase says which check must catch a defect class, and what the
// loader does with the rows.
type defectCase struct {
	defect        synth.Defect
	check, column string
	action        Action
}

func TestDefectsCaughtExactly(t *testing.T) {
	schemas := []struct {
		name  string
		gen   generator
		cases []defectCase
	}{
		{"demand", demandGen, []defectCase{
			{synth.Duplicate, "duplicate_row", "", RowDropped},
			{synth.ConflictingDuplicate, "duplicate_key", "", RowDropped},
			{synth.Negative, "out_of_range", "consumption", SetMissing},
			{synth.Impossible, "out_of_range", "population", SetMissing},
			{synth.UnknownLevel, "unknown_level", "region", SetMissing},
			{synth.Inconsistent, "admissions_le_population", "admissions", SetMissing},
			{synth.FutureTime, "future_time", "month", RowDropped},
			{synth.MissingRequired, "missing_value", "population", KeptMissing},
			{synth.BadType, "type_error", "admissions", SetMissing},
		}},
		{"malnutrition", malnutritionGen, []defectCase{
			{synth.Duplicate, "duplicate_row", "", RowDropped},
			{synth.ConflictingDuplicate, "duplicate_key", "", RowDropped},
			{synth.Negative, "out_of_range", "weight_kg", SetMissing},
			{synth.Impossible, "out_of_range", "age_months", SetMissing},
			{synth.UnknownLevel, "unknown_level", "sex", SetMissing},
			{synth.Inconsistent, "status_vs_muac_oedema", "", Kept},
			{synth.FutureTime, "future_time", "visit_date", RowDropped},
			{synth.MissingRequired, "missing_value", "muac_mm", KeptMissing},
			{synth.BadType, "type_error", "muac_mm", SetMissing},
		}},
	}
	dir := t.TempDir()
	for _, s := range schemas {
		for _, format := range []Format{CSV, Parquet} {
			cleanPath, _ := writeFile(t, dir, s.name+"-clean."+string(format), s.gen, nil)
			cleanFrame, clean := load(t, cleanPath, s.gen.schema)
			all := synth.Defects{}
			for _, tc := range s.cases {
				if format == Parquet && tc.defect == synth.BadType {
					continue // Parquet is typed: the writer rejects text in a number column
				}
				all[tc.defect] = 0.01
				t.Run(fmt.Sprintf("%s/%s/%s", s.name, format, tc.defect), func(t *testing.T) {
					path, injected := writeFile(t, dir, fmt.Sprintf("%s-%s.%s", s.name, tc.defect, format),
						s.gen, synth.Defects{tc.defect: 0.02})
					n := injected[tc.defect]
					if n < 10 {
						t.Fatalf("only %d defects injected", n)
					}
					frame, rep := load(t, path, s.gen.schema)
					expect := map[string]int{tc.check + "/" + tc.column: n}
					checkDiff(t, clean, rep, expect)
					if c := rep.Check(tc.check, tc.column); c == nil || c.Action != tc.action || len(c.Examples) == 0 {
						t.Errorf("check %s %s: %+v, want action %s with examples", tc.check, tc.column, c, tc.action)
					}
					extra := 0
					switch tc.defect {
					case synth.Duplicate, synth.ConflictingDuplicate, synth.FutureTime:
						extra = n // added rows, all dropped
					}
					if rep.Rows.Read != clean.Rows.Read+extra || rep.Rows.Dropped != clean.Rows.Dropped+extra {
						t.Errorf("rows %+v, clean %+v, want %d more read and dropped", rep.Rows, clean.Rows, extra)
					}
					if wantMissing := clean.Rows.ValuesSetMissing + map[Action]int{SetMissing: n}[tc.action]; rep.Rows.ValuesSetMissing != wantMissing {
						t.Errorf("values set missing %d, want %d", rep.Rows.ValuesSetMissing, wantMissing)
					}
					if extra > 0 {
						if d := frameDiff(cleanFrame, frame); d != "" {
							t.Errorf("frame differs from the clean one: %s", d)
						}
					}
				})
			}
			t.Run(fmt.Sprintf("%s/%s/all", s.name, format), func(t *testing.T) {
				path, injected := writeFile(t, dir, fmt.Sprintf("%s-all.%s", s.name, format), s.gen, all)
				_, rep := load(t, path, s.gen.schema)
				expect := map[string]int{}
				for _, tc := range s.cases {
					if injected[tc.defect] > 0 {
						expect[tc.check+"/"+tc.column] += injected[tc.defect]
					}
				}
				checkDiff(t, clean, rep, expect)
			})
		}
	}
}

// checkDiff checks that every check counts exactly expect more (by
// "check/column") in rep than in clean.
func checkDiff(t *testing.T, clean, rep *Report, expect map[string]int) {
	t.Helper()
	counts := func(r *Report) map[string]int {
		m := map[string]int{}
		for _, c := range r.Checks {
			m[c.Name+"/"+c.Column] = c.Count
		}
		return m
	}
	before, after := counts(clean), counts(rep)
	for k := range before {
		after[k] += 0
	}
	for k := range expect {
		after[k] += 0
	}
	for k, n := range after {
		if got := n - before[k]; got != expect[k] {
			t.Errorf("%s: counted %d more than in the clean data, want %d", k, got, expect[k])
		}
	}
}

func TestNaturalIssues(t *testing.T) {
	dir := t.TempDir()
	var dst synth.DemandStats
	path := filepath.Join(dir, "demand.csv")
	w, err := NewWriter(context.Background(), path, synth.DemandSchema(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if dst, err = synth.Demand(synth.DemandConfig{Seed: 3}, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, rep := load(t, path, synth.DemandSchema())
	for _, c := range []struct {
		check, column string
		want          int
	}{
		{"missing_period", "", dst.MissingReports},
		{"missing_value", "consumption", dst.EmptyConsumption},
		{"late_report", "", dst.LateReports},
	} {
		if got := rep.Count(c.check, c.column); got != c.want {
			t.Errorf("%s %s = %d, want %d", c.check, c.column, got, c.want)
		}
	}
	if rep.Rows.Dropped != 0 || rep.Dimension(Validity).Rows != 0 || rep.Dimension(Consistency).Rows != 0 {
		t.Errorf("clean demand data has issues:\n%s", rep.Text())
	}
	if tr := rep.TimeRange; tr == nil || tr.Min != "2020-01" || tr.Max != "2025-12" {
		t.Errorf("time range %+v", rep.TimeRange)
	}
	if err := rep.Verify(DefaultThresholds()); err != nil {
		t.Errorf("clean data fails the default thresholds: %v", err)
	}

	var mst synth.MalnutritionStats
	path = filepath.Join(dir, "malnutrition.parquet")
	if w, err = NewWriter(context.Background(), path, synth.MalnutritionSchema(), Options{}); err != nil {
		t.Fatal(err)
	}
	if mst, err = synth.Malnutrition(synth.MalnutritionConfig{Seed: 3, Records: 10_000}, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, rep = load(t, path, synth.MalnutritionSchema())
	// Label noise shows when it makes a label less severe than MUAC or
	// oedema imply: a part of the noisy labels.
	if got := rep.Count("status_vs_muac_oedema", ""); got == 0 || got > mst.NoisyLabels {
		t.Errorf("status_vs_muac_oedema = %d, noisy labels %d", got, mst.NoisyLabels)
	}
	if rep.Rows.Dropped != 0 || rep.Dimension(Validity).Rows != 0 || rep.Count("age_across_visits", "") != 0 ||
		rep.Count("weight_for_height", "weight_kg") != 0 {
		t.Errorf("clean malnutrition data has issues:\n%s", rep.Text())
	}
}

func TestRoundTrip(t *testing.T) {
	demand, _, err := synth.DemandFrame(synth.DemandConfig{Seed: 5,
		Shift: &synth.Shift{FloodDistricts: []string{"D004"}, FromMonth: "2024-06"}})
	if err != nil {
		t.Fatal(err)
	}
	mal, _, err := synth.MalnutritionFrame(synth.MalnutritionConfig{Seed: 5, Records: 3000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []*dataset.Frame{demand, mal, edgeFrame(t)} {
		reports := map[Format]*Report{}
		for _, format := range []Format{CSV, Parquet} {
			t.Run(f.Schema.Name+"/"+string(format), func(t *testing.T) {
				path := filepath.Join(dir, f.Schema.Name+"."+string(format))
				w, err := NewWriter(context.Background(), path, f.Schema, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WriteFrame(f); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				got, rep := load(t, path, f.Schema)
				if d := frameDiff(f, got); d != "" {
					t.Fatalf("loaded frame differs: %s", d)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				if rep.SHA256 != hex.EncodeToString(sum[:]) || rep.SHA256 != w.SHA256() || rep.Bytes != int64(len(b)) || w.Bytes() != rep.Bytes {
					t.Errorf("sha256 %s (%d bytes), writer %s (%d), file %x (%d)", rep.SHA256, rep.Bytes, w.SHA256(), w.Bytes(), sum, len(b))
				}
				if rep.Rows.Read != f.Len() || rep.Rows.Dropped != 0 || rep.Rows.ValuesSetMissing != 0 {
					t.Errorf("rows %+v, want %d read and none dropped", rep.Rows, f.Len())
				}
				reports[format] = rep
			})
		}
		// Both formats give the same report, but for the file itself.
		if c, p := reports[CSV], reports[Parquet]; c != nil && p != nil {
			c2, p2 := *c, *p
			c2.Checks = nil
			for _, ch := range c.Checks { // Parquet has no lines
				ch2 := *ch
				ch2.Examples = nil
				for _, e := range ch.Examples {
					e.Line = 0
					ch2.Examples = append(ch2.Examples, e)
				}
				c2.Checks = append(c2.Checks, &ch2)
			}
			c2.Source, p2.Source, c2.Format, p2.Format, c2.SHA256, p2.SHA256, c2.Bytes, p2.Bytes = "", "", "", "", "", "", 0, 0
			cj, _ := json.Marshal(c2)
			pj, _ := json.Marshal(p2)
			if !bytes.Equal(cj, pj) {
				t.Errorf("%s: CSV and Parquet reports differ:\n%s\n%s", f.Schema.Name, cj, pj)
			}
		}
	}
}

// edgeFrame holds values that are awkward to write: quotes, commas, line
// breaks, non-ASCII text, extreme numbers, dates before 1970.
func edgeFrame(t *testing.T) *dataset.Frame {
	s := &dataset.Schema{Name: "edge", Key: []string{"id"}, Fields: []dataset.Field{
		{Name: "id", Type: dataset.String, Required: true},
		{Name: "text", Type: dataset.String},
		{Name: "n", Type: dataset.Int},
		{Name: "x", Type: dataset.Float},
		{Name: "b", Type: dataset.Bool},
		{Name: "m", Type: dataset.Month},
		{Name: "d", Type: dataset.Date},
	}}
	f := dataset.NewFrame(s)
	rows := [][]any{
		{"a", `say "hi", twice`, int64(1 << 53), 0.1, true, "1999-12", "1969-12-31"},
		{"b", "two\nlines\r\nand CRLF", int64(-7), 1e-300, false, "2099-01", "2000-02-29"},
		{"c", "naïve café ✓", nil, -1.5e300, nil, nil, nil},
		{"d", nil, int64(0), nil, true, "0999-01", "1900-03-01"},
		{"e,f", "\"", int64(42), 123456.789, false, "2024-06", "2024-06-30"},
	}
	for _, r := range rows {
		if err := f.AppendRow(r); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestHandwrittenDemandDefects(t *testing.T) {
	_, rep := load(t, "testdata/demand_defects.csv", synth.DemandSchema())
	want := []struct {
		check, column string
		count         int
		action        Action
		rows          []int
	}{
		{"missing_value", "district_id", 1, RowDropped, []int{3}},
		{"type_error", "month", 1, RowDropped, []int{4}},
		{"unknown_level", "region", 1, SetMissing, []int{5}},
		{"type_error", "admissions", 2, SetMissing, []int{6, 17}},
		{"admissions_le_population", "admissions", 1, SetMissing, []int{7}},
		{"zero_consumption_with_admissions", "", 1, Kept, []int{8}},
		{"region_per_district", "", 1, Kept, []int{9}},
		{"report_before_month_end", "report_date", 1, SetMissing, []int{10}},
		{"late_report", "", 1, Kept, []int{11}},
		{"duplicate_row", "", 1, RowDropped, []int{12}},
		{"out_of_range", "consumption", 1, SetMissing, []int{13}},
		{"future_time", "month", 1, RowDropped, []int{14}},
		{"missing_value", "population", 1, KeptMissing, []int{15}},
		{"duplicate_key", "", 1, RowDropped, []int{16}},
		{"future_date", "report_date", 1, SetMissing, []int{17}},
		{"missing_period", "", 9, Absent, nil},
	}
	for _, w := range want {
		c := rep.Check(w.check, w.column)
		if c == nil {
			t.Errorf("no %s %s", w.check, w.column)
			continue
		}
		var rows []int
		for _, e := range c.Examples {
			if e.Row > 0 {
				rows = append(rows, e.Row)
				if e.Line != e.Row+1 {
					t.Errorf("%s: row %d on line %d", w.check, e.Row, e.Line)
				}
			}
		}
		if c.Count != w.count || c.Action != w.action || fmt.Sprint(rows) != fmt.Sprint(w.rows) {
			t.Errorf("%s %s: count %d, action %s, rows %v; want %d, %s, %v", w.check, w.column, c.Count, c.Action, rows, w.count, w.action, w.rows)
		}
	}
	if len(rep.Checks) != len(want) {
		t.Errorf("%d checks found something, want %d:\n%s", len(rep.Checks), len(want), rep.Text())
	}
	if rep.Rows != (RowCounts{Read: 18, Loaded: 13, Dropped: 5, ValuesSetMissing: 7}) {
		t.Errorf("rows %+v", rep.Rows)
	}
	if ex := rep.Check("missing_period", "").Examples; len(ex) == 0 || ex[0].Value != "D002 2024-02" {
		t.Errorf("missing_period examples %+v", ex)
	}
	golden(t, "testdata/demand_defects.report.json", "testdata/demand_defects.report.txt", rep)
}

func TestHandwrittenMalnutritionDefects(t *testing.T) {
	_, rep := load(t, "testdata/malnutrition_defects.csv", synth.MalnutritionSchema())
	want := map[string]struct {
		count  int
		action Action
		rows   []int
	}{
		"age_across_visits/":          {1, Kept, []int{3}},
		"status_vs_muac_oedema/":      {2, Kept, []int{4, 5}},
		"out_of_range/weight_kg":      {1, SetMissing, []int{6}},
		"weight_for_height/weight_kg": {1, SetMissing, []int{7}},
		"out_of_range/age_months":     {1, SetMissing, []int{8}},
		"unknown_level/sex":           {1, SetMissing, []int{9}},
		"unknown_level/status":        {1, SetMissing, []int{10}},
		"future_time/visit_date":      {1, RowDropped, []int{11}},
		"missing_value/muac_mm":       {1, KeptMissing, []int{12}},
	}
	for _, c := range rep.Checks {
		w, ok := want[c.Name+"/"+c.Column]
		if !ok {
			t.Errorf("unexpected %s %s: %d", c.Name, c.Column, c.Count)
			continue
		}
		var rows []int
		for _, e := range c.Examples {
			rows = append(rows, e.Row)
		}
		if c.Count != w.count || c.Action != w.action || fmt.Sprint(rows) != fmt.Sprint(w.rows) {
			t.Errorf("%s %s: count %d, action %s, rows %v; want %+v", c.Name, c.Column, c.Count, c.Action, rows, w)
		}
	}
	if len(rep.Checks) != len(want) {
		t.Errorf("%d checks, want %d:\n%s", len(rep.Checks), len(want), rep.Text())
	}
	if rep.Rows != (RowCounts{Read: 12, Loaded: 11, Dropped: 1, ValuesSetMissing: 5}) {
		t.Errorf("rows %+v", rep.Rows)
	}
	golden(t, "testdata/malnutrition_defects.report.json", "testdata/malnutrition_defects.report.txt", rep)
}

// golden compares the report's JSON and text with the files, or rewrites
// them with -update.
func golden(t *testing.T, jsonPath, textPath string, rep *Report) {
	t.Helper()
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	for path, got := range map[string][]byte{jsonPath: js, textPath: []byte(rep.Text())} {
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (run with -update if the change is intended):\n%s", path, got)
		}
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || back.Rows != rep.Rows || len(back.Checks) != len(rep.Checks) {
		t.Errorf("report does not survive JSON: %v", err)
	}
}

func TestMalformedCSV(t *testing.T) {
	header := "district_id,region,month,population,admissions,consumption,stockout,flood,displaced,report_date\n"
	row := "D001,North,2024-01,1000,10,11.5,false,false,0,2024-02-10\n"
	tests := []struct {
		name, csv string
		err       error
		msg       string // part of the error
	}{
		{"empty file", "", ErrFormat, "empty file"},
		{"blank lines only", "\n\r\n\n", ErrFormat, "empty file"},
		{"ragged row, too few", header + row + "D002,North,2024-01,1000\n", ErrFormat, "line 3: 4 fields, but the header has 10"},
		{"ragged row, too many", header + row + strings.TrimSuffix(row, "\n") + ",extra\n", ErrFormat, "line 3: 11 fields"},
		{"quote in unquoted field", header + `D001,No"rth,2024-01,1000,10,11.5,false,false,0,2024-02-10` + "\n", ErrFormat, "line 2, column 8: quote in an unquoted field"},
		{"text after closing quote", header + `D001,"North"x,2024-01,1000,10,11.5,false,false,0,2024-02-10` + "\n", ErrFormat, `line 2, column 13: unexpected 'x' after a closing quote`},
		{"unterminated quote", header + row + `D001,"North,2024-01,1000` + "\n" + row, ErrFormat, "line 3, column 6: quoted field not closed"},
		{"no header", row + row, ErrSchema, "is the header row missing?"},
		{"duplicate column", strings.Replace(header, "flood", "region", 1) + row, ErrSchema, `column "region" appears twice`},
		{"key column missing", strings.Replace(header, "month", "period", 1) + row, ErrSchema, "no column month"},
		{"line too long", header + strings.Repeat("x", MaxRecordBytes+10) + "\n", ErrFormat, "longer than"},
		{"quoted field too long", header + `"` + strings.Repeat("x\n", MaxRecordBytes/2+10), ErrFormat, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadCSV(context.Background(), strings.NewReader(tt.csv), -1, synth.DemandSchema(), testOpts)
			if !errors.Is(err, tt.err) || !strings.Contains(fmt.Sprint(err), tt.msg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.err, tt.msg)
			}
		})
	}
}

func TestCSVVariants(t *testing.T) {
	header := "district_id,region,month,population,admissions,consumption,stockout,flood,displaced,report_date"
	row := "D001,North,2024-01,1000,10,11.5,false,false,0,2024-02-10"
	tests := []struct {
		name, csv string
		rows      int
		check     func(t *testing.T, f *dataset.Frame, rep *Report)
	}{
		{"header only", header + "\n", 0, nil},
		{"CRLF and no final line break", header + "\r\n" + row + "\r\n" + strings.Replace(row, "2024-01", "2024-02", 1), 2, nil},
		{"byte-order mark, blank lines, spaces", "\uFEFF" + header + "\n\n " + strings.ReplaceAll(row, ",", " , ") + " \n\n", 1, nil},
		{"quoted fields with line breaks", header + "\n" + `"D001","North","2024-01","1000",10,"11.5",false,"false",0,"2024-02-10"` + "\n", 1, nil},
		{"columns reordered, extra column, optional columns missing",
			"note,month,district_id,region,population,admissions,consumption,stockout\n" +
				`"a, b",2024-01,D001,North,1000,10,11.5,false` + "\n", 1,
			func(t *testing.T, f *dataset.Frame, rep *Report) {
				if fmt.Sprint(rep.Ignored) != "[note]" || rep.Columns[7].Present || !rep.Columns[0].Present {
					t.Errorf("ignored %v, columns %+v", rep.Ignored, rep.Columns)
				}
				if !f.Col("flood").Missing(0) || f.Col("district_id").String(0) != "D001" {
					t.Error("columns not matched by name")
				}
				if len(rep.Checks) != 0 {
					t.Errorf("checks %+v", rep.Checks)
				}
			}},
		{"required column missing",
			"district_id,region,month,population,consumption,stockout\nD001,North,2024-01,1000,11.5,false\n", 1,
			func(t *testing.T, f *dataset.Frame, rep *Report) {
				if c := rep.Check("missing_column", "admissions"); c == nil || c.Action != ColumnMissing || c.Count != 1 {
					t.Errorf("missing_column %+v", c)
				}
				if err := rep.Verify(Thresholds{-1, -1, -1, -1, -1, -1}); err == nil || !errors.Is(err, ErrQuality) {
					t.Errorf("Verify = %v, want a failure for the missing column", err)
				}
			}},
		{"missing markers and booleans", header + "\nD001,North,2024-01,null,N/A,NaN,TRUE,1,NA,\n", 1,
			func(t *testing.T, f *dataset.Frame, rep *Report) {
				for _, c := range []string{"population", "admissions", "consumption", "displaced", "report_date"} {
					if !f.Col(c).Missing(0) {
						t.Errorf("%s not missing", c)
					}
				}
				if f.Col("stockout").Num[0] != 1 || f.Col("flood").Num[0] != 1 {
					t.Error("booleans")
				}
			}},
		{"dates with times, months as dates, integral floats", header + "\nD001,North,2024-01-01,1000.0,1e1,11.5,0,0,0,2024-02-10T08:30:00Z\n", 1,
			func(t *testing.T, f *dataset.Frame, rep *Report) {
				if f.Col("admissions").Num[0] != 10 || dataset.FormatMonth(f.Col("month").Num[0]) != "2024-01" ||
					dataset.FormatDate(f.Col("report_date").Num[0]) != "2024-02-10" || len(rep.Checks) != 0 {
					t.Errorf("values %v, checks %+v", f.Row(0, nil), rep.Checks)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, rep, err := ReadCSV(context.Background(), strings.NewReader(tt.csv), int64(len(tt.csv)), synth.DemandSchema(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if f.Len() != tt.rows || rep.Rows.Read != tt.rows {
				t.Fatalf("%d rows (%+v), want %d", f.Len(), rep.Rows, tt.rows)
			}
			if tt.check != nil {
				tt.check(t, f, rep)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	_, rep := load(t, "testdata/demand_defects.csv", synth.DemandSchema())
	tests := []struct {
		name string
		th   Thresholds
		want []string // parts of the error; none means it passes
	}{
		{"defaults", DefaultThresholds(), []string{"completeness", "validity", "uniqueness", "consistency", "timeliness", "dropped"}},
		{"ignore all", Thresholds{-1, -1, -1, -1, -1, -1}, nil},
		{"lenient", Thresholds{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, nil},
		{"validity only", Thresholds{-1, 0.1, -1, -1, -1, -1}, []string{"validity: 27.78% of rows have issues (limit 10.00%)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rep.Verify(tt.th)
			if (err == nil) != (tt.want == nil) || (err != nil && !errors.Is(err, ErrQuality)) {
				t.Fatalf("Verify = %v, want failure %v", err, tt.want != nil)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if rep.Passed(tt.th) != (tt.want == nil) {
				t.Error("Passed disagrees with Verify")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, uri string
		opts      Options
		err       error
		msg       string
	}{
		{"missing file", "testdata/nope.csv", Options{}, ErrNotFound, "nope.csv"},
		{"unknown extension", "testdata/demand_defects.txt", Options{}, ErrFormat, "unknown extension"},
		{"CSV read as Parquet", "testdata/demand_defects.csv", Options{Format: Parquet}, ErrFormat, "magic"},
		{"no endpoint", "s3://bucket/demand.csv", Options{}, nil, "no S3 endpoint"},
		{"no key", "s3://bucket/", Options{}, nil, "invalid key"},
		{"other scheme", "https://example.org/demand.csv", Options{}, nil, "unsupported scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(ctx, tt.uri, synth.DemandSchema(), tt.opts)
			if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.err, tt.msg)
			}
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Load(cancelled, "testdata/demand_defects.csv", synth.DemandSchema(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "d.parquet")
	w, err := NewWriter(ctx, path, synth.DemandSchema(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := []any{"D001", "North", "2024-01", int64(1000), int64(10), 11.5, false, false, int64(0), "2024-02-10"}
	if err := w.Write(good); err != nil {
		t.Fatal(err)
	}
	bad := append([]any(nil), good...)
	bad[4] = "twelve"
	if err := w.Write(bad); err == nil {
		t.Error("Parquet accepted text in an int column")
	}
	bad[4] = 12.5
	if err := w.Write(bad); err == nil {
		t.Error("Parquet accepted 12.5 in an int column")
	}
	if err := w.Write(good[:3]); err == nil {
		t.Error("short row accepted")
	}
	if err := w.Close(); err != nil { // the bad rows were refused, the file is fine
		t.Fatal(err)
	}
	if f, _ := load(t, path, synth.DemandSchema()); f.Len() != 1 {
		t.Errorf("%d rows, want 1", f.Len())
	}
	// Abort leaves nothing behind, not even the temporary file.
	w, err = NewWriter(ctx, filepath.Join(dir, "aborted.csv"), synth.DemandSchema(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Write(good)
	w.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want only d.parquet", entries)
	}
	if _, err := NewWriter(ctx, filepath.Join(dir, "x.json"), synth.DemandSchema(), Options{}); !errors.Is(err, ErrFormat) {
		t.Errorf("NewWriter(.json) = %v", err)
	}
}

func TestS3RoundTrip(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()
	opts := Options{AsOf: asOf, S3: S3Options{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}}
	frame, _, err := synth.DemandFrame(synth.DemandConfig{Seed: 9, Districts: 200}) // about 14,000 rows
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []Format{CSV, Parquet} {
		t.Run(string(format), func(t *testing.T) {
			uri := fmt.Sprintf("s3://%s/datasets/demand/v1.%s", bucket, format)
			w, err := NewWriter(ctx, uri, frame.Schema, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteFrame(frame); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Client().StatObject(ctx, bucket, "datasets/demand/v1."+string(format), minio.StatObjectOptions{}); err == nil {
				t.Error("object visible before Close")
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, rep, err := Load(ctx, uri, frame.Schema, opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := frameDiff(frame, got); d != "" {
				t.Fatalf("frame differs: %s", d)
			}
			obj, err := srv.Client().GetObject(ctx, bucket, "datasets/demand/v1."+string(format), minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.Copy(h, obj); err != nil {
				t.Fatal(err)
			}
			if sum := hex.EncodeToString(h.Sum(nil)); rep.SHA256 != sum || w.SHA256() != sum || rep.Source != uri {
				t.Errorf("sha256: report %s, writer %s, object %s", rep.SHA256, w.SHA256(), sum)
			}
		})
	}
	t.Run("aborted upload leaves nothing", func(t *testing.T) {
		w, err := NewWriter(ctx, "s3://"+bucket+"/aborted.csv", frame.Schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		_ = w.WriteFrame(frame)
		w.Abort()
		if _, err := srv.Client().StatObject(ctx, bucket, "aborted.csv", minio.StatObjectOptions{}); err == nil {
			t.Error("aborted object exists")
		}
	})
	t.Run("errors", func(t *testing.T) {
		if _, _, err := Load(ctx, "s3://"+bucket+"/nope.parquet", frame.Schema, opts); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing object: %v", err)
		}
		if _, _, err := Load(ctx, "s3://"+bucket+"/nope.csv", frame.Schema, opts); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing object: %v", err)
		}
		bad := opts
		bad.S3.SecretKey = "wrong-secret"
		if _, _, err := Load(ctx, "s3://"+bucket+"/datasets/demand/v1.csv", frame.Schema, bad); err == nil ||
			strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("bad credentials: %v", err)
		}
	})
}

func TestS3FromEnv(t *testing.T) {
	t.Setenv("LANTERN_S3_ENDPOINT", "minio:9000")
	t.Setenv("LANTERN_S3_ACCESS_KEY", "ak")
	t.Setenv("LANTERN_S3_SECRET_KEY", "very-secret")
	t.Setenv("LANTERN_S3_SECURE", "true")
	o, err := S3FromEnv()
	if err != nil || o.Endpoint != "minio:9000" || !o.Secure || o.SecretKey != "very-secret" {
		t.Fatalf("S3FromEnv = %+v, %v", o, err)
	}
	for _, s := range []string{o.String(), fmt.Sprintf("%v %+v %#v", o, o, o)} {
		if strings.Contains(s, "very-secret") {
			t.Errorf("secret printed: %s", s)
		}
	}
	t.Setenv("LANTERN_S3_SECURE", "maybe")
	if _, err := S3FromEnv(); err == nil {
		t.Error("LANTERN_S3_SECURE=maybe accepted")
	}
}
