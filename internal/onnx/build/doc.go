// Package build writes ONNX models with the generated onnxpb types: a Graph
// collects inputs, outputs, initializers and nodes; Model wraps it with the
// IR version, operator set imports and metadata; Marshal serializes it
// deterministically, so that the same graph always gives the same bytes.
//
// It is the production counterpart of internal/onnx/onnxtest: instead of
// panicking, a Graph remembers the first mistake (a duplicate or undefined
// name, a tensor whose data does not fit its shape) and Model returns it.
// The trainers' exporters in training/export use it.
package build
