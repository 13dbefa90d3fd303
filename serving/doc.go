// Package serving answers prediction requests with ONNX models from the
// registry: it loads model versions into engines, routes requests between
// versions, and speaks the Open Inference Protocol (REST and gRPC) and
// MLflow's scoring protocol.
package serving
