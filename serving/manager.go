package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
)

// Target is a model to serve: a registered model and a reference to one of
// its versions, usually an alias ("production"); "latest" and numbers work too.
type Target struct {
	Model string
	Ref   string
}

// ParseTarget reads "NAME@REF" ("NAME" alone means NAME@production).
func ParseTarget(s string) (Target, error) {
	name, ref, _ := strings.Cut(s, "@")
	if ref == "" {
		ref = "production"
	}
	if err := registry.ValidateModelName(name); err != nil {
		return Target{}, fmt.Errorf("--model %q: %w", s, err)
	}
	return Target{Model: name, Ref: ref}, nil
}

// Options configure a Manager.
type Options struct {
	// Targets are the models to serve (--model NAME@ALIAS).
	Targets []Target
	// Alias serves every model that has this alias (--alias), in addition to Targets.
	Alias string
	// Engine is "auto" (default), "native" or "onnxruntime"; EngineFor overrides it per model.
	Engine    string
	EngineFor map[string]string
	// Engines available by name. "native" should always be there.
	Engines map[string]Engine
	// Load tunes engine sessions.
	Load LoadOptions
	// Batching enables dynamic batching per model (a "*" entry applies to all).
	Batching map[string]BatchOptions
	// CacheDir keeps model files and the last served versions for offline starts.
	CacheDir string
	// ResyncInterval re-resolves every target even without watch events (default 5m).
	ResyncInterval time.Duration
	// DrainTimeout bounds how long a replaced version waits for its requests (default 30s).
	DrainTimeout time.Duration
	// StartTimeout bounds the first contact with the registry before falling back to the cache (default 10s).
	StartTimeout time.Duration
}

// Manager is the serving core: it keeps the configured models loaded at the
// versions the registry says, swaps versions without failing requests, and
// answers inference requests. It implements Backend.
type Manager struct {
	src     Source
	opts    Options
	log     *slog.Logger
	cache   *cache
	metrics *metrics

	mu    sync.RWMutex
	slots map[string]*slot // by served model name

	ready   atomic.Bool
	offline atomic.Bool
	shadows shadowPool
}

// slot holds the versions loaded for one served model: the stable one (the
// alias), and during a rollout a canary and a shadow.
type slot struct {
	name   string
	ref    string
	loadMu sync.Mutex // one load at a time per model
	stable atomic.Pointer[loaded]
	canary atomic.Pointer[loaded]
	shadow atomic.Pointer[loaded]
	route  atomic.Pointer[registry.Route]
	err    atomic.Pointer[string] // the last load failure of the stable version, for status
	// roleErr holds the last load failure of the canary and the shadow.
	canaryErr, shadowErr atomic.Pointer[string]
}

// NewManager returns a Manager; call Start, then Run.
func NewManager(src Source, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Engine == "" {
		opts.Engine = "auto"
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = 5 * time.Minute
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if _, ok := opts.Engines["native"]; !ok {
		return nil, errors.New("serving: the native engine must be available")
	}
	for _, e := range append([]string{opts.Engine}, slices.Collect(maps.Values(opts.EngineFor))...) {
		if e != "auto" && opts.Engines[e] == nil {
			return nil, fmt.Errorf("serving: engine %q is not available (have: auto, %s)", e, strings.Join(slices.Sorted(maps.Keys(opts.Engines)), ", "))
		}
	}
	c, err := newCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	m := &Manager{src: src, opts: opts, log: logger.With("component", "serving"), cache: c, slots: map[string]*slot{}}
	m.metrics = newMetrics(reg, m)
	m.shadows.run = m.runShadow
	m.shadows.dropped = func() { m.metrics.shadowDropped.Inc() }
	for _, t := range opts.Targets {
		m.slots[t.Model] = &slot{name: t.Model, ref: t.Ref}
	}
	return m, nil
}

// Start loads every target once. If the registry cannot be reached it loads
// the versions remembered in the cache and says so; Run keeps trying.
func (m *Manager) Start(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, m.opts.StartTimeout)
	err := m.resync(sctx)
	cancel()
	if err != nil && isUnreachable(err) {
		m.offline.Store(true)
		m.log.Warn("registry unreachable at start: serving the versions remembered in the local cache", "err", err, "cache", m.opts.CacheDir)
		m.loadFromCache(ctx)
	} else if err != nil {
		m.log.Error("some models could not be loaded", "err", err)
	}
	m.updateReady()
	return nil
}

// isUnreachable tells a registry that cannot be reached from one that answered with an error.
func isUnreachable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errkind.Unavailable) || !errkind.Known(err)
}

