package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
	"github.com/lantern-mlops/lantern/registry/client"
)

func newClient(t *testing.T, url, token string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithUploadStateDir(t.TempDir()), client.WithRetry(5, 10*time.Millisecond)}, opts...)
	c, err := client.New(url, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeFile writes b to a temporary file and returns its path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestErrors(t *testing.T) {
	s := apitest.Start(t, nil)
	ctx := context.Background()
	w := newClient(t, s.URL, s.Writer)
	if _, err := w.CreateModel(ctx, registry.NewModel{Name: "demand"}); err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>upstream down</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()

	tests := []struct {
		name    string
		call    func() error
		kind    error
		code    string
		message string
	}{
		{"not found", func() error { _, err := w.GetModel(ctx, "nope"); return err }, registry.ErrNotFound, "NOT_FOUND", `registered model "nope" does not exist`},
		{"exists", func() error { _, err := w.CreateModel(ctx, registry.NewModel{Name: "demand"}); return err }, registry.ErrAlreadyExists, "ALREADY_EXISTS", "already exists"},
		{"invalid", func() error { _, err := w.CreateModel(ctx, registry.NewModel{Name: "a@b"}); return err }, registry.ErrInvalid, "INVALID_ARGUMENT", "must not contain"},
		{"no versions yet", func() error { _, err := w.GetVersion(ctx, "demand", "latest"); return err }, registry.ErrNotFound, "NOT_FOUND", "no READY version"},
		{"no token", func() error { _, err := newClient(t, s.URL, "").GetModel(ctx, "demand"); return err }, errkind.Unauthenticated, "UNAUTHENTICATED", "Bearer"},
		{"reader writes", func() error {
			_, err := newClient(t, s.URL, s.Reader).CreateModel(ctx, registry.NewModel{Name: "x"})
			return err
		}, errkind.PermissionDenied, "PERMISSION_DENIED", "writer"},
		{"writer deletes a model", func() error { return w.DeleteModel(ctx, "demand") }, errkind.PermissionDenied, "PERMISSION_DENIED", "admin"},
		{"proxy error page", func() error { _, err := newClient(t, proxy.URL, "").GetModel(ctx, "demand"); return err }, errkind.Unavailable, "INTERNAL", "502 Bad Gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ce *client.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v (%#v); want %v, %s, %q", err, ce, tc.kind, tc.code, tc.message)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		_, err := newClient(t, closed.URL, "").GetModel(ctx, "demand")
		var ue *client.UnreachableError
		if !errors.Is(err, errkind.Unavailable) || !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &ue) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if _, err := client.New("127.0.0.1:8080", ""); !errors.Is(err, errkind.Invalid) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := w.GetModel(cctx, "demand"); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	s := apitest.Start(t, nil)
	ctx := context.Background()
	w := newClient(t, s.URL, s.Writer)
	model := apitest.Model(t)
	for _, name := range []string{"a-model", "b-model", "a model #2"} {
		if _, err := w.CreateModel(ctx, registry.NewModel{Name: name, Tags: map[string]string{"team": "supply"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Names that are awkward in URLs work.
	if m, err := w.GetModel(ctx, "a model #2"); err != nil || m.Name != "a model #2" {
		t.Fatalf("model named 'a model #2': %v %v", m, err)
	}
	for i := 0; i < 3; i++ {
		var aliases []string
		if i == 2 {
			aliases = []string{"production"}
		}
		v, err := w.Register(ctx, client.RegisterRequest{Name: "a-model", Files: []client.File{
			{Path: "model.onnx", Local: writeFile(t, "m.onnx", model)},
			{Path: "profile/reference.json", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{}")), nil }, Size: 2},
		}, Aliases: aliases, Lineage: registry.Lineage{RunID: fmt.Sprint("run", i)}})
		if err != nil || v.Version != int64(i+1) || len(v.Artifacts) != 2 {
			t.Fatalf("register: %+v %v", v, err)
		}
	}

	var names []string
	for m, err := range w.Models(ctx, registry.SearchQuery{MaxResults: 1, Filter: "tags.team = 'supply'"}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"a model #2", "a-model", "b-model"}) {
		t.Fatalf("models %v", names)
	}
	var versions []int64
	for v, err := range w.Versions(ctx, "a-model", registry.SearchQuery{MaxResults: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v.Version)
	}
	if !slices.Equal(versions, []int64{3, 2, 1}) {
		t.Fatalf("versions %v", versions)
	}
	found, _, err := w.SearchVersions(ctx, registry.SearchQuery{Filter: "run_id = 'run1'"})
	if err != nil || len(found) != 1 || found[0].Version != 2 {
		t.Fatalf("search: %v %v", found, err)
	}

	if v, err := w.SetAlias(ctx, "a-model", "production", 1, "rollback: v3 over-predicts"); err != nil || v.Version != 1 {
		t.Fatalf("alias: %v %v", v, err)
	}
	if v, err := w.VersionByAlias(ctx, "a-model", "production"); err != nil || v.Version != 1 {
		t.Fatalf("alias get: %v %v", v, err)
	}
	if v, err := w.GetVersion(ctx, "a-model", "latest"); err != nil || v.Version != 3 {
		t.Fatalf("latest: %v %v", v, err)
	}
	if err := w.DeleteAlias(ctx, "a-model", "production", "no production model for now"); err != nil {
		t.Fatal(err)
	}
	if err := w.SetModelTag(ctx, "a-model", "owner/team", "supply chain"); err != nil {
		t.Fatal(err)
	}
	if err := w.SetVersionTag(ctx, "a-model", 2, "approved", "yes"); err != nil {
		t.Fatal(err)
	}
	if v, err := w.TransitionStage(ctx, "a-model", 2, registry.StageProduction, false); err != nil || v.Stage != registry.StageProduction || v.Tags["approved"] != "yes" {
		t.Fatalf("stage: %+v %v", v, err)
	}
	if v, err := w.UpdateVersion(ctx, "a-model", 2, "second"); err != nil || v.Description != "second" {
		t.Fatalf("describe: %+v %v", v, err)
	}
	if err := w.DeleteVersionTag(ctx, "a-model", 2, "approved"); err != nil {
		t.Fatal(err)
	}
	if m, err := w.RenameModel(ctx, "b-model", "c-model"); err != nil || m.Name != "c-model" {
		t.Fatalf("rename: %v %v", m, err)
	}
	if m, err := w.UpdateModel(ctx, "c-model", "described"); err != nil || m.Description != "described" {
		t.Fatalf("update: %v %v", m, err)
	}
	if err := w.DeleteModelTag(ctx, "a-model", "owner/team"); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteVersion(ctx, "a-model", 1); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, s.URL, s.Admin).DeleteModel(ctx, "c-model"); err != nil {
		t.Fatal(err)
	}

	var reasons []string
	for ev, err := range w.AuditEvents(ctx, registry.AuditQuery{Model: "a-model", Action: "alias", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, ev.Reason)
	}
	// Newest first: the delete, the rollback, the alias set at registration,
	// and the removal of aliases when version 1 was deleted (nothing to remove: no event).
	if len(reasons) != 3 || reasons[0] != "no production model for now" || reasons[1] != "rollback: v3 over-predicts" {
		t.Fatalf("audit reasons %q", reasons)
	}
}

func TestRegisterAliasWarning(t *testing.T) {
	s := apitest.Start(t, nil)
	w := newClient(t, s.URL, s.Writer)
	v, err := w.Register(context.Background(), client.RegisterRequest{
		Name: "demand", CreateModel: true, Status: registry.StatusFailed, StatusMessage: "rmse too high",
		Aliases: []string{"production"},
		Files:   []client.File{{Path: "model.onnx", Local: writeFile(t, "model.onnx", apitest.Model(t))}},
	})
	if v == nil || v.Version != 1 || !errors.Is(err, registry.ErrFailedPrecondition) || !strings.Contains(err.Error(), "production") {
		t.Fatalf("got %+v, %v", v, err)
	}
}

func TestRegisterErrors(t *testing.T) {
	s := apitest.Start(t, nil)
	ctx := context.Background()
	w := newClient(t, s.URL, s.Writer)
	good := writeFile(t, "model.onnx", apitest.Model(t))
	tests := []struct {
		name string
		req  client.RegisterRequest
		kind error
		msg  string
	}{
		{"no files", client.RegisterRequest{Name: "m", CreateModel: true}, registry.ErrInvalid, "no files"},
		{"missing file", client.RegisterRequest{Name: "m", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: "/nonexistent/model.onnx"}}}, os.ErrNotExist, "nonexistent"},
		{"duplicate path", client.RegisterRequest{Name: "m", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: good}, {Path: "model.onnx", Local: good}}}, registry.ErrInvalid, "twice"},
		{"unknown model", client.RegisterRequest{Name: "m", Files: []client.File{{Path: "model.onnx", Local: good}}}, registry.ErrNotFound, `"m" does not exist`},
		{"not ONNX", client.RegisterRequest{Name: "m", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: writeFile(t, "x.onnx", []byte("hello"))}}}, registry.ErrInvalid, "model.onnx"},
		{"unreadable", client.RegisterRequest{Name: "m", CreateModel: true, Files: []client.File{{Path: "model.onnx", Size: 10, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{})), nil
		}}}}, errDisk, "disk on fire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := w.Register(ctx, tc.req)
			if v != nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %+v, %v", v, err)
			}
		})
	}
	// An unauthorised registration is refused before the file is sent.
	var got int64
	_, err := newClient(t, s.URL, s.Reader).Register(ctx, client.RegisterRequest{Name: "m", CreateModel: true,
		Files:    []client.File{{Path: "model.onnx", Local: good}},
		Progress: func(sent, total int64) { got = sent },
	})
	if !errors.Is(err, errkind.PermissionDenied) || got != 0 {
		t.Fatalf("reader: %v after %d bytes", err, got)
	}
}

