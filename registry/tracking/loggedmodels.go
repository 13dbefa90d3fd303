package tracking

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/objstore"
)

// Logged models are MLflow 3's first-class models: mlflow.<flavor>.log_model
// creates one (PENDING), uploads its files to its artifact location through
// the artifact proxy, finalizes it (READY or UPLOAD_FAILED) and registers
// it with the source models:/<model id>. The store keeps each one as an
// object under its experiment, with a create-only pointer from its id, as it
// keeps runs.

// LoggedModelStatus is a logged model's status, by MLflow's enum name.
type LoggedModelStatus string

// Logged model statuses, as in MLflow's LoggedModelStatus enum.
const (
	// LoggedModelPending: created; its files are being uploaded.
	LoggedModelPending LoggedModelStatus = "LOGGED_MODEL_PENDING"
	// LoggedModelReady: its files are completely uploaded.
	LoggedModelReady LoggedModelStatus = "LOGGED_MODEL_READY"
	// LoggedModelFailed: uploading its files failed.
	LoggedModelFailed LoggedModelStatus = "LOGGED_MODEL_UPLOAD_FAILED"
)

// ParseFinalStatus reads the status a logged model is finalized with:
// LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED, by name or by enum
// number (2, 3), or as the Python client's READY and FAILED. Any other
// status, PENDING included, is ErrInvalid, as finalize-logged-model only
// takes these two.
func ParseFinalStatus(s string) (LoggedModelStatus, error) {
	switch normalizeModelStatus(s) {
	case "READY", "2":
		return LoggedModelReady, nil
	case "FAILED", "3":
		return LoggedModelFailed, nil
	}
	return "", invalid("Invalid value %q for parameter 'status': a logged model is finalized with LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED", s)
}

// normalizeModelStatus maps the spellings of a logged model status (proto
// names, Python names) to the Python client's: PENDING, READY, FAILED.
func normalizeModelStatus(s string) string {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "LOGGED_MODEL_")
	if u == "UPLOAD_FAILED" {
		u = "FAILED"
	}
	return u
}

// LoggedModel is an MLflow 3 logged model. Times are milliseconds since the
// epoch. Its files are under ArtifactLocation, an mlflow-artifacts: URI
// (<experiment artifact location>/models/<id>/artifacts, as MLflow makes it).
type LoggedModel struct {
	ID               string            `json:"model_id"`
	ExperimentID     string            `json:"experiment_id"`
	Name             string            `json:"name"`
	ArtifactLocation string            `json:"artifact_location"`
	CreationTime     int64             `json:"creation_timestamp_ms"`
	LastUpdateTime   int64             `json:"last_updated_timestamp_ms"`
	Status           LoggedModelStatus `json:"status"`
	StatusMessage    string            `json:"status_message,omitempty"`
	ModelType        string            `json:"model_type,omitempty"`
	SourceRunID      string            `json:"source_run_id,omitempty"`
	LifecycleStage   string            `json:"lifecycle_stage"`
	Tags             map[string]string `json:"tags,omitempty"`
	// Params are immutable once set, as a run's.
	Params map[string]string `json:"params,omitempty"`
	// Metrics holds the latest value of each metric linked to the model,
	// per dataset (see Metric.ModelID).
	Metrics []ModelMetric `json:"metrics,omitempty"`
}

func (m *LoggedModel) clone() *LoggedModel {
	c := *m
	c.Tags = maps.Clone(m.Tags)
	c.Params = maps.Clone(m.Params)
	c.Metrics = slices.Clone(m.Metrics)
	return &c
}

func (m *LoggedModel) entries() int { return len(m.Params) + len(m.Tags) + len(m.Metrics) }

// ModelMetric is a metric value linked to a logged model.
type ModelMetric struct {
	Key           string
	Value         float64
	Timestamp     int64
	Step          int64
	RunID         string
	DatasetName   string
	DatasetDigest string
}

func (m ModelMetric) metric() Metric {
	return Metric{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp, Step: m.Step}
}

func (m ModelMetric) sameSeries(o Metric) bool {
	return m.Key == o.Key && m.DatasetName == o.DatasetName && m.DatasetDigest == o.DatasetDigest
}

