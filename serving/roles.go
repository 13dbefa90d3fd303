package serving

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Roles a loaded version plays for a request.
const (
	// RoleStable is the version the served alias points to.
	RoleStable = "stable"
	// RoleCanary is a rollout's canary, taking its step's share of traffic.
	RoleCanary = "canary"
	// RoleShadow gets a copy of the traffic; its answers are discarded.
	RoleShadow = "shadow"
	// RoleDirect marks a request that named its version explicitly.
	RoleDirect = "direct"
)

func (s *slot) ptr(role string) *atomic.Pointer[loaded] {
	switch role {
	case RoleCanary:
		return &s.canary
	case RoleShadow:
		return &s.shadow
	}
	return &s.stable
}

// find returns a loaded instance of v held by any role of s.
func (s *slot) find(v *registry.Version) *loaded {
	for _, l := range []*loaded{s.stable.Load(), s.canary.Load(), s.shadow.Load()} {
		if l != nil && sameVersion(l.version, v) {
			return l
		}
	}
	return nil
}

func (s *slot) setRoleErr(role string, err error) {
	p := &s.err
	switch role {
	case RoleCanary:
		p = &s.canaryErr
	case RoleShadow:
		p = &s.shadowErr
	}
	if err == nil {
		p.Store(nil)
		return
	}
	msg := err.Error()
	p.Store(&msg)
}

// applyRoute reads the model's rollout and shadow from the registry and
// loads or unloads the canary and the shadow to match. A canary or shadow
// that cannot be loaded takes no traffic; the stable version keeps serving
// everything, and the failure shows in Status and telemetry, where the
// rollout controller sees it.
func (m *Manager) applyRoute(ctx context.Context, s *slot) error {
	model, err := m.src.Model(ctx, s.name)
	if err != nil {
		return err
	}
	r := model.Route()
	if r.Alias != "" && r.Alias != s.ref {
		r.Canary, r.Weight = 0, 0 // a rollout to another alias than the one served here
	}
	s.route.Store(&r)
	for _, rv := range []struct {
		role    string
		version int64
	}{{RoleCanary, r.Canary}, {RoleShadow, r.Shadow}} {
		if rv.version == 0 {
			if s.ptr(rv.role).Load() != nil {
				m.unset(s, rv.role)
			}
			continue
		}
		v, err := m.src.Resolve(ctx, s.name, strconv.FormatInt(rv.version, 10))
		if err == nil {
			err = m.install(ctx, s, rv.role, v, false)
		}
		if err != nil {
			s.setRoleErr(rv.role, err)
			m.log.Warn("could not load the "+rv.role+"; the stable version serves all traffic", "model", s.name, "version", rv.version, "err", err)
		}
	}
	return nil
}

// pick chooses the version for a request: the one it names, or the canary
// for the rollout's share of traffic, else the stable one. With a routing
// key (the request's, or the rollout's sticky key) the choice is a hash of
// the key, so a key sees one version during a step, and keys only move
// from stable to canary as the weight grows.
func (s *slot) pick(req *InferRequest) (*loaded, string, error) {
	st := s.stable.Load()
	if req.Version != "" {
		for _, role := range []string{RoleStable, RoleCanary, RoleShadow} {
			if l := s.ptr(role).Load(); l != nil && l.versionString() == req.Version {
				return l, RoleDirect, nil
			}
		}
		return nil, "", fmt.Errorf("%w: version %s of model %q is not loaded (loaded: %s)", ErrModelNotFound, req.Version, req.Model, s.loadedList())
	}
	c := s.canary.Load()
	r := s.route.Load()
	if c == nil || r == nil || r.Weight <= 0 {
		return st, RoleStable, nil
	}
	if st == nil {
		return c, RoleCanary, nil
	}
	key := req.RoutingKey
	if key == "" && r.StickyKey != "" && req.Lookup != nil {
		key = req.Lookup(r.StickyKey)
	}
	var bucket uint64
	if key != "" {
		h := fnv.New64a()
		h.Write([]byte(key))
		bucket = h.Sum64() % 10000
	} else {
		bucket = rand.Uint64N(10000)
	}
	if float64(bucket) < r.Weight*100 {
		return c, RoleCanary, nil
	}
	return st, RoleStable, nil
}

func (s *slot) loadedList() string {
	out := ""
	for _, role := range []string{RoleStable, RoleCanary, RoleShadow} {
		if l := s.ptr(role).Load(); l != nil {
			if out != "" {
				out += ", "
			}
			out += l.versionString() + " (" + role + ")"
		}
	}
	if out == "" {
		return "none"
	}
	return out
}

// shadowJob is one request replayed on the shadow version.
type shadowJob struct {
	l       *loaded
	slot    *slot
	req     *InferRequest
	served  []tensor.Tensor
	version string
}

// shadowPool runs shadow requests off the request path with a bounded
// queue: when it is full, shadow copies are dropped (and counted), so a
// slow shadow never slows the served traffic.
type shadowPool struct {
	once    sync.Once
	jobs    chan shadowJob
	wg      sync.WaitGroup
	run     func(shadowJob)
	dropped func()
}

const shadowQueue = 256

func (p *shadowPool) submit(j shadowJob) {
	p.once.Do(func() {
		p.jobs = make(chan shadowJob, shadowQueue)
		for range 2 {
			p.wg.Go(func() {
				for j := range p.jobs {
					p.run(j)
				}
			})
		}
	})
	select {
	case p.jobs <- j:
	default:
		j.l.release()
		p.dropped()
	}
}

func (p *shadowPool) stop() {
	p.once.Do(func() {}) // never started: nothing to stop
	if p.jobs != nil {
		close(p.jobs)
		p.wg.Wait()
	}
}

// cloneTensors deep-copies tensors (inputs and outputs are reused after
// the response is written, but the shadow runs later).
func cloneTensors(ts []tensor.Tensor) []tensor.Tensor {
	out := make([]tensor.Tensor, len(ts))
	for i, t := range ts {
		c := tensor.Tensor{Name: t.Name, DType: t.DType, Shape: append([]int64(nil), t.Shape...)}
		if t.Raw != nil {
			c.Raw = tensor.Alloc(len(t.Raw))
			copy(c.Raw, t.Raw)
		}
		for _, s := range t.Strings {
			c.Strings = append(c.Strings, append([]byte(nil), s...))
		}
		out[i] = c
	}
	return out
}

// runShadow executes a shadow job; the answer is compared (telemetry) and dropped.
func (m *Manager) runShadow(j shadowJob) {
	defer j.l.release()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := j.l.run(ctx, j.req)
	m.observeShadow(j, resp, err, time.Since(start))
	resp.Release()
}
