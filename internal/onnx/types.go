package onnx

import "strconv"

// Element type names, as ONNX spells them in TensorProto.DataType. Types newer than the checked-in
// onnx.proto (the float8, 4-bit and 2-bit types of ONNX 1.14 and later) are named here too, so a
// signature shows them by name even though the generated enum does not know them.
var elemTypeNames = [...]string{
	0:  "UNDEFINED",
	1:  "FLOAT",
	2:  "UINT8",
	3:  "INT8",
	4:  "UINT16",
	5:  "INT16",
	6:  "INT32",
	7:  "INT64",
	8:  "STRING",
	9:  "BOOL",
	10: "FLOAT16",
	11: "DOUBLE",
	12: "UINT32",
	13: "UINT64",
	14: "COMPLEX64",
	15: "COMPLEX128",
	16: "BFLOAT16",
	17: "FLOAT8E4M3FN",
	18: "FLOAT8E4M3FNUZ",
	19: "FLOAT8E5M2",
	20: "FLOAT8E5M2FNUZ",
	21: "UINT4",
	22: "INT4",
	23: "FLOAT4E2M1",
	24: "FLOAT8E8M0",
	25: "UINT2",
	26: "INT2",
}

// ElemTypeName returns the ONNX name of a TensorProto.DataType value ("FLOAT", "INT64", ...).
// A value that ONNX does not define is returned as "UNKNOWN(<n>)", so that a signature can still
// show it: an unknown element type is not an error when reading a model.
func ElemTypeName(t int32) string {
	if t >= 0 && int(t) < len(elemTypeNames) {
		return elemTypeNames[t]
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// ElemTypeValue returns the TensorProto.DataType value of an ONNX element type name, and false
// for a name ElemTypeName does not produce for a defined type.
func ElemTypeValue(name string) (int32, bool) {
	for i, n := range elemTypeNames {
		if n == name && i != 0 {
			return int32(i), true
		}
	}
	return 0, false
}

// oipDatatypes maps ONNX element type names to Open Inference Protocol (KServe V2) tensor
// datatypes. Types the protocol has no name for (complex, float8, 4-bit, 2-bit) are absent.
var oipDatatypes = map[string]string{
	"BOOL":     "BOOL",
	"UINT8":    "UINT8",
	"UINT16":   "UINT16",
	"UINT32":   "UINT32",
	"UINT64":   "UINT64",
	"INT8":     "INT8",
	"INT16":    "INT16",
	"INT32":    "INT32",
	"INT64":    "INT64",
	"FLOAT16":  "FP16",
	"FLOAT":    "FP32",
	"DOUBLE":   "FP64",
	"STRING":   "BYTES",
	"BFLOAT16": "BF16",
}

// OIPDatatype returns the Open Inference Protocol datatype ("FP32", "INT64", "BYTES", ...) for an
// ONNX element type name ("FLOAT", "INT64", "STRING", ...), and false when the protocol cannot
// carry that type.
func OIPDatatype(elemType string) (string, bool) {
	dt, ok := oipDatatypes[elemType]
	return dt, ok
}

// ElemTypeFromOIP is the inverse of OIPDatatype: it returns the ONNX element type name for an
// Open Inference Protocol datatype, and false for a datatype ONNX has no element type for.
func ElemTypeFromOIP(datatype string) (string, bool) {
	for onnxName, dt := range oipDatatypes {
		if dt == datatype {
			return onnxName, true
		}
	}
	return "", false
}
