package mlflowapi

import (
	"cmp"
	"maps"
	"slices"
	"strconv"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

// The JSON of MLflow's protobuf messages as its server writes them
// (message_to_json): snake_case keys, int64 as numbers, enums by name,
// unset fields omitted.

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type wireModelVersion struct {
	Name                 string    `json:"name,omitempty"`
	Version              string    `json:"version,omitempty"`
	CreationTimestamp    int64     `json:"creation_timestamp,omitempty"`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp,omitempty"`
	UserID               string    `json:"user_id,omitempty"`
	CurrentStage         string    `json:"current_stage,omitempty"`
	Description          string    `json:"description,omitempty"`
	Source               string    `json:"source,omitempty"`
	RunID                string    `json:"run_id,omitempty"`
	Status               string    `json:"status,omitempty"`
	StatusMessage        string    `json:"status_message,omitempty"`
	Tags                 []wireTag `json:"tags,omitempty"`
	RunLink              string    `json:"run_link,omitempty"`
	Aliases              []string  `json:"aliases,omitempty"`
	// ModelID is the MLflow 3 logged model the version was made from.
	ModelID string `json:"model_id,omitempty"`
}

type wireRegisteredModel struct {
	Name                 string             `json:"name,omitempty"`
	CreationTimestamp    int64              `json:"creation_timestamp,omitempty"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp,omitempty"`
	UserID               string             `json:"user_id,omitempty"`
	Description          string             `json:"description,omitempty"`
	LatestVersions       []wireModelVersion `json:"latest_versions,omitempty"`
	Tags                 []wireTag          `json:"tags,omitempty"`
	Aliases              []wireAlias        `json:"aliases,omitempty"`
}

type wireExperiment struct {
	ExperimentID     string    `json:"experiment_id,omitempty"`
	Name             string    `json:"name,omitempty"`
	ArtifactLocation string    `json:"artifact_location,omitempty"`
	LifecycleStage   string    `json:"lifecycle_stage,omitempty"`
	LastUpdateTime   int64     `json:"last_update_time,omitempty"`
	CreationTime     int64     `json:"creation_time,omitempty"`
	Tags             []wireTag `json:"tags,omitempty"`
}

type wireRunInfo struct {
	RunID          string `json:"run_id,omitempty"`
	RunUUID        string `json:"run_uuid,omitempty"`
	RunName        string `json:"run_name,omitempty"`
	ExperimentID   string `json:"experiment_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	Status         string `json:"status,omitempty"`
	StartTime      int64  `json:"start_time,omitempty"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri,omitempty"`
	LifecycleStage string `json:"lifecycle_stage,omitempty"`
}

type wireMetric struct {
	Key       string         `json:"key"`
	Value     tracking.Float `json:"value"`
	Timestamp int64          `json:"timestamp"`
	Step      int64          `json:"step"`
}

type wireRunData struct {
	Metrics []wireMetric `json:"metrics,omitempty"`
	Params  []wireTag    `json:"params,omitempty"`
	Tags    []wireTag    `json:"tags,omitempty"`
}

type wireRun struct {
	Info    wireRunInfo     `json:"info"`
	Data    wireRunData     `json:"data"`
	Inputs  struct{}        `json:"inputs"`
	Outputs *wireRunOutputs `json:"outputs,omitempty"`
}

type wireRunOutputs struct {
	ModelOutputs []wireModelOutput `json:"model_outputs,omitempty"`
}

type wireModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// wireLoggedModel is MLflow 3's LoggedModel: {info, data}.
type wireLoggedModel struct {
	Info wireLoggedModelInfo `json:"info"`
	Data wireLoggedModelData `json:"data"`
}

type wireLoggedModelInfo struct {
	ModelID                string    `json:"model_id,omitempty"`
	ExperimentID           string    `json:"experiment_id,omitempty"`
	Name                   string    `json:"name,omitempty"`
	CreationTimestampMS    int64     `json:"creation_timestamp_ms,omitempty"`
	LastUpdatedTimestampMS int64     `json:"last_updated_timestamp_ms,omitempty"`
	ArtifactURI            string    `json:"artifact_uri,omitempty"`
	Status                 string    `json:"status,omitempty"`
	ModelType              string    `json:"model_type,omitempty"`
	SourceRunID            string    `json:"source_run_id,omitempty"`
	StatusMessage          string    `json:"status_message,omitempty"`
	Tags                   []wireTag `json:"tags,omitempty"`
}

type wireLoggedModelData struct {
	Params  []wireTag         `json:"params,omitempty"`
	Metrics []wireModelMetric `json:"metrics,omitempty"`
}

// wireModelMetric is a Metric linked to a logged model.
type wireModelMetric struct {
	Key           string         `json:"key"`
	Value         tracking.Float `json:"value"`
	Timestamp     int64          `json:"timestamp"`
	Step          int64          `json:"step"`
	DatasetName   string         `json:"dataset_name,omitempty"`
	DatasetDigest string         `json:"dataset_digest,omitempty"`
	ModelID       string         `json:"model_id,omitempty"`
	RunID         string         `json:"run_id,omitempty"`
}

type wireFileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size,omitempty"`
}

