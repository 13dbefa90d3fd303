// Package tensor is the n-dimensional array every part of serving shares:
// the protocol codecs decode requests into it, the engines read their inputs
// from it and write their outputs into it, and telemetry summarises it.
//
// Fixed-size element types live in one little-endian, row-major byte buffer
// (Raw), which is what the Open Inference Protocol's raw contents and ONNX
// Runtime's tensors use, so moving data between them is at most one copy.
// Typed views (Float32s, Int64s, ...) reinterpret Raw without copying; Raw
// is always 8-byte aligned when it comes from this package (Alloc, SetLen).
// Strings (ONNX STRING, OIP BYTES) are kept in Strings.
package tensor