func (m *Manager) loadFromCache(ctx context.Context) {
	names := m.servedNames()
	if m.opts.Alias != "" {
		names = append(names, m.cache.rememberedModels()...)
	}
	for _, name := range names {
		cv, ok := m.cache.remembered(name)
		if !ok {
			m.log.Error("model not in the local cache either: it will be served once the registry is back", "model", name)
			continue
		}
		s := m.slotFor(name, m.refFor(name))
		if err := m.install(ctx, s, RoleStable, cv.Version, true); err != nil {
			m.log.Error("cached model could not be loaded", "model", name, "version", cv.Version.Version, "err", err)
		}
	}
}

// Run follows the registry until ctx ends: alias moves are loaded, warmed
// and swapped in; failures are retried with backoff while the current
// versions keep serving. The loaded versions stay until Close.
func (m *Manager) Run(ctx context.Context) error {
	cursor := ""
	resync := time.NewTicker(m.opts.ResyncInterval)
	defer resync.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync.C:
			if err := m.resync(ctx); err != nil {
				m.log.Warn("periodic resync failed", "err", err)
			}
			m.updateReady()
			continue
		default:
		}
		changes, next, reset, err := m.src.Watch(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			failures++
			if !m.offline.Swap(true) {
				m.log.Warn("lost the registry; still serving the loaded versions", "err", err)
			}
			sleepCtx(ctx, backoffDelay(failures))
			continue
		}
		if m.offline.Swap(false) {
			m.log.Info("registry reachable again")
			reset = true
		}
		failures = 0
		if cursor == "" || reset {
			cursor = next
			if err := m.resync(ctx); err != nil {
				m.log.Warn("resync failed", "err", err)
			}
			m.updateReady()
			continue
		}
		cursor = next
		for _, name := range m.affected(changes) {
			if err := m.refresh(ctx, name); err != nil {
				m.log.Warn("model update failed; the current version keeps serving", "model", name, "err", err)
			}
		}
		m.updateReady()
	}
}

// affected returns the served (or newly matching) models that changes touch.
func (m *Manager) affected(changes []registry.Change) []string {
	set := map[string]bool{}
	for _, c := range changes {
		if c.Model == "" {
			continue
		}
		if m.isServed(c.Model) {
			set[c.Model] = true
			continue
		}
		if m.opts.Alias != "" && c.Kind == "model" && !c.Deleted {
			if _, ok := c.Aliases[m.opts.Alias]; ok {
				set[c.Model] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (m *Manager) isServed(name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.slots[name]
	return ok
}

func (m *Manager) servedNames() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.slots))
}

func (m *Manager) refFor(name string) string {
	for _, t := range m.opts.Targets {
		if t.Model == name {
			return t.Ref
		}
	}
	return m.opts.Alias
}

func (m *Manager) slotFor(name, ref string) *slot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slots[name]
	if s == nil {
		s = &slot{name: name, ref: ref}
		m.slots[name] = s
	}
	return s
}