func sortedTags(m map[string]string) []wireTag {
	if len(m) == 0 {
		return nil
	}
	out := make([]wireTag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, wireTag{k, m[k]})
	}
	return out
}

func versionString(n int64) string { return strconv.FormatInt(n, 10) }

func toWireVersion(v *registry.Version) wireModelVersion {
	return wireModelVersion{
		Name: v.Name, Version: versionString(v.Version),
		CreationTimestamp: v.CreatedAt.UnixMilli(), LastUpdatedTimestamp: v.UpdatedAt.UnixMilli(),
		UserID: v.CreatedBy, CurrentStage: string(v.Stage), Description: v.Description,
		Source: v.Source, RunID: v.RunID, Status: string(v.Status), StatusMessage: v.StatusMessage,
		Tags: sortedTags(v.Tags), RunLink: v.RunLink, Aliases: v.Aliases,
		ModelID: loggedModelID(v.Source),
	}
}

func toWireVersions(vs []*registry.Version) []wireModelVersion {
	out := make([]wireModelVersion, len(vs))
	for i, v := range vs {
		out[i] = toWireVersion(v)
	}
	return out
}

func toWireModel(m *registry.Model, latest []*registry.Version) wireRegisteredModel {
	w := wireRegisteredModel{
		Name: m.Name, CreationTimestamp: m.CreatedAt.UnixMilli(), LastUpdatedTimestamp: m.UpdatedAt.UnixMilli(),
		Description: m.Description, Tags: sortedTags(m.Tags),
	}
	if len(latest) > 0 {
		w.LatestVersions = toWireVersions(latest)
	}
	for _, a := range slices.Sorted(maps.Keys(m.Aliases)) {
		w.Aliases = append(w.Aliases, wireAlias{a, versionString(m.Aliases[a])})
	}
	return w
}

func toWireExperiment(e *tracking.Experiment) wireExperiment {
	return wireExperiment{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: e.LifecycleStage,
		LastUpdateTime: e.LastUpdateTime, CreationTime: e.CreationTime, Tags: sortedTags(e.Tags),
	}
}

func toWireRunInfo(i *tracking.RunInfo) wireRunInfo {
	return wireRunInfo{
		RunID: i.RunID, RunUUID: i.RunID, RunName: i.RunName, ExperimentID: i.ExperimentID, UserID: i.UserID,
		Status: string(i.Status), StartTime: i.StartTime, EndTime: i.EndTime, ArtifactURI: i.ArtifactURI,
		LifecycleStage: i.LifecycleStage,
	}
}

func toWireMetric(m tracking.Metric) wireMetric {
	return wireMetric{m.Key, tracking.Float(m.Value), m.Timestamp, m.Step}
}

func toWireRun(r *tracking.Run) wireRun {
	w := wireRun{Info: toWireRunInfo(&r.Info)}
	for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
		w.Data.Metrics = append(w.Data.Metrics, toWireMetric(r.Metrics[k]))
	}
	w.Data.Params = sortedTags(r.Params)
	w.Data.Tags = sortedTags(r.Tags)
	if len(r.Outputs) > 0 {
		w.Outputs = &wireRunOutputs{}
		for _, o := range r.Outputs {
			w.Outputs.ModelOutputs = append(w.Outputs.ModelOutputs, wireModelOutput(o))
		}
	}
	return w
}

func toWireLoggedModel(m *tracking.LoggedModel) wireLoggedModel {
	w := wireLoggedModel{Info: wireLoggedModelInfo{
		ModelID: m.ID, ExperimentID: m.ExperimentID, Name: m.Name,
		CreationTimestampMS: m.CreationTime, LastUpdatedTimestampMS: m.LastUpdateTime,
		ArtifactURI: m.ArtifactLocation, Status: string(m.Status), ModelType: m.ModelType,
		SourceRunID: m.SourceRunID, StatusMessage: m.StatusMessage, Tags: sortedTags(m.Tags),
	}}
	w.Data.Params = sortedTags(m.Params)
	for _, mm := range m.Metrics {
		w.Data.Metrics = append(w.Data.Metrics, wireModelMetric{
			Key: mm.Key, Value: tracking.Float(mm.Value), Timestamp: mm.Timestamp, Step: mm.Step,
			DatasetName: mm.DatasetName, DatasetDigest: mm.DatasetDigest, ModelID: m.ID, RunID: mm.RunID,
		})
	}
	slices.SortFunc(w.Data.Metrics, func(a, b wireModelMetric) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.DatasetName, b.DatasetName), cmp.Compare(a.DatasetDigest, b.DatasetDigest))
	})
	return w
}

func sortFiles(fs []wireFileInfo) {
	slices.SortFunc(fs, func(a, b wireFileInfo) int { return cmp.Compare(a.Path, b.Path) })
}
