package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"

	"github.com/lantern-mlops/lantern/objstore"
)

// NewRun describes a run to create.
type NewRun struct {
	// ExperimentID defaults to the default experiment, "0".
	ExperimentID string
	UserID       string
	// RunName defaults to the mlflow.runName tag, else a generated name.
	RunName string
	// StartTime is in milliseconds; 0 means now.
	StartTime int64
	Tags      []Tag
}

// runPointer maps a run id to its experiment (immutable).
type runPointer struct {
	ExperimentID string `json:"experiment_id"`
}

// CreateRun creates a RUNNING run in an active experiment.
func (s *Store) CreateRun(ctx context.Context, in NewRun) (*Run, error) {
	if in.ExperimentID == "" {
		in.ExperimentID = DefaultExperimentID
	}
	exp, err := s.GetExperiment(ctx, in.ExperimentID)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("Could not find experiment with ID %s", in.ExperimentID)
	}
	if err != nil {
		return nil, err
	}
	if exp.LifecycleStage != StageActive {
		return nil, invalid("The experiment %s must be in the 'active' state. Current state is %s.", exp.ID, exp.LifecycleStage)
	}
	if len(in.Tags) > MaxTagsPerBatch*10 {
		return nil, invalid("A run can be created with at most %d tags, got %d", MaxTagsPerBatch*10, len(in.Tags))
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		if err := validateTag(t); err != nil {
			return nil, err
		}
		tags[t.Key] = t.Value
	}
	if tagName, ok := tags[TagRunName]; ok && in.RunName != "" && tagName != in.RunName {
		return nil, invalid("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", in.RunName, tagName)
	}
	if in.RunName == "" {
		in.RunName = tags[TagRunName]
	}
	if in.RunName == "" {
		in.RunName = randomRunName()
	}
	if len(in.RunName) > MaxRunNameLen {
		return nil, lengthError("Run name", in.RunName, MaxRunNameLen)
	}
	tags[TagRunName] = in.RunName
	if in.StartTime == 0 {
		in.StartTime = s.now()
	}
	if in.StartTime < 0 {
		return nil, invalid("Invalid start_time %d: it must be a nonnegative number of milliseconds", in.StartTime)
	}
	for attempt := 0; attempt < 8; attempt++ {
		id := newRunID()
		_, err := putJSON(ctx, s.store, runIDKey(id), runPointer{exp.ID}, objstore.PutOptions{IfNoneMatch: true})
		if errors.Is(err, objstore.ErrPrecondition) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r := &Run{
			Info: RunInfo{
				RunID: id, RunName: in.RunName, ExperimentID: exp.ID, UserID: in.UserID,
				Status: StatusRunning, StartTime: in.StartTime, LifecycleStage: StageActive,
				ArtifactURI: exp.ArtifactLocation + "/" + id + "/artifacts",
			},
			Tags: tags,
		}
		info, err := putJSON(ctx, s.store, runKey(exp.ID, id), r, objstore.PutOptions{IfNoneMatch: true})
		if err != nil {
			return nil, err
		}
		s.runExperiments.Store(id, exp.ID)
		s.objects.put(runKey(exp.ID, id), info.ETag, r)
		return r.clone(), nil
	}
	return nil, conflict("run id allocation")
}

func newRunID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

var (
	nameAdjectives = []string{"amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fleet", "gentle", "glad", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "serene", "sunny", "witty"}
	nameNouns      = []string{"ant", "bass", "bear", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "heron", "lark", "lynx", "mole", "owl", "panda", "robin", "seal", "swan", "wren"}
)

// randomRunName returns a name like MLflow's generated ones ("calm-fox-123").
func randomRunName() string {
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[mrand.IntN(len(nameAdjectives))], nameNouns[mrand.IntN(len(nameNouns))], mrand.IntN(1000))
}

// runExperiment returns the experiment id of a run.
func (s *Store) runExperiment(ctx context.Context, runID string) (string, error) {
	if !validRunID(runID) {
		return "", notFound("Run with id=%s not found", runID)
	}
	if v, ok := s.runExperiments.Load(runID); ok {
		return v.(string), nil
	}
	p, _, err := readJSON[runPointer](ctx, s.store, runIDKey(runID))
	if errors.Is(err, objstore.ErrNotFound) {
		return "", notFound("Run with id=%s not found", runID)
	}
	if err != nil {
		return "", err
	}
	if !validExperimentID(p.ExperimentID) {
		return "", fmt.Errorf("tracking: run pointer %s names experiment %q", runID, p.ExperimentID)
	}
	s.runExperiments.Store(runID, p.ExperimentID)
	return p.ExperimentID, nil
}

