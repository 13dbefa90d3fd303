// Package onnxpb holds the Go types generated from onnx.proto, the ONNX model format
// (ModelProto, GraphProto, TensorProto...), registered under the protobuf package "onnx".
//
// onnx.proto is Debian's copy of the ONNX project's file (python3-onnx 1.12.0, IR version 8),
// unchanged, under the Apache-2.0 licence. Regenerate with scripts/protoc.sh; do not edit
// onnx.pb.go.
package onnxpb
