// Package onnxgo compares Lantern's native engine and ONNX Runtime with
// github.com/owulveryck/onnx-go (gorgonia backend) on an MLP. It is its own
// module so that Lantern does not depend on onnx-go.
package onnxgo
