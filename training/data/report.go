package data

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Dimension is a data-quality dimension.
type Dimension string

// The dimensions, in report order.
const (
	Completeness Dimension = "completeness"
	Validity     Dimension = "validity"
	Uniqueness   Dimension = "uniqueness"
	Consistency  Dimension = "consistency"
	Timeliness   Dimension = "timeliness"
)

// Dimensions lists the dimensions in report order.
var Dimensions = []Dimension{Completeness, Validity, Uniqueness, Consistency, Timeliness}

// Action says what the loader did with the rows a check flagged.
type Action string

// The actions.
const (
	// RowDropped: the row is not in the Frame.
	RowDropped Action = "row_dropped"
	// SetMissing: the row is in the Frame with the flagged value missing.
	SetMissing Action = "set_missing"
	// KeptMissing: the value was missing in the file and stays missing.
	KeptMissing Action = "kept_missing"
	// Kept: the row is in the Frame unchanged; the check only reports it.
	Kept Action = "kept"
	// Absent: an expected row is not in the file; nothing was added.
	Absent Action = "absent"
	// ColumnMissing: the column is absent from the file, so all of its values
	// are missing in the Frame.
	ColumnMissing Action = "column_missing"
)

// Report is the data-quality report of one load. It serialises to JSON;
// Text gives a short human form.
type Report struct {
	// Schema is the schema's name.
	Schema string `json:"schema"`
	// Source is the URI loaded (it holds no credentials).
	Source string `json:"source"`
	Format Format `json:"format"`
	// SHA256 is the hex digest of the file's bytes, computed while reading.
	SHA256 string `json:"sha256"`
	// Bytes is the file's size.
	Bytes int64 `json:"bytes"`
	// AsOf is the time timeliness was judged at.
	AsOf time.Time `json:"as_of"`
	Rows RowCounts `json:"rows"`
	// TimeRange spans the schema's time column over the loaded rows.
	TimeRange *TimeRange `json:"time_range,omitempty"`
	// Columns describes each schema column, in schema order.
	Columns []ColumnReport `json:"columns"`
	// Ignored lists the file's columns that are not in the schema.
	Ignored []string `json:"ignored_columns,omitempty"`
	// Dimensions summarises each dimension.
	Dimensions []DimensionReport `json:"dimensions"`
	// Checks lists every check that found something, by dimension, check and column.
	Checks []*Check `json:"checks"`
}

// RowCounts counts rows.
type RowCounts struct {
	// Read is the number of data rows in the file.
	Read int `json:"read"`
	// Loaded is the number of rows in the Frame.
	Loaded int `json:"loaded"`
	// Dropped is Read - Loaded: rows a check excluded (each counted once,
	// under every check that flagged it).
	Dropped int `json:"dropped"`
	// ValuesSetMissing counts values the loader replaced by a missing value.
	ValuesSetMissing int `json:"values_set_missing"`
}

// TimeRange is the span of the time column.
type TimeRange struct {
	Column string `json:"column"`
	Min    string `json:"min"`
	Max    string `json:"max"`
}

// ColumnReport describes one schema column.
type ColumnReport struct {
	Name string `json:"name"`
	// Present is false when the file has no such column.
	Present bool `json:"present"`
	// Missing counts missing values in the loaded Frame, whether missing in
	// the file or set missing by a check.
	Missing int `json:"missing"`
}

// DimensionReport summarises a dimension.
type DimensionReport struct {
	Dimension Dimension `json:"dimension"`
	// Rows counts the rows read with at least one issue in this dimension
	// (for completeness, plus the expected rows that are absent).
	Rows int `json:"rows"`
	// Rate is Rows over the rows read (for completeness, over the rows read
	// plus the absent ones).
	Rate float64 `json:"rate"`
	// Issues counts the issues, a row may have several.
	Issues int `json:"issues"`
}

