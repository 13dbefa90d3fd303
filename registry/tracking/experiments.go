package tracking

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/lantern-mlops/lantern/objstore"
)

// nameClaim reserves an experiment name (create-only). ID is empty while
// the experiment is being created; a claim whose ID is empty for longer than
// Options.ClaimGrace, or whose experiment has another name (renamed away),
// is stale and can be taken over with compare-and-swap.
type nameClaim struct {
	Name    string `json:"name"`
	ID      string `json:"id,omitempty"`
	Created int64  `json:"created"`
}

// ensureDefaultExperiment creates experiment "0", "Default", if it is missing.
func (s *Store) ensureDefaultExperiment(ctx context.Context) error {
	now := s.now()
	e := &Experiment{
		ID: DefaultExperimentID, Name: defaultExpName, LifecycleStage: StageActive,
		ArtifactLocation: ArtifactScheme + ":/" + DefaultExperimentID, CreationTime: now, LastUpdateTime: now,
	}
	_, err := putJSON(ctx, s.store, experimentKey(e.ID), e, objstore.PutOptions{IfNoneMatch: true})
	if err != nil && !errors.Is(err, objstore.ErrPrecondition) {
		return err
	}
	cur, _, err := readJSON[Experiment](ctx, s.store, experimentKey(e.ID))
	if err != nil {
		return err
	}
	if cur.Name != defaultExpName {
		return nil // renamed by a user: leave its name alone
	}
	_, err = putJSON(ctx, s.store, nameKey(defaultExpName), nameClaim{Name: defaultExpName, ID: DefaultExperimentID, Created: now}, objstore.PutOptions{IfNoneMatch: true})
	if err != nil && !errors.Is(err, objstore.ErrPrecondition) {
		return err
	}
	return nil
}

// CreateExperiment creates an experiment and returns its id. The artifact
// location defaults to mlflow-artifacts:/<id>.
func (s *Store) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error) {
	if err := validateExperimentName(name); err != nil {
		return "", err
	}
	if artifactLocation != "" {
		if err := validateArtifactLocation(artifactLocation); err != nil {
			return "", err
		}
	}
	tagMap := map[string]string{}
	for _, t := range tags {
		if err := validateExperimentTag(t); err != nil {
			return "", err
		}
		tagMap[t.Key] = t.Value
	}
	claimETag, err := s.claimName(ctx, name, "")
	if err != nil {
		return "", err
	}
	now := s.now()
	e := &Experiment{
		Name: name, ArtifactLocation: artifactLocation, LifecycleStage: StageActive,
		CreationTime: now, LastUpdateTime: now,
	}
	if len(tagMap) > 0 {
		e.Tags = tagMap
	}
	if err := s.allocateExperiment(ctx, e); err != nil {
		return "", err
	}
	_, err = putJSON(ctx, s.store, nameKey(name), nameClaim{Name: name, ID: e.ID, Created: now}, objstore.PutOptions{IfMatch: claimETag})
	if err != nil {
		// Our claim was taken over (we were slower than ClaimGrace): the
		// experiment we wrote is not reachable by name; retire it.
		_, _ = update(ctx, s, experimentKey(e.ID), func(x *Experiment) error {
			x.LifecycleStage = StageDeleted
			x.Name = fmt.Sprintf("%s (abandoned %s)", name, e.ID)
			return nil
		})
		if errors.Is(err, objstore.ErrPrecondition) {
			return "", conflict("experiment name " + name)
		}
		return "", err
	}
	return e.ID, nil
}

