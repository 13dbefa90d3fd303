//go:build unix

package fsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/lantern-mlops/lantern/objstore"
)

// Put writes the body to a staging file and renames it over key; see the
// package documentation.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: put: %w", err)
	}
	if size < -1 {
		return objstore.Info{}, fmt.Errorf("fsstore: put %s: invalid size %d", key, size)
	}
	if err := s.precheck(key, opts); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: put %s: %w", key, err)
	}
	t, err := s.createTemp()
	if err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: put %s: %w", key, err)
	}
	defer t.discard()
	if _, err := copyBody(ctx, t.f, r, size); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: put %s: %w", key, err)
	}
	return s.commit(ctx, t, key, opts, "put")
}

// Compose concatenates srcs into dst, honouring opts like Put. Sources may be
// of any size, and dst may be one of them.
func (s *Store) Compose(ctx context.Context, dst string, srcs []string, opts objstore.PutOptions) (objstore.Info, error) {
	if err := check(ctx, dst); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: compose: %w", err)
	}
	if len(srcs) == 0 {
		return objstore.Info{}, fmt.Errorf("fsstore: compose %s: no sources", dst)
	}
	for _, src := range srcs {
		if err := check(ctx, src); err != nil {
			return objstore.Info{}, fmt.Errorf("fsstore: compose %s: source: %w", dst, err)
		}
	}
	if err := s.precheck(dst, opts); err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: compose %s: %w", dst, err)
	}
	t, err := s.createTemp()
	if err != nil {
		return objstore.Info{}, fmt.Errorf("fsstore: compose %s: %w", dst, err)
	}
	defer t.discard()
	for _, src := range srcs {
		if err := s.appendFile(ctx, t.f, src); err != nil {
			return objstore.Info{}, fmt.Errorf("fsstore: compose %s: %w", dst, err)
		}
	}
	return s.commit(ctx, t, dst, opts, "compose")
}

// appendFile copies the object src to w in chunks, checking ctx between them;
// between two files the copy uses copy_file_range(2) (reflinks where the
// filesystem can).
func (s *Store) appendFile(ctx context.Context, w *os.File, src string) error {
	f, _, err := s.open(src)
	if err != nil {
		return opErr("read source", src, err)
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.CopyN(w, f, 64<<20)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		if n == 0 {
			return nil
		}
	}
}

// commit stamps, syncs and closes the staging file, then moves it to key
// under the key's lock, checking opts first.
//
// A conditional write checks its precondition before writing, before taking
// the lock and, authoritatively, under the lock; it flushes a small file only
// once it has won. Under contention most compare-and-swap attempts lose, and
// they then cost no fsync, while the winner holds the lock for the flush of a
// few bytes. A large file is flushed before the lock, and then only its
// modification time is flushed under it.
func (s *Store) commit(ctx context.Context, t *tempFile, key string, opts objstore.PutOptions, op string) (objstore.Info, error) {
	wrap := func(err error) error { return fmt.Errorf("fsstore: %s %s: %w", op, key, err) }
	conditional := opts.IfNoneMatch || opts.IfMatch != ""
	var fi fs.FileInfo
	var err error
	if conditional {
		err = s.precondition(key, opts)
		if err == nil && t.size() > syncEarly {
			err = t.f.Sync()
		}
	} else {
		fi, err = t.finish()
	}
	if err != nil {
		return objstore.Info{}, wrap(err)
	}
	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return objstore.Info{}, wrap(err)
	}
	if conditional {
		if err = s.precondition(key, opts); err == nil {
			fi, err = t.finish()
		}
	}
	if err == nil {
		err = s.rename(t.name, key)
	}
	unlock()
	if err != nil {
		return objstore.Info{}, wrap(err)
	}
	t.name = "" // moved: nothing to discard
	if err := s.syncDir(path.Dir(key)); err != nil {
		return objstore.Info{}, wrap(fmt.Errorf("sync directory: %w", err))
	}
	return infoOf(key, fi), nil
}

// syncEarly is the size above which a conditional write flushes its data
// before taking the lock.
const syncEarly = 1 << 20

// precheck is precondition for conditional writes, and nothing otherwise.
func (s *Store) precheck(key string, opts objstore.PutOptions) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	return s.precondition(key, opts)
}

