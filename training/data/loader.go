package data

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// loader builds a Frame from cells and rows handed to it by a format reader,
// checking them as they come. A reader calls beginBatch(n), then appends n
// cells to every column (textCell, numCell, emptyCell or absentCells), then
// endBatch. A CSV batch is one row; a Parquet batch is a row group, filled
// column by column. endBatch runs the row-level checks and compacts the
// batch, so a dropped row never reaches the Frame's final length.
type loader struct {
	schema  *dataset.Schema
	opts    Options
	frame   *dataset.Frame
	cols    []column
	idCols  []int // key and time columns: a row without a valid value there is dropped
	keyCols []int // key columns: no two rows may share their values
	timeCol int   // -1 if none
	asOf    struct{ month, day float64 }

	checks map[string]*Check

	// The batch being filled.
	batchStart int     // frame index of its first row
	batchSrc   int     // file row number (1-based) of its first row
	lines      []int   // CSV line of each row, nil for Parquet
	flags      []uint8 // dimensions each row has an issue in

	keys    keyTable
	dropSrc []int32 // file row numbers of the dropped rows, ascending
	rules   []*activeRule
	// orig holds values the row-level checks replaced in kept rows, by
	// row*len(cols)+column, so that duplicates compare with the row as read.
	orig         map[int]float64
	ignoredNames []string

	read, dropped, setMissing int
	dimRows, dimIssues        [5]int
	tmin, tmax                float64
}

type column struct {
	field    dataset.Field
	col      *dataset.Column
	present  bool             // the file has it
	key      bool             // a key or the time column
	required bool             // required by the schema, or key
	index    map[string]int32 // Dict lookup for String columns
	levels   map[string]struct{}
	min, max float64
	checks   [4]*Check // missing_value, type_error, out_of_range, unknown_level
}

const (
	chkMissing = iota
	chkType
	chkRange
	chkLevel
)