// claimName takes the name claim for a new experiment (forID == "") or for
// a rename of experiment forID, and returns the claim's ETag.
func (s *Store) claimName(ctx context.Context, name, forID string) (string, error) {
	key := nameKey(name)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		fresh := nameClaim{Name: name, ID: forID, Created: s.now()}
		c, etag, err := readJSON[nameClaim](ctx, s.store, key)
		if errors.Is(err, objstore.ErrNotFound) {
			info, err := putJSON(ctx, s.store, key, fresh, objstore.PutOptions{IfNoneMatch: true})
			if errors.Is(err, objstore.ErrPrecondition) {
				continue
			}
			return info.ETag, err
		}
		if err != nil {
			return "", err
		}
		if c.ID == "" {
			if s.now()-c.Created < s.opts.ClaimGrace.Milliseconds() {
				return "", exists("Experiment '%s' already exists (it is being created).", name)
			}
		} else {
			e, _, err := readJSON[Experiment](ctx, s.store, experimentKey(c.ID))
			switch {
			case err == nil && e.Name == name && e.LifecycleStage == StageDeleted:
				return "", exists("Experiment '%s' already exists in deleted state. You can restore the experiment, or rename the deleted experiment first.", name)
			case err == nil && e.Name == name:
				return "", exists("Experiment '%s' already exists.", name)
			case err != nil && !errors.Is(err, objstore.ErrNotFound):
				return "", err
			}
		}
		// Stale: renamed away, or abandoned half-way. Take it over.
		info, err := putJSON(ctx, s.store, key, fresh, objstore.PutOptions{IfMatch: etag})
		if errors.Is(err, objstore.ErrPrecondition) {
			backoff(ctx, attempt)
			continue
		}
		return info.ETag, err
	}
	return "", conflict("experiment name " + name)
}

