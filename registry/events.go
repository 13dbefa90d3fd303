package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// subject returns what an event needs to know about a changed object.
func subject(obj any) (modelID string, version, rev int64, at time.Time, action, by string) {
	switch o := obj.(type) {
	case *Model:
		return o.ID, 0, o.Rev, o.UpdatedAt, o.LastAction, o.UpdatedBy
	case *Version:
		return o.ModelID, o.Version, o.Rev, o.UpdatedAt, o.LastAction, o.UpdatedBy
	}
	return "", 0, 0, time.Time{}, "", ""
}

// emit writes the audit event for a change. A failure is logged, counted and
// left to the janitor, which rebuilds the event from the object: the change
// itself has already been committed.
func (s *Service) emit(ctx context.Context, action, object string, before, after any, details map[string]string) {
	id, ver, rev, at, _, by := subject(after)
	ev := Event{
		ID:        eventID(object, rev, at),
		Time:      at,
		Actor:     by,
		Action:    action,
		ModelID:   id,
		Version:   ver,
		Reason:    ctxString(ctx, reasonKey),
		RequestID: ctxString(ctx, requestIDKey),
		Details:   details,
		Object:    object,
		Rev:       rev,
	}
	if m, ok := after.(*Model); ok {
		ev.Model = m.Name
	} else if m, ok := s.idx.modelByID(id); ok {
		ev.Model = m.Name
	}
	var err error
	if before != nil {
		if ev.Before, err = json.Marshal(before); err != nil {
			s.log.Error("encode audit event", "err", err)
		}
	}
	if ev.After, err = json.Marshal(after); err != nil {
		s.log.Error("encode audit event", "err", err)
	}
	key := eventKey(object, rev, at)
	// Cancellation of the caller must not lose the event of a committed change.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := putJSON(wctx, s.store, key, ev, objstore.PutOptions{IfNoneMatch: true}); err != nil && !errors.Is(err, objstore.ErrPrecondition) {
		s.metrics.eventErrors.Inc()
		s.log.Warn("audit event not written; the janitor will rebuild it", "key", key, "err", err)
		return
	}
	s.metrics.writes.WithLabelValues(action).Inc()
	s.feed.markSeen(key, at)
}

// feedState tracks which recent events this process has applied.
type feedState struct {
	mu        sync.Mutex
	watermark time.Time
	seen      map[string]time.Time
}

func (f *feedState) markSeen(key string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]time.Time{}
	}
	f.seen[key] = at
}

func (f *feedState) isSeen(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.seen[key]
	return ok
}

// pollFeed applies events written since the watermark (minus the lookback,
// to catch events whose write finished late).
func (s *Service) pollFeed(ctx context.Context) error {
	start := s.opts.Now()
	s.feed.mu.Lock()
	from := s.feed.watermark
	s.feed.mu.Unlock()
	n := 0
	for info, err := range s.store.List(ctx, eventsPrefix, objstore.ListOptions{StartAfter: eventKeyAt(from)}) {
		if err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		if s.feed.isSeen(info.Key) {
			continue
		}
		ev, _, err := readJSON[Event](ctx, s.store, info.Key)
		if err != nil {
			if errors.Is(err, objstore.ErrNotFound) {
				continue
			}
			return err
		}
		s.applyEvent(ev)
		at, _ := eventTime(info.Key)
		s.feed.markSeen(info.Key, at)
		n++
	}
	s.feed.mu.Lock()
	s.feed.watermark = start.Add(-s.opts.FeedLookback)
	maps.DeleteFunc(s.feed.seen, func(_ string, t time.Time) bool { return t.Before(s.feed.watermark) })
	s.feed.mu.Unlock()
	if n > 0 {
		s.metrics.feedEvents.Add(float64(n))
	}
	return nil
}

// applyEvent applies the After snapshot of another process's change.
func (s *Service) applyEvent(ev *Event) {
	if len(ev.After) == 0 {
		return
	}
	_, _, isModel, ok := parseObjectKey(ev.Object)
	if !ok {
		return
	}
	if isModel {
		var m Model
		if json.Unmarshal(ev.After, &m) == nil && m.ID != "" {
			s.idx.applyModel(&m, "")
		}
		return
	}
	var v Version
	if json.Unmarshal(ev.After, &v) == nil && v.ModelID != "" {
		v.Aliases, v.Name = nil, ""
		s.idx.applyVersion(&v, "")
	}
}

// repairEvents writes the events that crashed writers did not: for every
// recently written object whose event key is missing, it rebuilds the event
// from the object (Before is unknown, Repaired is set).
func (s *Service) repairEvents(ctx context.Context, recent []objstore.Info) error {
	var errs []error
	for _, info := range recent {
		id, v, isModel, _ := parseObjectKey(info.Key)
		var obj any
		if isModel {
			m, ok := s.idx.modelByID(id)
			if !ok {
				continue
			}
			obj = m
		} else {
			ver, ok := s.idx.rawVersion(id, v)
			if !ok {
				continue
			}
			obj = ver
		}
		_, ver, rev, at, action, by := subject(obj)
		if s.opts.Now().Sub(at) < s.opts.FeedLookback {
			continue // the writer may still be writing its event
		}
		key := eventKey(info.Key, rev, at)
		if s.repaired.has(key) {
			continue
		}
		if _, err := s.store.Stat(ctx, key); err == nil {
			s.repaired.add(key)
			continue
		} else if !errors.Is(err, objstore.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		ev := Event{
			ID: eventID(info.Key, rev, at), Time: at, Actor: by, Action: action,
			ModelID: id, Version: ver, Object: info.Key, Rev: rev, Repaired: true,
		}
		if m, ok := s.idx.modelByID(id); ok {
			ev.Model = m.Name
		}
		ev.After, _ = json.Marshal(obj)
		if _, err := putJSON(ctx, s.store, key, ev, objstore.PutOptions{IfNoneMatch: true}); err != nil && !errors.Is(err, objstore.ErrPrecondition) {
			errs = append(errs, err)
			continue
		}
		s.repaired.add(key)
		s.metrics.eventsRepaired.Inc()
		s.log.Warn("rebuilt a lost audit event", "object", info.Key, "rev", rev, "action", action)
	}
	return errors.Join(errs...)
}

// keySet is a small concurrent set with a size bound.
type keySet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (k *keySet) has(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.m[key]
	return ok
}

func (k *keySet) add(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) > 100000 {
		k.m = map[string]struct{}{}
	}
	k.m[key] = struct{}{}
}
