package objstore

import (
	"context"
	"fmt"
	"io"
)

// NewReaderAt returns an io.ReaderAt over a stored object: each ReadAt is
// one ranged read when the store implements RangeReader, else a read from
// the start (slow; for small objects only).
func NewReaderAt(ctx context.Context, s Store, key string) io.ReaderAt {
	return &readerAt{ctx: ctx, s: s, key: key}
}

type readerAt struct {
	ctx context.Context
	s   Store
	key string
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	var rc io.ReadCloser
	var err error
	if rr, ok := r.s.(RangeReader); ok {
		rc, _, err = rr.GetRange(r.ctx, r.key, off, int64(len(p)))
	} else if rc, _, err = r.s.Get(r.ctx, r.key); err == nil {
		if _, err = io.CopyN(io.Discard, rc, off); err != nil {
			rc.Close()
			return 0, fmt.Errorf("objstore: read %s at %d: %w", r.key, off, err)
		}
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
