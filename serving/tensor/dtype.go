package tensor

// DType is an element type.
type DType uint8

// Element types. The numbering is Lantern's own; use the methods to map to
// ONNX and Open Inference Protocol names.
const (
	Invalid DType = iota
	Bool
	Uint8
	Uint16
	Uint32
	Uint64
	Int8
	Int16
	Int32
	Int64
	Float16
	BFloat16
	Float32
	Float64
	String
)

var info = [...]struct {
	size int
	onnx string
	oip  string
	elem int32 // ONNX TensorProto.DataType
}{
	Invalid:  {0, "UNDEFINED", "", 0},
	Bool:     {1, "BOOL", "BOOL", 9},
	Uint8:    {1, "UINT8", "UINT8", 2},
	Uint16:   {2, "UINT16", "UINT16", 4},
	Uint32:   {4, "UINT32", "UINT32", 12},
	Uint64:   {8, "UINT64", "UINT64", 13},
	Int8:     {1, "INT8", "INT8", 3},
	Int16:    {2, "INT16", "INT16", 5},
	Int32:    {4, "INT32", "INT32", 6},
	Int64:    {8, "INT64", "INT64", 7},
	Float16:  {2, "FLOAT16", "FP16", 10},
	BFloat16: {2, "BFLOAT16", "BF16", 16},
	Float32:  {4, "FLOAT", "FP32", 1},
	Float64:  {8, "DOUBLE", "FP64", 11},
	String:   {0, "STRING", "BYTES", 8},
}

// Size is the element size in bytes (0 for String).
func (d DType) Size() int {
	if int(d) < len(info) {
		return info[d].size
	}
	return 0
}

// ONNX is the ONNX element type name ("FLOAT", "INT64", ...).
func (d DType) ONNX() string {
	if int(d) < len(info) {
		return info[d].onnx
	}
	return "UNDEFINED"
}

// OIP is the Open Inference Protocol datatype ("FP32", "INT64", "BYTES", ...).
func (d DType) OIP() string {
	if int(d) < len(info) {
		return info[d].oip
	}
	return ""
}

// ONNXElem is the ONNX TensorProto.DataType value.
func (d DType) ONNXElem() int32 {
	if int(d) < len(info) {
		return info[d].elem
	}
	return 0
}

func (d DType) String() string { return d.OIP() }

// FromOIP maps an OIP datatype name; ok is false for an unknown name.
func FromOIP(s string) (DType, bool) {
	for d := Bool; d <= String; d++ {
		if info[d].oip == s {
			return d, true
		}
	}
	return Invalid, false
}

// FromONNX maps an ONNX element type name; ok is false for types Lantern cannot serve.
func FromONNX(s string) (DType, bool) {
	for d := Bool; d <= String; d++ {
		if info[d].onnx == s {
			return d, true
		}
	}
	return Invalid, false
}

// FromONNXElem maps an ONNX TensorProto.DataType value.
func FromONNXElem(e int32) (DType, bool) {
	for d := Bool; d <= String; d++ {
		if info[d].elem == e {
			return d, true
		}
	}
	return Invalid, false
}
