package oip

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Raw tensor data is what gRPC raw_input_contents / raw_output_contents and
// the HTTP binary tensor data extension carry: the elements in row-major
// order, little-endian, without padding; BOOL is one byte (0 or 1); each
// BYTES element is a uint32 little-endian length followed by its bytes.

// numElements returns the element count of shape, or an error naming the
// tensor when a dimension is negative or the product overflows.
func numElements(what, name string, shape []int64) (int, error) {
	n := tensor.NumElements(shape)
	if n < 0 || int64(int(n)) != n {
		return 0, invalidf("%s %q: shape %s is not valid (dimensions must be non-negative and their product not overflow)", what, name, fmtShape(shape))
	}
	return int(n), nil
}

// decodeRaw fills t (DType, Shape and Name set) from raw bytes. With
// copyData false, fixed-size data is used in place when b is 8-byte
// aligned and BYTES elements alias b; with copyData true t owns its data.
func decodeRaw(what string, t *tensor.Tensor, b []byte, copyData bool) error {
	n, err := numElements(what, t.Name, t.Shape)
	if err != nil {
		return err
	}
	if t.DType == tensor.String {
		return decodeRawStrings(what, t, n, b, copyData)
	}
	size := t.DType.Size()
	if size == 0 {
		return invalidf("%s %q: no datatype", what, t.Name)
	}
	if n > len(b)/size || n*size != len(b) {
		// n*size cannot overflow once n <= len(b)/size.
		need := strconv.FormatUint(uint64(n)*uint64(size), 10)
		if uint64(n) > math.MaxUint64/uint64(size) {
			need = "more than 2^64"
		}
		return invalidf("%s %q: shape %s of %s needs %s bytes of raw data, got %d", what, t.Name, fmtShape(t.Shape), t.DType.OIP(), need, len(b))
	}
	if t.DType == tensor.Bool {
		for i, c := range b {
			if c > 1 {
				return invalidf("%s %q: BOOL element %d is the byte %d; raw BOOL elements must be 0 or 1", what, t.Name, i, c)
			}
		}
	}
	if copyData {
		t.Raw = tensor.Alloc(len(b))
		copy(t.Raw, b)
	} else {
		t.Raw = tensor.Aligned(b)
	}
	return nil
}

func decodeRawStrings(what string, t *tensor.Tensor, n int, b []byte, copyData bool) error {
	// Every element needs at least its 4-byte length, which bounds n before
	// anything is allocated.
	if n > len(b)/4 {
		return invalidf("%s %q: shape %s needs %d BYTES elements but the %d bytes of raw data hold at most %d", what, t.Name, fmtShape(t.Shape), n, len(b), len(b)/4)
	}
	if copyData {
		c := make([]byte, len(b))
		copy(c, b)
		b = c
	}
	strs := make([][]byte, n)
	off := 0
	for i := range n {
		if len(b)-off < 4 {
			return invalidf("%s %q: raw BYTES data ends inside the length of element %d", what, t.Name, i)
		}
		l := binary.LittleEndian.Uint32(b[off:])
		off += 4
		if uint64(l) > uint64(len(b)-off) {
			return invalidf("%s %q: raw BYTES element %d claims %d bytes but only %d remain", what, t.Name, i, l, len(b)-off)
		}
		strs[i] = b[off : off+int(l) : off+int(l)]
		off += int(l)
	}
	if off != len(b) {
		return invalidf("%s %q: %d bytes of raw BYTES data after the %d elements of shape %s", what, t.Name, len(b)-off, n, fmtShape(t.Shape))
	}
	t.Strings = strs
	return nil
}

// rawSize is the size of t's raw encoding.
func rawSize(t *tensor.Tensor) int {
	if t.DType != tensor.String {
		return len(t.Raw)
	}
	s := 4 * len(t.Strings)
	for _, e := range t.Strings {
		s += len(e)
	}
	return s
}

// appendRaw appends t's raw encoding to dst.
func appendRaw(dst []byte, t *tensor.Tensor) []byte {
	if t.DType != tensor.String {
		return append(dst, t.Raw...)
	}
	for _, e := range t.Strings {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e)))
		dst = append(dst, e...)
	}
	return dst
}

// checkOutput verifies that an output from the backend is consistent, so
// that the encoders never index out of range.
func checkOutput(t *tensor.Tensor) error {
	if t.DType == tensor.Invalid || t.DType > tensor.String {
		return fmt.Errorf("output %q has no datatype", t.Name)
	}
	if t.DType == tensor.String {
		for _, e := range t.Strings {
			if uint64(len(e)) > math.MaxUint32 {
				return fmt.Errorf("output %q: a BYTES element is over 4 GiB", t.Name)
			}
		}
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("invalid output from the backend: %w", err)
	}
	return nil
}
