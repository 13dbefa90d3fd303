package onnx

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Limits that bound the memory ReadSignature uses, whatever the input.
const (
	// MaxFieldSize is the largest single field ReadSignature keeps in memory: one graph input or
	// output description, one opset import, one metadata entry, the producer name or version,
	// or one initializer name. Tensors, nodes and everything else are skipped, whatever their size.
	MaxFieldSize = 4 << 20

	// maxKept bounds the sum of all the fields ReadSignature keeps.
	maxKept = 64 << 20

	// readBufferSize is the size of the buffered reader over the stream, and minReadBufferSize
	// its size for a stream known to be shorter (it must hold sniffLen bytes).
	readBufferSize    = 64 << 10
	minReadBufferSize = 4 << 10

	// maxGroupDepth bounds the nesting of skipped (deprecated) protobuf groups.
	maxGroupDepth = 64
)

// Field numbers of onnx.proto that the walker needs. The walker reads nothing else.
const (
	modelIRVersion       = 1  // ModelProto.ir_version: int64
	modelProducerName    = 2  // ModelProto.producer_name: string
	modelProducerVersion = 3  // ModelProto.producer_version: string
	modelGraph           = 7  // ModelProto.graph: GraphProto
	modelOpsetImport     = 8  // ModelProto.opset_import: repeated OperatorSetIdProto
	modelMetadataProps   = 14 // ModelProto.metadata_props: repeated StringStringEntryProto

	graphInitializer       = 5  // GraphProto.initializer: repeated TensorProto
	graphInput             = 11 // GraphProto.input: repeated ValueInfoProto
	graphOutput            = 12 // GraphProto.output: repeated ValueInfoProto
	graphSparseInitializer = 15 // GraphProto.sparse_initializer: repeated SparseTensorProto

	tensorName         = 8  // TensorProto.name: string
	tensorExternalData = 13 // TensorProto.external_data: repeated StringStringEntryProto
	tensorDataLocation = 14 // TensorProto.data_location: DataLocation (EXTERNAL = 1)

	sparseValues  = 1 // SparseTensorProto.values: TensorProto
	sparseIndices = 2 // SparseTensorProto.indices: TensorProto
)

// model is what the walker keeps of a ModelProto: exactly the fields a Signature is built from.
type model struct {
	irVersion       int64
	sawIRVersion    bool
	producer        string
	producerVersion string
	sawGraph        bool
	opsets          []*onnxpb.OperatorSetIdProto
	metadata        []*onnxpb.StringStringEntryProto
	inputs          []*onnxpb.ValueInfoProto
	outputs         []*onnxpb.ValueInfoProto
	initializers    map[string]bool // names of dense and sparse initializers
	externalData    bool
}

// walker walks the protobuf wire format of a ModelProto from a stream. It keeps the few small
// fields a signature needs (decoding each with the generated types) and discards the rest as it
// goes, so its memory does not depend on the size of the model.
type walker struct {
	br *bufio.Reader
	// src, when it can seek (ReadSignatureAt), lets discard jump over large
	// fields instead of reading them; size is then its length.
	src  io.ReadSeeker
	size int64
	off  int64    // bytes consumed from br so far
	path []string // the field being read, for error messages: "graph", "input"...
	buf  []byte   // scratch space for the field being decoded
	kept int64    // bytes of fields kept so far, bounded by maxKept
	m    model
}

func newWalker(r io.Reader) *walker {
	size := readBufferSize
	if l, ok := r.(interface{ Len() int }); ok { // a bytes.Reader of a small model needs no 64 KiB
		size = max(min(size, l.Len()), minReadBufferSize)
	}
	return &walker{br: bufio.NewReaderSize(r, size), m: model{initializers: map[string]bool{}}}
}

// errRead marks an error of the underlying reader, which is returned as it is rather than
// as a FormatError.
type errRead struct{ err error }

func (e errRead) Error() string { return e.err.Error() }
func (e errRead) Unwrap() error { return e.err }

// corrupt returns a FormatError for bytes that are not valid protobuf at the current offset.
func (w *walker) corrupt(format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	if len(w.path) > 0 {
		detail += ", in ModelProto." + strings.Join(w.path, ".")
	}
	return &FormatError{NotONNX: true, Offset: w.off,
		Reason: fmt.Sprintf("the data is not valid protobuf at byte %d (%s)", w.off, detail)}
}

