//go:build unix

package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

const (
	sysDir  = ".fsstore"        // the store's own state, hidden from keys and listings
	tmpDir  = sysDir + "/tmp"   // staging files
	lockDir = sysDir + "/locks" // flock(2) targets

	// staleAge is how old a staging file must be before New removes it as
	// left over by a crash. A live Put touches its file with every write.
	staleAge = 10 * time.Minute
)

// Store is an objstore.Store over a local directory. It is safe for concurrent
// use, including by several Stores and processes on the same directory.
type Store struct {
	root  *os.Root
	dir   string // absolute path of the root, for messages
	locks locks
}

var (
	_ objstore.Store       = (*Store)(nil)
	_ objstore.RangeReader = (*Store)(nil)
	_ objstore.Composer    = (*Store)(nil)
	_ io.Closer            = (*Store)(nil)
)

// New opens the store rooted at dir, creating the directory if needed, and
// removes staging files left over by crashed writers.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsstore: empty root directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: %w", err)
	}
	if err := os.MkdirAll(abs, 0o777); err != nil {
		return nil, fmt.Errorf("fsstore: create root: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open root: %w", err)
	}
	s := &Store{root: root, dir: abs}
	s.locks.init(root)
	if err := s.init(time.Now().Add(-staleAge)); err != nil {
		root.Close()
		return nil, fmt.Errorf("fsstore: open %s: %w", abs, err)
	}
	return s, nil
}

func (s *Store) init(staleBefore time.Time) error {
	for _, d := range []string{tmpDir, lockDir} {
		if err := s.root.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := s.checkTimestamps(); err != nil {
		return err
	}
	return s.removeStale(staleBefore)
}

// checkTimestamps makes sure the filesystem keeps modification times to the
// microsecond, which the ETag scheme relies on.
func (s *Store) checkTimestamps() error {
	t, err := s.createTemp()
	if err != nil {
		return err
	}
	defer t.discard()
	want := time.Unix(1_000_000_000, 123_456_000)
	if err := s.root.Chtimes(t.name, want, want); err != nil {
		return err
	}
	fi, err := t.f.Stat()
	if err != nil {
		return err
	}
	if got := fi.ModTime(); !got.Equal(want) {
		return fmt.Errorf("filesystem does not keep modification times to the microsecond (set %v, read %v); "+
			"fsstore needs them for safe compare-and-swap", want.UTC(), got.UTC())
	}
	return nil
}

// removeStale deletes staging files last modified before cutoff.
func (s *Store) removeStale(cutoff time.Time) error {
	d, err := s.root.Open(tmpDir)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := tmpDir + "/" + name
		if fi, err := s.root.Lstat(p); err == nil && fi.ModTime().Before(cutoff) {
			_ = s.root.Remove(p)
		}
	}
	return nil
}

// Close releases the root directory and the lock files. It must not be called
// while other methods are running; the Store is unusable afterwards.
func (s *Store) Close() error {
	return errors.Join(s.locks.close(), s.root.Close())
}

// String returns "fsstore:" and the root directory.
func (s *Store) String() string { return "fsstore:" + s.dir }

// Stat returns the object's Info.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: stat: %w", err)
	}
	fi, err := s.root.Stat(key)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist // a directory is a prefix, not an object
	}
	if err != nil {
		return objstore.Info{}, opErr("stat", key, err)
	}
	return infoOf(key, fi), nil
}

// Get opens the object. The reader is an *os.File, so it supports io.ReaderAt
// and io.Seeker, and keeps reading the version it opened even if the object is
// replaced or deleted meanwhile.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return nil, objstore.Info{}, fmt.Errorf("fsstore: get: %w", err)
	}
	f, info, err := s.open(key)
	if err != nil {
		return nil, objstore.Info{}, opErr("get", key, err)
	}
	return f, info, nil
}

// GetRange reads length bytes from offset, or to the end when length < 0.
// A range past the end of the object is cut short; past the end it is empty.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return nil, objstore.Info{}, fmt.Errorf("fsstore: get range: %w", err)
	}
	if offset < 0 {
		return nil, objstore.Info{}, fmt.Errorf("fsstore: get range %s: negative offset %d", key, offset)
	}
	f, info, err := s.open(key)
	if err != nil {
		return nil, objstore.Info{}, opErr("get range", key, err)
	}
	offset = min(offset, info.Size)
	if length < 0 || length > info.Size-offset {
		length = info.Size - offset
	}
	return &sectionReadCloser{io.NewSectionReader(f, offset, length), f}, info, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// open opens key for reading. It refuses non-regular files, and opens
// without blocking so that a FIFO planted in the tree cannot hang it.
func (s *Store) open(key string) (*os.File, objstore.Info, error) {
	f, err := s.root.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, objstore.Info{}, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, objstore.Info{}, err
	}
	return f, infoOf(key, fi), nil
}

// Delete removes the object and then any directories it leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("fsstore: delete: %w", err)
	}
	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	fi, err := s.root.Lstat(key)
	removed := false
	if err == nil && !fi.IsDir() {
		err = s.root.Remove(key)
		removed = err == nil
	}
	unlock()
	if err != nil && !notExist(err) {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	if removed {
		s.removeEmptyDirs(path.Dir(key))
	}
	return nil
}

// removeEmptyDirs removes dir and its parents up to the root while they are
// empty. It races harmlessly with writers: a writer whose directory vanishes
// recreates it (see Store.rename).
func (s *Store) removeEmptyDirs(dir string) {
	for ; dir != "." && dir != "/"; dir = path.Dir(dir) {
		if err := s.root.Remove(dir); err != nil {
			return
		}
	}
}

// check validates key and ctx before an operation.
func check(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// validKey is objstore.ValidateKey, plus the store's reserved directory.
func validKey(key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	if key == sysDir || strings.HasPrefix(key, sysDir+"/") {
		return fmt.Errorf("%w: %q: %s is reserved by fsstore", objstore.ErrInvalidKey, key, sysDir)
	}
	return nil
}

// opErr wraps a filesystem error, turning "no such file" into ErrNotFound.
func opErr(op, key string, err error) error {
	if notExist(err) {
		return fmt.Errorf("fsstore: %s %s: %w", op, key, objstore.ErrNotFound)
	}
	return fmt.Errorf("fsstore: %s %s: %w", op, key, err)
}

// notExist reports whether err means the path does not exist, including
// when one of its parents is a file.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func infoOf(key string, fi fs.FileInfo) objstore.Info {
	return objstore.Info{Key: key, Size: fi.Size(), ETag: etagOf(fi), ModTime: fi.ModTime()}
}

// etagOf derives the ETag from inode, modification time and size; see the
// package documentation for why that is enough.
func etagOf(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	b := make([]byte, 0, 40)
	b = strconv.AppendUint(b, ino, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 36)
	return string(b)
}

// lastStamp is the last modification time given to a written file, in
// nanoseconds since the epoch.
var lastStamp atomic.Int64

// nextStamp returns the modification time for a new file: now, truncated to
// the microsecond, and strictly later than every earlier stamp of the process.
func nextStamp() time.Time {
	for {
		last := lastStamp.Load()
		next := time.Now().Truncate(time.Microsecond).UnixNano()
		if next <= last {
			next = last + int64(time.Microsecond)
		}
		if lastStamp.CompareAndSwap(last, next) {
			return time.Unix(0, next)
		}
	}
}
