package registry

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// nameClaim reserves a model name (create-only). A claim whose model has
// another name (renamed away) or is missing for longer than claimGrace is
// stale and can be taken over with compare-and-swap.
type nameClaim struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

const claimGrace = time.Minute

// NewModel describes a registered model to create.
type NewModel struct {
	Name        string
	Description string
	Tags        map[string]string
}

// CreateModel creates a registered model. Creating a model with the name of
// a deleted one revives its record: version numbers continue after the
// deleted versions, so a number is never reused for different files.
func (s *Service) CreateModel(ctx context.Context, in NewModel) (*Model, error) {
	if err := ValidateModelName(in.Name); err != nil {
		return nil, err
	}
	if err := ValidateDescription(in.Description); err != nil {
		return nil, err
	}
	for k, v := range in.Tags {
		if err := ValidateTag(k, v); err != nil {
			return nil, err
		}
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		id, claimETag, err := s.claimName(ctx, in.Name, "")
		if err != nil {
			return nil, err
		}
		if claimETag == "" {
			now := s.opts.Now()
			m := &Model{
				ID: id, Name: in.Name, Description: in.Description, Tags: maps.Clone(in.Tags),
				CreatedBy: actor(ctx), CreatedAt: now, UpdatedBy: actor(ctx), UpdatedAt: now,
				LastAction: ActionModelCreate, Rev: 1,
			}
			if err := s.create(ctx, modelKey(id), ActionModelCreate, m, nil); err != nil {
				return nil, err
			}
			return m, nil
		}
		// The claim points to a deleted model of this name: revive it.
		_, m, err := update(ctx, s, modelKey(id), ActionModelCreate, nil, func(m *Model) error {
			if !m.Deleted || m.Name != in.Name {
				return exists("registered model %q already exists", in.Name)
			}
			now := s.opts.Now()
			m.Deleted, m.Description, m.Tags, m.Aliases = false, in.Description, maps.Clone(in.Tags), nil
			m.CreatedAt, m.CreatedBy = now, actor(ctx)
			return nil
		})
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		return m, err
	}
	return nil, errConflict("model name " + in.Name)
}

// claimName makes the name point at a model. For a new name it writes a
// fresh claim and returns a new id with an empty etag. If the name belongs
// to a deleted model it returns that model's id and the claim's etag (the
// caller revives it). If it belongs to a live model it fails with
// ErrAlreadyExists. Stale claims are taken over for forID (or a new id).
func (s *Service) claimName(ctx context.Context, name, forID string) (id, etag string, err error) {
	key := nameKey(name)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		newID := forID
		if newID == "" {
			newID = randomID(8)
		}
		c, cetag, err := readJSON[nameClaim](ctx, s.store, key)
		if errors.Is(err, objstore.ErrNotFound) {
			_, err := putJSON(ctx, s.store, key, nameClaim{ID: newID, Name: name}, objstore.PutOptions{IfNoneMatch: true})
			if errors.Is(err, objstore.ErrPrecondition) {
				continue
			}
			return newID, "", err
		}
		if err != nil {
			return "", "", err
		}
		m, _, err := readJSON[Model](ctx, s.store, modelKey(c.ID))
		switch {
		case err == nil && m.Name == name && !m.Deleted:
			if c.ID == forID {
				return forID, cetag, nil
			}
			return "", "", exists("registered model %q already exists", name)
		case err == nil && m.Name == name && m.Deleted && forID == "":
			return c.ID, cetag, nil
		case errors.Is(err, objstore.ErrNotFound):
			info, serr := s.store.Stat(ctx, key)
			if serr != nil {
				continue
			}
			if s.opts.Now().Sub(info.ModTime) < claimGrace {
				// Another process is creating this model right now.
				return "", "", exists("registered model %q already exists (being created)", name)
			}
		case err != nil:
			return "", "", err
		}
		// Stale: renamed away, deleted (for a rename onto it), or abandoned.
		_, err = putJSON(ctx, s.store, key, nameClaim{ID: newID, Name: name}, objstore.PutOptions{IfMatch: cetag})
		if errors.Is(err, objstore.ErrPrecondition) {
			continue
		}
		return newID, "", err
	}
	return "", "", errConflict("model name " + name)
}

func errConflict(what string) error {
	return &userError{ErrConflict, what + " changed concurrently too many times; try again"}
}

// GetModel returns a registered model.
func (s *Service) GetModel(_ context.Context, name string) (*Model, error) {
	m, ok := s.idx.model(name)
	if !ok {
		return nil, notFound("registered model %q does not exist", name)
	}
	return m, nil
}

// live looks a model up for a write.
func (s *Service) live(name string) (*Model, error) {
	if err := ValidateModelName(name); err != nil {
		return nil, err
	}
	m, ok := s.idx.model(name)
	if !ok {
		return nil, notFound("registered model %q does not exist", name)
	}
	return m, nil
}

// updateModel is update for a model found by name, refusing if it was
// deleted or renamed meanwhile.
func (s *Service) updateModel(ctx context.Context, name, action string, details map[string]string, mutate func(*Model) error) (before, after *Model, err error) {
	m, err := s.live(name)
	if err != nil {
		return nil, nil, err
	}
	before, after, err = update(ctx, s, modelKey(m.ID), action, details, func(m *Model) error {
		if m.Deleted || m.Name != name {
			return notFound("registered model %q does not exist", name)
		}
		return mutate(m)
	})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil, notFound("registered model %q does not exist", name)
	}
	return before, after, err
}

