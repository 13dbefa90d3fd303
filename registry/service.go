package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/objstore"
)

// Options tunes a Service. The zero value (or nil) gives the defaults.
type Options struct {
	// PollInterval is how often the event feed is read for other processes'
	// changes (default 1s).
	PollInterval time.Duration
	// ReconcileInterval is how often the index is checked against a full
	// listing of the metadata, and the janitor runs (default 1m).
	ReconcileInterval time.Duration
	// FeedLookback is how far back the feed is re-listed to catch events
	// whose write finished late (default 30s). Clocks of the registry
	// processes must agree to well within it.
	FeedLookback time.Duration
	// LeaseTTL is how long an upload may go without renewing its lease
	// before its files are garbage-collected (default 10m).
	LeaseTTL time.Duration
	// OrphanGrace is how old unreferenced artifact folders without a lease
	// must be before they are deleted (default 1h).
	OrphanGrace time.Duration
	// MaxArtifactSize bounds one artifact file (default 16 GiB).
	MaxArtifactSize int64
	// Now replaces time.Now in tests.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.PollInterval, time.Second)
	def(&r.ReconcileInterval, time.Minute)
	def(&r.FeedLookback, 30*time.Second)
	def(&r.LeaseTTL, 10*time.Minute)
	def(&r.OrphanGrace, time.Hour)
	if r.MaxArtifactSize <= 0 {
		r.MaxArtifactSize = 16 << 30
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

// Service is the model registry. It is safe for concurrent use. Create it
// with New and run its background loops with Run.
type Service struct {
	store   objstore.Store
	opts    Options
	log     *slog.Logger
	metrics *metrics
	idx     *index
	feed    feedState
	// repaired remembers event keys already checked by repairEvents.
	repaired keySet
	// events caches audit events read back from the store.
	events eventCache
	// incarnation distinguishes watch cursors of different process lifetimes.
	incarnation string
	ready       atomic.Bool
	// createMu serialises in-process creation per model id so local writers
	// do not waste round trips on version-number conflicts.
	createMu sync.Map // model id -> *sync.Mutex
}

// New loads the registry's index from store and returns a ready Service.
// logger and reg may be nil.
func New(ctx context.Context, store objstore.Store, opts *Options, logger *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store:       store,
		opts:        opts.withDefaults(),
		log:         logger.With("component", "registry"),
		idx:         newIndex(),
		incarnation: randomID(8),
	}
	s.metrics = newMetrics(reg, s)
	start := time.Now()
	// Start following the feed from before the listing, so nothing written
	// during the initial load is missed.
	s.feed.watermark = s.opts.Now().Add(-s.opts.FeedLookback)
	if _, err := s.reconcile(ctx); err != nil {
		return nil, fmt.Errorf("registry: load index: %w", err)
	}
	s.ready.Store(true)
	s.log.Info("registry index loaded", "models", s.metrics.liveModels(), "duration", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// Ready reports whether the index is loaded.
func (s *Service) Ready() bool { return s.ready.Load() }

// Run follows the event feed and runs reconciliation and the janitor until
// ctx is done.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.NewTicker(s.opts.PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if err := s.pollFeed(ctx); err != nil && ctx.Err() == nil {
					s.metrics.feedErrors.Inc()
					s.log.Warn("event feed poll failed", "err", err)
				}
			}
		}
	})
	g.Go(func() error {
		t := time.NewTicker(s.opts.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if err := s.Janitor(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("janitor pass failed", "err", err)
				}
			}
		}
	})
	return g.Wait()
}

// Janitor reconciles the index with the store, rebuilds lost events, and
// garbage-collects abandoned uploads and deleted versions' files. Run calls
// it periodically; it is safe to call concurrently with anything, from any
// number of processes.
func (s *Service) Janitor(ctx context.Context) error {
	recent, err := s.reconcile(ctx)
	if err != nil {
		return err
	}
	return errors.Join(
		s.repairEvents(ctx, recent),
		s.purgeDeleted(ctx),
		s.collectLeases(ctx),
		s.collectOrphans(ctx),
		s.collectUploads(ctx),
	)
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

type ctxKey int

const (
	actorKey ctxKey = iota
	reasonKey
	requestIDKey
)

// WithActor returns a context whose writes are attributed to actor in the audit log.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// WithReason returns a context whose writes carry reason in the audit log
// (rollouts record the numbers that decided a promotion this way).
func WithReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, reasonKey, reason)
}

// WithRequestID returns a context whose writes carry the request id in the audit log.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func ctxString(ctx context.Context, k ctxKey) string {
	s, _ := ctx.Value(k).(string)
	return s
}

func actor(ctx context.Context) string {
	if a := ctxString(ctx, actorKey); a != "" {
		return a
	}
	return "system"
}
