// Package native is the pure-Go serving.Engine ("native"): it runs the ONNX
// models Lantern serves (tree ensembles, linear models, small MLPs) without
// cgo, with ONNX Runtime's numeric behaviour.
//
// Load decodes the ModelProto with the generated types of internal/onnx/onnxpb
// and compiles a plan once: it checks the IR version, the operator set
// imports and every node's (domain, operator, opset) against what the engine
// implements (Unsupported lists what is missing, so the serving layer can
// pick ONNX Runtime instead), infers element types and, where it can,
// shapes, folds the nodes whose inputs are all constants, drops the nodes no
// output needs, and gives intermediate values buffers, values whose
// lifetimes do not overlap sharing one. Reshape-like operators (Identity,
// Reshape, Flatten, Squeeze, Unsqueeze, ZipMap) share their input's
// elements instead of copying them.
//
// A Model is immutable and safe for concurrent Run calls. The memory of a run
// (a tensor per value, the buffers, per-node scratch) is a state taken from a
// sync.Pool chosen by the signature of the inputs (names, types, shapes), so
// that with inputs of fixed shapes and recycled out tensors a Run allocates
// nothing. A Run computes on the calling goroutine, except that the Gemm,
// MatMul, Softmax and tree ensemble nodes of a large batch split their rows
// with a pool of worker goroutines shared by every model
// (LoadOptions.IntraOpThreads bounds how many a Run uses; parallel.go).
//
// Float32 Gemm and MatMul multiply with a register-blocked kernel on B
// packed at load time (AVX2+FMA assembly on amd64, portable Go elsewhere;
// sgemm.go), and a Relu that follows a Gemm is merged into it. Tree
// ensembles of float32 thresholds walk on integer keys, complete trees
// without child pointers (ml_tree_fast.go).
//
// Operators are registered by the files that implement them (ops_*.go for
// the default domain, ml_*.go for ai.onnx.ml); Operators lists them.
// docs/native-engine.md says what the engine supports and how it matches
// ONNX Runtime; docs/native-engine-conformance.md is the result of the ONNX
// backend tests and of the scikit-learn cases of testdata/ml.
//
// A ZipMap output (an ONNX sequence of maps, one per row) is returned as the
// [N, C] FP32 tensor ZipMap was given; the output's tensor.Info.Labels holds
// the class labels of its columns, as strings.
package native
