package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/objstore"
)

// GetVersion returns a live version.
func (s *Service) GetVersion(_ context.Context, name string, version int64) (*Version, error) {
	if _, ok := s.idx.model(name); !ok {
		return nil, notFound("registered model %q does not exist", name)
	}
	v, ok := s.idx.version(name, version)
	if !ok {
		return nil, notFound("model version %d of %q does not exist", version, name)
	}
	return v, nil
}

// ResolveVersion finds a version by reference: a number ("3" or "v3"), an
// alias, or "latest" (the newest READY version).
func (s *Service) ResolveVersion(ctx context.Context, name, ref string) (*Version, error) {
	num := strings.TrimPrefix(strings.TrimPrefix(ref, "v"), "V")
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && n > 0 {
		return s.GetVersion(ctx, name, n)
	}
	if strings.EqualFold(ref, "latest") {
		vs, ok := s.idx.versions(name)
		if !ok {
			return nil, notFound("registered model %q does not exist", name)
		}
		for _, v := range vs {
			if v.Status == StatusReady {
				return v, nil
			}
		}
		return nil, notFound("registered model %q has no READY version", name)
	}
	return s.VersionByAlias(ctx, name, ref)
}

// ListVersions returns a model's live versions, newest first.
func (s *Service) ListVersions(_ context.Context, name string) ([]*Version, error) {
	vs, ok := s.idx.versions(name)
	if !ok {
		return nil, notFound("registered model %q does not exist", name)
	}
	return vs, nil
}

// LatestVersions returns, per stage, the newest READY version in that stage
// (all stages when stages is empty), as MLflow's get-latest-versions does.
func (s *Service) LatestVersions(ctx context.Context, name string, stages []Stage) ([]*Version, error) {
	vs, err := s.ListVersions(ctx, name)
	if err != nil {
		return nil, err
	}
	seen := map[Stage]bool{}
	var out []*Version
	for _, v := range vs { // newest first
		if v.Status != StatusReady || seen[v.Stage] {
			continue
		}
		if len(stages) > 0 && !slices.Contains(stages, v.Stage) {
			continue
		}
		seen[v.Stage] = true
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *Version) int { return int(a.Version - b.Version) })
	return out, nil
}

// freshVersion returns a live version of m, re-reading the store if the
// index has not seen it yet (it may have been written by another process).
func (s *Service) freshVersion(ctx context.Context, m *Model, version int64) (*Version, error) {
	if version <= 0 {
		return nil, invalid("version must be a positive integer, not %d", version)
	}
	if v, ok := s.idx.rawVersion(m.ID, version); ok && !v.Deleted {
		return v, nil
	}
	if err := s.refreshModel(ctx, m.ID); err != nil {
		return nil, err
	}
	if v, ok := s.idx.rawVersion(m.ID, version); ok && !v.Deleted {
		return v, nil
	}
	return nil, notFound("model version %d of %q does not exist", version, m.Name)
}

// updateVersion is update for a live version of a live model.
func (s *Service) updateVersion(ctx context.Context, name string, version int64, action string, details map[string]string, mutate func(*Version) error) (*Version, error) {
	m, err := s.live(name)
	if err != nil {
		return nil, err
	}
	if _, err := s.freshVersion(ctx, m, version); err != nil {
		return nil, err
	}
	_, after, err := update(ctx, s, versionKey(m.ID, version), action, details, func(v *Version) error {
		if v.Deleted {
			return notFound("model version %d of %q does not exist", version, name)
		}
		return mutate(v)
	})
	if err != nil {
		return nil, err
	}
	return s.viewOf(after), nil
}

// UpdateVersion sets a version's description.
func (s *Service) UpdateVersion(ctx context.Context, name string, version int64, description string) (*Version, error) {
	if err := ValidateDescription(description); err != nil {
		return nil, err
	}
	return s.updateVersion(ctx, name, version, ActionVersionUpdate, nil, func(v *Version) error {
		if v.Description == description {
			return errNoChange
		}
		v.Description = description
		return nil
	})
}

// SetVersionTag sets a tag on a version.
func (s *Service) SetVersionTag(ctx context.Context, name string, version int64, key, value string) error {
	if err := ValidateTag(key, value); err != nil {
		return err
	}
	_, err := s.updateVersion(ctx, name, version, ActionVersionTagSet, map[string]string{"key": key}, func(v *Version) error {
		if old, ok := v.Tags[key]; ok && old == value {
			return errNoChange
		}
		if v.Tags == nil {
			v.Tags = map[string]string{}
		}
		v.Tags[key] = value
		return nil
	})
	return err
}

// DeleteVersionTag removes a tag from a version (a missing tag is not an error).
func (s *Service) DeleteVersionTag(ctx context.Context, name string, version int64, key string) error {
	if key == "" {
		return invalid("tag key must not be empty")
	}
	_, err := s.updateVersion(ctx, name, version, ActionVersionTagDelete, map[string]string{"key": key}, func(v *Version) error {
		if _, ok := v.Tags[key]; !ok {
			return errNoChange
		}
		delete(v.Tags, key)
		return nil
	})
	return err
}