type modelMetricJSON struct {
	Key           string `json:"key"`
	Value         Float  `json:"value"`
	Timestamp     int64  `json:"timestamp"`
	Step          int64  `json:"step"`
	RunID         string `json:"run_id,omitempty"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// MarshalJSON implements json.Marshaler (NaN and infinities as strings).
func (m ModelMetric) MarshalJSON() ([]byte, error) {
	return json.Marshal(modelMetricJSON{m.Key, Float(m.Value), m.Timestamp, m.Step, m.RunID, m.DatasetName, m.DatasetDigest})
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *ModelMetric) UnmarshalJSON(b []byte) error {
	var j modelMetricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = ModelMetric{j.Key, float64(j.Value), j.Timestamp, j.Step, j.RunID, j.DatasetName, j.DatasetDigest}
	return nil
}

// NewLoggedModel describes a logged model to create.
type NewLoggedModel struct {
	ExperimentID string
	// Name defaults to a generated name ("calm-fox-123").
	Name      string
	ModelType string
	// SourceRunID is the run that produced the model, if any.
	SourceRunID string
	Params      []Param
	Tags        []Tag
}

func checkModelParams(params []Param) error {
	if len(params) > MaxEntitiesPerBatch {
		return invalid("A request can log at most %d params to a logged model, got %d; log the rest with log-logged-model-params", MaxEntitiesPerBatch, len(params))
	}
	seen := map[string]string{}
	for _, p := range params {
		if err := validateParam(p); err != nil {
			return err
		}
		if old, ok := seen[p.Key]; ok && old != p.Value {
			return invalid("Duplicate parameter keys have been submitted: ['%s']. Please ensure the request contains only one param value per param key.", p.Key)
		}
		seen[p.Key] = p.Value
	}
	return nil
}

func checkModelTags(tags []Tag) error {
	if len(tags) > MaxEntitiesPerBatch {
		return invalid("A request can set at most %d tags on a logged model, got %d", MaxEntitiesPerBatch, len(tags))
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	return nil
}

// CreateLoggedModel creates a PENDING logged model in an active experiment.
// Its id is "m-" and 32 random hex digits; its artifact location is
// "<experiment artifact location>/models/<id>/artifacts".
func (s *Store) CreateLoggedModel(ctx context.Context, in NewLoggedModel) (*LoggedModel, error) {
	if in.Name == "" {
		in.Name = randomRunName()
	} else if err := validateLoggedModelName(in.Name); err != nil {
		return nil, err
	}
	if len(in.ModelType) > MaxLoggedModelNameLen || !utf8.ValidString(in.ModelType) {
		return nil, invalid("Invalid model_type: it must be valid UTF-8 of at most %d bytes", MaxLoggedModelNameLen)
	}
	if len(in.SourceRunID) > maxIDLen || !utf8.ValidString(in.SourceRunID) {
		return nil, invalid("Invalid source_run_id: it must be valid UTF-8 of at most %d bytes", maxIDLen)
	}
	if err := checkModelParams(in.Params); err != nil {
		return nil, err
	}
	if err := checkModelTags(in.Tags); err != nil {
		return nil, err
	}
	exp, err := s.GetExperiment(ctx, in.ExperimentID)
	if err != nil {
		return nil, err
	}
	if exp.LifecycleStage != StageActive {
		return nil, invalid("The experiment %s must be in the 'active' state. Current state is %s.", exp.ID, exp.LifecycleStage)
	}
	now := s.now()
	m := &LoggedModel{
		ExperimentID: exp.ID, Name: in.Name, ModelType: in.ModelType, SourceRunID: in.SourceRunID,
		CreationTime: now, LastUpdateTime: now, Status: LoggedModelPending, LifecycleStage: StageActive,
	}
	for _, p := range in.Params {
		if m.Params == nil {
			m.Params = map[string]string{}
		}
		m.Params[p.Key] = p.Value
	}
	for _, t := range in.Tags {
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[t.Key] = t.Value
	}
	for attempt := 0; attempt < 8; attempt++ {
		id := LoggedModelIDPrefix + newRunID()
		_, err := putJSON(ctx, s.store, loggedModelIDKey(id), runPointer{exp.ID}, objstore.PutOptions{IfNoneMatch: true})
		if errors.Is(err, objstore.ErrPrecondition) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m.ID = id
		m.ArtifactLocation = exp.ArtifactLocation + "/models/" + id + "/artifacts"
		info, err := putJSON(ctx, s.store, loggedModelKey(exp.ID, id), m, objstore.PutOptions{IfNoneMatch: true})
		if err != nil {
			return nil, err
		}
		s.modelExperiments.Store(id, exp.ID)
		s.objects.put(loggedModelKey(exp.ID, id), info.ETag, m)
		return m.clone(), nil
	}
	return nil, conflict("logged model id allocation")
}

func modelNotFound(id string) error {
	return notFound("Logged model with ID '%s' not found.", id)
}

// modelExperiment returns the experiment id of a logged model.
func (s *Store) modelExperiment(ctx context.Context, id string) (string, error) {
	if !validLoggedModelID(id) {
		return "", modelNotFound(id)
	}
	if v, ok := s.modelExperiments.Load(id); ok {
		return v.(string), nil
	}
	p, _, err := readJSON[runPointer](ctx, s.store, loggedModelIDKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return "", modelNotFound(id)
	}
	if err != nil {
		return "", err
	}
	if !validExperimentID(p.ExperimentID) {
		return "", fmt.Errorf("tracking: logged model pointer %s names experiment %q", id, p.ExperimentID)
	}
	s.modelExperiments.Store(id, p.ExperimentID)
	return p.ExperimentID, nil
}

// GetLoggedModel returns a logged model. A deleted one is ErrNotFound, as
// in MLflow.
func (s *Store) GetLoggedModel(ctx context.Context, id string) (*LoggedModel, error) {
	exp, err := s.modelExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	m, etag, err := readJSON[LoggedModel](ctx, s.store, loggedModelKey(exp, id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, modelNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	s.objects.put(loggedModelKey(exp, id), etag, m)
	if m.LifecycleStage == StageDeleted {
		return nil, modelNotFound(id)
	}
	return m.clone(), nil
}

// updateLoggedModel is update for a logged model that must exist and, unless
// deleted is set, not be deleted. mutate may return errNoChange.
func (s *Store) updateLoggedModel(ctx context.Context, id string, deleted bool, mutate func(*LoggedModel) error) (*LoggedModel, error) {
	exp, err := s.modelExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	mu := s.stripe(id)
	mu.Lock()
	defer mu.Unlock()
	m, err := update(ctx, s, loggedModelKey(exp, id), func(m *LoggedModel) error {
		if !deleted && m.LifecycleStage == StageDeleted {
			return modelNotFound(id)
		}
		if err := mutate(m); err != nil {
			return err
		}
		m.LastUpdateTime = s.now()
		return nil
	})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, modelNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return m.clone(), nil
}

// FinalizeLoggedModel sets a logged model's final status, READY or
// UPLOAD_FAILED. As in MLflow, a finalized model may be finalized again
// (mlflow.<flavor>.log_model(model_id=...) re-uploads files to an existing
// model and finalizes it once more); finalizing with the status it has
// changes nothing, so a retried request is harmless.
func (s *Store) FinalizeLoggedModel(ctx context.Context, id string, status LoggedModelStatus) (*LoggedModel, error) {
	if status != LoggedModelReady && status != LoggedModelFailed {
		return nil, invalid("Invalid status %q: a logged model is finalized with %s or %s", status, LoggedModelReady, LoggedModelFailed)
	}
	return s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		if m.Status == status {
			return errNoChange
		}
		m.Status = status
		return nil
	})
}

// SetLoggedModelTags sets tags on a logged model and returns it. A value of
// the mlflow.modelVersions tag has its duplicate entries removed (the
// server and the MLflow client both record a registration).
func (s *Store) SetLoggedModelTags(ctx context.Context, id string, tags []Tag) (*LoggedModel, error) {
	if err := checkModelTags(tags); err != nil {
		return nil, err
	}
	return s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		changed := false
		for _, t := range tags {
			v := t.Value
			if t.Key == TagModelVersions {
				v = dedupeModelVersions(v)
			}
			if old, ok := m.Tags[t.Key]; ok && old == v {
				continue
			}
			if _, ok := m.Tags[t.Key]; !ok && m.entries() >= MaxLoggedModelEntries {
				return invalid("Logged model %s has %d params, tags and metrics, the limit", id, MaxLoggedModelEntries)
			}
			if m.Tags == nil {
				m.Tags = map[string]string{}
			}
			m.Tags[t.Key] = v
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
}

// DeleteLoggedModelTag removes a tag from a logged model.
func (s *Store) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	_, err := s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		if _, ok := m.Tags[key]; !ok {
			return notFound("No tag with key '%s' found for model with ID '%s'.", key, id)
		}
		delete(m.Tags, key)
		return nil
	})
	return err
}

// LogLoggedModelParams logs params to a logged model. Params are immutable,
// as a run's: logging another value for a key is ErrInvalid; the same value
// again is accepted.
func (s *Store) LogLoggedModelParams(ctx context.Context, id string, params []Param) error {
	if err := checkModelParams(params); err != nil {
		return err
	}
	_, err := s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		changed := false
		for _, p := range params {
			old, ok := m.Params[p.Key]
			switch {
			case ok && old == p.Value:
				continue
			case ok:
				return invalid("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for logged model ID='%s'. Attempted logging new value '%s'.", p.Key, old, id, p.Value)
			case m.entries() >= MaxLoggedModelEntries:
				return invalid("Logged model %s has %d params, tags and metrics, the limit", id, MaxLoggedModelEntries)
			}
			if m.Params == nil {
				m.Params = map[string]string{}
			}
			m.Params[p.Key] = p.Value
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	return err
}

// DeleteLoggedModel marks a logged model deleted: it is no longer found or
// listed. Its files stay where they are, as in MLflow. Deleting a deleted
// model changes nothing.
func (s *Store) DeleteLoggedModel(ctx context.Context, id string) error {
	_, err := s.updateLoggedModel(ctx, id, true, func(m *LoggedModel) error {
		if m.LifecycleStage == StageDeleted {
			return errNoChange
		}
		m.LifecycleStage = StageDeleted
		return nil
	})
	return err
}

// AddModelVersion records that registered model name's version was made
// from the logged model, in its mlflow.modelVersions tag (MLflow's
// set_model_versions_tags). Recording it again changes nothing.
func (s *Store) AddModelVersion(ctx context.Context, id, name, version string) error {
	_, err := s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		refs, ok := parseModelVersions(m.Tags[TagModelVersions])
		if !ok {
			refs = nil // not a list MLflow would write: start a new one
		}
		if slices.Contains(refs, modelVersionRef{name, version}) {
			return errNoChange
		}
		v := formatModelVersions(append(refs, modelVersionRef{name, version}))
		if len(v) > MaxLoggedModelsTagLen {
			return invalid("Logged model %s has been registered too many times: its %s tag would be over %d bytes", id, TagModelVersions, MaxLoggedModelsTagLen)
		}
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[TagModelVersions] = v
		return nil
	})
	return err
}

// linkMetrics records metric values on a logged model: the latest value of
// each metric per dataset (highest step, then timestamp, then value).
func (s *Store) linkMetrics(ctx context.Context, id, runID string, ms []Metric) error {
	_, err := s.updateLoggedModel(ctx, id, false, func(m *LoggedModel) error {
		changed := false
		for _, x := range ms {
			mm := ModelMetric{x.Key, x.Value, x.Timestamp, x.Step, runID, x.DatasetName, x.DatasetDigest}
			i := slices.IndexFunc(m.Metrics, func(o ModelMetric) bool { return o.sameSeries(x) })
			switch {
			case i < 0 && m.entries() >= MaxLoggedModelEntries:
				return invalid("Logged model %s has %d params, tags and metrics, the limit", id, MaxLoggedModelEntries)
			case i < 0:
				m.Metrics = append(m.Metrics, mm)
			case newer(x.plain(), m.Metrics[i].metric()):
				m.Metrics[i] = mm
			default:
				continue
			}
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	return err
}

// modelVersionRef is an entry of the mlflow.modelVersions tag.
type modelVersionRef struct {
	name, version string
}

// parseModelVersions reads the mlflow.modelVersions tag: a JSON list of
// {"name", "version"} objects (the version a string, or a number as
// MLflow's server writes it). ok is false for anything else.
func parseModelVersions(v string) (refs []modelVersionRef, ok bool) {
	if strings.TrimSpace(v) == "" {
		return nil, true
	}
	var raw []map[string]any
	if json.Unmarshal([]byte(v), &raw) != nil {
		return nil, false
	}
	for _, e := range raw {
		name, ok := e["name"].(string)
		if !ok {
			return nil, false
		}
		var version string
		switch x := e["version"].(type) {
		case string:
			version = x
		case float64:
			version = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, false
		}
		refs = append(refs, modelVersionRef{name, version})
	}
	return refs, true
}

// formatModelVersions writes the mlflow.modelVersions tag the way the MLflow
// client does (Python's json.dumps layout).
func formatModelVersions(refs []modelVersionRef) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range refs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": `)
		b.WriteString(jsonString(r.name))
		b.WriteString(`, "version": `)
		b.WriteString(jsonString(r.version))
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}

