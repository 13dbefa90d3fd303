package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
)

// openStore connects to the bucket of an s3:// location.
func openStore(ctx context.Context, loc location, o S3Options) (*miniostore.Store, error) {
	if o.Endpoint == "" {
		return nil, fmt.Errorf("data: %s: no S3 endpoint (set LANTERN_S3_ENDPOINT)", loc.uri)
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, fmt.Errorf("data: %s: no S3 credentials (set LANTERN_S3_ACCESS_KEY and LANTERN_S3_SECRET_KEY)", loc.uri)
	}
	return miniostore.New(ctx, miniostore.Options{
		Endpoint: o.Endpoint, Bucket: loc.bucket, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		Secure: o.Secure, Region: o.Region,
	})
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, objstore.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// openStream opens loc for reading front to back: a file, or one streaming
// GET. size is -1 if unknown.
func openStream(ctx context.Context, loc location, o S3Options) (io.ReadCloser, int64, error) {
	if !loc.s3() {
		f, err := os.Open(loc.path)
		if err != nil {
			return nil, 0, notFound(err)
		}
		size := int64(-1)
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		return f, size, nil
	}
	st, err := openStore(ctx, loc, o)
	if err != nil {
		return nil, 0, err
	}
	rc, info, err := st.Get(ctx, loc.key)
	if err != nil {
		return nil, 0, notFound(err)
	}
	return rc, info.Size, nil
}

// openReaderAt opens loc for random access: a file, or ranged GETs.
func openReaderAt(ctx context.Context, loc location, o S3Options) (io.ReaderAt, int64, func() error, error) {
	if !loc.s3() {
		f, err := os.Open(loc.path)
		if err != nil {
			return nil, 0, nil, notFound(err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		return f, fi.Size(), f.Close, nil
	}
	st, err := openStore(ctx, loc, o)
	if err != nil {
		return nil, 0, nil, err
	}
	info, err := st.Stat(ctx, loc.key)
	if err != nil {
		return nil, 0, nil, notFound(err)
	}
	return objstore.NewReaderAt(ctx, st, loc.key), info.Size, func() error { return nil }, nil
}