// Check is what one check found, on one column where it applies.
type Check struct {
	Dimension Dimension `json:"dimension"`
	// Name identifies the check: missing_value, type_error, duplicate_key...
	// (docs/data.md lists them).
	Name string `json:"check"`
	// Column is the column checked, empty for row-level checks.
	Column string `json:"column,omitempty"`
	// Count is the number of rows (or, for missing_period, expected rows) flagged.
	Count int `json:"count"`
	// Action is what the loader did with them.
	Action Action `json:"action"`
	// Description says what the check looks for.
	Description string `json:"description"`
	// Examples are the first flagged rows.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one flagged row.
type Example struct {
	// Row is the 1-based number of the data row in the file (the header is
	// not counted); 0 for an absent row.
	Row int `json:"row,omitempty"`
	// Line is the CSV line the row starts on.
	Line int `json:"line,omitempty"`
	// Value is the offending value, as written in the file (cut at 64 bytes).
	Value string `json:"value,omitempty"`
	// Reason explains the finding.
	Reason string `json:"reason,omitempty"`
}

// Check returns the check with that name and column, or nil.
func (r *Report) Check(name, column string) *Check {
	for _, c := range r.Checks {
		if c.Name == name && c.Column == column {
			return c
		}
	}
	return nil
}

// Count returns the count of a check (0 if it found nothing).
func (r *Report) Count(name, column string) int {
	if c := r.Check(name, column); c != nil {
		return c.Count
	}
	return 0
}

// Dimension returns the summary of a dimension.
func (r *Report) Dimension(d Dimension) DimensionReport {
	for _, s := range r.Dimensions {
		if s.Dimension == d {
			return s
		}
	}
	return DimensionReport{Dimension: d}
}

// Thresholds bound the defects a job accepts. Each is the largest share of
// rows (0.01 = 1%) with an issue in that dimension; 0 accepts none; a
// negative value ignores the dimension. A required column missing from the
// file always fails.
type Thresholds struct {
	Completeness, Validity, Uniqueness, Consistency, Timeliness float64
	// Dropped is the largest share of the rows read that the loader may drop.
	Dropped float64
}

// DefaultThresholds are a reasonable starting point for monthly programme
// data: up to 5% incomplete, 1% invalid, 1% duplicated, 2% inconsistent,
// 10% late, and 2% of rows dropped.
func DefaultThresholds() Thresholds {
	return Thresholds{Completeness: 0.05, Validity: 0.01, Uniqueness: 0.01, Consistency: 0.02, Timeliness: 0.10, Dropped: 0.02}
}

// Verify returns nil if the data is within t, else an error wrapping
// ErrQuality that lists every threshold exceeded.
func (r *Report) Verify(t Thresholds) error {
	var fails []string
	for _, c := range r.Checks {
		if c.Name == "missing_column" {
			fails = append(fails, fmt.Sprintf("required column %s is missing", c.Column))
		}
	}
	limits := map[Dimension]float64{Completeness: t.Completeness, Validity: t.Validity,
		Uniqueness: t.Uniqueness, Consistency: t.Consistency, Timeliness: t.Timeliness}
	for _, d := range r.Dimensions {
		if lim := limits[d.Dimension]; lim >= 0 && d.Rate > lim {
			fails = append(fails, fmt.Sprintf("%s: %.2f%% of rows have issues (limit %.2f%%)", d.Dimension, 100*d.Rate, 100*lim))
		}
	}
	if t.Dropped >= 0 && r.Rows.Read > 0 {
		if rate := float64(r.Rows.Dropped) / float64(r.Rows.Read); rate > t.Dropped {
			fails = append(fails, fmt.Sprintf("%.2f%% of rows dropped (limit %.2f%%)", 100*rate, 100*t.Dropped))
		}
	}
	if len(fails) == 0 {
		return nil
	}
	if r.Source == "" {
		return fmt.Errorf("%w: %s", ErrQuality, strings.Join(fails, "; "))
	}
	return fmt.Errorf("%w: %s: %s", ErrQuality, r.Source, strings.Join(fails, "; "))
}

// Passed reports whether Verify(t) returns nil.
func (r *Report) Passed(t Thresholds) bool { return r.Verify(t) == nil }

// Text returns the report in a short human form.
func (r *Report) Text() string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

// WriteText writes the report in a short human form.
func (r *Report) WriteText(w io.Writer) {
	sha := r.SHA256
	if len(sha) > 12 {
		sha = sha[:12]
	}
	fmt.Fprintf(w, "%s: %s (%s, %s, sha256 %s)\n", r.Schema, r.Source, r.Format, byteSize(r.Bytes), sha)
	fmt.Fprintf(w, "rows: %d read, %d loaded, %d dropped; %d values set missing\n",
		r.Rows.Read, r.Rows.Loaded, r.Rows.Dropped, r.Rows.ValuesSetMissing)
	if tr := r.TimeRange; tr != nil {
		fmt.Fprintf(w, "time: %s %s .. %s\n", tr.Column, tr.Min, tr.Max)
	}
	for _, d := range r.Dimensions {
		fmt.Fprintf(w, "%-13s %6.2f%% of rows (%d)\n", d.Dimension, 100*d.Rate, d.Rows)
		for _, c := range r.Checks {
			if c.Dimension != d.Dimension {
				continue
			}
			name := c.Name
			if c.Column != "" {
				name += " " + c.Column
			}
			fmt.Fprintf(w, "  %-40s %7d  %s", name, c.Count, c.Action)
			if len(c.Examples) > 0 {
				e := c.Examples[0]
				fmt.Fprint(w, "  e.g.")
				if e.Row > 0 {
					fmt.Fprintf(w, " row %d", e.Row)
				}
				if e.Value != "" {
					fmt.Fprintf(w, " %q", e.Value)
				}
				if e.Reason != "" {
					fmt.Fprintf(w, ": %s", e.Reason)
				}
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "ignored columns: %s\n", strings.Join(r.Ignored, ", "))
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// sortChecks orders checks by dimension, then name, then column.
func sortChecks(cs []*Check) {
	order := func(d Dimension) int { return slices.Index(Dimensions, d) }
	slices.SortStableFunc(cs, func(a, b *Check) int {
		return cmp.Or(cmp.Compare(order(a.Dimension), order(b.Dimension)),
			strings.Compare(a.Name, b.Name), strings.Compare(a.Column, b.Column))
	})
}
