// Package apitest starts a real registry API server for tests: the native
// API over loopback HTTP, a registry.Service on a directory store, and
// reader, writer and admin tokens. It also makes valid ONNX models of any
// size without holding them in memory.
package apitest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api"
)

// Server is a running API server.
type Server struct {
	// URL is the base address ("http://127.0.0.1:port").
	URL     string
	HTTP    *httptest.Server
	Service *registry.Service
	Store   *fsstore.Store
	// Dir is the store's root directory.
	Dir string
	// Tokens of each role; their names are "reader", "writer" and "admin".
	Reader, Writer, Admin string
	// Log collects the server's log lines.
	Log *Buffer
}

// Options changes the server. The zero value works.
type Options struct {
	// Registry options (nil: defaults).
	Registry *registry.Options
	// Wrap, if set, wraps the API handler (counters, fault injection).
	Wrap func(http.Handler) http.Handler
}

// Start starts a server, stopped when the test ends.
func Start(t testing.TB, o *Options) *Server {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	s := &Server{Dir: t.TempDir(), Reader: auth.Generate(), Writer: auth.Generate(), Admin: auth.Generate(), Log: &Buffer{}}
	st, err := fsstore.New(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Store = st
	logger := slog.New(slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Service, err = registry.New(context.Background(), st, o.Registry, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Tokens: strings.Join([]string{
		"reader:reader:" + auth.Hash(s.Reader),
		"writer:writer:" + auth.Hash(s.Writer),
		"admin:admin:" + auth.Hash(s.Admin),
	}, ",")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = api.Handler(s.Service, a, logger, nil)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	s.HTTP = httptest.NewServer(h)
	s.URL = s.HTTP.URL
	t.Cleanup(func() {
		s.HTTP.CloseClientConnections()
		s.HTTP.Close()
		st.Close()
	})
	return s
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Model returns a small valid ONNX model (internal/onnx/testdata/demand_linear.onnx).
func Model(t testing.TB) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "internal", "onnx", "testdata", "demand_linear.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ModelReader streams a valid ONNX model of exactly size bytes: the small
// model followed by a ModelProto.doc_string (field 6) of padding, which
// model readers skip without keeping it. (A metadata_props entry, field 14,
// is kept in memory by the signature reader and refused above 4 MiB.)
func ModelReader(t testing.TB, size int64) io.Reader {
	t.Helper()
	head := Model(t)
	// Find the padding length whose varint length makes the total come out right.
	for lenLen := int64(1); lenLen <= 10; lenLen++ {
		pad := size - int64(len(head)) - 1 - lenLen
		if pad < 0 {
			break
		}
		if l := varint(uint64(pad)); int64(len(l)) == lenLen {
			h := append(append(bytes.Clone(head), 0x32), l...) // field 6, wire type 2
			return io.MultiReader(bytes.NewReader(h), io.LimitReader(repeat('x'), pad))
		}
	}
	t.Fatalf("apitest: cannot make a %d-byte model", size)
	return nil
}

// WriteModel writes a valid ONNX model of size bytes to path.
func WriteModel(t testing.TB, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, ModelReader(t, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func varint(v uint64) []byte {
	var out []byte
	for v >= 0x80 {
		out = append(out, byte(v)|0x80)
		v >>= 7
	}
	return append(out, byte(v))
}

type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}
