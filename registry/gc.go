package registry

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// purgeDeleted deletes the files of deleted versions (and of versions of
// deleted models, including one committed while its model was being
// deleted) and marks them purged.
func (s *Service) purgeDeleted(ctx context.Context) error {
	var errs []error
	for _, v := range s.idx.allVersions() {
		if v.Purged {
			continue
		}
		m, ok := s.idx.modelByID(v.ModelID)
		modelGone := ok && m.Deleted
		if !v.Deleted && !modelGone {
			continue
		}
		if v.ArtifactPrefix != "" {
			if err := s.deletePrefix(ctx, artifactPrefix(v.ModelID, v.ArtifactPrefix)); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		_, _, err := update(ctx, s, versionKey(v.ModelID, v.Version), ActionVersionPurge, nil, func(cur *Version) error {
			if cur.Purged {
				return errNoChange
			}
			cur.Deleted, cur.Purged = true, true
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.metrics.purged.Inc()
	}
	return errors.Join(errs...)
}

// collectLeases removes the files of registrations whose lease expired
// (the uploader died or stalled). The lease is revoked with compare-and-swap
// first, so an uploader that comes back finds it lost and cannot commit.
func (s *Service) collectLeases(ctx context.Context) error {
	var errs []error
	now := s.opts.Now()
	for info, err := range s.store.List(ctx, leasesPrefix, objstore.ListOptions{}) {
		if err != nil {
			return err
		}
		l, etag, err := readJSON[lease](ctx, s.store, info.Key)
		if err != nil {
			errs = append(errs, ignoreNotFound(err))
			continue
		}
		if !l.Revoked && now.Before(l.Expires) {
			continue
		}
		if !l.Revoked {
			l.Revoked = true
			_, err := putJSON(ctx, s.store, info.Key, l, objstore.PutOptions{IfMatch: etag})
			if errors.Is(err, objstore.ErrPrecondition) {
				continue // renewed just now
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := s.removeUnreferenced(ctx, l.ModelID, l.Registration); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.store.Delete(ctx, info.Key))
		s.log.Info("collected an abandoned upload", "model_id", l.ModelID, "registration", l.Registration)
	}
	return errors.Join(errs...)
}

// removeUnreferenced deletes a registration's files unless a version uses
// them. It re-reads the model's versions from the store first, because a
// version committed by another process may not be in this index yet.
func (s *Service) removeUnreferenced(ctx context.Context, modelID, reg string) error {
	if err := s.refreshModel(ctx, modelID); err != nil {
		return err
	}
	if s.idx.referencedPrefixes()[modelID][reg] {
		return nil
	}
	if err := s.deletePrefix(ctx, artifactPrefix(modelID, reg)); err != nil {
		return err
	}
	s.metrics.collected.Inc()
	return nil
}

// collectOrphans deletes artifact folders that no version references and no
// lease protects, once their newest file is older than OrphanGrace. They
// come from a process that died between writing its lease and its files
// and being able to write anything else.
func (s *Service) collectOrphans(ctx context.Context) error {
	refs := s.idx.referencedPrefixes()
	var errs []error
	for mdir, err := range s.store.List(ctx, artifactsRoot, objstore.ListOptions{Delimited: true}) {
		if err != nil {
			return err
		}
		if !mdir.IsPrefix {
			continue
		}
		modelID := strings.TrimSuffix(strings.TrimPrefix(mdir.Key, artifactsRoot), "/")
		for rdir, err := range s.store.List(ctx, mdir.Key, objstore.ListOptions{Delimited: true}) {
			if err != nil {
				errs = append(errs, err)
				break
			}
			reg := strings.TrimSuffix(strings.TrimPrefix(rdir.Key, mdir.Key), "/")
			if !rdir.IsPrefix || refs[modelID][reg] {
				continue
			}
			if _, err := s.store.Stat(ctx, leaseKey(reg)); err == nil {
				continue
			}
			if !s.olderThan(ctx, rdir.Key, s.opts.OrphanGrace) {
				continue
			}
			errs = append(errs, s.removeUnreferenced(ctx, modelID, reg))
		}
	}
	return errors.Join(errs...)
}

// olderThan reports whether every object under prefix is older than d.
func (s *Service) olderThan(ctx context.Context, prefix string, d time.Duration) bool {
	cutoff := s.opts.Now().Add(-d)
	for info, err := range s.store.List(ctx, prefix, objstore.ListOptions{}) {
		if err != nil || info.ModTime.After(cutoff) {
			return false
		}
	}
	return true
}
