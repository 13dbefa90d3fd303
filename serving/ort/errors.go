package ort

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/serving"
)

// kindError is an error whose message is meant for the client, carrying the
// sentinel (serving.ErrInvalidInput, serving.ErrUnsupported, ...) it wraps.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// invalidf returns an error about the caller's inputs (serving.ErrInvalidInput).
func invalidf(format string, a ...any) error {
	return &kindError{serving.ErrInvalidInput, fmt.Sprintf(format, a...)}
}

// unsupportedf returns an error about a model this engine cannot run
// (serving.ErrUnsupported).
func unsupportedf(format string, a ...any) error {
	return &kindError{serving.ErrUnsupported, "onnxruntime: " + fmt.Sprintf(format, a...)}
}

// errClosed is returned by Run after Close.
var errClosed = errors.New("onnxruntime: model is closed")

// ONNX Runtime reports failures as messages only (onnxruntime_go drops the
// status code), so loadError and runError sort them by wording.

// unsupportedHints are phrases of ONNX Runtime's messages for a model that is
// valid but uses something this build does not implement.
var unsupportedHints = []string{
	"Could not find an implementation",
	"is not a registered function/op",
	"No Op registered",
	"not supported",
	"Unsupported",
}

// onnxruntime_go's prefixes, which say nothing to Lantern's users.
var wrapperPrefixes = []string{"Error creating temporary session: ", "Error creating C session: "}

// loadError classifies an error of ONNX Runtime creating a session.
func loadError(err error) error {
	msg := err.Error()
	for _, p := range wrapperPrefixes {
		msg = strings.TrimPrefix(msg, p)
	}
	for _, h := range unsupportedHints {
		if strings.Contains(msg, h) {
			return &kindError{serving.ErrUnsupported, "onnxruntime: cannot run this model: " + msg}
		}
	}
	return &kindError{onnx.ErrInvalidModel, "onnxruntime: cannot load the model: " + msg}
}

// runError classifies an error of a Run whose inputs passed validation. What
// ONNX Runtime refuses then is nearly always the data (shapes that do not
// broadcast, an index out of range, a reshape that does not fit), so its own
// errors are reported as invalid input, except running out of memory.
// Errors of onnxruntime_go converting the outputs are internal.
func runError(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "Error running network") ||
		strings.Contains(msg, "Failed to allocate") || strings.Contains(msg, "bad_alloc") {
		return fmt.Errorf("onnxruntime: run: %w", err)
	}
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "Error running network"), ": ")
	return invalidf("onnxruntime rejected the inputs: %s", msg)
}
