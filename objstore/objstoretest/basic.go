package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

func testRoundTrip(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "registry/models/demand/model.json"
	body := []byte(`{"name":"demand","version":3}`)
	pi := put(t, s, key, body, objstore.PutOptions{ContentType: "application/json"})

	got, gi := get(t, s, key)
	if !bytes.Equal(got, body) {
		t.Fatalf("Get = %q, want %q", got, body)
	}
	si, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	for name, info := range map[string]objstore.Info{"Get": gi, "Stat": si} {
		if info.Key != key || info.Size != int64(len(body)) || info.ETag != pi.ETag || info.IsPrefix {
			t.Errorf("%s Info = %+v, want Key %q, Size %d, ETag %q (from Put)", name, info, key, len(body), pi.ETag)
		}
	}
	if si.ModTime.Before(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Stat ModTime = %v, want the time of the write", si.ModTime)
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, s, key)
	if _, _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
}

func testEmptyObject(t *testing.T, s objstore.Store) {
	put(t, s, "empty", nil, objstore.PutOptions{})
	wantContent(t, s, "empty", nil)
	if _, err := s.Put(t.Context(), "empty-unknown-size", strings.NewReader(""), -1, objstore.PutOptions{}); err != nil {
		t.Fatalf("Put empty, size -1: %v", err)
	}
	wantContent(t, s, "empty-unknown-size", nil)
}

func testMissing(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	put(t, s, "dir/sub/obj", []byte("x"), objstore.PutOptions{})
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/sub", "dir/sub/obj/below"} {
		if _, _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Stat(%q): %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v, want nil", key, err)
		}
	}
	wantContent(t, s, "dir/sub/obj", []byte("x")) // deleting its "directories" left it alone
}

// invalidKeys are keys that every store must refuse.
var invalidKeys = []string{
	"", "/", "/a", "a/", "a//b", "a/../b", "a/./b", "..", ".", "../a", "a/..",
	`a\b`, "a\x00b", "a\nb", "a\x7fb", "\tb", strings.Repeat("k", 1025),
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	rr, _ := s.(objstore.RangeReader)
	cp, _ := s.(objstore.Composer)
	put(t, s, "ok", []byte("x"), objstore.PutOptions{})
	for _, key := range invalidKeys {
		t.Run(fmt.Sprintf("%q", abbrev([]byte(key))), func(t *testing.T) {
			_, err := objstore.PutBytes(ctx, s, key, []byte("x"), objstore.PutOptions{})
			wantErrIs(t, err, objstore.ErrInvalidKey, "Put")
			_, err = objstore.PutBytes(ctx, s, key, []byte("x"), objstore.PutOptions{IfNoneMatch: true})
			wantErrIs(t, err, objstore.ErrInvalidKey, "Put IfNoneMatch")
			_, _, err = s.Get(ctx, key)
			wantErrIs(t, err, objstore.ErrInvalidKey, "Get")
			_, err = s.Stat(ctx, key)
			wantErrIs(t, err, objstore.ErrInvalidKey, "Stat")
			wantErrIs(t, s.Delete(ctx, key), objstore.ErrInvalidKey, "Delete")
			if rr != nil {
				_, _, err = rr.GetRange(ctx, key, 0, 1)
				wantErrIs(t, err, objstore.ErrInvalidKey, "GetRange")
			}
			if cp != nil {
				_, err = cp.Compose(ctx, key, []string{"ok"}, objstore.PutOptions{})
				wantErrIs(t, err, objstore.ErrInvalidKey, "Compose to it")
				_, err = cp.Compose(ctx, "composed", []string{"ok", key}, objstore.PutOptions{})
				wantErrIs(t, err, objstore.ErrInvalidKey, "Compose from it")
			}
		})
	}
	wantAbsent(t, s, "composed")
}

