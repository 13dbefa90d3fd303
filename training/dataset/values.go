package dataset

import (
	"fmt"
	"math"
	"time"
)

// Month and Date values are numbers (see the Type constants); these functions
// convert them from and to their text form. The parsers take a string and do
// not keep it, so callers may pass a temporary view of a byte buffer.

// MonthOf returns the Month value of t's year and month.
func MonthOf(t time.Time) float64 { return float64(t.Year()*12 + int(t.Month()) - 1) }

// DateOf returns the Date value of t's calendar day (in t's location).
func DateOf(t time.Time) float64 {
	y, m, d := t.Date()
	return float64(daysFromCivil(y, int(m), d))
}

// MonthTime returns the first day of the month v at 00:00 UTC.
func MonthTime(v float64) time.Time {
	m := int(math.Floor(v))
	y := floorDiv(m, 12)
	return time.Date(y, time.Month(m-y*12+1), 1, 0, 0, 0, 0, time.UTC)
}

// DateTime returns the day v at 00:00 UTC.
func DateTime(v float64) time.Time { return time.Unix(int64(math.Floor(v))*86400, 0).UTC() }

// MonthStart returns the Date value of the first day of the Month value m.
func MonthStart(m float64) float64 {
	mi := int(math.Floor(m))
	y := floorDiv(mi, 12)
	return float64(daysFromCivil(y, mi-y*12+1, 1))
}

// MonthOfDate returns the Month value of the month containing the Date value d.
func MonthOfDate(d float64) float64 {
	y, m, _ := civilFromDays(int(math.Floor(d)))
	return float64(y*12 + m - 1)
}

// ParseMonth parses "YYYY-MM" (a four-digit year).
func ParseMonth(s string) (float64, error) {
	if len(s) != 7 || s[4] != '-' {
		return 0, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:])
	if !ok1 || !ok2 || m < 1 || m > 12 {
		return 0, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return float64(y*12 + m - 1), nil
}

// ParseDate parses "YYYY-MM-DD" (a four-digit year) and checks the day exists.
func ParseDate(s string) (float64, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("date %q: want a valid YYYY-MM-DD", s)
	}
	return float64(daysFromCivil(y, m, d)), nil
}

// FormatMonth formats a Month value as "YYYY-MM" ("" for a missing value).
func FormatMonth(v float64) string { return string(AppendMonth(nil, v)) }

// FormatDate formats a Date value as "YYYY-MM-DD" ("" for a missing value).
func FormatDate(v float64) string { return string(AppendDate(nil, v)) }

// AppendMonth appends the "YYYY-MM" form of v to dst (nothing if v is missing).
func AppendMonth(dst []byte, v float64) []byte {
	if math.IsNaN(v) {
		return dst
	}
	m := int(math.Floor(v))
	y := floorDiv(m, 12)
	mon := m - y*12 + 1
	return append(append4(dst, y), '-', byte('0'+mon/10), byte('0'+mon%10))
}

// AppendDate appends the "YYYY-MM-DD" form of v to dst (nothing if v is missing).
func AppendDate(dst []byte, v float64) []byte {
	if math.IsNaN(v) {
		return dst
	}
	y, m, d := civilFromDays(int(math.Floor(v)))
	dst = append4(dst, y)
	return append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// append4 appends y as four digits (with a sign, or more digits, if needed).
func append4(dst []byte, y int) []byte {
	if y < 0 || y > 9999 {
		return fmt.Appendf(dst, "%04d", y)
	}
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// daysFromCivil and civilFromDays convert between proleptic Gregorian dates
// and days since 1970-01-01 (Howard Hinnant's algorithms).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