// precondition checks opts against the current object at key. Only a check
// made under key's lock, which every writer of key takes, is authoritative:
// then the check and the rename that follows are atomic together. (A hard link
// would make create-only atomic without the lock, but compare-and-swap needs
// the lock anyway, and rename works on filesystems without hard links.)
func (s *Store) precondition(key string, opts objstore.PutOptions) error {
	fi, err := s.root.Lstat(key)
	if err != nil && !notExist(err) {
		return err
	}
	exists := err == nil && fi.Mode().IsRegular()
	switch {
	case opts.IfMatch != "" && !exists:
		return fmt.Errorf("%w: object does not exist", objstore.ErrPrecondition)
	case opts.IfMatch != "" && etagOf(fi) != opts.IfMatch:
		return fmt.Errorf("%w: ETag is %s, not %s", objstore.ErrPrecondition, etagOf(fi), opts.IfMatch)
	case opts.IfNoneMatch && exists:
		return fmt.Errorf("%w: object exists", objstore.ErrPrecondition)
	}
	return nil
}

// rename moves tmp to key, creating key's parent directories. It retries when
// a concurrent Delete removes a parent that has just become empty.
func (s *Store) rename(tmp, key string) error {
	dir := path.Dir(key)
	for attempt := 0; ; attempt++ {
		err := s.root.Rename(tmp, key)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EISDIR), errors.Is(err, fs.ErrExist):
			return fmt.Errorf("key is a prefix of other objects: %w", err)
		case errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("a parent of the key is an object: %w", err)
		case !errors.Is(err, fs.ErrNotExist) || dir == "." || attempt == 10:
			return err
		}
		if err := s.root.MkdirAll(dir, 0o777); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("a parent of the key is an object: %w", err)
			}
			return err
		}
	}
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempFile is a staging file under tmpDir.
type tempFile struct {
	root *os.Root
	name string   // relative to root; "" once moved
	f    *os.File // nil once closed
}

func (s *Store) createTemp() (*tempFile, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	name := tmpDir + "/" + hex.EncodeToString(b[:])
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, err
	}
	return &tempFile{root: s.root, name: name, f: f}, nil
}

// finish gives the file a fresh modification time (see nextStamp), flushes it
// to disk and closes it, returning its final FileInfo.
func (t *tempFile) finish() (fs.FileInfo, error) {
	mtime := nextStamp()
	if err := t.root.Chtimes(t.name, mtime, mtime); err != nil {
		return nil, err
	}
	if err := t.f.Sync(); err != nil {
		return nil, err
	}
	fi, err := t.f.Stat()
	if err != nil {
		return nil, err
	}
	err = t.f.Close()
	t.f = nil
	return fi, err
}

// size returns the file's size so far, or -1.
func (t *tempFile) size() int64 {
	fi, err := t.f.Stat()
	if err != nil {
		return -1
	}
	return fi.Size()
}

// discard closes the file and removes it unless it was moved into place.
func (t *tempFile) discard() {
	if t.f != nil {
		t.f.Close()
	}
	if t.name != "" {
		_ = t.root.Remove(t.name)
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyBody copies r to w. With size >= 0 it insists on exactly size bytes,
// returning ErrShortWrite otherwise; it returns ctx's error once ctx is done.
func copyBody(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := buf
		if size >= 0 {
			rem := size - n
			if rem == 0 {
				return n, expectEOF(r, size)
			}
			p = p[:min(int64(len(p)), rem)]
		}
		m, rerr := r.Read(p)
		if m > 0 {
			if _, err := w.Write(p[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		switch {
		case rerr == io.EOF && size >= 0 && n < size:
			return n, fmt.Errorf("%w: body ended after %d of %d bytes", objstore.ErrShortWrite, n, size)
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("read body: %w", rerr)
		}
	}
}

// expectEOF checks that r has no more than the size bytes already read.
func expectEOF(r io.Reader, size int64) error {
	var one [1]byte
	m, err := io.ReadFull(r, one[:])
	switch {
	case m > 0:
		return fmt.Errorf("%w: body longer than %d bytes", objstore.ErrShortWrite, size)
	case err == io.EOF:
		return nil
	default:
		return fmt.Errorf("read body: %w", err)
	}
}
