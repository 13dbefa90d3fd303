package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/objstore"
)

// maxAttempts bounds compare-and-swap retries before ErrConflict.
const maxAttempts = 50

// errNoChange, returned by a mutate function, skips the write.
var errNoChange = errors.New("no change")

func readJSON[T any](ctx context.Context, st objstore.Store, key string) (*T, string, error) {
	b, info, err := objstore.ReadAll(ctx, st, key)
	if err != nil {
		return nil, "", storeErr(err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, "", fmt.Errorf("registry: corrupt object %s: %w", key, err)
	}
	return v, info.ETag, nil
}

func putJSON(ctx context.Context, st objstore.Store, key string, v any, opts objstore.PutOptions) (objstore.Info, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return objstore.Info{}, fmt.Errorf("registry: encode %s: %w", key, err)
	}
	opts.ContentType = "application/json"
	info, err := st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), opts)
	return info, storeErr(err)
}

// storeErr marks failures of the object store itself (not a missing key or
// a lost conditional write) as Unavailable, so clients get a 503 they may
// retry rather than a 500.
func storeErr(err error) error {
	if err == nil || errors.Is(err, objstore.ErrNotFound) || errors.Is(err, objstore.ErrPrecondition) || errkind.Known(err) {
		return err
	}
	return fmt.Errorf("%w: object store: %w", errkind.Unavailable, err)
}

// object is what update works on: *Model or *Version.
type object[T any] interface {
	*T
	stamp(actor, action string, now time.Time)
	clone() *T
}

// update applies mutate to the object stored at key with compare-and-swap,
// retrying when another writer wins, then applies the result to the index
// and writes its audit event. It returns the object before and after.
func update[T any, P object[T]](ctx context.Context, s *Service, key, action string, details map[string]string, mutate func(P) error) (before, after P, err error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		cur, etag, err := readJSON[T](ctx, s.store, key)
		if err != nil {
			return nil, nil, err
		}
		next := P(cur).clone()
		if err := mutate(next); err != nil {
			if errors.Is(err, errNoChange) {
				return P(cur), P(cur), nil
			}
			return nil, nil, err
		}
		P(next).stamp(actor(ctx), action, s.opts.Now())
		info, err := putJSON(ctx, s.store, key, next, objstore.PutOptions{IfMatch: etag})
		if errors.Is(err, objstore.ErrPrecondition) {
			s.metrics.conflicts.Inc()
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("registry: write %s: %w", key, err)
		}
		// The event first: a watcher woken by the index finds it in the audit log.
		s.emit(ctx, action, key, any(cur), any(next), details)
		s.apply(any(next), info.ETag)
		return P(cur), P(next), nil
	}
	return nil, nil, fmt.Errorf("%w: the object changed concurrently %d times in a row; try again", ErrConflict, maxAttempts)
}

// create writes a new object create-only and records it. It returns
// objstore.ErrPrecondition (wrapped) if the key exists.
func (s *Service) create(ctx context.Context, key, action string, obj any, details map[string]string) error {
	info, err := putJSON(ctx, s.store, key, obj, objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		return err
	}
	s.emit(ctx, action, key, nil, obj, details)
	s.apply(obj, info.ETag)
	return nil
}

func (s *Service) apply(obj any, etag string) {
	switch o := obj.(type) {
	case *Model:
		s.idx.applyModel(o, etag)
	case *Version:
		v := o.clone()
		v.Aliases, v.Name = nil, ""
		s.idx.applyVersion(v, etag)
	}
}

func backoff(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond
	if d > 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
