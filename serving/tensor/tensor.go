package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// Info describes a model input or output: its name, element type and shape,
// with -1 for a dimension that varies (the batch, usually).
type Info struct {
	Name  string
	DType DType
	Shape []int64
	// Labels names the columns of an output that the model produces as a
	// sequence of maps (ONNX-ML ZipMap: one map of class label to
	// probability per row). Engines return such an output as a [N, C]
	// tensor whose column j holds the values for Labels[j].
	Labels []string
}

// Tensor is a named n-dimensional array, row-major.
// The zero value is an empty tensor with no type.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	// Raw holds the elements of a fixed-size type, little-endian.
	Raw []byte
	// Strings holds the elements of a String tensor.
	Strings [][]byte
}

// NumElements is the product of the shape (1 for a scalar), or -1 if a
// dimension is negative or the product overflows.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/d {
			return -1
		}
		n *= d
	}
	return n
}

// Len is the number of elements the shape says the tensor holds.
func (t *Tensor) Len() int64 { return NumElements(t.Shape) }

// Validate checks that the data matches the type and shape.
func (t *Tensor) Validate() error {
	n := t.Len()
	if n < 0 {
		return fmt.Errorf("input %q: shape %v is not valid", t.Name, t.Shape)
	}
	if t.DType == String {
		if int64(len(t.Strings)) != n {
			return fmt.Errorf("input %q: shape %v needs %d elements, got %d", t.Name, t.Shape, n, len(t.Strings))
		}
		return nil
	}
	if t.DType.Size() == 0 {
		return fmt.Errorf("input %q: no datatype", t.Name)
	}
	if want := n * int64(t.DType.Size()); int64(len(t.Raw)) != want {
		return fmt.Errorf("input %q: shape %v of %s needs %d bytes of data, got %d", t.Name, t.Shape, t.DType.OIP(), want, len(t.Raw))
	}
	return nil
}

// SetLen gives t room for n elements of its DType, reusing Raw (or Strings)
// when it is large enough, and keeping Raw 8-byte aligned.
func (t *Tensor) SetLen(n int) {
	if t.DType == String {
		if cap(t.Strings) >= n {
			t.Strings = t.Strings[:n]
		} else {
			t.Strings = make([][]byte, n)
		}
		return
	}
	size := n * t.DType.Size()
	if cap(t.Raw) >= size && aligned(t.Raw) {
		t.Raw = t.Raw[:size]
		return
	}
	t.Raw = Alloc(size)
}

// Alloc returns an 8-byte aligned, zeroed byte slice of length size.
func Alloc(size int) []byte {
	if size == 0 {
		return []byte{}
	}
	words := make([]uint64, (size+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), size)
}

// Aligned returns b itself if it is 8-byte aligned, else an aligned copy.
// Use it on byte slices from elsewhere (a protobuf message, a network
// buffer) before taking typed views.
func Aligned(b []byte) []byte {
	if aligned(b) {
		return b
	}
	c := Alloc(len(b))
	copy(c, b)
	return c
}

func aligned(b []byte) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}

func view[T any](b []byte) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) < size {
		return nil
	}
	if !aligned(b) {
		panic("tensor: typed view of an unaligned buffer; use tensor.Aligned")
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}

// Typed views of Raw. They share memory with Raw.
func (t *Tensor) Float32s() []float32 { return view[float32](t.Raw) }
func (t *Tensor) Float64s() []float64 { return view[float64](t.Raw) }
func (t *Tensor) Int64s() []int64     { return view[int64](t.Raw) }
func (t *Tensor) Int32s() []int32     { return view[int32](t.Raw) }
func (t *Tensor) Int16s() []int16     { return view[int16](t.Raw) }
func (t *Tensor) Int8s() []int8       { return view[int8](t.Raw) }
func (t *Tensor) Uint64s() []uint64   { return view[uint64](t.Raw) }
func (t *Tensor) Uint32s() []uint32   { return view[uint32](t.Raw) }
func (t *Tensor) Uint16s() []uint16   { return view[uint16](t.Raw) }
func (t *Tensor) Uint8s() []uint8     { return t.Raw }

// Bools views Raw as booleans (one byte each, 0 or 1).
func (t *Tensor) Bools() []bool { return view[bool](t.Raw) }

// FromFloat32 returns a Float32 tensor holding a copy of v.
func FromFloat32(name string, shape []int64, v []float32) Tensor {
	t := Tensor{Name: name, DType: Float32, Shape: shape}
	t.SetLen(len(v))
	copy(t.Float32s(), v)
	return t
}

// FromInt64 returns an Int64 tensor holding a copy of v.
func FromInt64(name string, shape []int64, v []int64) Tensor {
	t := Tensor{Name: name, DType: Int64, Shape: shape}
	t.SetLen(len(v))
	copy(t.Int64s(), v)
	return t
}

// FromFloat64 returns a Float64 tensor holding a copy of v.
func FromFloat64(name string, shape []int64, v []float64) Tensor {
	t := Tensor{Name: name, DType: Float64, Shape: shape}
	t.SetLen(len(v))
	copy(t.Float64s(), v)
	return t
}
