// Package oippb holds the Go code protoc generates from grpc_predict_v2.proto:
// the Open Inference Protocol's gRPC service "inference.GRPCInferenceService".
// Regenerate with `make generate`.
package oippb