func newLoader(schema *dataset.Schema, opts Options) (*loader, error) {
	if schema == nil || len(schema.Fields) == 0 {
		return nil, fmt.Errorf("%w: empty schema", ErrSchema)
	}
	opts = opts.withDefaults()
	l := &loader{
		schema: schema, opts: opts, frame: dataset.NewFrame(schema),
		checks: map[string]*Check{}, timeCol: -1, orig: map[int]float64{},
		tmin: math.Inf(1), tmax: math.Inf(-1),
	}
	l.asOf.month = dataset.MonthOf(opts.AsOf)
	l.asOf.day = dataset.DateOf(opts.AsOf)
	l.cols = make([]column, len(schema.Fields))
	seen := map[string]bool{}
	for j, f := range schema.Fields {
		if seen[strings.ToLower(f.Name)] {
			return nil, fmt.Errorf("%w: schema %s has two columns named %q", ErrSchema, schema.Name, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		c := &l.cols[j]
		c.field, c.col, c.required = f, l.frame.Columns[j], f.Required
		c.min, c.max = math.Inf(-1), math.Inf(1)
		if f.Min != nil {
			c.min = *f.Min
		}
		if f.Max != nil {
			c.max = *f.Max
		}
		if f.Type == dataset.String {
			c.index = map[string]int32{}
			if f.Levels != nil {
				c.levels = map[string]struct{}{}
				for _, v := range f.Levels {
					c.levels[v] = struct{}{}
				}
			}
		}
	}
	keys := append(slices.Clone(schema.Key), schema.Time)
	for _, name := range keys {
		if name == "" {
			continue
		}
		j := l.colIndex(name)
		if j < 0 {
			return nil, fmt.Errorf("%w: schema %s: key or time column %q is not a field", ErrSchema, schema.Name, name)
		}
		if !l.cols[j].key {
			l.cols[j].key, l.cols[j].required = true, true
			l.idCols = append(l.idCols, j)
		}
		if slices.Contains(schema.Key, name) && !slices.Contains(l.keyCols, j) {
			l.keyCols = append(l.keyCols, j)
		}
		if name == schema.Time {
			l.timeCol = j
			if t := schema.Fields[j].Type; t != dataset.Month && t != dataset.Date {
				return nil, fmt.Errorf("%w: schema %s: time column %q is %s, not month or date", ErrSchema, schema.Name, name, t)
			}
		}
	}
	return l, nil
}

func (l *loader) colIndex(name string) int {
	return slices.IndexFunc(l.schema.Fields, func(f dataset.Field) bool { return f.Name == name })
}

// bind records which schema columns the file has, given its column names,
// and returns for each schema column its position in names (-1 if absent).
func (l *loader) bind(names []string) ([]int, error) {
	pos := make([]int, len(l.cols))
	byName := map[string]int{}
	var dup string
	for i, n := range names {
		k := strings.ToLower(strings.TrimSpace(n))
		if _, seen := byName[k]; seen && dup == "" {
			dup = n
		}
		byName[k] = i
	}
	if !slices.ContainsFunc(l.schema.Fields, func(f dataset.Field) bool { _, ok := byName[strings.ToLower(f.Name)]; return ok }) {
		return nil, fmt.Errorf("%w: none of the file's columns (%s) is in schema %s: is the header row missing?",
			ErrSchema, clip(strings.Join(names, ","), 120), l.schema.Name)
	}
	if dup != "" {
		return nil, fmt.Errorf("%w: column %q appears twice", ErrSchema, dup)
	}
	var missingKeys []string
	for j := range l.cols {
		c := &l.cols[j]
		i, ok := byName[strings.ToLower(c.field.Name)]
		pos[j] = -1
		if ok {
			pos[j], c.present = i, true
			delete(byName, strings.ToLower(c.field.Name))
		} else if c.key {
			missingKeys = append(missingKeys, c.field.Name)
		}
	}
	for _, n := range names {
		if _, ignored := byName[strings.ToLower(strings.TrimSpace(n))]; ignored {
			l.ignoredNames = append(l.ignoredNames, n)
		}
	}
	if len(missingKeys) > 0 {
		return nil, fmt.Errorf("%w: the file has no column %s, which schema %s needs to identify rows (it has %s)",
			ErrSchema, strings.Join(missingKeys, ", "), l.schema.Name, clip(strings.Join(names, ","), 120))
	}
	return pos, nil
}

// reserve makes room for n rows in all, so that columns grow once.
func (l *loader) reserve(n int) {
	for _, c := range l.cols {
		if c.field.Type == dataset.String {
			c.col.Codes = slices.Grow(c.col.Codes, n-len(c.col.Codes))
		} else {
			c.col.Num = slices.Grow(c.col.Num, n-len(c.col.Num))
		}
	}
	if len(l.keyCols) > 0 {
		l.keys.reserve(n, l.keyHash)
	}
}

// check returns the check (name, column), creating it on first use.
func (l *loader) check(d Dimension, name, column string, a Action, desc string) *Check {
	k := name + "\x00" + column
	c := l.checks[k]
	if c == nil {
		c = &Check{Dimension: d, Name: name, Column: column, Action: a, Description: desc}
		l.checks[k] = c
	}
	return c
}

func (l *loader) cellCheck(j, kind int) *Check {
	c := &l.cols[j]
	if ch := c.checks[kind]; ch != nil {
		return ch
	}
	name, f := c.field.Name, c.field
	invalid := SetMissing
	if c.key {
		invalid = RowDropped
	}
	var ch *Check
	switch kind {
	case chkMissing:
		a := KeptMissing
		if c.key {
			a = RowDropped
		}
		ch = l.check(Completeness, "missing_value", name, a, "a required value is empty")
	case chkType:
		ch = l.check(Validity, "type_error", name, invalid, fmt.Sprintf("the value is not a valid %s", f.Type))
	case chkRange:
		ch = l.check(Validity, "out_of_range", name, invalid, "the value is outside "+rangeText(f))
	case chkLevel:
		ch = l.check(Validity, "unknown_level", name, invalid, "the value is not one of "+strings.Join(f.Levels, ", "))
	}
	c.checks[kind] = ch
	return ch
}

func (l *loader) want(c *Check) bool { return len(c.Examples) < l.opts.MaxExamples }

// hit records that row k of the batch failed check c.
func (l *loader) hit(c *Check, k int, value, reason string) {
	c.Count++
	l.flags[k] |= dimBit(c.Dimension)
	l.dimIssues[dimIndex(c.Dimension)]++
	if l.want(c) {
		e := Example{Row: l.batchSrc + k, Value: clip(value, 64), Reason: reason}
		if l.lines != nil {
			e.Line = l.lines[k]
		}
		c.Examples = append(c.Examples, e)
	}
}

func (l *loader) beginBatch(n, line int) {
	l.batchStart = l.frame.Columns[0].Len()
	l.batchSrc = l.read + 1
	l.flags = slices.Grow(l.flags[:0], n)[:n]
	clear(l.flags)
	if line > 0 {
		l.lines = append(l.lines[:0], line)
	}
	l.read += n
}

// emptyCell appends a missing value that is missing in the file.
func (l *loader) emptyCell(j, k int) {
	c := &l.cols[j]
	appendMissing(c.col)
	if c.required {
		l.hit(l.cellCheck(j, chkMissing), k, "", "")
	}
}

// absentCells appends n missing values to a column the file does not have.
func (l *loader) absentCells(j, n int) {
	c := l.cols[j].col
	for range n {
		appendMissing(c)
	}
}

func appendMissing(c *dataset.Column) {
	if c.Type == dataset.String {
		c.Codes = append(c.Codes, -1)
	} else {
		c.Num = append(c.Num, math.NaN())
	}
}

// invalid appends a missing value in place of one that failed check kind.
func (l *loader) invalid(j, k, kind int, value, reason string) {
	c := &l.cols[j]
	appendMissing(c.col)
	if !c.key {
		l.setMissing++
	}
	l.hit(l.cellCheck(j, kind), k, value, reason)
}

// textCell appends a value given as text (CSV, or a Parquet string).
// Leading and trailing spaces are ignored; "", NA, N/A, NaN, null are missing.
func (l *loader) textCell(j, k int, b []byte) {
	b = bytes.TrimSpace(b)
	if isMissingText(b) {
		l.emptyCell(j, k)
		return
	}
	c := &l.cols[j]
	s := unsafe.String(unsafe.SliceData(b), len(b)) // a view: never kept
	if c.field.Type == dataset.String {
		if c.levels != nil {
			if _, ok := c.levels[s]; !ok {
				l.invalid(j, k, chkLevel, s, "not a level of "+c.field.Name)
				return
			}
		}
		l.appendString(c, s)
		return
	}
	v, ok := parseText(c.field.Type, s)
	if !ok {
		var reason string
		if ch := l.cellCheck(j, chkType); l.want(ch) {
			reason = typeReason[c.field.Type]
		}
		l.invalid(j, k, chkType, s, reason)
		return
	}
	l.numCell(j, k, v, s)
}

func (l *loader) appendString(c *column, s string) {
	code, ok := c.index[s]
	if !ok {
		code = int32(len(c.col.Dict))
		s = strings.Clone(s)
		c.col.Dict = append(c.col.Dict, s)
		c.index[s] = code
	}
	c.col.Codes = append(c.col.Codes, code)
}

// numCell appends a numeric value of a numeric column; raw is its text in
// the file, or "" to format v for examples.
func (l *loader) numCell(j, k int, v float64, raw string) {
	c := &l.cols[j]
	if math.IsNaN(v) {
		l.emptyCell(j, k)
		return
	}
	if math.IsInf(v, 0) || (c.field.Type == dataset.Int && v != math.Trunc(v)) ||
		(c.field.Type == dataset.Bool && v != 0 && v != 1) {
		if raw == "" {
			raw = formatNum(c.field.Type, v)
		}
		reason := "not a finite number"
		if !math.IsInf(v, 0) {
			reason = typeReason[c.field.Type]
		}
		l.invalid(j, k, chkType, raw, reason)
		return
	}
	if v < c.min || v > c.max {
		var reason string
		if ch := l.cellCheck(j, chkRange); l.want(ch) {
			if raw == "" {
				raw = formatNum(c.field.Type, v)
			}
			if v < c.min {
				reason = "below the minimum " + formatNum(c.field.Type, c.min)
			} else {
				reason = "above the maximum " + formatNum(c.field.Type, c.max)
			}
		}
		l.invalid(j, k, chkRange, raw, reason)
		return
	}
	c.col.Num = append(c.col.Num, v)
}

// endBatch runs the row-level checks on the batch's n rows, in order:
// a key or time value missing or invalid (dropped), a time in the future
// (dropped), a key seen before (dropped), then on the rows kept the future
// dates and the schema's rules. It compacts the kept rows.
func (l *loader) endBatch(n int) {
	base, w := l.batchStart, l.batchStart
	for k := range n {
		i := base + k
		drop := false
		for _, j := range l.idCols {
			if l.cols[j].col.Missing(i) {
				drop = true
				break
			}
		}
		if !drop && l.timeCol >= 0 {
			tc := l.cols[l.timeCol]
			t := tc.col.Num[i]
			future := (tc.field.Type == dataset.Month && t > l.asOf.month) || (tc.field.Type == dataset.Date && t > l.asOf.day)
			if future {
				ch := l.check(Timeliness, "future_time", tc.field.Name, RowDropped, "the row is dated after the as-of time")
				l.hit(ch, k, formatNum(tc.field.Type, t), "after "+l.opts.AsOf.Format("2006-01-02"))
				drop = true
			}
		}
		var h uint64
		if !drop && len(l.keyCols) > 0 {
			l.keys.reserve(l.keys.n+1, l.keyHash)
			h = l.keyHash(i)
			prev, slot := l.keys.find(h, func(r int) bool { return l.sameKey(r, i) })
			if prev >= 0 {
				name, desc := "duplicate_key", "another row has the same key, with different values (the first is kept)"
				if l.sameRow(prev, i) {
					name, desc = "duplicate_row", "the row repeats an earlier row exactly (the first is kept)"
				}
				ch := l.check(Uniqueness, name, "", RowDropped, desc)
				var key, reason string
				if l.want(ch) {
					key, reason = l.keyText(i), fmt.Sprintf("same key as row %d", l.srcRow(prev))
					if name == "duplicate_row" {
						reason = fmt.Sprintf("repeats row %d", l.srcRow(prev))
					}
				}
				l.hit(ch, k, key, reason)
				drop = true
			} else {
				l.keys.insert(h, w, slot) // w is where row i is about to move
			}
		}
		if drop {
			l.dropped++
			l.dropSrc = append(l.dropSrc, int32(l.batchSrc+k))
			continue
		}
		if w != i {
			l.moveRow(i, w)
		}
		l.keep(w, k)
		w++
	}
	for _, c := range l.cols {
		if c.field.Type == dataset.String {
			c.col.Codes = c.col.Codes[:w]
		} else {
			c.col.Num = c.col.Num[:w]
		}
	}
	for k := range n {
		if f := l.flags[k]; f != 0 {
			for d := range l.dimRows {
				if f&(1<<d) != 0 {
					l.dimRows[d]++
				}
			}
		}
	}
}

func (l *loader) moveRow(from, to int) {
	for _, c := range l.cols {
		if c.field.Type == dataset.String {
			c.col.Codes[to] = c.col.Codes[from]
		} else {
			c.col.Num[to] = c.col.Num[from]
		}
	}
}

// keep runs the checks on a kept row i (batch row k).
func (l *loader) keep(i, k int) {
	if l.timeCol >= 0 {
		t := l.cols[l.timeCol].col.Num[i]
		l.tmin, l.tmax = min(l.tmin, t), max(l.tmax, t)
	}
	for j := range l.cols {
		c := &l.cols[j]
		if c.field.Type != dataset.Date || j == l.timeCol || !c.present {
			continue
		}
		if v := c.col.Num[i]; v > l.asOf.day {
			ch := l.check(Timeliness, "future_date", c.field.Name, SetMissing, "the date is after the as-of time")
			l.hit(ch, k, dataset.FormatDate(v), "after "+l.opts.AsOf.Format("2006-01-02"))
			l.orig[i*len(l.cols)+j] = v
			c.col.Num[i] = math.NaN()
			l.setMissing++
		}
	}
	for _, r := range l.rules {
		bad, value, reason := r.check(i, l.want(r.ch))
		if !bad {
			continue
		}
		l.hit(r.ch, k, value, reason)
		if r.setMissing >= 0 {
			c := l.cols[r.setMissing].col
			l.orig[i*len(l.cols)+r.setMissing] = c.Num[i]
			c.Num[i] = math.NaN()
			l.setMissing++
		}
	}
}

func (l *loader) keyHash(i int) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, j := range l.keyCols {
		c := l.cols[j].col
		var x uint64
		if c.Type == dataset.String {
			x = uint64(uint32(c.Codes[i]))
		} else {
			x = math.Float64bits(c.Num[i])
		}
		h = mix64(h ^ x)
	}
	return h
}

func mix64(x uint64) uint64 { // splitmix64's finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// srcRow returns the file row number of kept row i: i+1 plus the rows
// dropped before it.
func (l *loader) srcRow(i int) int {
	src := i + 1
	for _, d := range l.dropSrc {
		if int(d) > src {
			break
		}
		src++
	}
	return src
}

func (l *loader) sameKey(a, b int) bool {
	for _, j := range l.keyCols {
		if !sameValue(l.cols[j].col, a, b) {
			return false
		}
	}
	return true
}

// sameRow reports whether kept row a, as read, equals row b.
func (l *loader) sameRow(a, b int) bool {
	for j, c := range l.cols {
		if v, ok := l.orig[a*len(l.cols)+j]; ok {
			if w := c.col.Num[b]; v != w && !(math.IsNaN(v) && math.IsNaN(w)) {
				return false
			}
			continue
		}
		if !sameValue(c.col, a, b) {
			return false
		}
	}
	return true
}

func sameValue(c *dataset.Column, a, b int) bool {
	if c.Type == dataset.String {
		return c.Codes[a] == c.Codes[b]
	}
	x, y := c.Num[a], c.Num[b]
	return x == y || (math.IsNaN(x) && math.IsNaN(y))
}

func (l *loader) keyText(i int) string {
	var parts []string
	for _, name := range l.schema.Key {
		j := l.colIndex(name)
		parts = append(parts, fmt.Sprint(l.cols[j].col.Value(i)))
	}
	return strings.Join(parts, " ")
}

// finish completes the report after the last batch.
func (l *loader) finish(rep *Report) (*dataset.Frame, *Report) {
	rep.Schema = l.schema.Name
	rep.AsOf = l.opts.AsOf
	rep.Ignored = l.ignoredNames
	n := l.frame.Len()
	rep.Rows = RowCounts{Read: l.read, Loaded: n, Dropped: l.dropped, ValuesSetMissing: l.setMissing}
	extraCompleteness := 0
	for _, c := range l.cols {
		rep.Columns = append(rep.Columns, ColumnReport{Name: c.field.Name, Present: c.present, Missing: countMissing(c.col)})
		if !c.present && c.required {
			ch := l.check(Completeness, "missing_column", c.field.Name, ColumnMissing, "a required column is not in the file")
			ch.Count = l.read
		}
	}
	if !math.IsInf(l.tmin, 1) {
		tc := l.cols[l.timeCol]
		rep.TimeRange = &TimeRange{Column: tc.field.Name, Min: formatNum(tc.field.Type, l.tmin), Max: formatNum(tc.field.Type, l.tmax)}
	}
	extraCompleteness += l.gridCheck()
	for _, c := range l.cols {
		if !c.present && c.required { // every row lacks it
			l.dimRows[dimIndex(Completeness)] = l.read
		}
	}
	for d, dim := range Dimensions {
		rows, denom := l.dimRows[d], l.read
		issues := l.dimIssues[d]
		if dim == Completeness {
			rows += extraCompleteness
			denom += extraCompleteness
			issues += extraCompleteness
		}
		dr := DimensionReport{Dimension: dim, Rows: rows, Issues: issues}
		if denom > 0 {
			dr.Rate = float64(rows) / float64(denom)
		}
		rep.Dimensions = append(rep.Dimensions, dr)
	}
	for _, c := range l.checks {
		if c.Count > 0 {
			rep.Checks = append(rep.Checks, c)
		}
	}
	sortChecks(rep.Checks)
	for _, c := range l.cols {
		c.col.Codes, c.col.Num = clipCap(c.col.Codes), clipCap(c.col.Num)
	}
	return l.frame, rep
}

// clipCap returns s unchanged unless more than a fifth of its capacity is
// unused (the row count was over-estimated), in which case it copies it.
func clipCap[T any](s []T) []T {
	if cap(s)-len(s) > cap(s)/5+1024 {
		return slices.Clone(s)
	}
	return s
}

// gridCheck counts the missing rows of a panel keyed by (entity, month): for
// a schema whose key is a string column and its Month time column, every
// entity seen should have a row for every month from the first to the last.
func (l *loader) gridCheck() int {
	s := l.schema
	if len(s.Key) != 2 || s.Key[1] != s.Time || l.timeCol < 0 || l.cols[l.timeCol].field.Type != dataset.Month {
		return 0
	}
	ec, tc := l.cols[l.colIndex(s.Key[0])].col, l.cols[l.timeCol].col
	if ec.Type != dataset.String || math.IsInf(l.tmin, 1) {
		return 0
	}
	months := int(l.tmax-l.tmin) + 1
	seen := make([]bool, len(ec.Dict))
	entities := 0
	for _, code := range ec.Codes {
		if !seen[code] {
			seen[code] = true
			entities++
		}
	}
	missing := entities*months - l.frame.Len()
	if missing <= 0 {
		return 0
	}
	ch := l.check(Completeness, "missing_period", "", Absent,
		fmt.Sprintf("no row for a %s in a month between the first and the last (%d × %d expected)", s.Key[0], entities, months))
	ch.Count = missing
	if l.opts.MaxExamples > 0 && int64(len(ec.Dict))*int64(months) <= 1<<26 {
		have := make([]bool, len(ec.Dict)*months)
		for i, code := range ec.Codes {
			have[int(code)*months+int(tc.Num[i]-l.tmin)] = true
		}
		for code := range ec.Dict {
			for m := 0; m < months && seen[code] && len(ch.Examples) < l.opts.MaxExamples; m++ {
				if !have[code*months+m] {
					ch.Examples = append(ch.Examples, Example{Value: ec.Dict[code] + " " + dataset.FormatMonth(l.tmin+float64(m)), Reason: "no row"})
				}
			}
		}
	}
	return missing
}

func countMissing(c *dataset.Column) int {
	n := 0
	for i := range c.Len() {
		if c.Missing(i) {
			n++
		}
	}
	return n
}

func dimIndex(d Dimension) int { return slices.Index(Dimensions, d) }
func dimBit(d Dimension) uint8 { return 1 << dimIndex(d) }

var typeReason = map[dataset.Type]string{
	dataset.Float: "not a number",
	dataset.Int:   "not a whole number",
	dataset.Bool:  "not a boolean (true/false, 1/0, yes/no)",
	dataset.Month: "not a month (YYYY-MM)",
	dataset.Date:  "not a date (YYYY-MM-DD)",
}

var missingTexts = []string{"NA", "N/A", "n/a", "NaN", "nan", "null", "NULL"}

func isMissingText(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if len(b) > 4 {
		return false
	}
	for _, m := range missingTexts {
		if string(b) == m {
			return true
		}
	}
	return false
}

// parseText parses the text form of a numeric column's value.
func parseText(t dataset.Type, s string) (float64, bool) {
	switch t {
	case dataset.Float, dataset.Int:
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) && !strings.ContainsAny(s, "xX_")
	case dataset.Bool:
		switch s {
		case "true", "TRUE", "True", "1", "t", "T", "yes", "Yes", "YES":
			return 1, true
		case "false", "FALSE", "False", "0", "f", "F", "no", "No", "NO":
			return 0, true
		}
		return 0, false
	case dataset.Month:
		if len(s) == 7 {
			v, err := dataset.ParseMonth(s)
			return v, err == nil
		}
		if d, ok := parseDate(s); ok { // a day in the month
			return dataset.MonthOfDate(d), true
		}
	case dataset.Date:
		return parseDate(s)
	}
	return 0, false
}

// parseDate parses YYYY-MM-DD, optionally followed by a time ("T..." or " ...").
func parseDate(s string) (float64, bool) {
	if len(s) > 10 && (s[10] == 'T' || s[10] == ' ') {
		s = s[:10]
	}
	if len(s) != 10 {
		return 0, false
	}
	v, err := dataset.ParseDate(s)
	return v, err == nil
}

func formatNum(t dataset.Type, v float64) string {
	switch t {
	case dataset.Month:
		if v > -1e7 && v < 1e7 {
			return dataset.FormatMonth(v)
		}
	case dataset.Date:
		if v > -1e8 && v < 1e8 {
			return dataset.FormatDate(v)
		}
	case dataset.Bool:
		if v == 0 || v == 1 {
			return strconv.FormatBool(v == 1)
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func rangeText(f dataset.Field) string {
	lo, hi := "-∞", "∞"
	if f.Min != nil {
		lo = formatNum(f.Type, *f.Min)
	}
	if f.Max != nil {
		hi = formatNum(f.Type, *f.Max)
	}
	return "[" + lo + ", " + hi + "]"
}

// clip cuts s to n bytes, keeping it valid UTF-8, and copies it.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(strings.Clone(s), "\uFFFD")
}
