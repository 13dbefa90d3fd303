package serving

import (
	"context"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// InferRequest is an inference request, whatever protocol it came in.
type InferRequest struct {
	// ID is echoed in the response (OIP "id").
	ID string
	// Model is the served model's name.
	Model string
	// Version asks for one loaded version explicitly ("" lets routing choose).
	Version string
	// Inputs hold one tensor per model input.
	Inputs []tensor.Tensor
	// Outputs names the outputs wanted (nil: all).
	Outputs []string
	// RoutingKey makes routing sticky during a rollout (a district id, a
	// header value): one key always reaches one version.
	RoutingKey string
	// Lookup, if set, reads a header (gRPC: metadata) by name, or a request
	// parameter for "param:<name>": a rollout's sticky key names one.
	Lookup func(name string) string
	// Protocol labels metrics: "rest", "grpc" or "mlflow".
	Protocol string
}

// InferResponse is the answer. Call Release when the outputs have been
// written out: their buffers are recycled.
type InferResponse struct {
	Model   string
	Version string
	ID      string
	Outputs []tensor.Tensor
	release func()
}

// Release returns the response's buffers to the pool. The response must
// not be used afterwards. Release on a nil response does nothing.
func (r *InferResponse) Release() {
	if r != nil && r.release != nil {
		r.release()
		r.release = nil
	}
}

// ModelInfo describes a served model for the metadata APIs.
type ModelInfo struct {
	Name string
	// Versions are the loaded versions; the first is the stable one.
	Versions []string
	// Platform is "onnx_onnxv1".
	Platform string
	Inputs   []tensor.Info
	Outputs  []tensor.Info
	// Properties: engine, registry alias, sha256, ...
	Properties map[string]string
}

// Backend is what the protocol front ends (OIP REST and gRPC, MLflow
// scoring) need from the serving core. *Manager implements it.
type Backend interface {
	// Infer runs a request. Errors wrap errkind kinds: NotFound (unknown
	// model or version), Invalid (bad inputs), Unavailable (model not
	// loaded yet), ResourceExhausted (queue full), DeadlineExceeded.
	Infer(ctx context.Context, req *InferRequest) (*InferResponse, error)
	// Model describes a served model ("" version: the stable one).
	Model(name, version string) (ModelInfo, error)
	// ModelReady reports whether a model (version) can serve now.
	ModelReady(name, version string) bool
	// Models lists the served models' names.
	Models() []string
	// Ready reports whether every configured model is loaded.
	Ready() bool
}

// Errors of the serving core.
var (
	// ErrModelNotFound: no served model or loaded version by that name.
	ErrModelNotFound = errkind.NotFound
	// ErrNotReady: the model is configured but not loaded (yet).
	ErrNotReady = errkind.Unavailable
	// ErrOverloaded: the model's queue is full.
	ErrOverloaded = errkind.ResourceExhausted
)
