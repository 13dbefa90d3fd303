package serving

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

var _ Backend = (*Manager)(nil)

// Infer implements Backend.
func (m *Manager) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	start := time.Now()
	l, role, err := m.route(req)
	if err != nil {
		m.metrics.observe(req, "", codeOf(err), time.Since(start))
		return nil, err
	}

	defer l.release()
	if err := l.check(req); err != nil {
		m.metrics.observe(req, l.versionString(), codeOf(err), time.Since(start))
		return nil, err
	}
	var resp *InferResponse
	obs := l.observers(m.metrics, req.Protocol)
	if l.batch != nil {
		resp, err = l.batch.submit(ctx, req)
	} else {
		t := time.Now()
		resp, err = l.run(ctx, req)
		obs.inference.Observe(time.Since(t).Seconds())
	}
	if err != nil {
		m.metrics.observe(req, l.versionString(), codeOf(err), time.Since(start))
		return nil, err
	}
	obs.ok.Inc()
	obs.latency.Observe(time.Since(start).Seconds())
	if role != RoleDirect {
		m.shadow(req, resp)
	}
	return resp, nil
}

// route picks the loaded version for a request and takes a reference on it.
func (m *Manager) route(req *InferRequest) (*loaded, string, error) {
	m.mu.RLock()
	s := m.slots[req.Model]
	m.mu.RUnlock()
	if s == nil {
		return nil, "", fmt.Errorf("%w: model %q is not served here (served: %s)", ErrModelNotFound, req.Model, m.servedList())
	}
	for attempt := 0; attempt < 100; attempt++ {
		l, role, err := s.pick(req)
		if err != nil {
			return nil, "", err
		}
		if l == nil {
			if e := s.err.Load(); e != nil {
				return nil, "", fmt.Errorf("%w: model %q is not loaded: %s", ErrNotReady, req.Model, *e)
			}
			return nil, "", fmt.Errorf("%w: model %q is not loaded yet", ErrNotReady, req.Model)
		}
		if l.acquire() {
			return l, role, nil
		}
		// Swapped out between Load and acquire: take the new one.
	}
	return nil, "", fmt.Errorf("%w: model %q is being replaced; retry", ErrNotReady, req.Model)
}

func (m *Manager) servedList() string {
	names := m.servedNames()
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Model implements Backend.
func (m *Manager) Model(name, version string) (ModelInfo, error) {
	l, _, err := m.route(&InferRequest{Model: name, Version: version})
	if err != nil {
		return ModelInfo{}, err
	}
	defer l.release()
	info := l.info
	m.mu.RLock()
	s := m.slots[name]
	m.mu.RUnlock()
	info.Versions = []string{l.versionString()}
	for _, role := range []string{RoleStable, RoleCanary, RoleShadow} {
		if o := s.ptr(role).Load(); o != nil && o != l {
			info.Versions = append(info.Versions, o.versionString())
		}
	}
	info.Properties = make(map[string]string, len(l.info.Properties)+1)
	for k, v := range l.info.Properties {
		info.Properties[k] = v
	}
	m.mu.RLock()
	info.Properties["ref"] = m.slots[name].ref
	m.mu.RUnlock()
	return info, nil
}

// ModelReady implements Backend.
func (m *Manager) ModelReady(name, version string) bool {
	l, _, err := m.route(&InferRequest{Model: name, Version: version})
	if err != nil {
		return false
	}
	l.release()
	return true
}

// Models implements Backend: the served models that have a loaded version.
func (m *Manager) Models() []string {
	var out []string
	for _, n := range m.servedNames() {
		if m.current(n) != nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Ready implements Backend: every configured model is loaded.
func (m *Manager) Ready() bool { return m.ready.Load() }

// shadow hands a copy of a served request to the model's shadow, if it has
// one; the copy runs off the request path.
func (m *Manager) shadow(req *InferRequest, resp *InferResponse) {
	m.mu.RLock()
	s := m.slots[req.Model]
	m.mu.RUnlock()
	sh := s.shadow.Load()
	if sh == nil || sh.versionString() == resp.Version || !sh.acquire() {
		return
	}
	copyReq := &InferRequest{ID: req.ID, Model: req.Model, Inputs: cloneTensors(req.Inputs), Outputs: req.Outputs, Protocol: req.Protocol}
	m.shadows.submit(shadowJob{l: sh, slot: s, req: copyReq, served: cloneTensors(resp.Outputs), version: resp.Version})
}

// observeShadow records how a shadow answered.
func (m *Manager) observeShadow(j shadowJob, resp *InferResponse, err error, d time.Duration) {
	m.metrics.shadow.WithLabelValues(j.l.name, j.l.versionString(), codeOf(err)).Inc()
}
