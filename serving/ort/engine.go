package ort

import (
	"errors"
	"fmt"
	"os"

	"github.com/lantern-mlops/lantern/serving"
)

// EnvLibraryPath is the environment variable New reads when Options.LibraryPath is empty.
const EnvLibraryPath = "LANTERN_ORT_LIB"

// getLibrary is the advice every "no library" error ends with.
const getLibrary = "run `make onnxruntime` or pass --ort-lib / " + EnvLibraryPath

// ErrNoLibrary is wrapped by New's errors when the ONNX Runtime shared library
// is not configured, not found or cannot be loaded.
var ErrNoLibrary = errors.New("onnxruntime: shared library not available")

// Options configure the engine. The zero value loads the library named by
// $LANTERN_ORT_LIB.
type Options struct {
	// LibraryPath is the ONNX Runtime shared library (libonnxruntime.so.1,
	// version 1.24 or later). Empty: $LANTERN_ORT_LIB.
	LibraryPath string
}

// Engine runs models with ONNX Runtime. It implements serving.Engine; make
// one with New. It is safe for concurrent use.
type Engine struct {
	lib     string
	version string
}

var _ serving.Engine = (*Engine)(nil)

// New loads the ONNX Runtime shared library, if this process has not loaded
// it yet, and returns an engine. ONNX Runtime has one environment per process:
// every Engine shares it, and asking for a different library once one is
// loaded is an error. Errors about the library wrap ErrNoLibrary and say how
// to get it; New never panics.
func New(opts Options) (*Engine, error) {
	path := opts.LibraryPath
	if path == "" {
		path = os.Getenv(EnvLibraryPath)
	}
	lib, version, err := loadLibrary(path)
	if err != nil {
		return nil, err
	}
	return &Engine{lib: lib, version: version}, nil
}

// Name returns "onnxruntime".
func (e *Engine) Name() string { return "onnxruntime" }

// Version is the version of the loaded ONNX Runtime library ("1.30.0").
func (e *Engine) Version() string { return e.version }

// LibraryPath is the shared library the process loaded.
func (e *Engine) LibraryPath() string { return e.lib }

// unwrapPathError drops the "stat <path>:" prefix the caller prints already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// protect runs f, turning a panic inside onnxruntime_go into an error.
func protect(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("onnxruntime: %s: panic in onnxruntime_go: %v", what, r)
		}
	}()
	return f()
}
