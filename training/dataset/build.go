package dataset

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// NewFrame returns an empty frame with one column per field of s, in order.
func NewFrame(s *Schema) *Frame {
	f := &Frame{Schema: s, Columns: make([]*Column, len(s.Fields))}
	for j, fd := range s.Fields {
		f.Columns[j] = &Column{Name: fd.Name, Type: fd.Type}
	}
	return f
}

// AppendRow appends one row, given as one value per column in column order.
// nil is a missing value. String columns take a string; numeric columns take
// Go numbers (Bool columns a bool), or a string in the column's text form
// ("3.5", "true", "2024-06", "2024-06-30"); Month and Date columns also take a
// time.Time. It does not check validity rules (ranges, levels): that is the
// loader's job. On error the frame is unchanged.
func (f *Frame) AppendRow(row []any) error {
	if len(row) != len(f.Columns) {
		return fmt.Errorf("dataset: row has %d values, frame has %d columns", len(row), len(f.Columns))
	}
	// Convert first, so that a bad value leaves the frame unchanged.
	var stack [32]float64
	nums := stack[:0]
	for j, c := range f.Columns {
		if c.Type == String {
			if _, ok := row[j].(string); !ok && row[j] != nil {
				return fmt.Errorf("dataset: column %s: %T is not a string", c.Name, row[j])
			}
			nums = append(nums, 0)
			continue
		}
		v, err := ToNum(c.Type, row[j])
		if err != nil {
			return fmt.Errorf("dataset: column %s: %w", c.Name, err)
		}
		nums = append(nums, v)
	}
	for j, c := range f.Columns {
		if c.Type == String {
			s, ok := row[j].(string)
			c.AppendString(s, !ok)
			continue
		}
		c.Num = append(c.Num, nums[j])
	}
	return nil
}

// ToNum converts a Go value to the stored number of a numeric column of type
// t (see AppendRow for the accepted values); nil gives NaN.
func ToNum(t Type, v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return math.NaN(), nil
	case string:
		switch t {
		case Month:
			return ParseMonth(x)
		case Date:
			return ParseDate(x)
		case Bool:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return 0, fmt.Errorf("%q is not a bool", x)
			}
			return b2f(b), nil
		}
		n, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return n, nil
	case time.Time:
		switch t {
		case Month:
			return MonthOf(x), nil
		case Date:
			return DateOf(x), nil
		}
	case bool:
		if t == Bool {
			return b2f(x), nil
		}
	case float64:
		if t == Float || t == Int {
			return x, nil
		}
	case float32:
		if t == Float || t == Int {
			return float64(x), nil
		}
	case int:
		if t == Float || t == Int {
			return float64(x), nil
		}
	case int64:
		if t == Float || t == Int {
			return float64(x), nil
		}
	case int32:
		if t == Float || t == Int {
			return float64(x), nil
		}
	}
	return 0, fmt.Errorf("%T is not a %s value", v, t)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Value returns row i of column c as a Go value, the inverse of AppendRow:
// nil if missing, else a string (String), float64 (Float), int64 (Int), bool
// (Bool), or the text form "YYYY-MM" (Month) or "YYYY-MM-DD" (Date).
func (c *Column) Value(i int) any {
	if c.Missing(i) {
		return nil
	}
	switch c.Type {
	case String:
		return c.Dict[c.Codes[i]]
	case Int:
		return int64(c.Num[i])
	case Bool:
		return c.Num[i] != 0
	case Month:
		return FormatMonth(c.Num[i])
	case Date:
		return FormatDate(c.Num[i])
	}
	return c.Num[i]
}

// Row returns row i as one Value per column, appended to dst[:0].
func (f *Frame) Row(i int, dst []any) []any {
	dst = dst[:0]
	for _, c := range f.Columns {
		dst = append(dst, c.Value(i))
	}
	return dst
}
