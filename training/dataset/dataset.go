package dataset

import (
	"fmt"
	"math"
)

// Type is a column's logical type.
type Type string

// Column types.
const (
	// Float is a real number.
	Float Type = "float"
	// Int is a whole number (stored as float64).
	Int Type = "int"
	// Bool is true/false (stored as 1/0).
	Bool Type = "bool"
	// String is text, treated as a category (dictionary-encoded).
	String Type = "string"
	// Month is a calendar month "YYYY-MM", stored as months since year 0
	// (year*12 + month-1), so consecutive months differ by 1.
	Month Type = "month"
	// Date is a day "YYYY-MM-DD", stored as days since 1970-01-01.
	Date Type = "date"
)

// Numeric reports whether values are stored in Column.Num.
func (t Type) Numeric() bool { return t != String }

// Field describes one column of a schema and its validity rules.
type Field struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	// Required columns must be present in the file; a missing value in
	// them counts against completeness.
	Required bool `json:"required,omitempty"`
	// Min and Max bound numeric values (validity).
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Levels, when set, are the only allowed values of a String column.
	Levels []string `json:"levels,omitempty"`
	// Description says what the column means, for reports.
	Description string `json:"description,omitempty"`
}

// Schema is the expected shape of a dataset.
type Schema struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
	// Key lists the columns that identify a row (uniqueness), e.g.
	// district_id and month.
	Key []string `json:"key,omitempty"`
	// Time names the column used for timeliness and time-based splits.
	Time string `json:"time,omitempty"`
	// Target names the label column.
	Target string `json:"target,omitempty"`
}

// Field returns the field named name.
func (s *Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Column holds one column's values.
type Column struct {
	Name string
	Type Type
	// Num holds Float, Int, Bool, Month and Date values; NaN is missing.
	Num []float64
	// Codes index Dict for String columns; -1 is missing.
	Codes []int32
	Dict  []string
	index map[string]int32
}

// Len is the number of values.
func (c *Column) Len() int {
	if c.Type.Numeric() {
		return len(c.Num)
	}
	return len(c.Codes)
}

// Missing reports whether row i has no value.
func (c *Column) Missing(i int) bool {
	if c.Type.Numeric() {
		return math.IsNaN(c.Num[i])
	}
	return c.Codes[i] < 0
}

// String returns row i of a String column ("" if missing).
func (c *Column) String(i int) string {
	if code := c.Codes[i]; code >= 0 {
		return c.Dict[code]
	}
	return ""
}

// AppendString adds a value to a String column ("" with missing=true adds a missing value).
func (c *Column) AppendString(v string, missing bool) {
	if missing {
		c.Codes = append(c.Codes, -1)
		return
	}
	if c.index == nil {
		c.index = make(map[string]int32, len(c.Dict))
		for i, d := range c.Dict {
			c.index[d] = int32(i)
		}
	}
	code, ok := c.index[v]
	if !ok {
		code = int32(len(c.Dict))
		c.Dict = append(c.Dict, v)
		c.index[v] = code
	}
	c.Codes = append(c.Codes, code)
}

// Code returns the code of a String value, or -1 if it never occurs.
func (c *Column) Code(v string) int32 {
	for i, d := range c.Dict {
		if d == v {
			return int32(i)
		}
	}
	return -1
}

// Frame is a table: columns of equal length.
type Frame struct {
	Schema  *Schema
	Columns []*Column
}

// Len is the number of rows.
func (f *Frame) Len() int {
	if len(f.Columns) == 0 {
		return 0
	}
	return f.Columns[0].Len()
}

// Col returns the column named name, or nil.
func (f *Frame) Col(name string) *Column {
	for _, c := range f.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// MustCol returns the column named name or an error saying it is missing.
func (f *Frame) MustCol(name string) (*Column, error) {
	if c := f.Col(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("dataset has no column %q", name)
}

// Matrix is a feature matrix, column-major float32 (what trainers and ONNX
// models consume), with NaN for missing values.
type Matrix struct {
	// Names of the features, in column order (they become the ONNX model's
	// feature_names metadata).
	Names []string
	// Cols[j][i] is feature j of row i.
	Cols [][]float32
	Rows int
}

// Row copies row i into dst (len = number of features) and returns it.
func (m *Matrix) Row(i int, dst []float32) []float32 {
	dst = dst[:0]
	for _, c := range m.Cols {
		dst = append(dst, c[i])
	}
	return dst
}

// Subset returns the rows idx (in that order) as a new matrix.
func (m *Matrix) Subset(idx []int) *Matrix {
	out := &Matrix{Names: m.Names, Cols: make([][]float32, len(m.Cols)), Rows: len(idx)}
	for j, c := range m.Cols {
		col := make([]float32, len(idx))
		for k, i := range idx {
			col[k] = c[i]
		}
		out.Cols[j] = col
	}
	return out
}
