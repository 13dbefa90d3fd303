package objstoretest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/objstore"
)

// listKeys exercise byte-wise order: ' ', '-', '.' and '+' sort before '/',
// '0' and '~' after it, and "é" is two bytes above every ASCII character.
var listKeys = []string{
	"a b/x", "a+b", "a-b", "a.txt", "a/1", "a/2", "a/b/3", "a/b/4", "a/bc", "a/c/d/5",
	"a0", "ab", "b/x/y/z", "c", "q%20r", "z~", "é/1", "éa",
}

// wantList is the reference listing: what List must yield for keys.
func wantList(keys []string, prefix string, opts objstore.ListOptions) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if opts.Delimited {
			if i := strings.IndexByte(k[len(prefix):], '/'); i >= 0 {
				k = k[:len(prefix)+i+1]
			}
		}
		if k > opts.StartAfter && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// list collects a listing, checking every Info against its key.
func list(t testing.TB, s objstore.Store, prefix string, opts objstore.ListOptions) []objstore.Info {
	t.Helper()
	var infos []objstore.Info
	for info, err := range s.List(context.Background(), prefix, opts) {
		if err != nil {
			t.Fatalf("List(%q, %+v): %v", prefix, opts, err)
		}
		isDir := strings.HasSuffix(info.Key, "/")
		if info.IsPrefix != isDir || isDir && !opts.Delimited {
			t.Fatalf("List(%q, %+v) yields %+v: IsPrefix must be set exactly on keys ending in \"/\", in delimited listings", prefix, opts, info)
		}
		infos = append(infos, info)
	}
	return infos
}

func keysOf(infos []objstore.Info) []string {
	keys := make([]string, len(infos))
	for i, info := range infos {
		keys[i] = info.Key
	}
	return keys
}

func putAll(t testing.TB, s objstore.Store, keys []string) map[string]objstore.Info {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	infos := make([]objstore.Info, len(keys))
	for i, k := range keys {
		g.Go(func() (err error) {
			infos[i], err = objstore.PutBytes(context.Background(), s, k, []byte("data of "+k), objstore.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Put: %v", err)
	}
	m := make(map[string]objstore.Info, len(keys))
	for _, info := range infos {
		m[info.Key] = info
	}
	return m
}

func testList(t *testing.T, s objstore.Store) {
	stored := putAll(t, s, listKeys)
	prefixes := []string{"", "a", "a/", "a/b", "a/b/", "a/c/", "a/bc", "a/bc/", "b/x/y/z", "é", "nope/", "/", "../", "a//"}
	afters := []string{"", "a", "a ", "a/", "a/b", "a/b/", "a/b/3", "a/bc", "a0", "a.txt", "é", "zzz"}
	for _, prefix := range prefixes {
		for _, after := range afters {
			for _, delimited := range []bool{false, true} {
				opts := objstore.ListOptions{StartAfter: after, Delimited: delimited}
				infos := list(t, s, prefix, opts)
				got, want := keysOf(infos), wantList(listKeys, prefix, opts)
				if !slices.Equal(got, want) {
					t.Errorf("List(%q, %+v)\n got %q\nwant %q", prefix, opts, got, want)
					continue
				}
				for _, info := range infos {
					if st, ok := stored[info.Key]; ok && (info.Size != st.Size || info.ETag != st.ETag) {
						t.Errorf("List(%q, %+v) yields %+v, Put returned %+v", prefix, opts, info, st)
					}
				}
			}
		}
	}
}

func testListEmpty(t *testing.T, s objstore.Store) {
	for _, prefix := range []string{"", "a/", "a"} {
		for _, delimited := range []bool{false, true} {
			if infos := list(t, s, prefix, objstore.ListOptions{Delimited: delimited}); len(infos) != 0 {
				t.Errorf("List(%q) of an empty store yields %+v", prefix, infos)
			}
		}
	}
}

// testListPaging pages through listings with StartAfter, as callers do.
func testListPaging(t *testing.T, s objstore.Store) {
	putAll(t, s, listKeys)
	for _, prefix := range []string{"", "a/"} {
		for _, delimited := range []bool{false, true} {
			var got []string
			after := ""
			for {
				n := 0
				for info, err := range s.List(t.Context(), prefix, objstore.ListOptions{StartAfter: after, Delimited: delimited}) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, info.Key)
					after = info.Key
					if n++; n == 3 {
						break
					}
				}
				if n < 3 {
					break
				}
			}
			if want := wantList(listKeys, prefix, objstore.ListOptions{Delimited: delimited}); !slices.Equal(got, want) {
				t.Errorf("List(%q, delimited %v) by pages of 3\n got %q\nwant %q", prefix, delimited, got, want)
			}
		}
	}
}

// testListManyDelimited lists more entries than one S3 page (1000) holds, files
// and "directories" interleaved.
func testListManyDelimited(t *testing.T, s objstore.Store) {
	var keys []string
	for i := range 1500 {
		k := fmt.Sprintf("many/k%04d", i)
		if i%2 == 1 {
			k += "/x"
		}
		keys = append(keys, k)
	}
	putAll(t, s, keys)
	for _, opts := range []objstore.ListOptions{
		{Delimited: true},
		{Delimited: true, StartAfter: "many/k0701/"},
		{},
		{StartAfter: "many/k0701/x"},
	} {
		got := keysOf(list(t, s, "many/", opts))
		if want := wantList(keys, "many/", opts); !slices.Equal(got, want) {
			t.Errorf("List(%q, %+v): got %d entries, want %d; first difference at %s", "many/", opts, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("%d (one is a prefix of the other)", min(len(a), len(b)))
}

func testListAfterDelete(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	putAll(t, s, []string{"d/x/1", "d/x/2", "d/y/z/3", "d/w"})
	for _, k := range []string{"d/x/1", "d/x/2", "d/y/z/3"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if got := keysOf(list(t, s, "d/", objstore.ListOptions{Delimited: true})); !slices.Equal(got, []string{"d/w"}) {
		t.Errorf("delimited List(d/) after deleting d/x/* and d/y/z/3 = %q, want [d/w]", got)
	}
	if err := s.Delete(ctx, "d/w"); err != nil {
		t.Fatal(err)
	}
	for _, delimited := range []bool{false, true} {
		if got := list(t, s, "", objstore.ListOptions{Delimited: delimited}); len(got) != 0 {
			t.Errorf("List after deleting everything (delimited %v) yields %+v", delimited, got)
		}
	}
	put(t, s, "d/x/1", []byte("back"), objstore.PutOptions{IfNoneMatch: true})
	wantContent(t, s, "d/x/1", []byte("back"))
}

func testListStopEarly(t *testing.T, s objstore.Store) {
	putAll(t, s, listKeys)
	for _, delimited := range []bool{false, true} {
		n := 0
		for _, err := range s.List(t.Context(), "", objstore.ListOptions{Delimited: delimited}) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("stopped listing after %d entries, want 2", n)
		}
	}
}
