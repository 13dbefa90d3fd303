package native

import (
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// numeric is every fixed-size element type the kernels compute on.
type numeric interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// float is the floating-point element types.
type float interface{ ~float32 | ~float64 }

// view reinterprets an 8-byte aligned little-endian buffer as elements of T.
// Buffers come from tensor.Alloc, from Model-owned constants or from inputs
// that Run copied when they were not aligned, so the alignment holds.
func view[T any](b []byte) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}

// bytesOf is the inverse of view.
func bytesOf[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}

// unsafeString views b as a string without copying; b must not change
// while the string is used.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// isAligned reports whether b can be viewed as 8-byte elements.
func isAligned(b []byte) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}

// ensure gives t the type dt and the given shape, and room for its elements,
// reusing the capacity of t.Shape, t.Raw and t.Strings.
func ensure(t *tensor.Tensor, dt tensor.DType, shape []int64) {
	t.DType = dt
	t.Shape = append(t.Shape[:0], shape...)
	n := numElems(shape)
	if dt == tensor.String {
		t.Raw = t.Raw[:0]
		t.SetLen(n)
		return
	}
	t.Strings = nil
	t.SetLen(n)
}

// ensure1 and ensure2 are ensure for rank 1 and 2 without building a slice.
func ensure1(t *tensor.Tensor, dt tensor.DType, d0 int64) {
	t.DType = dt
	t.Shape = append(t.Shape[:0], d0)
	if dt != tensor.String {
		t.Strings = nil
	}
	t.SetLen(int(d0))
}

func ensure2(t *tensor.Tensor, dt tensor.DType, d0, d1 int64) {
	t.DType = dt
	t.Shape = append(t.Shape[:0], d0, d1)
	if dt != tensor.String {
		t.Strings = nil
	}
	t.SetLen(int(d0 * d1))
}

// aliasOf makes out share in's elements with another shape.
func aliasOf(out, in *tensor.Tensor, shape []int64) {
	out.DType = in.DType
	out.Shape = append(out.Shape[:0], shape...)
	out.Raw = in.Raw
	out.Strings = in.Strings
}

// numElems is the product of a shape whose dimensions are known to be valid.
func numElems(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// checkedElems is the product of shape, or false if a dimension is negative
// or the product exceeds maxElems.
func checkedElems(shape []int64) (int, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > maxElems/d {
			return 0, false
		}
		n *= d
	}
	return int(n), true
}

// maxElems bounds the number of elements of any tensor (2^27, 1 GiB of
// 8-byte elements): an input or a shape computed from inputs (broadcasting,
// one-hot encoding) beyond it is refused rather than exhausting memory.
const maxElems = 1 << 27

// tooLarge reports whether a rows × cols output exceeds maxElems.
func tooLarge(rows, cols int) bool {
	return cols != 0 && rows > maxElems/cols
}

// prod is the product of dims[from:to].
func prod(dims []int64, from, to int) int {
	n := 1
	for _, d := range dims[from:to] {
		n *= int(d)
	}
	return n
}

// shapeString prints a shape as [-1, 4]; a nil shape (unknown rank) is "[?]".
func shapeString(s []int64) string {
	if s == nil {
		return "[?]"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// normAxis maps an axis in [-rank, rank) to [0, rank).
func normAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, false
	}
	return int(axis), true
}

// growF32 and friends return s resized to n, reusing its capacity.
func growF32(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	*s = (*s)[:n]
	return *s
}

func growF64(s *[]float64, n int) []float64 {
	if cap(*s) < n {
		*s = make([]float64, n)
	}
	*s = (*s)[:n]
	return *s
}

func growI64(s *[]int64, n int) []int64 {
	if cap(*s) < n {
		*s = make([]int64, n)
	}
	*s = (*s)[:n]
	return *s
}

func growI32(s *[]int32, n int) []int32 {
	if cap(*s) < n {
		*s = make([]int32, n)
	}
	*s = (*s)[:n]
	return *s
}

func growBool(s *[]bool, n int) []bool {
	if cap(*s) < n {
		*s = make([]bool, n)
	}
	*s = (*s)[:n]
	return *s
}

// float16 and bfloat16 conversions (round to nearest even, NaN kept quiet).

func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff:
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp > 142: // overflow: >= 2^16
		return sign | 0x7c00
	case exp < 102: // below half the smallest subnormal
		return sign
	case exp < 113: // subnormal half
		mant |= 0x800000
		shift := uint32(126 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || rem == mid && half&1 == 1 {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp-112)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && half&1 == 1 {
		half++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(half)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalise
		e := uint32(113)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
