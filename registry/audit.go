package registry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// AuditQuery selects audit events. Zero fields match everything.
type AuditQuery struct {
	// Model selects a model's events; for a live model that includes the
	// events from before it was renamed.
	Model   string
	Version int64
	// Action matches exactly ("alias.set") or as a prefix ending in "."
	// or a bare family name ("alias" matches alias.set and alias.delete).
	Action string
	Actor  string
	Since  time.Time
	Until  time.Time
	// Limit is the page size: default 100, at most 1000.
	Limit int
	// PageToken continues a previous query (newest first).
	PageToken string
}

// Audit returns matching events, newest first, and a token for the next page.
func (s *Service) Audit(ctx context.Context, q AuditQuery) ([]*Event, string, error) {
	switch {
	case q.Limit == 0:
		q.Limit = 100
	case q.Limit < 0 || q.Limit > 1000:
		return nil, "", invalid("limit must be between 1 and 1000, not %d", q.Limit)
	}
	upper := ""
	if !q.Until.IsZero() {
		upper = eventKeyAt(q.Until.Add(time.Nanosecond))
	}
	if q.PageToken != "" {
		if !strings.HasPrefix(q.PageToken, eventsPrefix) || objstore.ValidateKey(q.PageToken) != nil {
			return nil, "", invalid("page_token is not valid for this query; start again without it")
		}
		if upper == "" || q.PageToken < upper {
			upper = q.PageToken
		}
	}
	// Keys are listed oldest first; collect them, then read newest first.
	var keys []string
	for info, err := range s.store.List(ctx, eventsPrefix, objstore.ListOptions{StartAfter: startKey(q.Since)}) {
		if err != nil {
			return nil, "", err
		}
		if upper != "" && info.Key >= upper {
			break
		}
		keys = append(keys, info.Key)
	}
	// A live model is matched by id, so its events before a rename count.
	modelID := ""
	if m, ok := s.idx.model(q.Model); ok && q.Model != "" {
		modelID = m.ID
	}
	var out []*Event
	for i := len(keys) - 1; i >= 0; i-- {
		ev, err := s.event(ctx, keys[i])
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if !q.matches(ev, modelID) {
			continue
		}
		if len(out) == q.Limit {
			return out, keys[i+1], nil
		}
		out = append(out, ev)
	}
	return out, "", nil
}

func startKey(since time.Time) string {
	if since.IsZero() {
		return ""
	}
	return eventKeyAt(since.Add(-time.Nanosecond))
}

func (q *AuditQuery) matches(ev *Event, modelID string) bool {
	switch {
	case modelID != "" && ev.ModelID != modelID:
		return false
	case modelID == "" && q.Model != "" && ev.Model != q.Model:
		return false
	case q.Version != 0 && ev.Version != q.Version:
		return false
	case q.Actor != "" && ev.Actor != q.Actor:
		return false
	}
	if a := q.Action; a != "" && ev.Action != a {
		fam := strings.TrimSuffix(a, ".") + "."
		if !strings.HasPrefix(ev.Action, fam) {
			return false
		}
	}
	return true
}

// event reads an event through a small cache (events never change).
func (s *Service) event(ctx context.Context, key string) (*Event, error) {
	if ev, ok := s.events.get(key); ok {
		return ev, nil
	}
	ev, _, err := readJSON[Event](ctx, s.store, key)
	if err != nil {
		return nil, err
	}
	s.events.put(key, ev)
	return ev, nil
}

// eventCache keeps recently read events, evicting the oldest half when full.
type eventCache struct {
	mu    sync.Mutex
	m     map[string]*Event
	order []string
}

const eventCacheSize = 20000

func (c *eventCache) get(key string) (*Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev, ok := c.m[key]
	return ev, ok
}

func (c *eventCache) put(key string, ev *Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*Event{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.order) >= eventCacheSize {
		for _, k := range c.order[:eventCacheSize/2] {
			delete(c.m, k)
		}
		c.order = append(c.order[:0], c.order[eventCacheSize/2:]...)
	}
	c.m[key] = ev
	c.order = append(c.order, key)
}