// GetRun returns a run with its params, tags and latest metrics.
func (s *Store) GetRun(ctx context.Context, runID string) (*Run, error) {
	exp, err := s.runExperiment(ctx, runID)
	if err != nil {
		return nil, err
	}
	r, etag, err := readJSON[Run](ctx, s.store, runKey(exp, runID))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, notFound("Run with id=%s not found", runID)
	}
	if err != nil {
		return nil, err
	}
	s.objects.put(runKey(exp, runID), etag, r)
	return r.clone(), nil
}

// updateRun is update for a run that must exist. With active set, the run
// must not be deleted (MLflow refuses to log to deleted runs).
func (s *Store) updateRun(ctx context.Context, runID string, active bool, mutate func(*Run) error) (*Run, error) {
	exp, err := s.runExperiment(ctx, runID)
	if err != nil {
		return nil, err
	}
	mu := s.stripe(runID)
	mu.Lock()
	defer mu.Unlock()
	r, err := update(ctx, s, runKey(exp, runID), func(r *Run) error {
		if active && r.Info.LifecycleStage != StageActive {
			return invalid("The run %s must be in the 'active' state. Current state is %s.", runID, r.Info.LifecycleStage)
		}
		return mutate(r)
	})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, notFound("Run with id=%s not found", runID)
	}
	if err != nil {
		return nil, err
	}
	return r.clone(), nil
}

// RunUpdate holds the fields update-run may change; nil leaves one as is.
type RunUpdate struct {
	Status  *RunStatus
	EndTime *int64
	RunName *string
}

