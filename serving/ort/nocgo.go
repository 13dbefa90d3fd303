//go:build !cgo

package ort

import (
	"context"
	"fmt"

	"github.com/lantern-mlops/lantern/serving"
)

// Without cgo there is no ONNX Runtime: the binary still builds, and New
// says why the engine is missing.

func loadLibrary(string) (string, string, error) {
	return "", "", fmt.Errorf("%w: this binary was built without cgo (CGO_ENABLED=0); rebuild it with cgo to use ONNX Runtime", ErrNoLibrary)
}

// Load is never reached: New fails without cgo.
func (e *Engine) Load(context.Context, []byte, serving.LoadOptions) (serving.Model, error) {
	return nil, fmt.Errorf("%w: built without cgo", serving.ErrUnsupported)
}