// readErr turns an error of the buffered reader into the error to return: io.EOF in the middle
// of a field means the file is truncated; any other error is the reader's own.
func (w *walker) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		where := ""
		if len(w.path) > 0 {
			where = " inside ModelProto." + strings.Join(w.path, ".")
		}
		return &FormatError{NotONNX: true, Offset: w.off, Reason: fmt.Sprintf(
			"the file ends unexpectedly after %d bytes%s; it is truncated (was the upload or download cut short?)",
			w.off, where)}
	}
	return errRead{err}
}

// varint reads a base-128 varint. It returns io.EOF, and only io.EOF, when the stream ends
// before the first byte.
func (w *walker) varint() (uint64, error) {
	b, err := w.br.Peek(binary.MaxVarintLen64)
	if len(b) == 0 {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, w.readErr(err)
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		if err != nil && len(b) < binary.MaxVarintLen64 {
			w.off += int64(len(b))
			return 0, w.readErr(err)
		}
		return 0, w.corrupt("invalid varint")
	}
	_, _ = w.br.Discard(n) // cannot fail: the n bytes are buffered
	w.off += int64(n)
	return v, nil
}

// tag reads a field tag. It returns io.EOF when the stream ends cleanly before it.
func (w *walker) tag() (protowire.Number, protowire.Type, error) {
	start := w.off
	v, err := w.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if v>>3 > uint64(protowire.MaxValidNumber) || num < protowire.MinValidNumber {
		w.off = start
		return 0, 0, w.corrupt("invalid protobuf field number %d", v>>3)
	}
	if typ > protowire.Fixed32Type {
		w.off = start
		return 0, 0, w.corrupt("invalid protobuf wire type %d", typ)
	}
	return num, typ, nil
}

// mustTag is tag inside a message, where the end of the stream is an error.
func (w *walker) mustTag() (protowire.Number, protowire.Type, error) {
	num, typ, err := w.tag()
	if err == io.EOF {
		return 0, 0, w.readErr(io.ErrUnexpectedEOF)
	}
	return num, typ, err
}

// length reads the length of a length-delimited field and checks that it fits in the message
// that ends at end (-1 for the top-level message, whose end is the end of the stream).
func (w *walker) length(end int64) (int64, error) {
	v, err := w.varint()
	if err == io.EOF {
		return 0, w.readErr(io.ErrUnexpectedEOF)
	}
	if err != nil {
		return 0, err
	}
	if end >= 0 && w.off > end {
		return 0, w.corrupt("a field overruns its enclosing message")
	}
	if end >= 0 && v > uint64(end-w.off) {
		return 0, w.corrupt("a field of %d bytes overruns its enclosing message (%d bytes left)", v, end-w.off)
	}
	if v > uint64(math.MaxInt64-w.off) {
		return 0, w.corrupt("invalid field length %d", v)
	}
	return int64(v), nil
}

// discard skips n bytes of the stream: by seeking when the source can and
// the bytes are not buffered yet, else by reading them.
func (w *walker) discard(n int64) error {
	if w.src != nil && n > int64(w.br.Buffered())+seekThreshold {
		if w.off+n > w.size {
			w.off = w.size
			return w.readErr(io.ErrUnexpectedEOF)
		}
		b := w.br.Buffered()
		_, _ = w.br.Discard(b)
		w.off += int64(b)
		n -= int64(b)
		if _, err := w.src.Seek(n, io.SeekCurrent); err != nil {
			return w.readErr(err)
		}
		w.br.Reset(w.src)
		w.off += n
		return nil
	}
	for n > 0 {
		chunk := int(min(n, 1<<30))
		d, err := w.br.Discard(chunk)
		w.off += int64(d)
		n -= int64(d)
		if err != nil {
			return w.readErr(err)
		}
	}
	return nil
}

// bytes reads a length-delimited field of n bytes into the scratch buffer, which is valid until
// the next call. The buffer grows with the bytes that actually arrive, so a length that lies
// costs no memory.
func (w *walker) bytes(n int64) ([]byte, error) {
	if n > MaxFieldSize {
		return nil, &FormatError{Offset: w.off, Reason: fmt.Sprintf(
			"ModelProto.%s takes %d bytes, over the limit of %s for a single field",
			strings.Join(w.path, "."), n, humanBytes(MaxFieldSize))}
	}
	if w.kept += n; w.kept > maxKept {
		return nil, &FormatError{Offset: w.off, Reason: fmt.Sprintf(
			"the graph inputs, outputs, initializer names and metadata take more than %s", humanBytes(maxKept))}
	}
	buf := w.buf[:0]
	for int64(len(buf)) < n {
		chunk := int(min(n-int64(len(buf)), readBufferSize))
		buf = slices.Grow(buf, chunk)
		k, err := io.ReadFull(w.br, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+k]
		w.off += int64(k)
		if err != nil {
			return nil, w.readErr(err)
		}
	}
	w.buf = buf
	return buf, nil
}

