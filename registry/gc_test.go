package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// TestAbandonedUpload: a registration that dies mid-upload leaves no
// version; once its lease expires the janitor of a restarted registry
// removes its files, and everything else keeps working.
func TestAbandonedUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx := context.Background()
		now := time.Now()
		clock := func() time.Time { return now }
		s := newService(t, open(), &Options{LeaseTTL: time.Minute, Now: clock})
		mustCreate(t, s, "m")
		r, err := s.BeginVersion(ctx, NewVersion{Name: "m"})
		if err != nil {
			t.Fatal(err)
		}
		b := fixture(t, "risk_mlp.onnx")
		// One file fully stored, then the process "dies" while streaming the second.
		if _, err := r.PutArtifact(ctx, "extra.json", bytes.NewReader([]byte("{}")), 2); err != nil {
			t.Fatal(err)
		}
		dying, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(b[:len(b)/2])
			cancel()
			pw.CloseWithError(errors.New("killed"))
		}()
		if _, err := r.PutArtifact(dying, "model.onnx", pr, int64(len(b))); err == nil {
			t.Fatal("half upload succeeded")
		}
		close(r.stop) // the process is gone: no renewals, no abort
		if len(keysUnder(t, s.store, artifactsRoot)) == 0 {
			t.Fatal("test setup: the first file should be stored")
		}

		restarted := newService(t, open(), &Options{LeaseTTL: time.Minute, Now: clock})
		if vs, _ := restarted.ListVersions(ctx, "m"); len(vs) != 0 {
			t.Fatalf("an abandoned upload is visible: %v", vs)
		}
		if err := restarted.Janitor(ctx); err != nil {
			t.Fatal(err)
		}
		if left := keysUnder(t, s.store, artifactsRoot); len(left) == 0 {
			t.Fatal("files collected while the lease was still valid")
		}
		now = now.Add(2 * time.Minute)
		if err := restarted.Janitor(ctx); err != nil {
			t.Fatal(err)
		}
		if left := keysUnder(t, s.store, artifactsRoot); len(left) != 0 {
			t.Fatalf("abandoned files not collected: %v", left)
		}
		if left := keysUnder(t, s.store, leasesPrefix); len(left) != 0 {
			t.Fatalf("lease not removed: %v", left)
		}
		// The registry works after the restart, numbering from 1.
		if v := register(t, restarted, "m"); v.Version != 1 {
			t.Fatalf("version %d", v.Version)
		}
	})
}

// TestRevokedLeaseCannotCommit: an uploader that stalls past its lease
// finds it revoked and cannot commit files the janitor deleted.
func TestRevokedLeaseCannotCommit(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := newService(t, backends[0].open(t)(), &Options{LeaseTTL: time.Minute, Now: func() time.Time { return now }})
	mustCreate(t, s, "m")
	r, _ := s.BeginVersion(ctx, NewVersion{Name: "m"})
	b := fixture(t, "demand_linear.onnx")
	if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	if err := s.Janitor(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("commit after revocation: %v", err)
	}
	r.Abort(ctx)
	if vs, _ := s.ListVersions(ctx, "m"); len(vs) != 0 {
		t.Fatal("version committed without its files")
	}
}

// TestLostEventIsRebuilt: a writer that crashed between its metadata write
// and its event write is healed by the janitor, and other processes learn
// of the change through reconciliation.
func TestLostEventIsRebuilt(t *testing.T) {
	ctx := context.Background()
	open := backends[0].open(t)
	now := time.Now()
	clock := func() time.Time { return now }
	a := newService(t, open(), &Options{Now: clock})
	m := mustCreate(t, a, "m")
	b := newService(t, open(), &Options{Now: clock})

	// Write a tag change the way a crashed writer would: object, no event.
	cur, etag, _ := readJSON[Model](ctx, a.store, modelKey(m.ID))
	cur.Tags = map[string]string{"sneaky": "yes"}
	cur.stamp("crashed-writer", ActionModelTagSet, now)
	if _, err := putJSON(ctx, a.store, modelKey(m.ID), cur, objstore.PutOptions{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := b.Janitor(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := b.GetModel(ctx, "m")
	if got.Tags["sneaky"] != "yes" {
		t.Fatal("reconciliation missed the change")
	}
	evs, _, err := b.Audit(ctx, AuditQuery{Model: "m", Action: ActionModelTagSet})
	if err != nil || len(evs) != 1 || !evs[0].Repaired || evs[0].Actor != "crashed-writer" {
		t.Fatalf("repaired event: %+v %v", evs, err)
	}
}
