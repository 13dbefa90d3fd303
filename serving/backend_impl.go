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
	l, err := m.route(req)
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
	return resp, nil
}

// route picks the loaded version for a request and takes a reference on it.
func (m *Manager) route(req *InferRequest) (*loaded, error) {
	m.mu.RLock()
	s := m.slots[req.Model]
	m.mu.RUnlock()
	if s == nil {
		return nil, fmt.Errorf("%w: model %q is not served here (served: %s)", ErrModelNotFound, req.Model, m.servedList())
	}
	for attempt := 0; attempt < 100; attempt++ {
		l := s.stable.Load()
		if l == nil {
			if e := s.err.Load(); e != nil {
				return nil, fmt.Errorf("%w: model %q is not loaded: %s", ErrNotReady, req.Model, *e)
			}
			return nil, fmt.Errorf("%w: model %q is not loaded yet", ErrNotReady, req.Model)
		}
		if req.Version != "" && req.Version != l.versionString() {
			return nil, fmt.Errorf("%w: version %s of model %q is not loaded (loaded: %s)", ErrModelNotFound, req.Version, req.Model, l.versionString())
		}
		if l.acquire() {
			return l, nil
		}
		// Swapped out between Load and acquire: take the new one.
	}
	return nil, fmt.Errorf("%w: model %q is being replaced; retry", ErrNotReady, req.Model)
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
	l, err := m.route(&InferRequest{Model: name, Version: version})
	if err != nil {
		return ModelInfo{}, err
	}
	defer l.release()
	info := l.info
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
	l, err := m.route(&InferRequest{Model: name, Version: version})
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
