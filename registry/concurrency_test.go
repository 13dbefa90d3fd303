package registry

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// TestConcurrentRegistrations: 16 writers x 50 versions of one model, each
// writer with its own Service (as if in its own process) over one store.
// Versions must be exactly 1..800: no gaps, no duplicates.
func TestConcurrentRegistrations(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		const writers, each = 16, 50
		first := newService(t, open(), nil)
		mustCreate(t, first, "vaccine-demand")
		model := fixture(t, "demand_linear.onnx")
		var (
			mu  sync.Mutex
			got []int64
			wg  sync.WaitGroup
		)
		errs := make(chan error, writers)
		for w := range writers {
			s := first
			if w%2 == 1 {
				s = newService(t, open(), nil) // half of them in "other processes"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := WithActor(context.Background(), fmt.Sprintf("writer-%d", w))
				for range each {
					r, err := s.BeginVersion(ctx, NewVersion{Name: "vaccine-demand"})
					if err != nil {
						errs <- err
						return
					}
					if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(model), int64(len(model))); err != nil {
						errs <- err
						return
					}
					v, err := r.Commit(ctx)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					got = append(got, v.Version)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		slices.Sort(got)
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("versions are not 1..%d: position %d holds %d (got %d versions)", writers*each, i, v, len(got))
			}
		}
		if len(got) != writers*each {
			t.Fatalf("%d versions", len(got))
		}
		// A fresh process sees exactly the same.
		fresh := newService(t, open(), nil)
		vs, _ := fresh.ListVersions(context.Background(), "vaccine-demand")
		if len(vs) != writers*each || vs[0].Version != writers*each {
			t.Fatalf("fresh index: %d versions, newest %d", len(vs), vs[0].Version)
		}
	})
}

// TestConcurrentAliasAndTagEdits: concurrent compare-and-swap edits of one
// model from several processes lose nothing.
func TestConcurrentAliasAndTagEdits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx := context.Background()
		a := newService(t, open(), nil)
		mustCreate(t, a, "m")
		register(t, a, "m")
		b := newService(t, open(), nil)
		var wg sync.WaitGroup
		for i := range 20 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.SetModelTag(ctx, "m", fmt.Sprintf("k%d", i), "v"); err != nil {
					t.Error(err)
				}
				if err := s.SetAlias(ctx, "m", fmt.Sprintf("a%d", i), 1); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		m, _, err := readJSON[Model](ctx, a.store, modelKey(mustModel(t, a, "m").ID))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Tags) != 20 || len(m.Aliases) != 20 {
			t.Fatalf("lost updates: %d tags, %d aliases", len(m.Tags), len(m.Aliases))
		}
	})
}

func mustModel(t testing.TB, s *Service, name string) *Model {
	m, err := s.GetModel(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTwoProcessesConverge: a write through one registry is visible in the
// other's search within 5 s, and the audit log of either shows it.
func TestTwoProcessesConverge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() objstore.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a := newService(t, open(), nil)
		b := newService(t, open(), &Options{PollInterval: 200 * time.Millisecond})
		go b.Run(ctx)

		mustCreate(t, a, "malnutrition-risk")
		register(t, a, "malnutrition-risk", "production")
		start := time.Now()
		eventually(t, 5*time.Second, "version visible in the other process", func() bool {
			vs, _, err := b.SearchVersions(ctx, SearchQuery{Filter: "name = 'malnutrition-risk'", MaxResults: 10})
			return err == nil && len(vs) == 1 && slices.Equal(vs[0].Aliases, []string{"production"})
		})
		t.Logf("converged in %s", time.Since(start).Round(time.Millisecond))

		// And back: a rename in b shows in a once a follows the feed.
		go a.Run(ctx)
		if _, err := b.RenameModel(ctx, "malnutrition-risk", "mam-sam-risk"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "rename visible", func() bool {
			_, err := a.GetModel(ctx, "mam-sam-risk")
			return err == nil
		})
		evs, _, err := a.Audit(ctx, AuditQuery{Model: "mam-sam-risk", Action: "model.rename"})
		if err != nil || len(evs) != 1 || evs[0].Details["old_name"] != "malnutrition-risk" {
			t.Fatalf("audit: %+v %v", evs, err)
		}
	})
}

// TestWatch delivers alias changes and resets stale cursors.
func TestWatch(t *testing.T) {
	ctx := context.Background()
	s := newService(t, backends[0].open(t)(), nil)
	_, cur, reset, err := s.Watch(ctx, "")
	if err != nil || reset || cur == "" {
		t.Fatal(cur, reset, err)
	}
	mustCreate(t, s, "m")
	register(t, s, "m", "production")
	var seen []string
	for len(seen) < 3 {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		changes, next, reset, err := s.Watch(wctx, cur)
		cancel()
		if err != nil || reset || len(changes) == 0 {
			t.Fatalf("watch: %v %v %v", changes, reset, err)
		}
		for _, c := range changes {
			seen = append(seen, c.Action)
		}
		cur = next
	}
	if !slices.Contains(seen, ActionAliasSet) {
		t.Fatalf("changes %v", seen)
	}
	// Nothing new: the long poll ends at the deadline with no changes.
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	changes, _, _, _ := s.Watch(wctx, cur)
	cancel()
	if len(changes) != 0 {
		t.Fatalf("unexpected %v", changes)
	}
	_, _, reset, _ = s.Watch(ctx, "otherprocess.5")
	if !reset {
		t.Fatal("cursor of another process not reset")
	}
	if _, _, _, err := s.Watch(ctx, "garbage"); err == nil || !strings.Contains(err.Error(), "cursor") {
		t.Fatalf("bad cursor: %v", err)
	}
}
