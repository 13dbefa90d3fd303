package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/objstore"
)

// bigModel is a valid ONNX model of about size bytes.
func bigModel(t testing.TB, size int) []byte {
	m := onnxtest.LinearRegressor([]string{"population", "admissions"}, []float32{0.5, 2}, 10)
	return onnxtest.Marshal(onnxtest.WithPadding(m, size))
}

func TestResumableUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx := context.Background()
		st := open()
		s := newService(t, st, nil)
		mustCreate(t, s, "big")
		data := bigModel(t, 12<<20+12345)
		sum := sha256.Sum256(data)
		const part = 5 << 20
		u, err := s.CreateUpload(ctx, "big", int64(len(data)), part, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatal(err)
		}
		if u.PartCount() != 3 {
			t.Fatalf("%d parts", u.PartCount())
		}
		chunk := func(n int) []byte { return data[(n-1)*part : min(n*part, len(data))] }
		// Parts arrive out of order; part 2 is sent twice (a retry after a broken link).
		for _, n := range []int{3, 2, 2} {
			if _, err := s.PutUploadPart(ctx, u.ID, n, bytes.NewReader(chunk(n)), int64(len(chunk(n)))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.PutUploadPart(ctx, u.ID, 1, bytes.NewReader(chunk(1)[:10]), 10); !errors.Is(err, ErrInvalid) {
			t.Fatalf("wrong part size: %v", err)
		}
		got, _ := s.GetUpload(ctx, u.ID)
		if m := got.Missing(); len(m) != 1 || m[0] != 1 {
			t.Fatalf("missing = %v", m)
		}
		r, _ := s.BeginVersion(ctx, NewVersion{Name: "big"})
		if _, err := r.AddUpload(ctx, "model.onnx", u.ID); !errors.Is(err, ErrFailedPrecondition) {
			t.Fatalf("incomplete upload accepted: %v", err)
		}
		if _, err := s.PutUploadPart(ctx, u.ID, 1, bytes.NewReader(chunk(1)), part); err != nil {
			t.Fatal(err)
		}
		a, err := r.AddUpload(ctx, "model.onnx", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != hex.EncodeToString(sum[:]) || a.Size != int64(len(data)) {
			t.Fatalf("artifact %+v", a)
		}
		v, err := r.Commit(ctx)
		if err != nil || v.Signature == nil {
			t.Fatalf("commit: %+v %v", v, err)
		}
		if _, err := s.GetUpload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("used upload kept: %v", err)
		}
		if left := keysUnder(t, st, uploadsPrefix); len(left) != 0 {
			t.Fatalf("parts left: %v", left)
		}

		// A corrupted part is caught by the announced sha256.
		u2, _ := s.CreateUpload(ctx, "big", int64(len(data)), part, hex.EncodeToString(sum[:]))
		for n := 1; n <= 3; n++ {
			c := bytes.Clone(chunk(n))
			if n == 2 {
				c[7] ^= 1
			}
			s.PutUploadPart(ctx, u2.ID, n, bytes.NewReader(c), int64(len(c)))
		}
		r2, _ := s.BeginVersion(ctx, NewVersion{Name: "big"})
		if _, err := r2.AddUpload(ctx, "model.onnx", u2.ID); !errors.Is(err, ErrInvalid) {
			t.Fatalf("corrupt upload: %v", err)
		}
		r2.Abort(ctx)
		if err := s.AbortUpload(ctx, u2.ID); err != nil {
			t.Fatal(err)
		}

		for _, bad := range []struct{ size, part int64 }{{0, part}, {100, 1024}, {1 << 40, part}} {
			if _, err := s.CreateUpload(ctx, "big", bad.size, bad.part, ""); err == nil {
				t.Errorf("upload %+v accepted", bad)
			}
		}
		if _, err := s.CreateUpload(ctx, "nope", 10, part, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown model: %v", err)
		}
	})
}
