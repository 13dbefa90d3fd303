package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

func TestModelLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx := WithActor(context.Background(), "alice")
		s := newService(t, open(), nil)

		m, err := s.CreateModel(ctx, NewModel{Name: "rutf-demand", Description: "RUTF cartons per district", Tags: map[string]string{"team": "supply"}})
		if err != nil {
			t.Fatal(err)
		}
		if m.CreatedBy != "alice" || m.Rev != 1 {
			t.Fatalf("created %+v", m)
		}
		if _, err := s.CreateModel(ctx, NewModel{Name: "rutf-demand"}); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("duplicate: %v", err)
		}
		for _, bad := range []string{"", " padded", "a/b", "x@y", "tab\tname", strings.Repeat("n", 300)} {
			if _, err := s.CreateModel(ctx, NewModel{Name: bad}); !errors.Is(err, ErrInvalid) {
				t.Errorf("name %q: %v", bad, err)
			}
		}

		v1 := register(t, s, "rutf-demand")
		if v1.Version != 1 || v1.Status != StatusReady || v1.Stage != StageNone {
			t.Fatalf("v1 = %+v", v1)
		}
		if len(v1.Artifacts) != 1 || len(v1.Artifacts[0].SHA256) != 64 || v1.ModelFile != "model.onnx" {
			t.Fatalf("artifacts %+v", v1.Artifacts)
		}
		if v1.Signature == nil || len(v1.Signature.Inputs) == 0 {
			t.Fatalf("no signature: %+v", v1.Signature)
		}
		v2 := register(t, s, "rutf-demand", "production")
		if v2.Version != 2 || !slices.Equal(v2.Aliases, []string{"production"}) {
			t.Fatalf("v2 = %d %v", v2.Version, v2.Aliases)
		}

		// Aliases.
		got, err := s.VersionByAlias(ctx, "rutf-demand", "production")
		if err != nil || got.Version != 2 {
			t.Fatalf("alias: %v %v", got, err)
		}
		if err := s.SetAlias(ctx, "rutf-demand", "production", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VersionByAlias(ctx, "rutf-demand", "champion"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing alias: %v", err)
		}
		for _, bad := range []string{"latest", "v3", "with space", ""} {
			if err := s.SetAlias(ctx, "rutf-demand", bad, 1); !errors.Is(err, ErrInvalid) {
				t.Errorf("alias %q: %v", bad, err)
			}
		}
		if err := s.SetAlias(ctx, "rutf-demand", "canary", 9); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alias to missing version: %v", err)
		}
		if v, _ := s.ResolveVersion(ctx, "rutf-demand", "latest"); v.Version != 2 {
			t.Fatalf("latest = %d", v.Version)
		}

		// Tags, description and stages.
		if err := s.SetVersionTag(ctx, "rutf-demand", 1, "validated_by", "bob"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetModelTag(ctx, "rutf-demand", "owner", "supply-unit"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteModelTag(ctx, "rutf-demand", "team"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateVersion(ctx, "rutf-demand", 1, "first"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TransitionStage(ctx, "rutf-demand", 1, "production", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TransitionStage(ctx, "rutf-demand", 2, "Production", true); err != nil {
			t.Fatal(err)
		}
		v1, _ = s.GetVersion(ctx, "rutf-demand", 1)
		if v1.Stage != StageArchived || v1.Tags["validated_by"] != "bob" || v1.Description != "first" {
			t.Fatalf("v1 after archive = %+v", v1)
		}
		latest, _ := s.LatestVersions(ctx, "rutf-demand", nil)
		if len(latest) != 2 {
			t.Fatalf("latest versions per stage: %d", len(latest))
		}

		// Delete a version: its alias goes, its files go, its number stays used.
		if err := s.DeleteVersion(ctx, "rutf-demand", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetVersion(ctx, "rutf-demand", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted version: %v", err)
		}
		m, _ = s.GetModel(ctx, "rutf-demand")
		if _, ok := m.Aliases["production"]; ok {
			t.Fatal("alias to deleted version kept")
		}
		if v3 := register(t, s, "rutf-demand"); v3.Version != 3 {
			t.Fatalf("after delete got version %d", v3.Version)
		}

		// Rename: versions follow.
		if _, err := s.RenameModel(ctx, "rutf-demand", "rutf-forecast"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetModel(ctx, "rutf-demand"); !errors.Is(err, ErrNotFound) {
			t.Fatal("old name still there")
		}
		vs, err := s.ListVersions(ctx, "rutf-forecast")
		if err != nil || len(vs) != 2 || vs[0].Name != "rutf-forecast" {
			t.Fatalf("versions after rename: %v %v", vs, err)
		}
		mustCreate(t, s, "rutf-demand") // the old name is free again
		if _, err := s.RenameModel(ctx, "rutf-forecast", "rutf-demand"); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("rename onto existing: %v", err)
		}

		// Delete the model, then create it again: numbering continues.
		if err := s.DeleteModel(ctx, "rutf-forecast"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetModel(ctx, "rutf-forecast"); !errors.Is(err, ErrNotFound) {
			t.Fatal("deleted model visible")
		}
		mustCreate(t, s, "rutf-forecast")
		if v := register(t, s, "rutf-forecast"); v.Version != 4 {
			t.Fatalf("recreated model got version %d, want 4", v.Version)
		}
		if left := keysUnder(t, s.store, artifactsRoot+m.ID+"/"); len(left) != 1 {
			t.Fatalf("files left of the deleted versions: %v", left)
		}
	})
}

func TestRegistrationRefusesBadFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx := context.Background()
		st := open()
		s := newService(t, st, nil)
		mustCreate(t, s, "risk")
		cases := []struct {
			name, path string
			body       []byte
			size       int64
			want       error
			msg        string
		}{
			{"text file", "model.onnx", []byte("hello, this is not a model\n"), -1, ErrInvalid, "not an ONNX model"},
			{"truncated", "model.onnx", fixture(t, "risk_mlp.onnx")[:100], -1, ErrInvalid, "ONNX"},
			{"short body", "model.onnx", fixture(t, "risk_mlp.onnx"), 1 << 20, ErrInvalid, "declared"},
			{"traversal", "../../etc/passwd", []byte("x"), 1, ErrInvalid, "not allowed"},
			{"absolute", "/etc/passwd", []byte("x"), 1, ErrInvalid, "not allowed"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r, err := s.BeginVersion(ctx, NewVersion{Name: "risk"})
				if err != nil {
					t.Fatal(err)
				}
				_, err = r.PutArtifact(ctx, tc.path, bytes.NewReader(tc.body), tc.size)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("PutArtifact: %v; want %v containing %q", err, tc.want, tc.msg)
				}
				if _, err := r.Commit(ctx); !errors.Is(err, ErrInvalid) {
					t.Fatalf("commit without a model: %v", err)
				}
				r.Abort(ctx)
			})
		}
		if vs, _ := s.ListVersions(ctx, "risk"); len(vs) != 0 {
			t.Fatalf("refused files produced versions: %v", vs)
		}
		if left := keysUnder(t, st, artifactsRoot); len(left) != 0 {
			t.Fatalf("refused files left behind: %v", left)
		}
		if left := keysUnder(t, st, leasesPrefix); len(left) != 0 {
			t.Fatalf("leases left behind: %v", left)
		}
		// A failed training run can be recorded on purpose, with its report.
		r, _ := s.BeginVersion(ctx, NewVersion{Name: "risk", Status: StatusFailed, StatusMessage: "gate macro_f1 0.61 < 0.70"})
		r.PutArtifact(ctx, "report.json", strings.NewReader(`{"macro_f1":0.61}`), -1)
		v, err := r.Commit(ctx)
		if err != nil || v.Status != StatusFailed || v.Version != 1 {
			t.Fatalf("failed version: %+v %v", v, err)
		}
		if err := s.SetAlias(ctx, "risk", "production", 1); !errors.Is(err, ErrFailedPrecondition) {
			t.Fatalf("alias to a FAILED version: %v", err)
		}
	})
}

func TestDownloadVerifiesHash(t *testing.T) {
	ctx := context.Background()
	st := backends[0].open(t)()
	s := newService(t, st, nil)
	mustCreate(t, s, "m")
	v := register(t, s, "m")
	rc, a, err := s.OpenArtifact(ctx, "m", v.Version, "model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(b)) != a.Size {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	// Corrupt the stored file behind the registry's back.
	key := artifactPrefix(v.ModelID, v.ArtifactPrefix) + "model.onnx"
	b[len(b)/2] ^= 0xff
	if _, err := objstore.PutBytes(ctx, st, key, b, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, _ = s.OpenArtifact(ctx, "m", v.Version, "model.onnx")
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt file read without error: %v", err)
	}
	if _, _, err := s.OpenArtifact(ctx, "m", v.Version, "../x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("traversal: %v", err)
	}
	rc, _, err = s.OpenArtifactRange(ctx, "m", v.Version, "model.onnx", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(part, b[10:15]) {
		t.Fatalf("range = %x", part)
	}
}
