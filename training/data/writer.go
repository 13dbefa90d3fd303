package data

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/training/dataset"
)

// Writer streams rows to a CSV or Parquet file. It is not safe for
// concurrent use. Call Close to complete the file, or Abort to discard it:
// until Close succeeds, nothing appears at the destination.
//
// Write takes one value per schema field, in schema order, as
// dataset.Frame.AppendRow does: nil (missing), string, bool, an integer or a
// float, or time.Time for Month and Date columns; a Month or Date may also
// be its text, "YYYY-MM" or "YYYY-MM-DD". CSV writes any string as is (so
// tests can write malformed values); Parquet, being typed, rejects a value
// that is not of its column's type.
type Writer struct {
	schema *dataset.Schema
	format Format
	out    *hashingWriter
	bw     *bufio.Writer
	sink   sink
	rows   int64
	err    error // sticky
	done   bool

	line []byte // CSV

	pw    *parquet.Writer // Parquet
	batch []parquet.Row
	nb    int
	arena []byte
}

// sink is where the bytes go: a temporary file renamed by commit, or an
// upload completed by commit.
type sink struct {
	w      io.Writer
	commit func() error
	abort  func()
}

var errAborted = errors.New("data: write aborted")

// NewWriter creates a writer to uri (a local path or s3://bucket/key), in
// opts.Format or the format of its extension. A local file is written under
// a temporary name in the same directory and renamed by Close; an S3 object
// is streamed in a multipart upload that Close completes.
func NewWriter(ctx context.Context, uri string, schema *dataset.Schema, opts Options) (*Writer, error) {
	loc, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	f := opts.Format
	if f == "" {
		if f, err = FormatOf(uri); err != nil {
			return nil, err
		}
	}
	if f != CSV && f != Parquet {
		return nil, fmt.Errorf("data: write %s: %w: unknown format %q", uri, ErrFormat, f)
	}
	s, err := openSink(ctx, loc, f, opts.S3)
	if err != nil {
		return nil, fmt.Errorf("data: write %s: %w", uri, err)
	}
	w, err := newWriter(s, f, schema)
	if err != nil {
		s.abort()
		return nil, err
	}
	return w, nil
}

// NewStreamWriter creates a writer to w. Close flushes the data but does not
// close w; Abort stops writing.
func NewStreamWriter(w io.Writer, f Format, schema *dataset.Schema) (*Writer, error) {
	return newWriter(sink{w: w, commit: func() error { return nil }, abort: func() {}}, f, schema)
}

func newWriter(s sink, f Format, schema *dataset.Schema) (*Writer, error) {
	if schema == nil || len(schema.Fields) == 0 {
		return nil, fmt.Errorf("%w: empty schema", ErrSchema)
	}
	w := &Writer{schema: schema, format: f, sink: s, out: &hashingWriter{w: s.w, h: sha256.New()}}
	w.bw = bufio.NewWriterSize(w.out, 256<<10)
	switch f {
	case CSV:
		for j, fd := range schema.Fields {
			if j > 0 {
				w.line = append(w.line, ',')
			}
			w.line = appendQuoted(w.line, fd.Name)
		}
		w.line = append(w.line, '\n')
		if _, err := w.bw.Write(w.line); err != nil {
			return nil, err
		}
	case Parquet:
		w.pw = parquet.NewWriter(w.bw, parquetSchema(schema),
			parquet.Compression(&parquet.Snappy),
			parquet.MaxRowsPerRowGroup(128<<10),
			parquet.CreatedBy("lantern", buildinfo.String(), ""))
		w.batch = make([]parquet.Row, 1024)
		for i := range w.batch {
			w.batch[i] = make(parquet.Row, len(schema.Fields))
		}
	default:
		return nil, fmt.Errorf("%w: unknown format %q", ErrFormat, f)
	}
	return w, nil
}

// Write writes one row; it does not keep the slice. A row the format cannot
// hold (a value of the wrong type for Parquet, a row of the wrong length) is
// refused with an error and the writer goes on; any other error (I/O, a
// failed upload) is returned again by every later call, and by Close.
func (w *Writer) Write(row []any) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("data: write after Close")
	}
	if len(row) != len(w.schema.Fields) {
		return fmt.Errorf("data: %w: row has %d values, schema %s has %d columns", errBadValue, len(row), w.schema.Name, len(w.schema.Fields))
	}
	var err error
	if w.format == CSV {
		err = w.writeCSV(row)
	} else {
		err = w.writeParquet(row)
	}
	if err != nil {
		if !errors.Is(err, errBadValue) {
			w.err = err
		}
		return err
	}
	w.rows++
	return nil
}

