//go:build unix

package fsstore

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lantern-mlops/lantern/objstore"
)

// List walks the tree depth first, one directory at a time, sorting each
// directory's entries with directories as "name/": that visits keys in
// lexical byte order. Only the directory holding the prefix's last segment is
// filtered by name; subtrees that sort entirely at or before
// opts.StartAfter are skipped without being read.
func (s *Store) List(ctx context.Context, prefix string, opts objstore.ListOptions) iter.Seq2[objstore.Info, error] {
	return func(yield func(objstore.Info, error) bool) {
		w := walker{ctx: ctx, yield: yield, opts: opts}
		i := strings.LastIndexByte(prefix, '/')
		if i < 0 {
			w.walk(s.root, "", prefix)
			return
		}
		dir, base := prefix[:i], prefix[i+1:]
		if validKey(dir) != nil {
			return // no valid key lives under an invalid or reserved directory
		}
		sub, err := openDir(s.root, dir)
		if sub == nil && err == nil {
			return
		}
		if err != nil {
			yield(objstore.Info{}, fmt.Errorf("fsstore: list %q: %w", prefix, err))
			return
		}
		defer sub.Close()
		w.walk(sub, dir+"/", base)
	}
}

type walker struct {
	ctx   context.Context
	yield func(objstore.Info, error) bool
	opts  objstore.ListOptions
}

type dirEntry struct {
	name  string
	sort  string // name, plus "/" for a directory
	isDir bool
}

// walk lists the directory r, whose keys start with rel ("" or ending in
// "/"), restricted to names starting with namePrefix. It returns false once
// the consumer has stopped or an error was yielded.
func (w *walker) walk(r *os.Root, rel, namePrefix string) bool {
	if err := w.ctx.Err(); err != nil {
		w.yield(objstore.Info{}, fmt.Errorf("fsstore: list: %w", err))
		return false
	}
	entries, err := readDir(r, rel == "", namePrefix)
	if err != nil {
		if notExist(err) {
			return true // removed while we walked
		}
		w.yield(objstore.Info{}, fmt.Errorf("fsstore: list %q: %w", rel, err))
		return false
	}
	after := w.opts.StartAfter
	for _, e := range entries {
		key := rel + e.sort
		switch {
		case e.isDir && w.opts.Delimited:
			if key <= after || !hasObjects(r, e.name) {
				continue
			}
			if !w.yield(objstore.Info{Key: key, IsPrefix: true}, nil) {
				return false
			}
		case e.isDir:
			if key <= after && !strings.HasPrefix(after, key) {
				continue // the whole subtree sorts before StartAfter
			}
			sub, err := openDir(r, e.name)
			if sub == nil && err == nil {
				continue
			}
			if err != nil {
				w.yield(objstore.Info{}, fmt.Errorf("fsstore: list %q: %w", key, err))
				return false
			}
			ok := w.walk(sub, key, "")
			sub.Close()
			if !ok {
				return false
			}
		default:
			if key <= after {
				continue
			}
			fi, err := r.Lstat(e.name)
			if notExist(err) || (err == nil && !fi.Mode().IsRegular()) {
				continue
			}
			if err != nil {
				w.yield(objstore.Info{}, fmt.Errorf("fsstore: list %q: %w", key, err))
				return false
			}
			if !w.yield(infoOf(key, fi), nil) {
				return false
			}
		}
	}
	return true
}

// readDir returns the regular files and directories of r whose names start
// with namePrefix, in key order. At the top it leaves out the store's own
// directory.
func readDir(r *os.Root, top bool, namePrefix string) ([]dirEntry, error) {
	d, err := openDirFile(r)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !strings.HasPrefix(name, namePrefix) || (top && name == sysDir) {
			continue
		}
		switch t := de.Type(); {
		case t.IsDir():
			entries = append(entries, dirEntry{name: name, sort: name + "/", isDir: true})
		case t.IsRegular():
			entries = append(entries, dirEntry{name: name, sort: name})
		}
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return cmp.Compare(a.sort, b.sort) })
	return entries, nil
}

// hasObjects reports whether the directory name in r holds at least one
// regular file, at any depth. Deletes remove the directories they empty, so
// this normally stops at the first batch of entries; it guards listings
// against directories emptied by a crash or a concurrent Delete.
func hasObjects(r *os.Root, name string) bool {
	sub, err := openDir(r, name)
	if sub == nil || err != nil {
		return false
	}
	defer sub.Close()
	d, err := openDirFile(sub)
	if err != nil {
		return false
	}
	defer d.Close()
	for {
		des, err := d.ReadDir(256)
		for _, de := range des {
			if de.Type().IsRegular() {
				return true
			}
		}
		for _, de := range des {
			if de.IsDir() && hasObjects(sub, de.Name()) {
				return true
			}
		}
		if err != nil || len(des) == 0 { // io.EOF included
			return false
		}
	}
}

// openDir opens the directory name in r as a Root. It returns nil and no
// error when name does not exist or is not a directory.
func openDir(r *os.Root, name string) (*os.Root, error) {
	sub, err := r.OpenRoot(name)
	if err == nil {
		return sub, nil
	}
	// os.Root reports a file in the way with an error that is not ENOTDIR.
	if fi, serr := r.Stat(name); notExist(err) || notExist(serr) || (serr == nil && !fi.IsDir()) {
		return nil, nil
	}
	return nil, err
}

// openDirFile opens the directory r for reading its entries.
//
// os.File.ReadDir stats every entry of a directory opened through an os.Root
// (it cannot trust a later lstat by path), which doubles the cost of a listing
// and makes skipping entries before StartAfter cost a syscall each. The file
// returned here is an unrooted duplicate of the directory's descriptor, so
// ReadDir keeps the entry types that getdents(2) reports. Only names are read
// through it, never paths, so it does not weaken the root: walk still stats
// and opens entries through r.
func openDirFile(r *os.Root) (*os.File, error) {
	d, err := r.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("dup %s: %w", d.Name(), dupErr)
	}
	return os.NewFile(uintptr(fd), d.Name()), nil
}
