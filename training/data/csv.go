package data

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// MaxRecordBytes bounds a CSV record, so that a file without line breaks (or
// with an unterminated quote) cannot make the reader buffer all of it.
const MaxRecordBytes = 1 << 20

// csvReader reads RFC 4180 records: comma-separated fields, records ended by
// LF or CRLF, fields optionally in double quotes, with "" for a quote inside
// them and line breaks allowed there. Blank lines are skipped. Unlike
// encoding/csv it does not allocate per record: the fields it returns are
// only valid until the next call.
type csvReader struct {
	br     *bufio.Reader
	line   int // lines read so far
	start  int // line the last record started on
	long   []byte
	buf    []byte // unquoted data of a record with quotes
	ends   []int
	fields [][]byte
}

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 256<<10)}
}

// csvError is a structural error at a place in the file.
func (r *csvReader) errorf(line, col int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if col > 0 {
		return fmt.Errorf("%w: line %d, column %d: %s", ErrFormat, line, col, msg)
	}
	return fmt.Errorf("%w: line %d: %s", ErrFormat, line, msg)
}

// readLine returns the next line with its line break, or io.EOF. The slice
// is valid until the next read.
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(r.long) > MaxRecordBytes {
				return nil, r.errorf(r.line+1, 0, "line longer than %d bytes", MaxRecordBytes)
			}
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		if len(r.long) > MaxRecordBytes {
			return nil, r.errorf(r.line+1, 0, "line longer than %d bytes", MaxRecordBytes)
		}
		line = r.long
	}
	if len(line) > 0 {
		if err == io.EOF {
			err = nil
		}
		r.line++
	}
	return line, err
}

// read returns the next record's fields, or io.EOF after the last.
func (r *csvReader) read() ([][]byte, error) {
	var line []byte
	for {
		var err error
		if line, err = r.readLine(); err != nil {
			return nil, err
		}
		if len(trimEOL(line)) > 0 {
			break
		}
	}
	r.start = r.line
	if bytes.IndexByte(line, '"') < 0 { // fast path: split in place
		line = trimEOL(line)
		r.fields = r.fields[:0]
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				r.fields = append(r.fields, line)
				return r.fields, nil
			}
			r.fields = append(r.fields, line[:i])
			line = line[i+1:]
		}
	}
	return r.readQuoted(line)
}

// readQuoted parses a record that has quotes, reading more lines while a
// quoted field spans line breaks.
func (r *csvReader) readQuoted(line []byte) ([][]byte, error) {
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	col := 1 // 1-based byte column on the current line, for errors
	pos := 0
	for {
		// At the start of a field.
		if pos < len(line) && line[pos] == '"' {
			quoteLine, quoteCol := r.line, col+pos
			pos++
			for { // inside quotes
				i := bytes.IndexByte(line[pos:], '"')
				if i < 0 { // the field goes on to the next line
					r.buf = append(r.buf, line[pos:]...)
					if len(r.buf) > MaxRecordBytes {
						return nil, r.errorf(quoteLine, quoteCol, "quoted field longer than %d bytes", MaxRecordBytes)
					}
					var err error
					if line, err = r.readLine(); err != nil {
						if err == io.EOF {
							return nil, r.errorf(quoteLine, quoteCol, "quoted field not closed before the end of the file")
						}
						return nil, err
					}
					pos, col = 0, 1
					continue
				}
				r.buf = append(r.buf, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && line[pos] == '"' { // "" is a quote
					r.buf = append(r.buf, '"')
					pos++
					continue
				}
				break
			}
			// After the closing quote: a comma, or the end of the record.
			rest := line[pos:]
			switch {
			case len(rest) > 0 && rest[0] == ',':
				r.ends = append(r.ends, len(r.buf))
				pos++
				continue
			case len(trimEOL(rest)) == 0:
				r.ends = append(r.ends, len(r.buf))
				return r.split(), nil
			}
			return nil, r.errorf(r.line, col+pos, "unexpected %q after a closing quote (a quote inside a quoted field must be doubled)", rest[0])
		}
		// An unquoted field: up to the next comma or the end of the line.
		end := bytes.IndexByte(line[pos:], ',')
		field := line[pos:]
		if end >= 0 {
			field = line[pos : pos+end]
		} else {
			field = trimEOL(field)
		}
		if q := bytes.IndexByte(field, '"'); q >= 0 {
			return nil, r.errorf(r.line, col+pos+q, "quote in an unquoted field (quote the whole field and double the quote)")
		}
		r.buf = append(r.buf, field...)
		r.ends = append(r.ends, len(r.buf))
		if end < 0 {
			return r.split(), nil
		}
		pos += end + 1
	}
}

func (r *csvReader) split() [][]byte {
	r.fields = r.fields[:0]
	from := 0
	for _, e := range r.ends {
		r.fields = append(r.fields, r.buf[from:e:e])
		from = e
	}
	return r.fields
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// ReadCSV loads CSV data with a header row from r, checking it against
// schema (see Load). size is r's length if known, else -1; it lets the
// loader size the Frame's columns once.
func ReadCSV(ctx context.Context, r io.Reader, size int64, schema *dataset.Schema, opts Options) (*dataset.Frame, *Report, error) {
	l, err := newLoader(schema, opts)
	if err != nil {
		return nil, nil, err
	}
	hr := &hashingReader{r: r, h: sha256.New()}
	cr := newCSVReader(hr)
	header, err := cr.read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: empty file, no header row", ErrFormat)
	}
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = string(bytes.TrimSpace(h))
	}
	if len(names) > 0 {
		names[0] = string(bytes.TrimPrefix([]byte(names[0]), []byte("\uFEFF"))) // Excel's byte-order mark
	}
	pos, err := l.bind(names)
	if err != nil {
		return nil, nil, err
	}
	l.activateRules()
	const sample = 1000 // rows read before estimating the row count
	for {
		if l.read%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		rec, err := cr.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if len(rec) != len(header) {
			return nil, nil, fmt.Errorf("%w: line %d: %d fields, but the header has %d", ErrFormat, cr.start, len(rec), len(header))
		}
		l.beginBatch(1, cr.start)
		for j, p := range pos {
			if p < 0 {
				l.absentCells(j, 1)
			} else {
				l.textCell(j, 0, rec[p])
			}
		}
		l.endBatch(1)
		if l.read == sample && size > 0 {
			consumed := hr.n - int64(cr.br.Buffered())
			if consumed > 0 {
				l.reserve(int(float64(size)/float64(consumed)*sample*1.08) + 64)
			}
		}
	}
	frame, rep := l.finish(&Report{Format: CSV})
	rep.SHA256, rep.Bytes = hex.EncodeToString(hr.h.Sum(nil)), hr.n
	return frame, rep, nil
}
