package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// pqKind says how to turn a Parquet column's values into a schema column's.
type pqKind int

const (
	pqBool pqKind = iota
	pqNumber
	pqText
	pqDays   // DATE: days since 1970-01-01
	pqMillis // TIMESTAMP(MILLIS), and so on
	pqMicros
	pqNanos
)

func pqKindOf(t parquet.Type) (pqKind, error) {
	if lt := t.LogicalType(); lt != nil {
		switch v := lt.Value.(type) {
		case *format.DateType:
			return pqDays, nil
		case *format.TimestampType:
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				return pqMillis, nil
			case *format.MicroSeconds:
				return pqMicros, nil
			case *format.NanoSeconds:
				return pqNanos, nil
			}
		case *format.DecimalType:
			return 0, fmt.Errorf("DECIMAL columns are not supported")
		}
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.Date:
			return pqDays, nil
		case deprecated.TimestampMillis:
			return pqMillis, nil
		case deprecated.TimestampMicros:
			return pqMicros, nil
		case deprecated.Decimal:
			return 0, fmt.Errorf("DECIMAL columns are not supported")
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return pqBool, nil
	case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return pqNumber, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return pqText, nil
	}
	return 0, fmt.Errorf("physical type %s is not supported", t.Kind())
}

// ReadParquet loads Parquet data from r, which holds size bytes, checking it
// against schema (see Load). Columns are matched to the schema's by name
// (case-insensitively, top-level columns only) and converted from their
// Parquet type: numbers, booleans, strings (parsed like CSV text), DATE and
// TIMESTAMP (to Month or Date columns). Row groups are read one at a time,
// column chunk by column chunk in file order, so r is read front to back,
// once.
func ReadParquet(ctx context.Context, r io.ReaderAt, size int64, schema *dataset.Schema, opts Options) (*dataset.Frame, *Report, error) {
	l, err := newLoader(schema, opts)
	if err != nil {
		return nil, nil, err
	}
	sr := newSeqReaderAt(r, size)
	f, err := parquet.OpenFile(sr, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	sr.startSequential()

	// Bind the schema's columns to the file's top-level leaf columns.
	var names []string
	leaves := map[string]parquet.LeafColumn{}
	for _, fd := range f.Schema().Fields() {
		names = append(names, fd.Name())
		if leaf, ok := f.Schema().Lookup(fd.Name()); ok && fd.Leaf() {
			leaves[fd.Name()] = leaf
		}
	}
	pos, err := l.bind(names)
	if err != nil {
		return nil, nil, err
	}
	type bound struct {
		field, leaf int
		kind        pqKind
	}
	var cols []bound
	for j, p := range pos {
		if p < 0 {
			continue
		}
		leaf, ok := leaves[names[p]]
		if !ok || leaf.MaxRepetitionLevel > 0 {
			return nil, nil, fmt.Errorf("%w: column %s is nested or repeated, not a plain column", ErrSchema, names[p])
		}
		kind, err := pqKindOf(leaf.Node.Type())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: column %s: %v", ErrSchema, names[p], err)
		}
		cols = append(cols, bound{field: j, leaf: leaf.ColumnIndex, kind: kind})
	}
	slices.SortFunc(cols, func(a, b bound) int { return a.leaf - b.leaf }) // file order
	l.activateRules()
	if n := f.NumRows(); n > math.MaxInt32 {
		return nil, nil, fmt.Errorf("%w: %d rows is more than a Frame holds", ErrFormat, n)
	}
	l.reserve(int(f.NumRows()))

	buf := make([]parquet.Value, 1024)
	for _, rg := range f.RowGroups() {
		n := int(rg.NumRows())
		l.beginBatch(n, 0)
		chunks := rg.ColumnChunks()
		for _, b := range cols {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			k, err := l.readChunk(chunks[b.leaf], b.field, b.kind, buf)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: column %s: %w", ErrFormat, l.cols[b.field].field.Name, err)
			}
			if k != n {
				return nil, nil, fmt.Errorf("%w: column %s has %d values in a row group of %d rows", ErrFormat, l.cols[b.field].field.Name, k, n)
			}
		}
		for j, p := range pos {
			if p < 0 {
				l.absentCells(j, n)
			}
		}
		l.endBatch(n)
	}
	sum, err := sr.finish()
	if err != nil {
		return nil, nil, err
	}
	frame, rep := l.finish(&Report{Format: Parquet})
	rep.SHA256, rep.Bytes = hex.EncodeToString(sum), size
	return frame, rep, nil
}

// readChunk appends the values of one column chunk to schema column j and
// returns how many there were.
func (l *loader) readChunk(chunk parquet.ColumnChunk, j int, kind pqKind, buf []parquet.Value) (int, error) {
	pages := chunk.Pages()
	defer pages.Close()
	k := 0
	t := l.cols[j].field.Type
	var text []byte
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			return k, nil
		}
		if err != nil {
			return k, err
		}
		vr := p.Values()
		for {
			m, err := vr.ReadValues(buf)
			for _, v := range buf[:m] {
				switch {
				case v.IsNull():
					l.emptyCell(j, k)
				case kind == pqText:
					l.textCell(j, k, v.ByteArray())
				case t == dataset.String: // a number or a bool in a string column: use its text
					l.textCell(j, k, appendText(text[:0], v, kind))
				default:
					l.pqNumber(j, k, v, kind, t)
				}
				k++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return k, err
			}
		}
		parquet.Release(p)
	}
}

