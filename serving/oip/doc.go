// Package oip speaks the Open Inference Protocol (KServe V2, what KServe,
// Triton and Seldon speak) over a serving.Backend: the HTTP/REST API
// (NewREST, RESTHandler) with Triton's binary tensor data extension, and
// the gRPC service inference.GRPCInferenceService (NewGRPCService) with a
// server that adds the standard health service, reflection, auth, metrics
// and logs (NewGRPCServer).
//
// The REST decoder is the hot path: it reads the request body once, by
// hand, and writes each number straight into its tensor's little-endian
// Raw buffer; the encoder appends into a pooled buffer. Neither builds
// generic JSON values.
//
// Choices the specification leaves open (docs/serving-protocols.md has
// the full list):
//
//   - JSON "data" may be flat or nested at any depth; only the element
//     count is checked against the shape, as Triton does.
//   - Numbers must fit their datatype: 300 is not an INT8, 1.5 is not an
//     INT64 (1.0 and 2e3 are accepted as whole numbers), strings are never
//     numbers, BOOL takes only true and false. FP32 and FP64 also accept
//     the bare tokens NaN, Infinity and -Infinity that Python's json and
//     Triton write; outputs use them too unless RESTOptions.NonFinite says
//     null.
//   - FP16 and BF16 have no JSON form: inputs must use binary data (REST)
//     or raw_input_contents (gRPC); outputs always go out binary/raw.
//   - BYTES elements are JSON strings taken byte for byte; on output,
//     bytes that are not UTF-8 become U+FFFD (use binary data to keep them).
//   - Unknown request, input and output parameters are accepted and
//     ignored; the backend has no use for them.
package oip
