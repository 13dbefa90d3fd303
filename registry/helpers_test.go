package registry

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
)

// backend opens handles on one fresh storage location; every call of the
// returned function is a new handle (a new "process") on the same data.
type backend struct {
	name string
	open func(t testing.TB) func() objstore.Store
}

var backends = []backend{
	{"dir", func(t testing.TB) func() objstore.Store {
		dir := t.TempDir()
		return func() objstore.Store {
			s, err := fsstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}},
}

// forEachBackend runs f against every store implementation.
func forEachBackend(t *testing.T, f func(t *testing.T, open func() objstore.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

func newService(t testing.TB, st objstore.Store, opts *Options) *Service {
	t.Helper()
	s, err := New(context.Background(), st, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register registers one version of model with the demand fixture.
func register(t testing.TB, s *Service, model string, aliases ...string) *Version {
	t.Helper()
	ctx := WithActor(context.Background(), "tester")
	r, err := s.BeginVersion(ctx, NewVersion{Name: model, Aliases: aliases})
	if err != nil {
		t.Fatal(err)
	}
	b := fixture(t, "demand_linear.onnx")
	if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(b), int64(len(b))); err != nil {
		r.Abort(ctx)
		t.Fatal(err)
	}
	v, err := r.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustCreate(t testing.TB, s *Service, name string) *Model {
	t.Helper()
	m, err := s.CreateModel(WithActor(context.Background(), "tester"), NewModel{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually retries f until it returns true or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func keysUnder(t testing.TB, st objstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	for info, err := range st.List(context.Background(), prefix, objstore.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

func fixtureSignature(t testing.TB) *onnx.Signature {
	sig, err := onnx.ReadSignature(bytes.NewReader(fixture(t, "demand_linear.onnx")))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