// allocateExperiment writes e create-only at the next free id.
func (s *Store) allocateExperiment(ctx context.Context, e *Experiment) error {
	n := s.nextExperiment.Load()
	if n <= 0 {
		max, err := s.maxExperimentID(ctx)
		if err != nil {
			return err
		}
		n = max + 1
	}
	custom := e.ArtifactLocation != ""
	for attempt := 0; ; attempt++ {
		if attempt > 0 && attempt%16 == 0 {
			// Far behind another process: catch up from a listing.
			max, err := s.maxExperimentID(ctx)
			if err != nil {
				return err
			}
			n = maxInt(n, max+1)
		}
		e.ID = strconv.FormatInt(n, 10)
		if !custom {
			e.ArtifactLocation = defaultLocation(e.ID)
		}
		_, err := putJSON(ctx, s.store, experimentKey(e.ID), e, objstore.PutOptions{IfNoneMatch: true})
		if err == nil {
			s.nextExperiment.Store(n + 1)
			return nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return fmt.Errorf("tracking: write experiment %s: %w", e.ID, err)
		}
		n++
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func defaultLocation(id string) string { return ArtifactScheme + ":/" + id }

func (s *Store) maxExperimentID(ctx context.Context) (int64, error) {
	var max int64
	for info, err := range s.store.List(ctx, experimentsDir, objstore.ListOptions{}) {
		if err != nil {
			return 0, err
		}
		if id, ok := experimentIDFromKey(info.Key); ok {
			if n, _ := strconv.ParseInt(id, 10, 64); n > max {
				max = n
			}
		}
	}
	return max, nil
}

// GetExperiment returns an experiment, deleted or not.
func (s *Store) GetExperiment(ctx context.Context, id string) (*Experiment, error) {
	if !validExperimentID(id) {
		return nil, notFound("No Experiment with id=%s exists", id)
	}
	e, etag, err := readJSON[Experiment](ctx, s.store, experimentKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, notFound("No Experiment with id=%s exists", id)
	}
	if err != nil {
		return nil, err
	}
	s.objects.put(experimentKey(id), etag, e)
	return e.clone(), nil
}

// GetExperimentByName returns the experiment with that name, deleted or not.
func (s *Store) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	missing := notFound("Could not find experiment with name '%s'", name)
	if validateExperimentName(name) != nil {
		return nil, missing
	}
	c, _, err := readJSON[nameClaim](ctx, s.store, nameKey(name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	if c.ID == "" {
		return nil, missing
	}
	e, err := s.GetExperiment(ctx, c.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && e.Name != name) {
		return nil, missing
	}
	return e, err
}

// updateExperiment is update for an experiment that must exist.
func (s *Store) updateExperiment(ctx context.Context, id string, mutate func(*Experiment) error) (*Experiment, error) {
	if !validExperimentID(id) {
		return nil, notFound("No Experiment with id=%s exists", id)
	}
	e, err := update(ctx, s, experimentKey(id), func(e *Experiment) error {
		if err := mutate(e); err != nil {
			return err
		}
		e.LastUpdateTime = s.now()
		return nil
	})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, notFound("No Experiment with id=%s exists", id)
	}
	if err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// RenameExperiment gives an experiment a new name.
func (s *Store) RenameExperiment(ctx context.Context, id, newName string) error {
	if err := validateExperimentName(newName); err != nil {
		return err
	}
	e, err := s.GetExperiment(ctx, id)
	if err != nil {
		return err
	}
	if e.LifecycleStage != StageActive {
		return invalid("Cannot rename a non-active experiment.")
	}
	if e.Name == newName {
		return nil
	}
	claimETag, err := s.claimName(ctx, newName, id)
	if err != nil {
		return err
	}
	_, err = s.updateExperiment(ctx, id, func(e *Experiment) error {
		if e.LifecycleStage != StageActive {
			return invalid("Cannot rename a non-active experiment.")
		}
		e.Name = newName
		return nil
	})
	if err != nil {
		// Release the new name: point the claim nowhere so it is stale.
		_, _ = putJSON(ctx, s.store, nameKey(newName), nameClaim{Name: newName, Created: 0}, objstore.PutOptions{IfMatch: claimETag})
	}
	// The old name's claim now points at an experiment with another name:
	// it is stale and the next creator takes it over.
	return err
}

// DeleteExperiment marks an experiment deleted. Its name stays taken until
// it is restored or renamed, as in MLflow.
func (s *Store) DeleteExperiment(ctx context.Context, id string) error {
	if id == DefaultExperimentID {
		return invalid("Cannot delete the default experiment '%s'. This is an internally reserved experiment.", DefaultExperimentID)
	}
	_, err := s.updateExperiment(ctx, id, func(e *Experiment) error {
		if e.LifecycleStage == StageDeleted {
			return errNoChange
		}
		e.LifecycleStage = StageDeleted
		return nil
	})
	return err
}

// RestoreExperiment restores a deleted experiment.
func (s *Store) RestoreExperiment(ctx context.Context, id string) error {
	_, err := s.updateExperiment(ctx, id, func(e *Experiment) error {
		if e.LifecycleStage == StageActive {
			return errNoChange
		}
		e.LifecycleStage = StageActive
		return nil
	})
	return err
}

// SetExperimentTag sets a tag on an experiment.
func (s *Store) SetExperimentTag(ctx context.Context, id string, t Tag) error {
	if err := validateExperimentTag(t); err != nil {
		return err
	}
	_, err := s.updateExperiment(ctx, id, func(e *Experiment) error {
		if e.LifecycleStage != StageActive {
			return invalid("The experiment %s must be in the 'active' state. Current state is %s.", id, e.LifecycleStage)
		}
		if v, ok := e.Tags[t.Key]; ok && v == t.Value {
			return errNoChange
		}
		e.Tags = maps.Clone(e.Tags)
		if e.Tags == nil {
			e.Tags = map[string]string{}
		}
		e.Tags[t.Key] = t.Value
		return nil
	})
	return err
}

// DeleteExperimentTag removes a tag from an experiment.
func (s *Store) DeleteExperimentTag(ctx context.Context, id, key string) error {
	_, err := s.updateExperiment(ctx, id, func(e *Experiment) error {
		if e.LifecycleStage != StageActive {
			return invalid("The experiment %s must be in the 'active' state. Current state is %s.", id, e.LifecycleStage)
		}
		if _, ok := e.Tags[key]; !ok {
			return notFound("No tag with name: %s in experiment with id %s", key, id)
		}
		delete(e.Tags, key)
		return nil
	})
	return err
}

// listExperiments reads every experiment, from the cache where unchanged.
func (s *Store) listExperiments(ctx context.Context) ([]*Experiment, error) {
	var out []*Experiment
	for info, err := range s.store.List(ctx, experimentsDir, objstore.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		if _, ok := experimentIDFromKey(info.Key); !ok {
			continue
		}
		e, err := load[Experiment](ctx, s, info)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