// RenameModel renames a registered model; its versions, aliases and files follow.
func (s *Service) RenameModel(ctx context.Context, name, newName string) (*Model, error) {
	if err := ValidateModelName(newName); err != nil {
		return nil, err
	}
	m, err := s.live(name)
	if err != nil {
		return nil, err
	}
	if newName == name {
		return m, nil
	}
	if _, _, err := s.claimName(ctx, newName, m.ID); err != nil {
		return nil, err
	}
	// The old claim is left behind: it is stale now and the next creator takes it over.
	_, after, err := s.updateModel(ctx, name, ActionModelRename, map[string]string{"old_name": name, "new_name": newName}, func(m *Model) error {
		m.Name = newName
		return nil
	})
	return after, err
}

// UpdateModel sets a registered model's description.
func (s *Service) UpdateModel(ctx context.Context, name, description string) (*Model, error) {
	if err := ValidateDescription(description); err != nil {
		return nil, err
	}
	_, after, err := s.updateModel(ctx, name, ActionModelUpdate, nil, func(m *Model) error {
		m.Description = description
		return nil
	})
	return after, err
}

// DeleteModel deletes a registered model with all its versions and files.
// Its record stays as a tombstone so version numbers are never reused.
func (s *Service) DeleteModel(ctx context.Context, name string) error {
	_, m, err := s.updateModel(ctx, name, ActionModelDelete, nil, func(m *Model) error {
		m.Deleted, m.Aliases = true, nil
		return nil
	})
	if err != nil {
		return err
	}
	return s.deleteVersionsOf(ctx, m.ID)
}

// deleteVersionsOf tombstones every live version of a model and purges files.
func (s *Service) deleteVersionsOf(ctx context.Context, id string) error {
	var errs []error
	for _, v := range s.idx.allVersionsOf(id) {
		if v.Deleted {
			continue
		}
		_, _, err := update(ctx, s, versionKey(id, v.Version), ActionVersionDelete, map[string]string{"cause": "model deleted"}, func(v *Version) error {
			if v.Deleted {
				return errNoChange
			}
			v.Deleted = true
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, s.purgeDeleted(ctx))
	}
	return errors.Join(errs...)
}

// SetModelTag sets a tag on a registered model.
func (s *Service) SetModelTag(ctx context.Context, name, key, value string) error {
	if err := ValidateTag(key, value); err != nil {
		return err
	}
	_, _, err := s.updateModel(ctx, name, ActionModelTagSet, map[string]string{"key": key}, func(m *Model) error {
		if old, ok := m.Tags[key]; ok && old == value {
			return errNoChange
		}
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[key] = value
		return nil
	})
	return err
}

// DeleteModelTag removes a tag from a registered model (a missing tag is not an error).
func (s *Service) DeleteModelTag(ctx context.Context, name, key string) error {
	if key == "" {
		return invalid("tag key must not be empty")
	}
	_, _, err := s.updateModel(ctx, name, ActionModelTagDelete, map[string]string{"key": key}, func(m *Model) error {
		if _, ok := m.Tags[key]; !ok {
			return errNoChange
		}
		delete(m.Tags, key)
		return nil
	})
	return err
}

// SetAlias points alias at a version, which must be READY. The move is a
// compare-and-swap on the model, recorded in the audit log with the
// previous target and the reason from the context (see WithReason).
func (s *Service) SetAlias(ctx context.Context, name, alias string, version int64) error {
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	m, err := s.live(name)
	if err != nil {
		return err
	}
	v, err := s.freshVersion(ctx, m, version)
	if err != nil {
		return err
	}
	if v.Status != StatusReady {
		return precondition("version %d of %q is %s; only READY versions can take an alias", version, name, v.Status)
	}
	details := map[string]string{"alias": alias, "version": strconv.FormatInt(version, 10)}
	_, _, err = s.updateModel(ctx, name, ActionAliasSet, details, func(m *Model) error {
		if prev, ok := m.Aliases[alias]; ok {
			if prev == version {
				return errNoChange
			}
			details["previous"] = strconv.FormatInt(prev, 10)
		}
		if m.Aliases == nil {
			m.Aliases = map[string]int64{}
		}
		m.Aliases[alias] = version
		return nil
	})
	return err
}

// DeleteAlias removes an alias (a missing alias is not an error).
func (s *Service) DeleteAlias(ctx context.Context, name, alias string) error {
	if alias == "" {
		return invalid("alias must not be empty")
	}
	details := map[string]string{"alias": alias}
	_, _, err := s.updateModel(ctx, name, ActionAliasDelete, details, func(m *Model) error {
		prev, ok := m.Aliases[alias]
		if !ok {
			return errNoChange
		}
		details["previous"] = strconv.FormatInt(prev, 10)
		delete(m.Aliases, alias)
		return nil
	})
	return err
}

// VersionByAlias returns the version an alias points at.
func (s *Service) VersionByAlias(ctx context.Context, name, alias string) (*Version, error) {
	m, err := s.GetModel(ctx, name)
	if err != nil {
		return nil, err
	}
	n, ok := m.Aliases[alias]
	if !ok {
		return nil, notFound("registered model %q has no alias %q", name, alias)
	}
	return s.GetVersion(ctx, name, n)
}
