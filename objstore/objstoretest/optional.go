package objstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

// testGetRange checks objstore.RangeReader. A range that runs past the end of
// the object is cut short, and one that starts at or past the end is empty,
// so that a resumed download of a complete file simply reads nothing.
func testGetRange(t *testing.T, s objstore.Store) {
	rr, ok := s.(objstore.RangeReader)
	if !ok {
		t.Skip("store does not implement objstore.RangeReader")
	}
	ctx := t.Context()
	body := data(5, small)
	pi := put(t, s, "obj", body, objstore.PutOptions{})
	put(t, s, "empty", nil, objstore.PutOptions{})

	tests := []struct {
		key            string
		offset, length int64
		want           []byte
	}{
		{"obj", 0, 10, body[:10]},
		{"obj", 500, 100, body[500:600]},
		{"obj", 0, -1, body},
		{"obj", 990, -1, body[990:]},
		{"obj", 999, 1, body[999:]},
		{"obj", 990, 100, body[990:]},
		{"obj", 0, small, body},
		{"obj", 10, 0, nil},
		{"obj", small, -1, nil},
		{"obj", small, 10, nil},
		{"obj", 5 * small, 10, nil},
		{"empty", 0, -1, nil},
		{"empty", 0, 10, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s[%d:+%d]", tt.key, tt.offset, tt.length), func(t *testing.T) {
			rc, info, err := rr.GetRange(ctx, tt.key, tt.offset, tt.length)
			if err != nil {
				t.Fatalf("GetRange: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("GetRange read %d bytes, want %d (content equal: %v)", len(got), len(tt.want), bytes.Equal(got, tt.want))
			}
			if tt.key == "obj" && (info.Key != "obj" || info.Size != small || info.ETag != pi.ETag) {
				t.Errorf("GetRange Info = %+v, want the whole object's: Size %d, ETag %q", info, small, pi.ETag)
			}
		})
	}
	if _, _, err := rr.GetRange(ctx, "missing", 0, 1); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("GetRange of a missing key: %v, want ErrNotFound", err)
	}
	if rc, _, err := rr.GetRange(ctx, "obj", -1, 1); err == nil {
		rc.Close()
		t.Errorf("GetRange with a negative offset succeeded")
	}
}

// testCompose checks objstore.Composer with sources of the smallest size S3
// accepts.
func testCompose(t *testing.T, s objstore.Store) {
	cp, ok := s.(objstore.Composer)
	if !ok {
		t.Skip("store does not implement objstore.Composer")
	}
	ctx := t.Context()
	p1 := data(6, objstore.MinComposePart)
	p2 := data(7, objstore.MinComposePart+3)
	p3 := data(8, 100)
	put(t, s, "parts/1", p1, objstore.PutOptions{})
	put(t, s, "parts/2", p2, objstore.PutOptions{})
	put(t, s, "parts/3", p3, objstore.PutOptions{})
	srcs := []string{"parts/1", "parts/2", "parts/3"}
	want := bytes.Join([][]byte{p1, p2, p3}, nil)

	info, err := cp.Compose(ctx, "whole", srcs, objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if info.Key != "whole" || info.Size != int64(len(want)) || info.ETag == "" {
		t.Fatalf("Compose Info = %+v, want Size %d and an ETag", info, len(want))
	}
	if got := wantContent(t, s, "whole", want); got.ETag != info.ETag {
		t.Fatalf("Get ETag %q, Compose returned %q", got.ETag, info.ETag)
	}

	_, err = cp.Compose(ctx, "whole", srcs, objstore.PutOptions{IfNoneMatch: true})
	wantErrIs(t, err, objstore.ErrPrecondition, "create-only Compose over an existing key")
	_, err = cp.Compose(ctx, "whole", srcs, objstore.PutOptions{IfMatch: "stale"})
	wantErrIs(t, err, objstore.ErrPrecondition, "Compose with a stale ETag")
	_, err = cp.Compose(ctx, "other", srcs, objstore.PutOptions{IfMatch: info.ETag})
	wantErrIs(t, err, objstore.ErrPrecondition, "Compose with IfMatch to a missing key")
	wantUnchanged(t, s, "whole", info, want)
	wantAbsent(t, s, "other")

	// Append to itself, under compare-and-swap, as a resumable upload does.
	info, err = cp.Compose(ctx, "whole", []string{"whole", "parts/3"}, objstore.PutOptions{IfMatch: info.ETag})
	if err != nil {
		t.Fatalf("Compose appending to its destination: %v", err)
	}
	want = append(want, p3...)
	if got := wantContent(t, s, "whole", want); got.ETag != info.ETag {
		t.Fatalf("Get ETag %q, Compose returned %q", got.ETag, info.ETag)
	}

	// A single source, and an empty last source.
	put(t, s, "parts/empty", nil, objstore.PutOptions{})
	if _, err := cp.Compose(ctx, "copy", []string{"parts/3"}, objstore.PutOptions{}); err != nil {
		t.Fatalf("Compose of one source: %v", err)
	}
	wantContent(t, s, "copy", p3)
	if _, err := cp.Compose(ctx, "with-empty", []string{"parts/1", "parts/empty"}, objstore.PutOptions{}); err != nil {
		t.Fatalf("Compose with an empty last source: %v", err)
	}
	wantContent(t, s, "with-empty", p1)

	_, err = cp.Compose(ctx, "broken", []string{"parts/1", "missing"}, objstore.PutOptions{})
	wantErrIs(t, err, objstore.ErrNotFound, "Compose from a missing source")
	wantAbsent(t, s, "broken")
	if _, err := cp.Compose(ctx, "nothing", nil, objstore.PutOptions{}); err == nil {
		t.Errorf("Compose of no sources succeeded")
	}
	wantAbsent(t, s, "nothing")
}
