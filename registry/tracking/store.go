package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// Options tunes a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// Now replaces time.Now in tests.
	Now func() time.Time
	// ClaimGrace is how long an experiment name claim whose creation has not
	// finished blocks the name before it can be taken over (default 1m).
	ClaimGrace time.Duration
	// CacheEntries bounds the decoded experiments and runs kept to answer
	// searches without re-reading unchanged objects (default 100000).
	CacheEntries int
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.ClaimGrace <= 0 {
		r.ClaimGrace = time.Minute
	}
	if r.CacheEntries <= 0 {
		r.CacheEntries = 100000
	}
	return r
}

// Store keeps MLflow experiments, runs, metrics, logged models and the
// artifact proxy's files in an objstore.Store. It is safe for concurrent
// use, also by several processes over one bucket: every read goes to the
// store (decoded objects are cached by ETag only), creations are
// create-only writes and updates are compare-and-swap writes retried on
// conflict.
type Store struct {
	store objstore.Store
	opts  Options
	log   *slog.Logger

	// nextExperiment is a hint for the next experiment id to try.
	nextExperiment atomic.Int64
	// objects caches decoded experiments and runs by key, validated by ETag.
	objects etagCache
	// runExperiments caches run id → experiment id (immutable).
	runExperiments sync.Map
	// modelExperiments caches logged model id → experiment id (immutable).
	modelExperiments sync.Map
	// historyHints remembers the last history page seen per metric.
	historyHints sync.Map
	// stripes serialise this process's writers of one run or metric, so
	// they do not waste round trips on conflicts with each other.
	stripes [64]sync.Mutex
}

// New returns a Store over st and makes sure the default experiment "0"
// exists (idempotently, also when several processes start at once).
// logger may be nil.
func New(ctx context.Context, st objstore.Store, opts *Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{store: st, opts: opts.withDefaults(), log: logger.With("component", "tracking")}
	s.objects.max = s.opts.CacheEntries
	if err := s.ensureDefaultExperiment(ctx); err != nil {
		return nil, fmt.Errorf("tracking: create the default experiment: %w", err)
	}
	return s, nil
}

// ObjectStore returns the underlying store (the artifact proxy shares it).
func (s *Store) ObjectStore() objstore.Store { return s.store }

func (s *Store) now() int64 { return s.opts.Now().UnixMilli() }

func (s *Store) stripe(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

// maxAttempts bounds compare-and-swap retries before ErrConflict.
const maxAttempts = 50

// errNoChange, returned by a mutate function, skips the write.
var errNoChange = errors.New("no change")

func readJSON[T any](ctx context.Context, st objstore.Store, key string) (*T, string, error) {
	b, info, err := objstore.ReadAll(ctx, st, key)
	if err != nil {
		return nil, "", err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, "", fmt.Errorf("tracking: corrupt object %s: %w", key, err)
	}
	return v, info.ETag, nil
}

func putJSON(ctx context.Context, st objstore.Store, key string, v any, opts objstore.PutOptions) (objstore.Info, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return objstore.Info{}, fmt.Errorf("tracking: encode %s: %w", key, err)
	}
	opts.ContentType = "application/json"
	return st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), opts)
}

// update applies mutate to the object at key with compare-and-swap, retrying
// when another writer wins. mutate may return errNoChange to skip the write.
func update[T any](ctx context.Context, s *Store, key string, mutate func(*T) error) (*T, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		cur, etag, err := readJSON[T](ctx, s.store, key)
		if err != nil {
			return nil, err
		}
		if err := mutate(cur); err != nil {
			if errors.Is(err, errNoChange) {
				return cur, nil
			}
			return nil, err
		}
		info, err := putJSON(ctx, s.store, key, cur, objstore.PutOptions{IfMatch: etag})
		if errors.Is(err, objstore.ErrPrecondition) {
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tracking: write %s: %w", key, err)
		}
		s.objects.put(key, info.ETag, cur)
		return cur, nil
	}
	return nil, conflict(key)
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

// etagCache holds decoded objects keyed by store key and valid for one ETag.
// Values are never mutated after insertion. When full it is cleared (the
// store is the truth; the cache only saves decoding unchanged objects).
type etagCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cached
}

type cached struct {
	etag string
	v    any
}

func (c *etagCache) get(key, etag string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.etag != etag || etag == "" {
		return nil, false
	}
	return e.v, true
}

func (c *etagCache) put(key, etag string, v any) {
	if etag == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[string]cached)
	}
	c.m[key] = cached{etag, v}
}

// load reads the object at info.Key, from the cache if its ETag is unchanged.
func load[T any](ctx context.Context, s *Store, info objstore.Info) (*T, error) {
	if v, ok := s.objects.get(info.Key, info.ETag); ok {
		if t, ok := v.(*T); ok {
			return t, nil
		}
	}
	v, etag, err := readJSON[T](ctx, s.store, info.Key)
	if err != nil {
		return nil, err
	}
	s.objects.put(info.Key, etag, v)
	return v, nil
}
