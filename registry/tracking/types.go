package tracking

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Lifecycle stages of experiments and runs, as in MLflow.
const (
	StageActive  = "active"
	StageDeleted = "deleted"
)

// ViewType selects experiments or runs by lifecycle stage.
type ViewType int

// View types, with MLflow's enum numbers.
const (
	ActiveOnly  ViewType = 1
	DeletedOnly ViewType = 2
	All         ViewType = 3
)

// ParseViewType reads a view type by name ("ACTIVE_ONLY") or number ("1").
// The empty string is ActiveOnly.
func ParseViewType(s string) (ViewType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "ACTIVE_ONLY", "1":
		return ActiveOnly, nil
	case "DELETED_ONLY", "2":
		return DeletedOnly, nil
	case "ALL", "3":
		return All, nil
	}
	return 0, invalid("Invalid view type %q: use ACTIVE_ONLY, DELETED_ONLY or ALL", s)
}

func (v ViewType) includes(stage string) bool {
	switch v {
	case DeletedOnly:
		return stage == StageDeleted
	case All:
		return true
	}
	return stage != StageDeleted
}

// RunStatus is a run's status, by MLflow's enum name.
type RunStatus string

// Run statuses, as in MLflow.
const (
	StatusRunning   RunStatus = "RUNNING"
	StatusScheduled RunStatus = "SCHEDULED"
	StatusFinished  RunStatus = "FINISHED"
	StatusFailed    RunStatus = "FAILED"
	StatusKilled    RunStatus = "KILLED"
)

var statusNumbers = map[string]RunStatus{
	"1": StatusRunning, "2": StatusScheduled, "3": StatusFinished, "4": StatusFailed, "5": StatusKilled,
}

// ParseRunStatus reads a status by name (any case) or by MLflow's enum number.
func ParseRunStatus(s string) (RunStatus, error) {
	if st, ok := statusNumbers[s]; ok {
		return st, nil
	}
	switch st := RunStatus(strings.ToUpper(s)); st {
	case StatusRunning, StatusScheduled, StatusFinished, StatusFailed, StatusKilled:
		return st, nil
	}
	return "", invalid("Invalid run status %q: use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", s)
}

// Experiment is an MLflow experiment. Times are milliseconds since the epoch.
type Experiment struct {
	ID               string            `json:"experiment_id"`
	Name             string            `json:"name"`
	ArtifactLocation string            `json:"artifact_location"`
	LifecycleStage   string            `json:"lifecycle_stage"`
	CreationTime     int64             `json:"creation_time"`
	LastUpdateTime   int64             `json:"last_update_time"`
	Tags             map[string]string `json:"tags,omitempty"`
}

func (e *Experiment) clone() *Experiment {
	c := *e
	c.Tags = maps.Clone(e.Tags)
	return &c
}

// RunInfo is a run's metadata. Times are milliseconds since the epoch; EndTime
// is 0 while the run has not ended.
type RunInfo struct {
	RunID          string    `json:"run_id"`
	RunName        string    `json:"run_name,omitempty"`
	ExperimentID   string    `json:"experiment_id"`
	UserID         string    `json:"user_id,omitempty"`
	Status         RunStatus `json:"status"`
	StartTime      int64     `json:"start_time"`
	EndTime        int64     `json:"end_time,omitempty"`
	ArtifactURI    string    `json:"artifact_uri"`
	LifecycleStage string    `json:"lifecycle_stage"`
}

// Run is a run with its data: parameters, tags, the latest value of each
// metric, and the logged models it produced (MLflow 3's run outputs).
type Run struct {
	Info    RunInfo           `json:"info"`
	Params  map[string]string `json:"params,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Metrics map[string]Metric `json:"metrics,omitempty"`
	Outputs []ModelOutput     `json:"outputs,omitempty"`
}

// ModelOutput is a logged model a run produced, at a step of its training.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

func (r *Run) clone() *Run {
	c := *r
	c.Params = maps.Clone(r.Params)
	c.Tags = maps.Clone(r.Tags)
	c.Metrics = maps.Clone(r.Metrics)
	c.Outputs = slices.Clone(r.Outputs)
	return &c
}

// Metric is one logged value of a metric.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"`
	Step      int64   `json:"step"`
	// ModelID links the value to a logged model (MLflow 3's model_id), and
	// DatasetName and DatasetDigest name the dataset it was computed on.
	// LogBatch records linked values on the logged model too; a run's
	// history and latest metrics keep key, value, timestamp and step only.
	ModelID       string `json:"-"`
	DatasetName   string `json:"-"`
	DatasetDigest string `json:"-"`
}

// plain returns m without its links (what a run keeps).
func (m Metric) plain() Metric {
	return Metric{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp, Step: m.Step}
}

// Param is a run parameter.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Tag is a run or experiment tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Float is a float64 that encodes NaN and the infinities as the strings
// "NaN", "Infinity" and "-Infinity", as protobuf's JSON mapping does, and
// decodes numbers as well as those strings and numeric strings.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseFloat(s)
		if err != nil {
			return err
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// ParseFloat reads a double as protobuf's JSON mapping writes it: a number,
// or "NaN", "Infinity", "-Infinity".
func ParseFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// metricJSON is Metric's stored form, with NaN-safe values.
type metricJSON struct {
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
}

// MarshalJSON implements json.Marshaler (NaN and infinities as strings).
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricJSON{m.Key, Float(m.Value), m.Timestamp, m.Step})
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var j metricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Metric{Key: j.Key, Value: float64(j.Value), Timestamp: j.Timestamp, Step: j.Step}
	return nil
}
