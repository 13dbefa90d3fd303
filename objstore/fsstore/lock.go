//go:build unix

package fsstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"

	"golang.org/x/sys/unix"
)

// lockStripes is how many locks the keys share. Two keys in the same stripe
// only serialise their (short) commits.
const lockStripes = 64

// locks are the per-key write locks, striped by key hash. A stripe is a
// semaphore for the goroutines of this Store, plus an exclusive flock(2) on
// the stripe's lock file for other Stores and processes. flock belongs to the
// open file description, so each Store opens its own lock files.
type locks struct {
	root    *os.Root
	stripes [lockStripes]stripe
}

type stripe struct {
	sem chan struct{} // capacity 1; holding it guards f
	f   *os.File      // opened on first use
}

func (l *locks) init(root *os.Root) {
	l.root = root
	for i := range l.stripes {
		l.stripes[i].sem = make(chan struct{}, 1)
	}
}

// lock takes key's lock and returns the function that releases it. It gives up
// when ctx is done while waiting for another goroutine of this Store; waiting
// for another process is not interruptible, but commits are short.
func (l *locks) lock(ctx context.Context, key string) (unlock func(), err error) {
	h := fnv.New32a()
	h.Write([]byte(key))
	i := h.Sum32() % lockStripes
	st := &l.stripes[i]
	select {
	case st.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() {
		if err != nil {
			<-st.sem
		}
	}()
	if st.f == nil {
		f, err := l.root.OpenFile(fmt.Sprintf("%s/%02x", lockDir, i), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock: %w", err)
		}
		st.f = f
	}
	if err := flock(st.f, unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		_ = flock(st.f, unix.LOCK_UN) // closing the Store's files also releases it
		<-st.sem
	}, nil
}

func (l *locks) close() error {
	var errs []error
	for i := range l.stripes {
		if f := l.stripes[i].f; f != nil {
			errs = append(errs, f.Close())
			l.stripes[i].f = nil
		}
	}
	return errors.Join(errs...)
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if ferr != unix.EINTR {
				return
			}
		}
	})
	return errors.Join(err, ferr)
}
