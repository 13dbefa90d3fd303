// Package ort is the serving.Engine that runs models with ONNX Runtime,
// through cgo and github.com/yalue/onnxruntime_go.
//
// The ONNX Runtime shared library is loaded at run time (dlopen), once per
// process, from Options.LibraryPath or $LANTERN_ORT_LIB; `make onnxruntime`
// fetches the pinned build (see docs/onnxruntime.md). Building needs cgo but
// not the library: without the library New returns an error that says how to
// get it, and a binary built with CGO_ENABLED=0 still builds, with a New that
// says the engine is missing.
//
// A Model wraps one ONNX Runtime session and is safe for concurrent Run.
// Inputs are checked against the model's signature before ONNX Runtime sees
// them, and fixed-size inputs are handed to ONNX Runtime without a copy.
// Outputs are allocated by ONNX Runtime and copied into the caller's tensors.
// Outputs that are sequences of maps (scikit-learn classifiers end with a
// ZipMap) come back as a [N, C] FP32 tensor whose columns follow the class
// labels in tensor.Info.Labels, as with the native engine.
package ort
