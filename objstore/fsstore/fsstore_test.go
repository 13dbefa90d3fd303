package fsstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/objstore/objstoretest"
)

func open(t testing.TB, dir string) *fsstore.Store {
	t.Helper()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB) *fsstore.Store { return open(t, t.TempDir()) }

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newStore(t) })
}

func BenchmarkStore(b *testing.B) {
	objstoretest.Bench(b, func(b *testing.B) objstore.Store { return newStore(b) })
}

// increment adds one to the counter at key with a read-modify-CAS loop.
func increment(ctx context.Context, s objstore.Store, key string) error {
	for {
		b, info, err := objstore.ReadAll(ctx, s, key)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return fmt.Errorf("counter holds %q", b)
		}
		_, err = objstore.PutBytes(ctx, s, key, fmt.Appendf(nil, "%08d", n+1), objstore.PutOptions{IfMatch: info.ETag})
		if !errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
	}
}

func readCounter(t *testing.T, s objstore.Store) int {
	t.Helper()
	b, _, err := objstore.ReadAll(t.Context(), s, "counter")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCASAcrossStores races two Stores over one directory: they share no
// memory, only the lock files.
func TestCASAcrossStores(t *testing.T) {
	dir := t.TempDir()
	stores := []*fsstore.Store{open(t, dir), open(t, dir)}
	if _, err := objstore.PutBytes(t.Context(), stores[0], "counter", []byte("00000000"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() { incrementMany(t, s) })
	}
	wg.Wait()
	if got, want := readCounter(t, stores[1]), len(stores)*workers*increments; got != want {
		t.Fatalf("counter = %d, want %d", got, want)
	}
}

// TestCASAcrossProcesses races this process against copies of the test binary.
func TestCASAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := objstore.PutBytes(t.Context(), s, "counter", []byte("00000000"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const procs = 3 // including this one
	var cmds []*exec.Cmd
	for range procs - 1 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCASWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FSSTORE_WORKER_DIR="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	incrementMany(t, s)
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker process: %v", err)
		}
	}
	if got, want := readCounter(t, s), procs*workers*increments; got != want {
		t.Fatalf("counter = %d, want %d", got, want)
	}
}

// TestCASWorker is a child process of TestCASAcrossProcesses.
func TestCASWorker(t *testing.T) {
	dir := os.Getenv("FSSTORE_WORKER_DIR")
	if dir == "" {
		t.Skip("run by TestCASAcrossProcesses")
	}
	incrementMany(t, open(t, dir))
}

const workers, increments = 4, 25