// resync re-resolves every target (and, with Alias, discovers models).
func (m *Manager) resync(ctx context.Context) error {
	names := m.servedNames()
	if m.opts.Alias != "" {
		more, err := m.src.ModelsWithAlias(ctx, m.opts.Alias)
		if err != nil {
			return err
		}
		for _, n := range more {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	var errs []error
	for _, name := range names {
		if err := m.refresh(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// refresh resolves one model's reference and loads the version if it changed.
func (m *Manager) refresh(ctx context.Context, name string) error {
	ref := m.refFor(name)
	v, err := m.src.Resolve(ctx, name, ref)
	if err != nil {
		if errors.Is(err, errkind.NotFound) {
			if cur := m.current(name); cur != nil {
				m.log.Warn("the reference no longer resolves; still serving the loaded version", "model", name, "ref", ref, "version", cur.version.Version, "err", err)
				return nil
			}
		}
		m.slotFor(name, ref).setErr(err)
		return err
	}
	s := m.slotFor(name, ref)
	if err := m.install(ctx, s, RoleStable, v, false); err != nil {
		return err
	}
	return m.applyRoute(ctx, s)
}

func (m *Manager) current(name string) *loaded {
	m.mu.RLock()
	s := m.slots[name]
	m.mu.RUnlock()
	if s == nil {
		return nil
	}
	return s.stable.Load()
}

func (s *slot) setErr(err error) {
	msg := err.Error()
	s.err.Store(&msg)
}

// install loads v into slot s in a role, unless that role already serves
// it, warms it up and swaps it in; the previous version drains and is
// closed once no role holds it. A version already loaded in another role
// (the canary that was just promoted) is reused, not loaded again.
func (m *Manager) install(ctx context.Context, s *slot, role string, v *registry.Version, fromCache bool) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	p := s.ptr(role)
	if cur := p.Load(); cur != nil && sameVersion(cur.version, v) {
		return nil
	}
	start := time.Now()
	l := s.find(v)
	reused := l != nil
	if l == nil {
		var err error
		if l, err = m.load(ctx, s.name, v); err != nil {
			s.setRoleErr(role, err)
			m.metrics.loadFailures.WithLabelValues(s.name).Inc()
			return err
		}
		m.metrics.loadSeconds.WithLabelValues(s.name).Observe(time.Since(start).Seconds())
	}
	old := p.Swap(l)
	s.setRoleErr(role, nil)
	if role == RoleStable {
		if err := m.cache.remember(s.name, cachedVersion{Version: v, Engine: l.engine}); err != nil {
			m.log.Warn("could not record the served version in the cache", "err", err)
		}
	}
	attrs := []any{"model", s.name, "role", role, "version", v.Version, "engine", l.engine, "load_ms", time.Since(start).Milliseconds()}
	if fromCache {
		attrs = append(attrs, "source", "local cache")
	}
	if reused {
		attrs = append(attrs, "reused", true)
	}
	if old != nil {
		attrs = append(attrs, "replaced", old.version.Version)
		m.retireUnheld(s, old)
	}
	m.log.Info("serving model version", attrs...)
	return nil
}

// unset removes the version a role holds (the canary after a rollout).
func (m *Manager) unset(s *slot, role string) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.setRoleErr(role, nil)
	if old := s.ptr(role).Swap(nil); old != nil {
		m.log.Info("stopped serving model version", "model", s.name, "role", role, "version", old.version.Version)
		m.retireUnheld(s, old)
	}
}

// retireUnheld retires l unless another role of s still holds it.
func (m *Manager) retireUnheld(s *slot, l *loaded) {
	if s.stable.Load() == l || s.canary.Load() == l || s.shadow.Load() == l {
		return
	}
	go l.retire(m.opts.DrainTimeout)
}

func sameVersion(a, b *registry.Version) bool {
	return a.Version == b.Version && modelSHA(a) == modelSHA(b)
}

func modelSHA(v *registry.Version) string {
	for _, a := range v.Artifacts {
		if a.Path == v.ModelFile {
			return a.SHA256
		}
	}
	return ""
}

// Status describes each served model for operators.
type Status struct {
	Model   string `json:"model"`
	Ref     string `json:"ref"`
	Version int64  `json:"version,omitempty"`
	Engine  string `json:"engine,omitempty"`
	Error   string `json:"error,omitempty"`
	// Canary and Shadow are the versions in those roles, with their weight
	// and load errors.
	Canary      int64   `json:"canary,omitempty"`
	Weight      float64 `json:"weight,omitempty"`
	CanaryError string  `json:"canary_error,omitempty"`
	Shadow      int64   `json:"shadow,omitempty"`
	ShadowError string  `json:"shadow_error,omitempty"`
}

// Status reports what every served model is running.
func (m *Manager) Status() []Status {
	var out []Status
	for _, name := range m.servedNames() {
		m.mu.RLock()
		s := m.slots[name]
		m.mu.RUnlock()
		st := Status{Model: name, Ref: s.ref}
		if l := s.stable.Load(); l != nil {
			st.Version, st.Engine = l.version.Version, l.engine
		}
		if e := s.err.Load(); e != nil {
			st.Error = *e
		}
		if c := s.canary.Load(); c != nil {
			st.Canary = c.version.Version
			if r := s.route.Load(); r != nil {
				st.Weight = r.Weight
			}
		}
		if e := s.canaryErr.Load(); e != nil {
			st.CanaryError = *e
		}
		if sh := s.shadow.Load(); sh != nil {
			st.Shadow = sh.version.Version
		}
		if e := s.shadowErr.Load(); e != nil {
			st.ShadowError = *e
		}
		out = append(out, st)
	}
	return out
}

// Offline reports whether the registry is currently unreachable.
func (m *Manager) Offline() bool { return m.offline.Load() }

func (m *Manager) updateReady() {
	for _, t := range m.opts.Targets {
		if m.current(t.Model) == nil {
			m.ready.Store(false)
			return
		}
	}
	m.ready.Store(true)
}

// Close unloads every version once its requests have finished (up to the
// drain timeout). Call it after the servers stopped taking requests.
func (m *Manager) Close() {
	m.ready.Store(false)
	m.mu.RLock()
	defer m.mu.RUnlock()
	var wg sync.WaitGroup
	seen := map[*loaded]bool{}
	for _, s := range m.slots {
		for _, role := range []string{RoleStable, RoleCanary, RoleShadow} {
			if l := s.ptr(role).Swap(nil); l != nil && !seen[l] {
				seen[l] = true
				wg.Go(func() { l.retire(m.opts.DrainTimeout) })
			}
		}
	}
	wg.Wait()
	m.shadows.stop()
}

func backoffDelay(failures int) time.Duration {
	d := time.Second << min(failures, 5)
	return min(d, 30*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