// UpdateRun changes a run's status, end time or name.
func (s *Store) UpdateRun(ctx context.Context, runID string, u RunUpdate) (*RunInfo, error) {
	if u.RunName != nil && len(*u.RunName) > MaxRunNameLen {
		return nil, lengthError("Run name", *u.RunName, MaxRunNameLen)
	}
	r, err := s.updateRun(ctx, runID, true, func(r *Run) error {
		if u.Status != nil {
			r.Info.Status = *u.Status
		}
		if u.EndTime != nil {
			r.Info.EndTime = *u.EndTime
		}
		if u.RunName != nil && *u.RunName != "" {
			r.Info.RunName = *u.RunName
			if r.Tags == nil {
				r.Tags = map[string]string{}
			}
			r.Tags[TagRunName] = *u.RunName
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r.Info, nil
}

// DeleteRun marks a run deleted.
func (s *Store) DeleteRun(ctx context.Context, runID string) error {
	_, err := s.updateRun(ctx, runID, false, func(r *Run) error {
		if r.Info.LifecycleStage == StageDeleted {
			return errNoChange
		}
		r.Info.LifecycleStage = StageDeleted
		return nil
	})
	return err
}

// RestoreRun restores a deleted run.
func (s *Store) RestoreRun(ctx context.Context, runID string) error {
	_, err := s.updateRun(ctx, runID, false, func(r *Run) error {
		if r.Info.LifecycleStage == StageActive {
			return errNoChange
		}
		r.Info.LifecycleStage = StageActive
		return nil
	})
	return err
}

// LogBatch logs metrics, params and tags to an active run, as MLflow's
// log-batch does: params are immutable once set (logging another value for
// a key is an error; the same value is accepted), tags are overwritten, and
// each metric is appended to its history and becomes the latest value if
// it has a higher (step, timestamp, value).
//
// A metric with a ModelID (MLflow 3) must name an existing logged model; it
// is also recorded on that model, and is not appended to the run's history
// if that very point (key, value, timestamp, step) is already there: MLflow
// 3's log_model logs the run's metrics of its step again, linked to the new
// model, and MLflow's SQL store does not duplicate them either.
func (s *Store) LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error {
	if err := validateBatch(metrics, params, tags); err != nil {
		return err
	}
	if len(metrics)+len(params)+len(tags) == 0 {
		_, err := s.GetRun(ctx, runID)
		return err
	}
	cur, err := s.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	if cur.Info.LifecycleStage != StageActive {
		return invalid("The run %s must be in the 'active' state. Current state is %s.", runID, cur.Info.LifecycleStage)
	}
	// Refuse a changed param, or a link to a missing model, before writing
	// any history.
	if err := checkParams(cur, params); err != nil {
		return err
	}
	linked := map[string][]Metric{}
	var models []string
	for _, m := range metrics {
		if m.ModelID == "" {
			continue
		}
		if _, ok := linked[m.ModelID]; !ok {
			if _, err := s.GetLoggedModel(ctx, m.ModelID); err != nil {
				return err
			}
			models = append(models, m.ModelID)
		}
		linked[m.ModelID] = append(linked[m.ModelID], m)
	}
	if len(metrics) > 0 {
		var order []string
		byKey := map[string][]Metric{}
		for _, m := range metrics {
			if _, ok := byKey[m.Key]; !ok {
				order = append(order, m.Key)
			}
			byKey[m.Key] = append(byKey[m.Key], m)
		}
		for _, k := range order {
			if err := s.appendHistory(ctx, runID, k, byKey[k]); err != nil {
				return err
			}
		}
	}
	_, err = s.updateRun(ctx, runID, true, func(r *Run) error {
		if err := checkParams(r, params); err != nil {
			return err
		}
		for _, p := range params {
			if r.Params == nil {
				r.Params = map[string]string{}
			}
			r.Params[p.Key] = p.Value
		}
		for _, t := range tags {
			if r.Tags == nil {
				r.Tags = map[string]string{}
			}
			r.Tags[t.Key] = t.Value
			if t.Key == TagRunName && t.Value != "" {
				r.Info.RunName = t.Value
			}
		}
		for _, m := range metrics {
			if r.Metrics == nil {
				r.Metrics = map[string]Metric{}
			}
			if old, ok := r.Metrics[m.Key]; !ok || newer(m, old) {
				r.Metrics[m.Key] = m.plain()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range models {
		if err := s.linkMetrics(ctx, id, runID, linked[id]); err != nil {
			return err
		}
	}
	return nil
}

func checkParams(r *Run, params []Param) error {
	for _, p := range params {
		if old, ok := r.Params[p.Key]; ok && old != p.Value {
			return invalid("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.", p.Key, old, r.Info.RunID, p.Value)
		}
	}
	return nil
}

// newer reports whether m replaces old as the latest value of its metric.
func newer(m, old Metric) bool {
	if m.Step != old.Step {
		return m.Step > old.Step
	}
	if m.Timestamp != old.Timestamp {
		return m.Timestamp > old.Timestamp
	}
	if math.IsNaN(old.Value) {
		return !math.IsNaN(m.Value)
	}
	return m.Value > old.Value
}

// DeleteTag removes a tag from an active run.
func (s *Store) DeleteTag(ctx context.Context, runID, key string) error {
	_, err := s.updateRun(ctx, runID, true, func(r *Run) error {
		if _, ok := r.Tags[key]; !ok {
			return notFound("No tag with name: %s in run with id %s", key, runID)
		}
		r.Tags = maps.Clone(r.Tags)
		delete(r.Tags, key)
		return nil
	})
	return err
}

// LogModel records a model logged by a run (runs/log-model) in the run's
// mlflow.log-model.history tag, a JSON list, as MLflow does. The model is
// the MLmodel file as a JSON object; its signature and input example are
// left out of the tag, as in MLflow.
func (s *Store) LogModel(ctx context.Context, runID string, model map[string]any) error {
	m := maps.Clone(model)
	for _, k := range []string{"signature", "input_example", "saved_input_example_info"} {
		delete(m, k)
	}
	_, err := s.updateRun(ctx, runID, true, func(r *Run) error {
		var list []any
		if old := r.Tags[TagLoggedModels]; old != "" {
			if json.Unmarshal([]byte(old), &list) != nil {
				list = nil
			}
		}
		list = append(list, m)
		b, err := json.Marshal(list)
		if err != nil {
			return invalid("Malformed model info: %v", err)
		}
		if len(b) > MaxLoggedModelsTagLen {
			return invalid("Run %s has logged too many models: the %s tag would be %d bytes; the limit is %d", runID, TagLoggedModels, len(b), MaxLoggedModelsTagLen)
		}
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		r.Tags[TagLoggedModels] = string(b)
		return nil
	})
	return err
}

// listRuns reads the runs of an experiment, from the cache where unchanged.
func (s *Store) listRuns(ctx context.Context, expID string) ([]*Run, error) {
	var out []*Run
	for info, err := range s.store.List(ctx, runsPrefix(expID), objstore.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		r, err := load[Run](ctx, s, info)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
