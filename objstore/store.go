package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// Errors returned (wrapped) by every Store implementation. Inspect them with errors.Is.
var (
	// ErrNotFound means the key does not exist.
	ErrNotFound = errors.New("objstore: not found")
	// ErrPrecondition means a conditional write lost: the key exists (IfNoneMatch)
	// or its ETag differs from PutOptions.IfMatch (including when it does not exist).
	ErrPrecondition = errors.New("objstore: precondition failed")
	// ErrInvalidKey means the key is not a clean, relative, slash-separated path.
	ErrInvalidKey = errors.New("objstore: invalid key")
	// ErrShortWrite means the body ended before the declared size, or went past it.
	ErrShortWrite = errors.New("objstore: body does not match declared size")
)

// Info describes a stored object.
type Info struct {
	// Key is the full key of the object. In a delimited listing a "directory"
	// ends with "/" and has IsPrefix set.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ETag is an opaque version tag. It changes whenever the object is replaced;
	// pass it to PutOptions.IfMatch for compare-and-swap.
	ETag string
	// ModTime is when the object was last written.
	ModTime time.Time
	// IsPrefix marks a common prefix in a delimited listing.
	IsPrefix bool
}

// PutOptions controls a write. The zero value is an unconditional overwrite.
type PutOptions struct {
	// IfNoneMatch makes the write create-only: it fails with ErrPrecondition
	// if the key already exists.
	IfNoneMatch bool
	// IfMatch makes the write a compare-and-swap: it fails with ErrPrecondition
	// unless the object exists and its current ETag equals IfMatch.
	IfMatch string
	// ContentType is stored with the object where the backend supports it.
	ContentType string
}

// ListOptions controls a listing. The zero value lists every key under the prefix.
type ListOptions struct {
	// StartAfter skips keys that sort at or before it.
	StartAfter string
	// Delimited lists one level only: keys directly under the prefix, and each
	// deeper "directory" once as an Info with IsPrefix set and a Key ending in "/".
	Delimited bool
}

// Store is a blob store with conditional writes. Keys are slash-separated
// relative paths ("registry/models/demand/model.json"); see ValidateKey.
//
// Implementations must be safe for concurrent use, including by several
// processes over the same backing storage, and must honour ctx cancellation.
// A Put is atomic: readers see the old object or the complete new one, never a
// partial one, and a Put whose body fails or is cancelled leaves nothing behind.
// Get and Stat wrap ErrNotFound for a missing key. List yields keys in
// lexical byte order.
type Store interface {
	// Put stores size bytes read from r under key. size may be -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error)
	// Get opens the object for reading. The caller must close the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat returns the object's Info without its body.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the objects under prefix. A prefix is matched byte-wise, so
	// "a/b" matches "a/b/c" and "a/bc"; pass "a/b/" for a directory.
	List(ctx context.Context, prefix string, opts ListOptions) iter.Seq2[Info, error]
}

// RangeReader is implemented by stores that can read part of an object, which
// resumable downloads use.
type RangeReader interface {
	// GetRange reads length bytes from offset; length < 0 reads to the end.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Info, error)
}

// Composer is implemented by stores that can concatenate objects server-side,
// which resumable multipart uploads use. Every source except the last may have
// to be at least MinComposePart bytes (S3's rule).
type Composer interface {
	Compose(ctx context.Context, dst string, srcs []string, opts PutOptions) (Info, error)
}

// MinComposePart is the smallest source, except the last, that Compose accepts on S3.
const MinComposePart = 5 << 20

// ValidateKey reports whether key is acceptable to every Store: non-empty,
// at most 1024 bytes, relative, slash-separated, with no empty, "." or ".."
// segments, no backslashes and no control characters.
func ValidateKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %q: length must be 1..1024", ErrInvalidKey, key)
	}
	if strings.ContainsAny(key, "\\") {
		return fmt.Errorf("%w: %q: backslash", ErrInvalidKey, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q: control character", ErrInvalidKey, key)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("%w: %q: empty, \".\" or \"..\" segment", ErrInvalidKey, key)
		}
	}
	return nil
}

// ReadAll reads a whole (small) object.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, Info, error) {
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, Info{}, fmt.Errorf("objstore: read %s: %w", key, err)
	}
	return b, info, nil
}

// PutBytes stores b under key.
func PutBytes(ctx context.Context, s Store, key string, b []byte, opts PutOptions) (Info, error) {
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), opts)
}
