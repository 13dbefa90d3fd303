package objstoretest

import (
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

func testCreateOnly(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	createOnly := objstore.PutOptions{IfNoneMatch: true}
	first := put(t, s, "k", []byte("first"), createOnly)

	_, err := objstore.PutBytes(ctx, s, "k", []byte("second"), createOnly)
	wantErrIs(t, err, objstore.ErrPrecondition, "second create-only Put")
	wantUnchanged(t, s, "k", first, []byte("first"))

	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", []byte("third"), createOnly)
	wantContent(t, s, "k", []byte("third"))
}

func testCompareAndSwap(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	v1 := put(t, s, "k", []byte("v1"), objstore.PutOptions{})
	v2 := put(t, s, "k", []byte("v2"), objstore.PutOptions{IfMatch: v1.ETag})
	if v2.ETag == v1.ETag {
		t.Fatalf("CAS kept the ETag %q", v1.ETag)
	}

	tests := []struct {
		name string
		key  string
		opts objstore.PutOptions
	}{
		{"stale ETag", "k", objstore.PutOptions{IfMatch: v1.ETag}},
		{"made-up ETag", "k", objstore.PutOptions{IfMatch: "not-an-etag"}},
		{"current ETag and create-only", "k", objstore.PutOptions{IfMatch: v2.ETag, IfNoneMatch: true}},
		{"missing key", "missing", objstore.PutOptions{IfMatch: v2.ETag}},
		{"missing key and create-only", "missing", objstore.PutOptions{IfMatch: v2.ETag, IfNoneMatch: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := objstore.PutBytes(ctx, s, tt.key, []byte("lost"), tt.opts)
			wantErrIs(t, err, objstore.ErrPrecondition, "Put")
		})
	}
	wantUnchanged(t, s, "k", v2, []byte("v2"))
	wantAbsent(t, s, "missing")

	v3 := put(t, s, "k", []byte("v3"), objstore.PutOptions{IfMatch: v2.ETag})
	if v3.ETag == v2.ETag {
		t.Fatalf("CAS kept the ETag %q", v2.ETag)
	}
	wantContent(t, s, "k", []byte("v3"))
}
