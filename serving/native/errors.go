package native

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/serving"
)

// UnsupportedError is returned (wrapped) by Load for a model the engine
// cannot run. It wraps serving.ErrUnsupported.
type UnsupportedError struct {
	// Missing lists what the engine lacks, one item per operator or feature:
	// "ai.onnx/LSTM (opset 14)", "ai.onnx.ml/SVMClassifier (opset 3)",
	// "ai.onnx/Gemm (opset 13) on INT32"...
	Missing []string
}

func (e *UnsupportedError) Error() string {
	return "native engine does not implement: " + strings.Join(e.Missing, ", ")
}

// Unwrap returns serving.ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return serving.ErrUnsupported }

// featureError is an error a builder returns for something the engine does
// not implement; Load turns it into an UnsupportedError naming the node.
type featureError struct{ msg string }

func (e *featureError) Error() string { return e.msg }

func unsupportedf(format string, args ...any) error {
	return &featureError{msg: fmt.Sprintf(format, args...)}
}

// invalidModelf reports a model that is not valid ONNX (ONNX Runtime refuses
// it too). It wraps onnx.ErrInvalidModel.
func invalidModelf(format string, args ...any) error {
	return &modelError{msg: fmt.Sprintf(format, args...)}
}

type modelError struct{ msg string }

func (e *modelError) Error() string { return onnx.ErrInvalidModel.Error() + ": " + e.msg }
func (e *modelError) Unwrap() error { return onnx.ErrInvalidModel }

// invalidInput is an error about Run's inputs; it wraps serving.ErrInvalidInput.
type invalidInput struct{ msg string }

func (e *invalidInput) Error() string { return e.msg }
func (e *invalidInput) Unwrap() error { return serving.ErrInvalidInput }

func invalidf(format string, args ...any) error {
	return &invalidInput{msg: fmt.Sprintf(format, args...)}
}

// errClosed is returned by Run after Close.
var errClosed = errors.New("native: model is closed")