// incrementMany increments the counter from several goroutines.
func incrementMany(t *testing.T, s objstore.Store) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				if err := increment(t.Context(), s, "counter"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestETagsNeverRepeat rewrites an object of a fixed size, deleting it in
// between so that the filesystem reuses inodes: no ETag may come back.
func TestETagsNeverRepeat(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	seen := map[string]int{}
	for i := range 200 {
		info, err := objstore.PutBytes(ctx, s, "k", fmt.Appendf(nil, "%04d", i), objstore.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := seen[info.ETag]; dup {
			t.Fatalf("write %d got ETag %q of write %d", i, info.ETag, j)
		}
		seen[info.ETag] = i
		if i%2 == 0 {
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRootEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := open(t, dir)
	for link, target := range map[string]string{
		"abs":      outside,
		"rel":      "../" + filepath.Base(outside),
		"file":     secret,
		"deep/rel": "../../" + filepath.Base(outside),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, link)), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	for _, key := range []string{"abs/secret", "rel/secret", "file", "deep/rel/secret"} {
		if _, _, err := s.Get(ctx, key); err == nil {
			t.Errorf("Get(%q) read outside the root", key)
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) reached outside the root", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			if _, err := os.Stat(secret); err != nil {
				t.Fatalf("Delete(%q) removed a file outside the root", key)
			}
		}
	}
	for _, key := range []string{"abs/new", "rel/new", "deep/rel/new"} {
		if _, err := objstore.PutBytes(ctx, s, key, []byte("x"), objstore.PutOptions{}); err == nil {
			t.Errorf("Put(%q) wrote outside the root", key)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Fatalf("secret = %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Fatalf("files appeared outside the root: %v", entries)
	}
	for info, err := range s.List(ctx, "", objstore.ListOptions{}) {
		t.Errorf("List yields %+v, %v: symlinks are not objects", info, err)
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	tmp := filepath.Join(dir, ".fsstore", "tmp")
	old, fresh := filepath.Join(tmp, "crashed"), filepath.Join(tmp, "in-flight")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale staging file survived New: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("New removed a recent staging file, maybe another writer's: %v", err)
	}
	for _, delimited := range []bool{false, true} {
		for info, err := range s.List(t.Context(), "", objstore.ListOptions{Delimited: delimited}) {
			t.Errorf("List yields %+v, %v: the staging area is not part of the store", info, err)
		}
	}
}

func TestReservedKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, key := range []string{".fsstore", ".fsstore/tmp/x", ".fsstore/locks/00"} {
		if _, err := objstore.PutBytes(ctx, s, key, []byte("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{".fsstorex", ".hidden/a", "a/.fsstore"} {
		if _, err := objstore.PutBytes(ctx, s, key, []byte("x"), objstore.PutOptions{}); err != nil {
			t.Errorf("Put(%q): %v", key, err)
		}
	}
	var keys []string
	for info, err := range s.List(ctx, "", objstore.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if want := []string{".fsstorex", ".hidden/a", "a/.fsstore"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

// TestKeyConflicts: a key cannot also be the "directory" of other keys.
func TestKeyConflicts(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putOK := func(key string) {
		if _, err := objstore.PutBytes(ctx, s, key, []byte(key), objstore.PutOptions{}); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	putOK("x/y")
	putOK("p/q/r")
	for _, opts := range []objstore.PutOptions{{}, {IfNoneMatch: true}} {
		for _, key := range []string{"x/y/z", "p/q"} {
			_, err := objstore.PutBytes(ctx, s, key, []byte("conflict"), opts)
			if err == nil || errors.Is(err, objstore.ErrPrecondition) {
				t.Errorf("Put(%q, %+v) = %v, want a conflict error", key, opts, err)
			}
		}
	}
	for _, key := range []string{"x/y", "p/q/r"} {
		if b, _, err := objstore.ReadAll(ctx, s, key); err != nil || string(b) != key {
			t.Errorf("%s = %q, %v after conflicting writes", key, b, err)
		}
	}
}

func TestDeleteRemovesEmptyDirs(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	for _, k := range []string{"a/b/c/1", "a/b/2"} {
		if _, err := objstore.PutBytes(ctx, s, k, []byte("x"), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a/b/c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a/b/c still exists after deleting its only object: %v", err)
	}
	if err := s.Delete(ctx, "a/b/2"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 || entries[0].Name() != ".fsstore" {
		t.Errorf("root holds %v, %v after deleting everything; want only .fsstore", entries, err)
	}
}

func TestNewErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file} {
		if s, err := fsstore.New(dir); err == nil {
			s.Close()
			t.Errorf("New(%q) succeeded", dir)
		}
	}
}

// TestGetIsSnapshot: a reader keeps the version it opened.
func TestGetIsSnapshot(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := objstore.PutBytes(ctx, s, "k", []byte("old"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := objstore.PutBytes(ctx, s, "k", []byte("new"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || string(b) != "old" {
		t.Fatalf("read %q, %v; want the version opened", b, err)
	}
}

// BenchmarkList lists 10,000 keys in one directory.
func BenchmarkList(b *testing.B) {
	dir := b.TempDir()
	s := open(b, dir)
	const n = 10_000
	if err := os.MkdirAll(filepath.Join(dir, "many"), 0o777); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "many", fmt.Sprintf("k%05d", i)), []byte("x"), 0o666); err != nil {
			b.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		opts objstore.ListOptions
		want int
	}{
		{"all", objstore.ListOptions{}, n},
		{"delimited", objstore.ListOptions{Delimited: true}, n},
		{"after last 100", objstore.ListOptions{StartAfter: fmt.Sprintf("many/k%05d", n-101)}, 100},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				got := 0
				for _, err := range s.List(b.Context(), "many/", tt.opts) {
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != tt.want {
					b.Fatalf("listed %d keys, want %d", got, tt.want)
				}
			}
		})
	}
}