// TransitionStage moves a version to a legacy MLflow stage. With
// archiveExisting, other versions in the target stage (Staging or
// Production) move to Archived.
func (s *Service) TransitionStage(ctx context.Context, name string, version int64, stage Stage, archiveExisting bool) (*Version, error) {
	stage, err := ParseStage(string(stage))
	if err != nil {
		return nil, err
	}
	details := map[string]string{"stage": string(stage)}
	v, err := s.updateVersion(ctx, name, version, ActionVersionStage, details, func(v *Version) error {
		if v.Stage == stage {
			return errNoChange
		}
		details["previous"] = string(v.Stage)
		v.Stage = stage
		return nil
	})
	if err != nil || !archiveExisting || (stage != StageStaging && stage != StageProduction) {
		return v, err
	}
	others, _ := s.ListVersions(ctx, name)
	for _, o := range others {
		if o.Version == version || o.Stage != stage {
			continue
		}
		d := map[string]string{"stage": string(StageArchived), "previous": string(stage), "cause": fmt.Sprintf("version %d moved to %s", version, stage)}
		if _, err := s.updateVersion(ctx, name, o.Version, ActionVersionStage, d, func(v *Version) error {
			if v.Stage != stage {
				return errNoChange
			}
			v.Stage = StageArchived
			return nil
		}); err != nil {
			return v, err
		}
	}
	return s.GetVersion(ctx, name, version)
}

// DeleteVersion deletes a version: aliases pointing at it are removed, its
// files are deleted, and its number is never reused.
func (s *Service) DeleteVersion(ctx context.Context, name string, version int64) error {
	m, err := s.live(name)
	if err != nil {
		return err
	}
	if _, err := s.freshVersion(ctx, m, version); err != nil {
		return err
	}
	var dropped []string
	_, _, err = s.updateModel(ctx, name, ActionAliasDelete, map[string]string{"cause": fmt.Sprintf("version %d deleted", version)}, func(m *Model) error {
		dropped = dropped[:0]
		for a, n := range m.Aliases {
			if n == version {
				delete(m.Aliases, a)
				dropped = append(dropped, a)
			}
		}
		if len(dropped) == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := s.updateVersion(ctx, name, version, ActionVersionDelete, nil, func(v *Version) error {
		v.Deleted = true
		return nil
	}); err != nil {
		return err
	}
	return s.purgeDeleted(ctx)
}

// OpenArtifact opens a version's file for reading. The reader checks the
// sha256 recorded at registration and fails at the end with ErrCorrupt if
// the stored bytes differ.
func (s *Service) OpenArtifact(ctx context.Context, name string, version int64, p string) (io.ReadCloser, Artifact, error) {
	v, a, err := s.artifact(ctx, name, version, p)
	if err != nil {
		return nil, Artifact{}, err
	}
	rc, _, err := s.store.Get(ctx, artifactPrefix(v.ModelID, v.ArtifactPrefix)+a.Path)
	if err != nil {
		return nil, Artifact{}, fmt.Errorf("registry: open %s: %w", a.Path, err)
	}
	return &verifyingReader{rc: rc, h: sha256.New(), want: a.SHA256, size: a.Size, path: a.Path}, a, nil
}

// OpenArtifactRange reads part of a file, for resumable downloads. The
// caller verifies the whole file's sha256 (Artifact.SHA256) at the end.
func (s *Service) OpenArtifactRange(ctx context.Context, name string, version int64, p string, offset, length int64) (io.ReadCloser, Artifact, error) {
	v, a, err := s.artifact(ctx, name, version, p)
	if err != nil {
		return nil, Artifact{}, err
	}
	if offset < 0 || offset > a.Size {
		return nil, Artifact{}, invalid("range start %d is outside the file (%d bytes)", offset, a.Size)
	}
	key := artifactPrefix(v.ModelID, v.ArtifactPrefix) + a.Path
	if rr, ok := s.store.(objstore.RangeReader); ok {
		rc, _, err := rr.GetRange(ctx, key, offset, length)
		return rc, a, err
	}
	rc, _, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, Artifact{}, err
	}
	if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
		rc.Close()
		return nil, Artifact{}, err
	}
	if length < 0 {
		return rc, a, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length), rc}, a, nil
}

func (s *Service) artifact(ctx context.Context, name string, version int64, p string) (*Version, Artifact, error) {
	if err := ValidateArtifactPath(p); err != nil {
		return nil, Artifact{}, err
	}
	v, err := s.GetVersion(ctx, name, version)
	if err != nil {
		return nil, Artifact{}, err
	}
	i := slices.IndexFunc(v.Artifacts, func(a Artifact) bool { return a.Path == p })
	if i < 0 {
		return nil, Artifact{}, notFound("version %d of %q has no file %q", version, name, p)
	}
	return v, v.Artifacts[i], nil
}

type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
	size int64
	n    int64
	path string
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err == io.EOF {
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.want || r.n != r.size {
			return n, fmt.Errorf("%w: %s: stored bytes have sha256 %s (%d bytes), registered %s (%d bytes)", ErrCorrupt, r.path, got, r.n, r.want, r.size)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.rc.Close() }