func testCancelledContext(t *testing.T, s objstore.Store) {
	put(t, s, "k", []byte("x"), objstore.PutOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := objstore.PutBytes(ctx, s, "new", []byte("x"), objstore.PutOptions{})
	wantErrIs(t, err, context.Canceled, "Put")
	_, _, err = s.Get(ctx, "k")
	wantErrIs(t, err, context.Canceled, "Get")
	_, err = s.Stat(ctx, "k")
	wantErrIs(t, err, context.Canceled, "Stat")
	wantErrIs(t, s.Delete(ctx, "k"), context.Canceled, "Delete")
	listErr := errors.New("List yielded nothing")
	for _, err := range s.List(ctx, "", objstore.ListOptions{}) {
		listErr = err
		break
	}
	wantErrIs(t, listErr, context.Canceled, "List")
	wantAbsent(t, s, "new")
	wantContent(t, s, "k", []byte("x"))
}

func testETagChanges(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	seen := map[string]int{}
	for i := range 5 {
		// Same length every time: a store must not derive its ETag from
		// size and timestamps alone.
		body := []byte(fmt.Sprintf("version %03d", i))
		info := put(t, s, "obj", body, objstore.PutOptions{})
		if j, dup := seen[info.ETag]; dup {
			t.Fatalf("write %d got the ETag %q of write %d, with other content", i, info.ETag, j)
		}
		seen[info.ETag] = i
		si, err := s.Stat(ctx, "obj")
		if err != nil || si.ETag != info.ETag {
			t.Fatalf("Stat after write %d = %+v, %v; want the ETag %q that Put returned", i, si, err, info.ETag)
		}
	}
}

func testShortWrite(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	tests := []struct {
		name     string
		declared int64
		body     func() io.Reader
	}{
		{"shorter", 10, func() io.Reader { return strings.NewReader("12345") }},
		{"longer", 5, func() io.Reader { return strings.NewReader("1234567890") }},
		{"zero declared", 0, func() io.Reader { return strings.NewReader("1") }},
		{"large shorter", large, func() io.Reader { return stream(1, large-1000) }},
		{"large longer", large, func() io.Reader { return stream(1, large+1) }},
	}
	old := []byte("old content")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(ctx, "new", tt.body(), tt.declared, objstore.PutOptions{})
			wantErrIs(t, err, objstore.ErrShortWrite, "Put to a new key")
			wantAbsent(t, s, "new")

			before := put(t, s, "existing", old, objstore.PutOptions{})
			_, err = s.Put(ctx, "existing", tt.body(), tt.declared, objstore.PutOptions{IfMatch: before.ETag})
			wantErrIs(t, err, objstore.ErrShortWrite, "Put over an existing key")
			wantUnchanged(t, s, "existing", before, old)
		})
	}
}

func testFailingReader(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		size, len int64 // declared size; bytes before the error
	}{
		{"small", small, small / 2},
		{"small unknown size", -1, small / 2},
		{"large", large, large - 1000},
		{"large unknown size", -1, large - 1000},
	}
	old := []byte("old content")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := func() io.Reader { return &failingReader{r: stream(2, large), n: tt.len, err: errBoom} }
			_, err := s.Put(ctx, "new", body(), tt.size, objstore.PutOptions{})
			wantErrIs(t, err, errBoom, "Put to a new key")
			wantAbsent(t, s, "new")

			before := put(t, s, "existing", old, objstore.PutOptions{})
			_, err = s.Put(ctx, "existing", body(), tt.size, objstore.PutOptions{})
			wantErrIs(t, err, errBoom, "Put over an existing key")
			wantUnchanged(t, s, "existing", before, old)
		})
	}
	for info, err := range s.List(ctx, "", objstore.ListOptions{}) {
		if err != nil || info.Key != "existing" {
			t.Errorf("List after failed writes yields %+v, %v; want only %q", info, err, "existing")
		}
	}
}

func testCancelledPut(t *testing.T, s objstore.Store) {
	tests := []struct {
		name      string
		size, len int64 // declared size; bytes before cancelling
	}{
		{"small", small, small / 2},
		{"small unknown size", -1, small / 2},
		{"large", large, large - 1000},
		{"large unknown size", -1, large - 1000},
	}
	old := []byte("old content")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := max(tt.size, large)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := s.Put(ctx, "new", &cancellingReader{r: stream(3, total), n: tt.len, cancel: cancel}, tt.size, objstore.PutOptions{})
			wantErrIs(t, err, context.Canceled, "Put to a new key")
			wantAbsent(t, s, "new")

			before := put(t, s, "existing", old, objstore.PutOptions{})
			ctx, cancel = context.WithCancel(t.Context())
			defer cancel()
			_, err = s.Put(ctx, "existing", &cancellingReader{r: stream(3, total), n: tt.len, cancel: cancel}, tt.size, objstore.PutOptions{})
			wantErrIs(t, err, context.Canceled, "Put over an existing key")
			wantUnchanged(t, s, "existing", before, old)
		})
	}
}

func testLargeObject(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	for _, size := range []int64{huge, -1} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			key := fmt.Sprintf("large/%d", size)
			info, err := s.Put(ctx, key, stream(4, huge), size, objstore.PutOptions{})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != huge || info.Key != key {
				t.Fatalf("Put Info = %+v, want Size %d", info, huge)
			}
			gi := wantStream(t, s, key, 4, huge)
			if gi.ETag != info.ETag {
				t.Fatalf("Get ETag %q, Put returned %q", gi.ETag, info.ETag)
			}
		})
	}
}
