// Package onnx reads what the registry and the servers need to know about an ONNX model
// (its Signature: IR and opset versions, producer, metadata, and the name, type and shape of each
// graph input and output) from a stream, without loading the model into memory, and maps ONNX
// element types to the datatypes of the Open Inference Protocol.
//
// ReadSignature walks the protobuf wire format of the ModelProto and decodes, with the generated
// types of package onnxpb, only the small messages a signature is made of; initializers, nodes
// and other large fields are skipped as they stream past. Models of hundreds of MiB therefore
// cost a 64 KiB buffer. SignatureReader lets a caller hash, store and parse an upload in one pass.
//
// Input that is not a usable model is refused with a *FormatError whose message is written for
// the data scientist who uploaded it ("file is not an ONNX model (expected a protobuf
// ModelProto): it is a ZIP archive ..."); it wraps ErrInvalidModel.
//
// Package onnxtest builds small valid models for tests and demos; testdata/ holds a few of them,
// regenerated with go test -run TestGenerateTestdata -update.
package onnx
