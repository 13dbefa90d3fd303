package serving

import (
	"context"
	"errors"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Engine loads ONNX models for execution. Implementations: serving/native
// (pure Go) and serving/ort (ONNX Runtime through cgo).
type Engine interface {
	// Name is "native" or "onnxruntime".
	Name() string
	// Load prepares a model for execution. If the engine cannot run it, the
	// error wraps ErrUnsupported and its message names what is missing
	// (for example the operators).
	Load(ctx context.Context, model []byte, opts LoadOptions) (Model, error)
}

// LoadOptions tune how a model runs. The zero value is sensible.
type LoadOptions struct {
	// IntraOpThreads is the parallelism inside one operator (0: engine default).
	IntraOpThreads int
	// InterOpThreads is the parallelism between operators (0: engine default).
	InterOpThreads int
	// OptimizationLevel is the graph optimisation level: "disable", "basic",
	// "extended" or "all" (""/default: "all"). Only ONNX Runtime uses it.
	OptimizationLevel string
}

// Model is a loaded model. It must be safe for concurrent use by many
// goroutines.
type Model interface {
	// Inputs and Outputs describe the graph's tensors (-1 for a variable dimension).
	Inputs() []tensor.Info
	Outputs() []tensor.Info
	// Run computes outputs from inputs. in holds one tensor per model input
	// (any order, matched by name). out holds one tensor per requested
	// output, with Name set; Run sets DType and Shape and fills Raw or
	// Strings, reusing their capacity when it is large enough, so a caller
	// that recycles its out tensors runs without allocating.
	// Errors about the inputs wrap ErrInvalidInput.
	Run(ctx context.Context, in []tensor.Tensor, out []tensor.Tensor) error
	// Close releases the model. Run must not be called after Close.
	Close() error
}

// Errors engines return (wrapped).
var (
	// ErrUnsupported: the engine cannot run this model.
	ErrUnsupported = errors.New("model not supported by this engine")
	// ErrInvalidInput: the inputs do not fit the model (name, type, shape, values).
	ErrInvalidInput = errkind.Invalid
)