func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// dedupeModelVersions removes repeated entries from an mlflow.modelVersions
// value. A value without repeats, or that is not such a list, is kept as is.
func dedupeModelVersions(v string) string {
	refs, ok := parseModelVersions(v)
	if !ok {
		return v
	}
	var out []modelVersionRef
	for _, r := range refs {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == len(refs) {
		return v
	}
	return formatModelVersions(out)
}

// LogOutputs records logged models as outputs of an active run (MLflow's
// runs/outputs), each at a step. An output already recorded is not
// recorded twice.
func (s *Store) LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error {
	for _, o := range outputs {
		if o.ModelID == "" || len(o.ModelID) > maxIDLen || !utf8.ValidString(o.ModelID) {
			return invalid("Invalid model_id %q in the run's outputs", o.ModelID)
		}
	}
	_, err := s.updateRun(ctx, runID, true, func(r *Run) error {
		changed := false
		for _, o := range outputs {
			if slices.Contains(r.Outputs, o) {
				continue
			}
			if len(r.Outputs) >= MaxRunOutputs {
				return invalid("Run %s has %d model outputs, the limit", runID, MaxRunOutputs)
			}
			r.Outputs = append(r.Outputs, o)
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	return err
}

// RunLoggedModel returns the logged model a run logged under a name, the way
// MLflow 3 clients resolve runs:/<run id>/<name> when the run has no files
// there: among the experiment's models with that name and source run, the
// one the run output at the highest step (the newest on a tie). Several
// candidates and no recorded outputs is ErrInvalid, as in MLflow; none is
// ErrNotFound.
func (s *Store) RunLoggedModel(ctx context.Context, runID, name string) (*LoggedModel, error) {
	run, err := s.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	all, err := s.listLoggedModels(ctx, run.Info.ExperimentID)
	if err != nil {
		return nil, err
	}
	var found []*LoggedModel
	for _, m := range all {
		if m.LifecycleStage == StageActive && m.SourceRunID == runID && m.Name == name {
			found = append(found, m)
		}
	}
	switch {
	case len(found) == 0:
		return nil, notFound("Unable to find a logged model named '%s' under run %s, nor any artifacts at that path", name, runID)
	case len(found) > 1 && len(run.Outputs) == 0:
		return nil, invalid("Multiple logged models named '%s' found for run %s. Cannot determine which model to register. Please use `models:/<model_id>` instead.", name, runID)
	}
	step := func(m *LoggedModel) int64 {
		best := int64(-1 << 63)
		for _, o := range run.Outputs {
			if o.ModelID == m.ID && o.Step > best {
				best = o.Step
			}
		}
		return best
	}
	best := slices.MaxFunc(found, func(a, b *LoggedModel) int {
		if c := cmp.Compare(step(a), step(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.CreationTime, b.CreationTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return best.clone(), nil
}

// listLoggedModels reads the logged models of an experiment, deleted ones
// too, from the cache where unchanged.
func (s *Store) listLoggedModels(ctx context.Context, expID string) ([]*LoggedModel, error) {
	var out []*LoggedModel
	for info, err := range s.store.List(ctx, loggedModelsPrefix(expID), objstore.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		m, err := load[LoggedModel](ctx, s, info)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
