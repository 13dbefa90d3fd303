package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
	"github.com/lantern-mlops/lantern/registry/client"
)

// registerModel registers a model of size bytes as version 1 of "demand"
// and returns its content.
func registerModel(t *testing.T, s *apitest.Server, size int64) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	apitest.WriteModel(t, path, size)
	c := newClient(t, s.URL, s.Writer)
	if _, err := c.Register(context.Background(), client.RegisterRequest{
		Name: "demand", CreateModel: true, Aliases: []string{"production"},
		Files: []client.File{{Path: "model.onnx", Local: path}},
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloadResumes(t *testing.T) {
	s := apitest.Start(t, nil)
	model := registerModel(t, s, 5<<20)
	proxy := newFlakyProxy(t, s.URL)
	var cuts atomic.Int32
	proxy.cutResp = func(r *http.Request) int64 {
		// The first two transfers of the file break off after 1 MiB.
		if strings.Contains(r.URL.Path, "/files/") && cuts.Add(1) <= 2 {
			return 1 << 20
		}
		return -1
	}
	c := newClient(t, proxy.URL, s.Reader)
	dst := filepath.Join(t.TempDir(), "model.onnx")
	var reports []int64
	v, err := c.DownloadFile(context.Background(), "demand", "production", "model.onnx", dst, func(done, total int64) {
		reports = append(reports, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if v.Version != 1 || !bytes.Equal(got, model) {
		t.Fatalf("version %d, %d bytes", v.Version, len(got))
	}
	if _, err := os.Stat(dst + ".part"); !os.IsNotExist(err) {
		t.Fatalf("part file left: %v", err)
	}
	// Two resumptions, each from where the last transfer stopped.
	if len(proxy.ranges) != 2 || proxy.ranges[0] != "bytes=1048576-" || proxy.ranges[1] != "bytes=2097152-" {
		t.Fatalf("ranges %q", proxy.ranges)
	}
	if reports[len(reports)-1] != int64(len(model)) || !slices.IsSorted(reports) {
		t.Fatalf("progress %v", reports[len(reports)-3:])
	}
}

func TestDownloadPartFiles(t *testing.T) {
	s := apitest.Start(t, nil)
	model := registerModel(t, s, 2<<20)
	proxy := newFlakyProxy(t, s.URL)
	c := newClient(t, proxy.URL, s.Reader)
	tests := []struct {
		name   string
		part   []byte
		ranges []string
	}{
		{"resumes what a crashed process left", model[:700000], []string{"bytes=700000-"}},
		{"part of another file: starts over", bytes.Repeat([]byte("z"), 700000), []string{"bytes=700000-"}},
		{"part longer than the file: starts over", bytes.Repeat([]byte("z"), 3<<20), nil},
		{"complete part: nothing to fetch", model, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proxy.mu.Lock()
			proxy.ranges = nil
			proxy.mu.Unlock()
			dst := filepath.Join(t.TempDir(), "model.onnx")
			if err := os.WriteFile(dst+".part", tc.part, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := c.DownloadFile(context.Background(), "demand", "1", "model.onnx", dst, nil); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, model) {
				t.Fatalf("%d bytes, not the model", len(got))
			}
			if !slices.Equal(proxy.ranges, tc.ranges) {
				t.Fatalf("ranges %q, want %q", proxy.ranges, tc.ranges)
			}
		})
	}
}

// TestDownloadCorrupt: a stored file that does not match its sha256 is
// reported as corrupt and never put in place.
func TestDownloadCorrupt(t *testing.T) {
	s := apitest.Start(t, nil)
	registerModel(t, s, 1<<20)
	for info, err := range s.Store.List(context.Background(), "registry/artifacts/", objstore.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(s.Dir, filepath.FromSlash(info.Key))
		b, _ := os.ReadFile(p)
		b[1000] ^= 1
		os.WriteFile(p, b, 0o644)
	}
	c := newClient(t, s.URL, s.Reader)
	dst := filepath.Join(t.TempDir(), "model.onnx")
	_, err := c.DownloadFile(context.Background(), "demand", "latest", "model.onnx", dst, nil)
	if !errors.Is(err, registry.ErrCorrupt) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("got %v", err)
	}
	for _, p := range []string{dst, dst + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s exists: %v", p, err)
		}
	}
	rc, _, err := c.OpenFile(context.Background(), "demand", "1", "model.onnx")
	if err == nil {
		_, err = bytes.NewBuffer(nil).ReadFrom(rc)
		rc.Close()
	}
	if err == nil {
		t.Fatal("OpenFile read a corrupt file without error")
	}
}

// TestFollow: the change feed survives a registry that is down for a while.
func TestFollow(t *testing.T) {
	s := apitest.Start(t, nil)
	registerModel(t, s, 1<<20)
	var down atomic.Int32
	down.Store(3)
	proxy := newFlakyProxy(t, s.URL)
	proxy.cutReq = func(r *http.Request) int64 {
		if strings.HasSuffix(r.URL.Path, "/watch") && down.Add(-1) >= 0 {
			return 0 // the link is down: drop the request
		}
		return -1
	}
	c := newClient(t, proxy.URL, s.Reader)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newClient(t, s.URL, s.Writer)
	start, err := w.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []registry.Change
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(ctx, start.Cursor, func(changes []registry.Change, cursor string, reset bool) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, changes...)
			for _, ch := range changes {
				if ch.Aliases["candidate"] == 1 {
					cancel()
				}
			}
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := w.SetAlias(context.Background(), "demand", "candidate", 1, "shadow"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the change never arrived")
	}
	if down.Load() >= 0 {
		t.Fatal("the proxy never dropped a watch")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0].Action != registry.ActionAliasSet {
		t.Fatalf("changes %+v", seen)
	}
}

// buffer is an io.WriterAt in memory.
type buffer struct{ b []byte }

func (w *buffer) WriteAt(p []byte, off int64) (int, error) {
	if need := int(off) + len(p); need > len(w.b) {
		w.b = append(w.b, make([]byte, need-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}

func TestDownloadTo(t *testing.T) {
	s := apitest.Start(t, nil)
	model := registerModel(t, s, 3<<20)
	proxy := newFlakyProxy(t, s.URL)
	var cuts atomic.Int32
	proxy.cutResp = func(r *http.Request) int64 {
		if strings.Contains(r.URL.Path, "/files/") && cuts.Add(1) == 1 {
			return 1 << 20
		}
		return -1
	}
	var buf buffer
	v, err := newClient(t, proxy.URL, s.Reader).DownloadTo(context.Background(), "demand", "production", "model.onnx", &buf, nil)
	if err != nil || v.Version != 1 || !bytes.Equal(buf.b, model) {
		t.Fatalf("version %v, %d bytes, %v", v, len(buf.b), err)
	}
	if len(proxy.ranges) != 1 || proxy.ranges[0] != "bytes=1048576-" {
		t.Fatalf("ranges %q", proxy.ranges)
	}
}