var errBadValue = errors.New("bad value")

func (w *Writer) writeCSV(row []any) error {
	b := w.line[:0]
	for j, v := range row {
		if j > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendCSV(b, w.schema.Fields[j], v); err != nil {
			return err
		}
	}
	w.line = append(b, '\n')
	_, err := w.bw.Write(w.line)
	return err
}

func appendCSV(b []byte, f dataset.Field, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return b, nil
	case string:
		return appendQuoted(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return appendFloat(b, f.Type, x), nil
	case float32:
		return appendFloat(b, f.Type, float64(x)), nil
	case time.Time:
		switch f.Type {
		case dataset.Month:
			return dataset.AppendMonth(b, dataset.MonthOf(x)), nil
		case dataset.Date:
			return dataset.AppendDate(b, dataset.DateOf(x)), nil
		}
		return x.AppendFormat(b, time.RFC3339Nano), nil
	}
	return b, fmt.Errorf("data: column %s: %w: cannot write a %T", f.Name, errBadValue, v)
}

func appendFloat(b []byte, t dataset.Type, x float64) []byte {
	switch {
	case math.IsNaN(x):
		return b
	case t == dataset.Month:
		return dataset.AppendMonth(b, x)
	case t == dataset.Date:
		return dataset.AppendDate(b, x)
	case t == dataset.Bool:
		return strconv.AppendBool(b, x != 0)
	}
	return strconv.AppendFloat(b, x, 'f', -1, 64)
}

// appendQuoted appends s, quoted if it holds a comma, a quote, a line break,
// or leading or trailing space.
func appendQuoted(b []byte, s string) []byte {
	if s == "" || (!strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ') {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(append(b, s[:i+1]...), '"')
		s = s[i+1:]
	}
	return append(append(b, s...), '"')
}

func (w *Writer) writeParquet(row []any) error {
	r := w.batch[w.nb]
	for j, f := range w.schema.Fields {
		pv, err := w.parquetValue(f, row[j])
		if err != nil {
			return err
		}
		r[j] = pv.Level(0, 1, j)
		if pv.IsNull() {
			r[j] = parquet.NullValue().Level(0, 0, j)
		}
	}
	w.nb++
	if w.nb == len(w.batch) {
		return w.flushBatch()
	}
	return nil
}

func (w *Writer) parquetValue(f dataset.Field, v any) (parquet.Value, error) {
	if v == nil {
		return parquet.NullValue(), nil
	}
	if f.Type == dataset.String {
		s, ok := v.(string)
		if !ok {
			return parquet.Value{}, fmt.Errorf("data: column %s: %w: %T is not a string", f.Name, errBadValue, v)
		}
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
	}
	x, err := dataset.ToNum(f.Type, v)
	if err != nil {
		return parquet.Value{}, fmt.Errorf("data: column %s: %w: %v", f.Name, errBadValue, err)
	}
	if math.IsNaN(x) {
		return parquet.NullValue(), nil
	}
	switch f.Type {
	case dataset.Int:
		if x != math.Trunc(x) || math.Abs(x) > 1<<62 {
			return parquet.Value{}, fmt.Errorf("data: column %s: %w: %v is not a whole number", f.Name, errBadValue, v)
		}
		return parquet.Int64Value(int64(x)), nil
	case dataset.Bool:
		return parquet.BooleanValue(x != 0), nil
	case dataset.Month:
		start := len(w.arena)
		w.arena = dataset.AppendMonth(w.arena, x)
		return parquet.ByteArrayValue(w.arena[start:len(w.arena):len(w.arena)]), nil
	case dataset.Date:
		return parquet.Int32Value(int32(x)), nil
	}
	return parquet.DoubleValue(x), nil
}

func (w *Writer) flushBatch() error {
	if w.nb == 0 {
		return nil
	}
	_, err := w.pw.WriteRows(w.batch[:w.nb])
	w.nb, w.arena = 0, w.arena[:0]
	return err
}