var errDisk = errors.New("disk on fire")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errDisk }

func TestOpenFile(t *testing.T) {
	s := apitest.Start(t, nil)
	ctx := context.Background()
	w := newClient(t, s.URL, s.Writer)
	model := apitest.Model(t)
	if _, err := w.Register(ctx, client.RegisterRequest{Name: "demand", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: writeFile(t, "m.onnx", model)}}}); err != nil {
		t.Fatal(err)
	}
	rc, v, err := w.OpenFile(ctx, "demand", "latest", "model.onnx")
	if err != nil || v.Version != 1 {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, model) {
		t.Fatalf("read %d bytes: %v", len(b), err)
	}
	if _, _, err := w.OpenFile(ctx, "demand", "1", "other.bin"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestRegisterEarlyError: when the registry refuses a file while more are
// still being sent, the client reports the registry's reason, not a broken
// connection.
func TestRegisterEarlyError(t *testing.T) {
	s := apitest.Start(t, nil)
	w := newClient(t, s.URL, s.Writer)
	big := filepath.Join(t.TempDir(), "weights.bin")
	apitest.WriteModel(t, big, 60<<20)
	for i := 0; i < 3; i++ {
		_, err := w.Register(context.Background(), client.RegisterRequest{Name: "demand", CreateModel: true, Files: []client.File{
			{Path: "model.onnx", Local: writeFile(t, "bad.onnx", bytes.Repeat([]byte{0xff}, 1<<20))},
			{Path: "weights.bin", Local: big},
		}})
		if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "model.onnx") {
			t.Fatalf("attempt %d: got %v", i, err)
		}
	}
}
