package dataset

import (
	"math"
	"testing"
	"time"
)

func TestMonthsAndDates(t *testing.T) {
	for d := time.Date(1895, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2105; d = d.AddDate(0, 0, 13) {
		v := DateOf(d)
		if want := float64(d.Unix() / 86400); v != want {
			t.Fatalf("DateOf(%s) = %v, want %v", d.Format(time.DateOnly), v, want)
		}
		if s := FormatDate(v); s != d.Format(time.DateOnly) {
			t.Fatalf("FormatDate(%v) = %s, want %s", v, s, d.Format(time.DateOnly))
		}
		if p, err := ParseDate(d.Format(time.DateOnly)); err != nil || p != v {
			t.Fatalf("ParseDate(%s) = %v, %v", d.Format(time.DateOnly), p, err)
		}
		if !DateTime(v).Equal(d) {
			t.Fatalf("DateTime(%v) = %v", v, DateTime(v))
		}
		m := MonthOf(d)
		if MonthOfDate(v) != m || FormatMonth(m) != d.Format("2006-01") || !MonthTime(m).Equal(d.AddDate(0, 0, 1-d.Day())) {
			t.Fatalf("%s: month %v %s", d, m, FormatMonth(m))
		}
		if MonthStart(m) != DateOf(d.AddDate(0, 0, 1-d.Day())) {
			t.Fatalf("MonthStart(%s)", FormatMonth(m))
		}
	}
	for _, bad := range []string{"", "2024-1", "2024-00", "2024-13", "24-01", "2024/01", "2024-01-01", "2o24-01"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"2023-02-29", "2024-04-31", "2024-1-01", "2024-01-1", "2024-01-01T", "20240101"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) succeeded", bad)
		}
	}
	if FormatMonth(math.NaN()) != "" || FormatDate(math.NaN()) != "" {
		t.Error("missing values do not format as empty")
	}
}

func TestAppendRowAndValue(t *testing.T) {
	s := &Schema{Name: "t", Fields: []Field{
		{Name: "s", Type: String}, {Name: "i", Type: Int}, {Name: "f", Type: Float},
		{Name: "b", Type: Bool}, {Name: "m", Type: Month}, {Name: "d", Type: Date},
	}}
	f := NewFrame(s)
	rows := [][]any{
		{"a", int64(3), 1.5, true, "2024-06", "2024-06-30"},
		{nil, nil, nil, nil, nil, nil},
		{"b", int64(-1), -0.25, false, "1999-12", "1969-12-31"},
	}
	for _, r := range rows {
		if err := f.AppendRow(r); err != nil {
			t.Fatal(err)
		}
	}
	// Other accepted forms of the same values.
	if err := f.AppendRow([]any{"a", 3, float32(1.5), "true", time.Date(2024, 6, 9, 0, 0, 0, 0, time.UTC), time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	rows = append(rows, rows[0])
	for i, want := range rows {
		got := f.Row(i, nil)
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("row %d column %d = %#v, want %#v", i, j, got[j], want[j])
			}
		}
	}
	for _, bad := range [][]any{
		{"a", "three", 1.5, true, "2024-06", "2024-06-30"},
		{"a", 3, 1.5, true, "2024-13", "2024-06-30"},
		{1, 3, 1.5, true, "2024-06", "2024-06-30"},
		{"a", 3, 1.5, 2.0, "2024-06", "2024-06-30"},
		{"a", 3},
	} {
		if err := f.AppendRow(bad); err == nil {
			t.Errorf("AppendRow(%v) succeeded", bad)
		}
	}
	if f.Len() != len(rows) || f.Columns[5].Len() != len(rows) {
		t.Errorf("a failed AppendRow changed the frame: %d rows", f.Len())
	}
}