// WriteFrame writes all the rows of f, matching its columns to the
// writer's schema by name (a schema column f lacks is written missing).
func (w *Writer) WriteFrame(f *dataset.Frame) error {
	cols := make([]*dataset.Column, len(w.schema.Fields))
	for j, fd := range w.schema.Fields {
		cols[j] = f.Col(fd.Name)
	}
	row := make([]any, len(cols))
	for i := range f.Len() {
		for j, c := range cols {
			row[j] = nil
			if c != nil {
				row[j] = c.Value(i)
			}
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// Close completes the file: flushes it and renames it into place, or
// completes the upload. After a failed Write, Close discards the file and
// returns the Write's error.
func (w *Writer) Close() error {
	if w.done {
		return w.err
	}
	w.done = true
	if w.err != nil {
		w.sink.abort()
		return w.err
	}
	err := w.flushBatch()
	if err == nil && w.pw != nil {
		err = w.pw.Close()
	}
	if err == nil {
		err = w.bw.Flush()
	}
	if err != nil {
		w.err = err
		w.sink.abort()
		return err
	}
	w.err = w.sink.commit()
	return w.err
}

// Abort discards the file. It does nothing after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.err = errAborted
	w.sink.abort()
}

// Rows is the number of rows written.
func (w *Writer) Rows() int64 { return w.rows }

// Bytes is the number of bytes written; complete after Close.
func (w *Writer) Bytes() int64 { return w.out.n }

// SHA256 is the hex SHA-256 of the bytes written, valid after Close; Load
// reports the same digest for the file.
func (w *Writer) SHA256() string { return hex.EncodeToString(w.out.h.Sum(nil)) }

// WriteFrame writes f to uri (see NewWriter).
func WriteFrame(ctx context.Context, uri string, f *dataset.Frame, opts Options) error {
	w, err := NewWriter(ctx, uri, f.Schema, opts)
	if err != nil {
		return err
	}
	if err := w.WriteFrame(f); err != nil {
		w.Abort()
		return fmt.Errorf("data: write %s: %w", uri, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: write %s: %w", uri, err)
	}
	return nil
}

type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// ctxWriter fails writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func openSink(ctx context.Context, loc location, f Format, o S3Options) (sink, error) {
	if !loc.s3() {
		dir, base := filepath.Split(loc.path)
		if dir == "" {
			dir = "."
		}
		tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
		if err != nil {
			return sink{}, err
		}
		abort := func() { tmp.Close(); os.Remove(tmp.Name()) }
		return sink{
			w: ctxWriter{ctx, tmp},
			commit: func() error {
				if err := ctx.Err(); err != nil {
					abort()
					return err
				}
				if err := tmp.Sync(); err != nil {
					abort()
					return err
				}
				if err := tmp.Close(); err != nil {
					os.Remove(tmp.Name())
					return err
				}
				if err := os.Rename(tmp.Name(), loc.path); err != nil {
					os.Remove(tmp.Name())
					return err
				}
				return nil
			},
			abort: abort,
		}, nil
	}
	st, err := openStore(ctx, loc, o)
	if err != nil {
		return sink{}, err
	}
	ct := "text/csv"
	if f == Parquet {
		ct = "application/vnd.apache.parquet"
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owned by the sink: ends when the pipe is closed either way
		_, err := st.Put(ctx, loc.key, pr, -1, objstore.PutOptions{ContentType: ct})
		pr.CloseWithError(cmpErr(err, errAborted))
		done <- err
	}()
	return sink{
		w:      pw,
		commit: func() error { pw.Close(); return <-done },
		abort:  func() { pw.CloseWithError(errAborted); <-done },
	}, nil
}

// cmpErr returns err, or alt when err is nil (a reader closed with nil
// would make further writes look like they succeeded).
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// parquetSchema maps a dataset schema to Parquet, every column optional, in
// schema order: String → UTF8 string (dictionary-encoded), Int → INT64,
// Float → DOUBLE, Bool → BOOLEAN, Month → "YYYY-MM" string, Date → DATE.
func parquetSchema(s *dataset.Schema) *parquet.Schema {
	g := &orderedGroup{}
	for _, f := range s.Fields {
		var n parquet.Node
		switch f.Type {
		case dataset.String:
			n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
		case dataset.Int:
			n = parquet.Int(64)
		case dataset.Bool:
			n = parquet.Leaf(parquet.BooleanType)
		case dataset.Month:
			n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
		case dataset.Date:
			n = parquet.Date()
		default:
			n = parquet.Leaf(parquet.DoubleType)
		}
		g.fields = append(g.fields, namedField{parquet.Optional(n), f.Name})
	}
	return parquet.NewSchema(s.Name, g)
}

// orderedGroup is a Parquet group whose columns keep the order given
// (parquet.Group, a map, sorts them by name).
type orderedGroup struct{ fields []parquet.Field }

func (g *orderedGroup) ID() int                     { return 0 }
func (g *orderedGroup) String() string              { return g.group().String() }
func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type        { return g.group().GoType() }

func (g *orderedGroup) group() parquet.Group {
	m := parquet.Group{}
	for _, f := range g.fields {
		m[f.Name()] = f
	}
	return m
}

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                           { return f.name }
func (f namedField) Value(base reflect.Value) reflect.Value { return base.FieldByName(f.name) }
