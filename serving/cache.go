package serving

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/lantern-mlops/lantern/registry"
)

// cache keeps model files on local disk by sha256, verified on every use,
// and remembers which version each served model last had, so a server can
// start and keep serving while the registry is unreachable.
type cache struct {
	dir string
	mu  sync.Mutex // guards the state file
}

// cachedVersion is what the state file remembers per served model.
type cachedVersion struct {
	Version *registry.Version `json:"version"`
	Engine  string            `json:"engine"`
}

func newCache(dir string) (*cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, fmt.Errorf("model cache %s: %w", dir, err)
	}
	return &cache{dir: dir}, nil
}

func (c *cache) blobPath(sha string) string { return filepath.Join(c.dir, "blobs", sha) }

// read returns the cached file with that sha256 if it is present and intact.
// A corrupt file is removed.
func (c *cache) read(sha string) ([]byte, bool) {
	b, err := os.ReadFile(c.blobPath(sha))
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != sha {
		_ = os.Remove(c.blobPath(sha))
		return nil, false
	}
	return b, true
}

// fetch returns the file with that sha256, from the cache or by reading it
// from open and storing it (verified) in the cache.
func (c *cache) fetch(ctx context.Context, sha string, size int64, open func(context.Context) (io.ReadCloser, error)) ([]byte, error) {
	if b, ok := c.read(sha); ok {
		return b, nil
	}
	rc, err := open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "blobs"), ".part-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	buf := make([]byte, 0, max(size, 0))
	w := io.MultiWriter(tmp, h, (*byteSink)(&buf))
	if _, err := io.Copy(w, rc); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("download model file: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		tmp.Close()
		return nil, fmt.Errorf("downloaded model file has sha256 %s, the registry recorded %s", got, sha)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), c.blobPath(sha)); err != nil {
		return nil, err
	}
	return buf, nil
}

type byteSink []byte

func (b *byteSink) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func (c *cache) statePath() string { return filepath.Join(c.dir, "state.json") }

// remember records the version a served model now has.
func (c *cache) remember(model string, v cachedVersion) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.loadLocked()
	st[model] = v
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.statePath())
}

// remembered returns what the state file has for a served model.
func (c *cache) remembered(model string) (cachedVersion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.loadLocked()[model]
	return v, ok && v.Version != nil
}

// rememberedModels lists the served models in the state file.
func (c *cache) rememberedModels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for m := range c.loadLocked() {
		out = append(out, m)
	}
	return out
}

func (c *cache) loadLocked() map[string]cachedVersion {
	st := map[string]cachedVersion{}
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return st
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return map[string]cachedVersion{}
	}
	return st
}

var errNoModelFile = errors.New("version has no ONNX model file")
