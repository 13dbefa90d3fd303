package miniostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lantern-mlops/lantern/objstore"
)

// Store is an objstore.Store over a MinIO or S3 bucket. It is safe for
// concurrent use.
type Store struct {
	endpoint string // for messages
	// core retries idempotent requests; once never retries, and carries the
	// conditional writes (see the package documentation).
	core, once minio.Core
	bucket     string
	prefix     string // "" or ending in "/"
	partSize   int64
	bufs       sync.Pool // *[]byte of partSize
}

var (
	_ objstore.Store       = (*Store)(nil)
	_ objstore.RangeReader = (*Store)(nil)
	_ objstore.Composer    = (*Store)(nil)
)

// New connects to the server and checks that the bucket exists, creating it
// if opts.CreateBucket is set.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	transport, err := minio.DefaultTransport(opts.Secure)
	if err != nil {
		return nil, fmt.Errorf("miniostore: %w", err)
	}
	client := func(retries int) (minio.Core, error) {
		c, err := minio.New(opts.Endpoint, &minio.Options{
			Creds:      credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
			Secure:     opts.Secure,
			Region:     opts.Region,
			Transport:  transport,
			MaxRetries: retries,
		})
		return minio.Core{Client: c}, err
	}
	s := &Store{endpoint: opts.Endpoint, bucket: opts.Bucket, partSize: opts.PartSize}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if opts.Prefix != "" {
		s.prefix = strings.TrimSuffix(opts.Prefix, "/") + "/"
	}
	s.bufs.New = func() any { b := make([]byte, s.partSize); return &b }
	if s.core, err = client(0); err != nil { // 0: minio-go's default retries
		return nil, fmt.Errorf("miniostore: %w", err)
	}
	if s.once, err = client(1); err != nil {
		return nil, fmt.Errorf("miniostore: %w", err)
	}
	if err := s.checkBucket(ctx, opts.CreateBucket, opts.Region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) checkBucket(ctx context.Context, create bool, region string) error {
	where := fmt.Sprintf("bucket %q at %s", s.bucket, s.endpoint)
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		if resp, isS3 := s3Error(err); isS3 {
			switch resp.Code {
			case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
				return fmt.Errorf("miniostore: %s: access denied, check AccessKey and SecretKey: %w", where, err)
			}
		}
		return fmt.Errorf("miniostore: %s: %w", where, err)
	}
	if ok {
		return nil
	}
	if !create {
		return fmt.Errorf("miniostore: %s does not exist (create it, or set CreateBucket)", where)
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if resp, _ := s3Error(err); err != nil && resp.Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("miniostore: create %s: %w", where, err)
	}
	return nil
}

// String describes the store, without credentials.
func (s *Store) String() string {
	return fmt.Sprintf("miniostore:%s/%s/%s", s.endpoint, s.bucket, s.prefix)
}

// Stat returns the object's Info.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("miniostore: stat: %w", err)
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return objstore.Info{}, s.opErr(ctx, "stat", key, err)
	}
	return objstore.Info{Key: key, Size: oi.Size, ETag: oi.ETag, ModTime: oi.LastModified}, nil
}

// Get opens the object with a single GET request.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return nil, objstore.Info{}, fmt.Errorf("miniostore: get: %w", err)
	}
	rc, oi, _, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, objstore.Info{}, s.opErr(ctx, "get", key, err)
	}
	return rc, objstore.Info{Key: key, Size: oi.Size, ETag: oi.ETag, ModTime: oi.LastModified}, nil
}

// GetRange reads length bytes from offset, or to the end when length < 0.
// A range past the end of the object is cut short; past the end it is empty.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return nil, objstore.Info{}, fmt.Errorf("miniostore: get range: %w", err)
	}
	if offset < 0 {
		return nil, objstore.Info{}, fmt.Errorf("miniostore: get range %s: negative offset %d", key, offset)
	}
	empty := func() (io.ReadCloser, objstore.Info, error) {
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, objstore.Info{}, err
		}
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	var opts minio.GetObjectOptions
	switch {
	case length == 0:
		return empty()
	case offset == 0 && length < 0: // the whole object
	case length < 0:
		_ = opts.SetRange(offset, 0) // bytes=offset-
	default:
		_ = opts.SetRange(offset, offset+length-1)
	}
	rc, oi, h, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, opts)
	if resp, _ := s3Error(err); resp.Code == "InvalidRange" || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return empty() // offset at or past the end (S3 also refuses any range of an empty object)
	}
	if err != nil {
		return nil, objstore.Info{}, s.opErr(ctx, "get range", key, err)
	}
	info := objstore.Info{Key: key, Size: oi.Size, ETag: oi.ETag, ModTime: oi.LastModified}
	if cr := h.Get("Content-Range"); cr != "" { // "bytes 0-9/1000"
		total, err := strconv.ParseInt(cr[strings.LastIndexByte(cr, '/')+1:], 10, 64)
		if err != nil {
			rc.Close()
			return nil, objstore.Info{}, fmt.Errorf("miniostore: get range %s: bad Content-Range %q", key, cr)
		}
		info.Size = total
	}
	return rc, info, nil
}

// Delete removes the object; S3 deletes of missing keys succeed.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("miniostore: delete: %w", err)
	}
	if err := s.core.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return s.opErr(ctx, "delete", key, err)
	}
	return nil
}

func check(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// s3Error returns the S3 error in err's chain.
func s3Error(err error) (minio.ErrorResponse, bool) {
	var resp minio.ErrorResponse
	ok := errors.As(err, &resp)
	return resp, ok
}

// opErr wraps an error of a read or delete, mapping "no such key" to
// objstore.ErrNotFound and preferring ctx's error once ctx is done.
func (s *Store) opErr(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("miniostore: %s %s: %w", op, key, ctxErr)
	}
	if resp, ok := s3Error(err); ok && isNotFound(resp) {
		return fmt.Errorf("miniostore: %s %s: %w", op, key, objstore.ErrNotFound)
	}
	return fmt.Errorf("miniostore: %s %s: %w", op, key, err)
}

// writeErr wraps an error of a write, mapping failed preconditions (and, with
// IfMatch, a missing key) to objstore.ErrPrecondition.
func (s *Store) writeErr(ctx context.Context, op, key string, err error, opts objstore.PutOptions) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("miniostore: %s %s: %w", op, key, ctxErr)
	}
	if resp, ok := s3Error(err); ok {
		switch {
		case isPreconditionFailed(resp):
			return fmt.Errorf("miniostore: %s %s: %w", op, key, objstore.ErrPrecondition)
		case opts.IfMatch != "" && isNotFound(resp):
			return fmt.Errorf("miniostore: %s %s: %w: object does not exist", op, key, objstore.ErrPrecondition)
		}
	}
	return fmt.Errorf("miniostore: %s %s: %w", op, key, err)
}

func isNotFound(resp minio.ErrorResponse) bool {
	return resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion"
}

func isPreconditionFailed(resp minio.ErrorResponse) bool {
	return resp.Code == "PreconditionFailed" || resp.Code == "ConditionalRequestConflict" ||
		resp.StatusCode == http.StatusPreconditionFailed
}

// infoOf builds the Info of a completed write. S3 does not return the time of
// a write, so ModTime is the client's clock unless the response had one.
func infoOf(key string, size int64, ui minio.UploadInfo) objstore.Info {
	mt := ui.LastModified
	if mt.IsZero() {
		mt = time.Now()
	}
	return objstore.Info{Key: key, Size: size, ETag: ui.ETag, ModTime: mt}
}
