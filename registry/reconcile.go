package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/objstore"
)

// recentWindow is how far back repairEvents looks for objects whose event may be missing.
const recentWindow = 10 * time.Minute

// reconcile lists every model and version object and (re)reads those whose
// ETag differs from the one the index applied. It heals anything the feed
// missed and is how the index is first loaded. It returns the objects
// written in the last recentWindow.
func (s *Service) reconcile(ctx context.Context) ([]objstore.Info, error) {
	var stale, recent []objstore.Info
	now := s.opts.Now()
	for info, err := range s.store.List(ctx, modelsPrefix, objstore.ListOptions{}) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", modelsPrefix, err)
		}
		if _, _, _, ok := parseObjectKey(info.Key); !ok {
			continue
		}
		if s.idx.etag(info.Key) != info.ETag {
			stale = append(stale, info)
		}
		if now.Sub(info.ModTime) < recentWindow {
			recent = append(recent, info)
		}
	}
	return recent, s.load(ctx, stale)
}

// load reads objects in parallel and applies them to the index.
func (s *Service) load(ctx context.Context, infos []objstore.Info) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, info := range infos {
		g.Go(func() error {
			_, _, isModel, _ := parseObjectKey(info.Key)
			if isModel {
				m, etag, err := readJSON[Model](ctx, s.store, info.Key)
				if err != nil {
					return ignoreNotFound(err)
				}
				s.idx.applyModel(m, etag)
				return nil
			}
			v, etag, err := readJSON[Version](ctx, s.store, info.Key)
			if err != nil {
				return ignoreNotFound(err)
			}
			v.Aliases, v.Name = nil, ""
			s.idx.applyVersion(v, etag)
			return nil
		})
	}
	return g.Wait()
}

// refreshModel re-reads one model's version objects from the store, for
// decisions (garbage collection) that must not trust a lagging index.
func (s *Service) refreshModel(ctx context.Context, id string) error {
	var stale []objstore.Info
	for info, err := range s.store.List(ctx, modelsPrefix+id+"/", objstore.ListOptions{}) {
		if err != nil {
			return err
		}
		if _, _, _, ok := parseObjectKey(info.Key); ok && s.idx.etag(info.Key) != info.ETag {
			stale = append(stale, info)
		}
	}
	return s.load(ctx, stale)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	return err
}