// message reads a length-delimited field of n bytes and decodes it into msg.
func (w *walker) message(n int64, msg proto.Message) error {
	start := w.off
	b, err := w.bytes(n)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		w.off = start
		return w.corrupt("cannot decode %s: %v", msg.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// skip discards the value of a field of wire type typ.
func (w *walker) skip(num protowire.Number, typ protowire.Type, end int64) error {
	switch typ {
	case protowire.VarintType:
		_, err := w.varint()
		if err == io.EOF {
			return w.readErr(io.ErrUnexpectedEOF)
		}
		return err
	case protowire.Fixed32Type:
		return w.discard(4)
	case protowire.Fixed64Type:
		return w.discard(8)
	case protowire.BytesType:
		n, err := w.length(end)
		if err != nil {
			return err
		}
		return w.discard(n)
	case protowire.StartGroupType:
		return w.skipGroup(num, end)
	default: // protowire.EndGroupType
		return w.corrupt("unexpected protobuf end-group marker for field %d", num)
	}
}

// skipGroup discards a (deprecated, but valid) protobuf group whose start tag has been read.
func (w *walker) skipGroup(num protowire.Number, end int64) error {
	open := []protowire.Number{num}
	for len(open) > 0 {
		n, typ, err := w.mustTag()
		if err != nil {
			return err
		}
		switch typ {
		case protowire.StartGroupType:
			if len(open) == maxGroupDepth {
				return w.corrupt("protobuf groups nested more than %d deep", maxGroupDepth)
			}
			open = append(open, n)
		case protowire.EndGroupType:
			if n != open[len(open)-1] {
				return w.corrupt("protobuf end-group marker for field %d closes a group of field %d", n, open[len(open)-1])
			}
			open = open[:len(open)-1]
		default:
			if err := w.skip(n, typ, end); err != nil {
				return err
			}
		}
		if end >= 0 && w.off > end {
			return w.corrupt("a group overruns its enclosing message")
		}
	}
	return nil
}

// expect checks the wire type of a field the walker decodes. A mismatch means the bytes are not
// an ONNX model (the protobuf library would treat the field as unknown, and the model would be
// missing it anyway).
func (w *walker) expect(name string, got, want protowire.Type) error {
	if got != want {
		return w.corrupt("field %s has protobuf wire type %d, want %d", name, got, want)
	}
	return nil
}

// walkModel reads a ModelProto up to the end of the stream.
func (w *walker) walkModel() error {
	for {
		num, typ, err := w.tag()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch num {
		case modelIRVersion:
			if err := w.expect("ir_version", typ, protowire.VarintType); err != nil {
				return err
			}
			v, err := w.varint()
			if err == io.EOF {
				return w.readErr(io.ErrUnexpectedEOF)
			}
			if err != nil {
				return err
			}
			w.m.irVersion, w.m.sawIRVersion = int64(v), true
		case modelProducerName:
			if w.m.producer, err = w.stringField("producer_name", typ, -1); err != nil {
				return err
			}
		case modelProducerVersion:
			if w.m.producerVersion, err = w.stringField("producer_version", typ, -1); err != nil {
				return err
			}
		case modelGraph:
			if err := w.sub("graph", typ, -1, w.walkGraph); err != nil {
				return err
			}
			w.m.sawGraph = true
		case modelOpsetImport:
			op := new(onnxpb.OperatorSetIdProto)
			if err := w.decode("opset_import", typ, -1, op); err != nil {
				return err
			}
			w.m.opsets = append(w.m.opsets, op)
		case modelMetadataProps:
			kv := new(onnxpb.StringStringEntryProto)
			if err := w.decode("metadata_props", typ, -1, kv); err != nil {
				return err
			}
			w.m.metadata = append(w.m.metadata, kv)
		default:
			if err := w.skip(num, typ, -1); err != nil {
				return err
			}
		}
	}
}

// sub walks a length-delimited sub-message named name with walk, which reads up to the given end.
func (w *walker) sub(name string, typ protowire.Type, end int64, walk func(end int64) error) error {
	if err := w.expect(name, typ, protowire.BytesType); err != nil {
		return err
	}
	w.path = append(w.path, name)
	defer func() { w.path = w.path[:len(w.path)-1] }()
	n, err := w.length(end)
	if err != nil {
		return err
	}
	return walk(w.off + n)
}

// decode reads a length-delimited sub-message named name into msg.
func (w *walker) decode(name string, typ protowire.Type, end int64, msg proto.Message) error {
	if err := w.expect(name, typ, protowire.BytesType); err != nil {
		return err
	}
	w.path = append(w.path, name)
	defer func() { w.path = w.path[:len(w.path)-1] }()
	n, err := w.length(end)
	if err != nil {
		return err
	}
	return w.message(n, msg)
}

// stringField reads a length-delimited string field named name.
func (w *walker) stringField(name string, typ protowire.Type, end int64) (string, error) {
	if err := w.expect(name, typ, protowire.BytesType); err != nil {
		return "", err
	}
	w.path = append(w.path, name)
	defer func() { w.path = w.path[:len(w.path)-1] }()
	n, err := w.length(end)
	if err != nil {
		return "", err
	}
	b, err := w.bytes(n)
	return string(b), err
}

// fields calls field for each field of the message that ends at end, then checks that the last
// field ends exactly there.
func (w *walker) fields(end int64, field func(num protowire.Number, typ protowire.Type) error) error {
	for w.off < end {
		num, typ, err := w.mustTag()
		if err != nil {
			return err
		}
		if err := field(num, typ); err != nil {
			return err
		}
		if w.off > end {
			return w.corrupt("a field overruns its enclosing message by %d bytes", w.off-end)
		}
	}
	return nil
}

// walkGraph reads a GraphProto that ends at end: inputs, outputs and initializer names.
func (w *walker) walkGraph(end int64) error {
	return w.fields(end, func(num protowire.Number, typ protowire.Type) error {
		switch num {
		case graphInput, graphOutput:
			name, list := "input", &w.m.inputs
			if num == graphOutput {
				name, list = "output", &w.m.outputs
			}
			vi := new(onnxpb.ValueInfoProto)
			if err := w.decode(name, typ, end, vi); err != nil {
				return err
			}
			*list = append(*list, vi)
		case graphInitializer:
			return w.sub("initializer", typ, end, func(end int64) error {
				name, ok, err := w.walkTensor(end)
				if ok {
					w.m.initializers[name] = true
				}
				return err
			})
		case graphSparseInitializer:
			return w.sub("sparse_initializer", typ, end, w.walkSparseTensor)
		default:
			return w.skip(num, typ, end)
		}
		return nil
	})
}

// walkTensor reads a TensorProto that ends at end, keeping its name and whether its data is
// external, and skipping its data without reading it into memory. ok reports whether the name
// field was present.
func (w *walker) walkTensor(end int64) (name string, ok bool, err error) {
	err = w.fields(end, func(num protowire.Number, typ protowire.Type) error {
		switch num {
		case tensorName:
			s, err := w.stringField("name", typ, end)
			name, ok = s, true
			return err
		case tensorExternalData:
			if typ == protowire.BytesType {
				w.m.externalData = true
			}
		case tensorDataLocation:
			if typ == protowire.VarintType {
				v, err := w.varint()
				if err == io.EOF {
					return w.readErr(io.ErrUnexpectedEOF)
				}
				// An enum is an int32 on the wire, whatever the varint's upper bits say.
				if int32(v) == int32(onnxpb.TensorProto_EXTERNAL) {
					w.m.externalData = true
				}
				return err
			}
		}
		return w.skip(num, typ, end)
	})
	return name, ok, err
}

// walkSparseTensor reads a SparseTensorProto that ends at end, keeping the name of its values.
func (w *walker) walkSparseTensor(end int64) error {
	var name string
	var ok bool
	err := w.fields(end, func(num protowire.Number, typ protowire.Type) error {
		switch num {
		case sparseValues:
			return w.sub("values", typ, end, func(end int64) error {
				// Repeated occurrences of a message field merge: a later name replaces an earlier one.
				n, has, err := w.walkTensor(end)
				if has {
					name, ok = n, true
				}
				return err
			})
		case sparseIndices:
			return w.sub("indices", typ, end, func(end int64) error {
				_, _, err := w.walkTensor(end) // for its external data flag
				return err
			})
		}
		return w.skip(num, typ, end)
	})
	if ok {
		w.m.initializers[name] = true
	}
	return err
}

// humanBytes formats a byte count for an error message.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
