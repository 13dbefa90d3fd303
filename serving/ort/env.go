//go:build cgo

package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// env is the process-wide ONNX Runtime environment. It is initialised at most
// once successfully; a failed attempt (a wrong path) may be retried with
// another path, which a sync.Once would not allow.
var env struct {
	mu      sync.Mutex
	lib     string // the loaded library, "" until then
	version string
}

func loadLibrary(path string) (lib, version string, err error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	if path == "" {
		if env.lib != "" {
			return env.lib, env.version, nil
		}
		return "", "", fmt.Errorf("%w: no library configured (%s)", ErrNoLibrary, getLibrary)
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(abs); err == nil && fi.IsDir() {
			err = errors.New("it is a directory")
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v (%s)", ErrNoLibrary, path, unwrapPathError(err), getLibrary)
	}
	if env.lib != "" {
		if env.lib != abs {
			return "", "", fmt.Errorf("onnxruntime: this process already loaded %s; it cannot also load %s", env.lib, path)
		}
		return env.lib, env.version, nil
	}
	err = protect("load the ONNX Runtime library", func() error {
		onnxruntime.SetSharedLibraryPath(abs)
		// Errors reach the caller as Go errors; at the default level ONNX
		// Runtime would also print every rejected input to stderr.
		if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelFatal()); err != nil {
			return err
		}
		version = onnxruntime.GetVersion()
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v (it must be ONNX Runtime 1.24 or later for this platform; %s)",
			ErrNoLibrary, path, err, getLibrary)
	}
	env.lib, env.version = abs, version
	return abs, version, nil
}