// appendText appends the text form of a non-text value.
func appendText(dst []byte, v parquet.Value, kind pqKind) []byte {
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(dst, v.Boolean())
	case parquet.Int32:
		if kind == pqDays {
			return dataset.AppendDate(dst, float64(v.Int32()))
		}
		return strconv.AppendInt(dst, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case parquet.Float:
		return strconv.AppendFloat(dst, float64(v.Float()), 'f', -1, 32)
	case parquet.Double:
		return strconv.AppendFloat(dst, v.Double(), 'f', -1, 64)
	}
	return append(dst, v.String()...)
}

// pqNumber appends a non-null, non-text Parquet value to numeric column j of type t.
func (l *loader) pqNumber(j, k int, v parquet.Value, kind pqKind, t dataset.Type) {
	var x float64
	switch kind {
	case pqBool:
		x = 0
		if v.Boolean() {
			x = 1
		}
		if t != dataset.Bool && t != dataset.Int && t != dataset.Float {
			l.invalid(j, k, chkType, strconv.FormatBool(v.Boolean()), typeReason[t])
			return
		}
	case pqNumber:
		switch v.Kind() {
		case parquet.Int32:
			x = float64(v.Int32())
		case parquet.Int64:
			x = float64(v.Int64())
		case parquet.Float:
			x = float64(v.Float())
		default:
			x = v.Double()
		}
		if t == dataset.Month || t == dataset.Date { // a bare number is not a date
			l.invalid(j, k, chkType, formatNum(dataset.Float, x), typeReason[t]+": a plain number")
			return
		}
	default: // a date or a timestamp
		var days float64
		switch kind {
		case pqDays:
			days = float64(v.Int32())
		case pqMillis:
			days = math.Floor(float64(v.Int64()) / 864e5)
		case pqMicros:
			days = math.Floor(float64(v.Int64()) / 864e8)
		case pqNanos:
			days = math.Floor(float64(v.Int64()) / 864e11)
		}
		switch t {
		case dataset.Date:
			x = days
		case dataset.Month:
			x = dataset.MonthOfDate(days)
		default:
			l.invalid(j, k, chkType, dataset.FormatDate(days), typeReason[t]+": a date")
			return
		}
	}
	l.numCell(j, k, x, "")
}

// seqReaderAt serves the ReadAt calls of a Parquet reader from a window of
// the underlying reader, fetched a few MiB at a time (one ranged GET on
// S3), and hashes the file as the reads move forward: bytes skipped over
// (columns not loaded, indexes) are read and hashed as they are passed, and
// finish hashes the tail. Reads before startSequential (the footer) are not
// hashed then, only by finish.
type seqReaderAt struct {
	mu         sync.Mutex
	r          io.ReaderAt
	size       int64
	h          hash.Hash
	hashed     int64 // [0, hashed) is hashed
	sequential bool
	win        []byte
	winOff     int64
	winLen     int
	fetched    int64 // bytes read from r
}

const seqWindow = 2 << 20

func newSeqReaderAt(r io.ReaderAt, size int64) *seqReaderAt {
	return &seqReaderAt{r: r, size: size, h: sha256.New()}
}

func (s *seqReaderAt) startSequential() {
	s.mu.Lock()
	s.sequential = true
	s.mu.Unlock()
}

func (s *seqReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off < 0 {
		return 0, errors.New("data: negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	if off >= s.winOff && off+int64(len(p)) <= s.winOff+int64(s.winLen) {
		return copy(p, s.win[off-s.winOff:s.winLen]), nil
	}
	if len(p) >= seqWindow || !s.sequential { // large reads, and the magic and footer at open, go straight through
		return s.fetch(p, off)
	}
	if s.win == nil {
		s.win = make([]byte, seqWindow)
	}
	n := int(min(int64(seqWindow), s.size-off))
	got, err := s.fetch(s.win[:n], off)
	s.winOff, s.winLen = off, got
	if err != nil && got < min(len(p), n) {
		s.winLen = 0
		return copy(p, s.win[:got]), err
	}
	c := copy(p, s.win[:got])
	if c < len(p) {
		return c, io.EOF
	}
	return c, nil
}

// fetch reads p at off from the underlying reader, hashing as it goes.
func (s *seqReaderAt) fetch(p []byte, off int64) (int, error) {
	if s.sequential && off > s.hashed {
		if err := s.hashUpTo(off); err != nil {
			return 0, err
		}
	}
	n, err := s.r.ReadAt(p, off)
	s.fetched += int64(n)
	if n == len(p) && err == io.EOF {
		err = nil
	}
	if off <= s.hashed && off+int64(n) > s.hashed {
		s.h.Write(p[s.hashed-off : n])
		s.hashed = off + int64(n)
	}
	return n, err
}

// hashUpTo reads and hashes [hashed, end).
func (s *seqReaderAt) hashUpTo(end int64) error {
	buf := make([]byte, min(int64(1<<20), end-s.hashed))
	for s.hashed < end {
		b := buf[:min(int64(len(buf)), end-s.hashed)]
		n, err := s.r.ReadAt(b, s.hashed)
		s.fetched += int64(n)
		s.h.Write(b[:n])
		s.hashed += int64(n)
		if n < len(b) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("data: hash: %w", err)
		}
	}
	return nil
}

// finish hashes what is left and returns the file's SHA-256.
func (s *seqReaderAt) finish() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.hashUpTo(s.size); err != nil {
		return nil, err
	}
	return s.h.Sum(nil), nil
}
