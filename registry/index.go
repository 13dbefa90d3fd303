package registry

import (
	"context"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// index is the in-memory view of every model and version, built from the
// store and kept current by the process's own writes, the event feed and
// periodic reconciliation. Objects are applied only if their revision is
// newer than the one held, so the three sources can race safely.
// Stored *Model and *Version values are never mutated after insertion
// (copy-on-write), so readers may share them.
type index struct {
	mu      sync.RWMutex
	models  map[string]*modelEntry  // by id, deleted ones included
	byName  map[string]*modelEntry  // live models by name
	etags   map[string]string       // store key -> ETag of the applied object
	gen     uint64                  // bumped on every change; invalidates search caches
	vsorted map[string][]versionRow // search cache: order -> live versions sorted
	msorted map[string][]modelRow   // search cache: order -> live models sorted
	changes changeLog
}

type modelEntry struct {
	model      *Model // nil until the model object is seen
	versions   map[int64]*Version
	maxVersion int64
}

func newIndex() *index {
	return &index{
		models:  map[string]*modelEntry{},
		byName:  map[string]*modelEntry{},
		etags:   map[string]string{},
		vsorted: map[string][]versionRow{},
		msorted: map[string][]modelRow{},
		changes: newChangeLog(4096),
	}
}

func (ix *index) entry(id string) *modelEntry {
	e := ix.models[id]
	if e == nil {
		e = &modelEntry{versions: map[int64]*Version{}}
		ix.models[id] = e
	}
	return e
}

func (ix *index) invalidate() {
	ix.gen++
	clear(ix.vsorted)
	clear(ix.msorted)
}

// applyModel stores m if it is newer than what the index holds.
func (ix *index) applyModel(m *Model, etag string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.entry(m.ID)
	if etag != "" {
		ix.etags[modelKey(m.ID)] = etag
	}
	if e.model != nil && e.model.Rev >= m.Rev {
		return false
	}
	old := e.model
	e.model = m
	if old != nil && ix.byName[old.Name] == e && (old.Name != m.Name || m.Deleted) {
		delete(ix.byName, old.Name)
	}
	if !m.Deleted {
		if cur := ix.byName[m.Name]; cur == nil || cur == e || olderModel(m, cur.model) {
			ix.byName[m.Name] = e
		}
	}
	ix.invalidate()
	ix.changes.add(Change{
		Kind: "model", Action: m.LastAction, Model: m.Name, ModelID: m.ID,
		Rev: m.Rev, Time: m.UpdatedAt, Aliases: maps.Clone(m.Aliases), Deleted: m.Deleted, Route: m.Route(),
	})
	return true
}

// olderModel breaks a (transient) tie between two live models claiming one name:
// the first created keeps it.
func olderModel(a, b *Model) bool {
	if b == nil {
		return true
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// applyVersion stores v if it is newer than what the index holds.
func (ix *index) applyVersion(v *Version, etag string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.entry(v.ModelID)
	if etag != "" {
		ix.etags[versionKey(v.ModelID, v.Version)] = etag
	}
	if v.Version > e.maxVersion {
		e.maxVersion = v.Version
	}
	if cur := e.versions[v.Version]; cur != nil && cur.Rev >= v.Rev {
		return false
	}
	e.versions[v.Version] = v
	ix.invalidate()
	name := ""
	if e.model != nil {
		name = e.model.Name
	}
	ix.changes.add(Change{
		Kind: "version", Action: v.LastAction, Model: name, ModelID: v.ModelID,
		Version: v.Version, Rev: v.Rev, Time: v.UpdatedAt, Deleted: v.Deleted, Status: v.Status,
	})
	return true
}

// etag returns the ETag of the object last applied under key.
func (ix *index) etag(key string) string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.etags[key]
}

// model returns the live model with that name.
func (ix *index) model(name string) (*Model, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.byName[name]
	if e == nil || e.model == nil || e.model.Deleted {
		return nil, false
	}
	return e.model, true
}

// modelByID returns a model, deleted or not.
func (ix *index) modelByID(id string) (*Model, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.models[id]
	if e == nil || e.model == nil {
		return nil, false
	}
	return e.model, true
}

// maxVersion is the highest version number seen for the model, tombstones included.
func (ix *index) maxVersion(id string) int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if e := ix.models[id]; e != nil {
		return e.maxVersion
	}
	return 0
}

// version returns a live version of a live model, as a view (Name and Aliases filled).
func (ix *index) version(name string, v int64) (*Version, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.byName[name]
	if e == nil || e.model == nil || e.model.Deleted {
		return nil, false
	}
	ver := e.versions[v]
	if ver == nil || ver.Deleted {
		return nil, false
	}
	return view(e.model, ver), true
}

// rawVersion returns the stored version, tombstones included.
func (ix *index) rawVersion(id string, v int64) (*Version, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.models[id]
	if e == nil {
		return nil, false
	}
	ver, ok := e.versions[v]
	return ver, ok
}

// versions returns the live versions of a live model, newest first, as views.
func (ix *index) versions(name string) ([]*Version, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.byName[name]
	if e == nil || e.model == nil || e.model.Deleted {
		return nil, false
	}
	out := make([]*Version, 0, len(e.versions))
	for _, v := range e.versions {
		if !v.Deleted {
			out = append(out, view(e.model, v))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, true
}

// allVersions returns every stored version of every model, tombstones included
// (for the janitor).
func (ix *index) allVersions() []*Version {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []*Version
	for _, e := range ix.models {
		for _, v := range e.versions {
			out = append(out, v)
		}
	}
	return out
}

// referencedPrefixes returns, per model id, the artifact prefixes that versions use.
func (ix *index) referencedPrefixes() map[string]map[string]bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := map[string]map[string]bool{}
	for id, e := range ix.models {
		set := map[string]bool{}
		for _, v := range e.versions {
			if v.ArtifactPrefix != "" {
				set[v.ArtifactPrefix] = true
			}
		}
		out[id] = set
	}
	return out
}

// view returns a copy of v with the model's current name and aliases.
func view(m *Model, v *Version) *Version {
	c := *v
	c.Name = m.Name
	c.Aliases = nil
	for a, n := range m.Aliases {
		if n == v.Version {
			c.Aliases = append(c.Aliases, a)
		}
	}
	slices.Sort(c.Aliases)
	return &c
}

// Change is one change the index applied, as delivered by Watch.
type Change struct {
	Seq     uint64    `json:"seq"`
	Kind    string    `json:"kind"` // "model" or "version"
	Action  string    `json:"action"`
	Model   string    `json:"model"`
	ModelID string    `json:"model_id"`
	Version int64     `json:"version,omitempty"`
	Rev     int64     `json:"rev"`
	Time    time.Time `json:"time"`
	Deleted bool      `json:"deleted,omitempty"`
	Status  Status    `json:"status,omitempty"`
	// Aliases is the model's full alias map after a model change.
	Aliases map[string]int64 `json:"aliases,omitempty"`
	// Route is the model's traffic split (canary, shadow) after a model change.
	Route Route `json:"route,omitzero"`
}

// changeLog is a bounded ring of recent changes with a broadcast on append.
type changeLog struct {
	buf  []Change
	next uint64 // sequence of the next change; the first is 1
	wake chan struct{}
}

func newChangeLog(n int) changeLog {
	return changeLog{buf: make([]Change, n), next: 1, wake: make(chan struct{})}
}

func (l *changeLog) add(c Change) {
	c.Seq = l.next
	l.buf[c.Seq%uint64(len(l.buf))] = c
	l.next++
	close(l.wake)
	l.wake = make(chan struct{})
}

// since returns the changes after seq; reset is true when some were already
// dropped from the ring (the caller must re-read everything).
func (ix *index) since(seq uint64) (out []Change, last uint64, reset bool, wake <-chan struct{}) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	l := &ix.changes
	last = l.next - 1
	if seq > last {
		// A cursor from the future (another process incarnation): start over.
		return nil, last, true, l.wake
	}
	oldest := uint64(1)
	if l.next > uint64(len(l.buf)) {
		oldest = l.next - uint64(len(l.buf))
	}
	if seq+1 < oldest {
		return nil, last, true, l.wake
	}
	for s := seq + 1; s <= last; s++ {
		out = append(out, l.buf[s%uint64(len(l.buf))])
	}
	return out, last, false, l.wake
}

// waitSince blocks until there are changes after seq or ctx is done.
func (ix *index) waitSince(ctx context.Context, seq uint64) ([]Change, uint64, bool) {
	for {
		out, last, reset, wake := ix.since(seq)
		if len(out) > 0 || reset {
			return out, last, reset
		}
		select {
		case <-ctx.Done():
			return nil, last, false
		case <-wake:
		}
	}
}

// allVersionsOf returns a model's stored versions, tombstones included.
func (ix *index) allVersionsOf(id string) []*Version {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.models[id]
	if e == nil {
		return nil
	}
	out := make([]*Version, 0, len(e.versions))
	for _, v := range e.versions {
		out = append(out, v)
	}
	return out
}
