package registry

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx"
)

// Status is a model version's registration status, as in MLflow.
type Status string

// Version statuses.
const (
	StatusPending Status = "PENDING_REGISTRATION"
	StatusReady   Status = "READY"
	StatusFailed  Status = "FAILED_REGISTRATION"
)

// Stage is MLflow's legacy deployment stage, kept for old clients.
// Aliases are the way to deploy.
type Stage string

// Legacy MLflow stages.
const (
	StageNone       Stage = "None"
	StageStaging    Stage = "Staging"
	StageProduction Stage = "Production"
	StageArchived   Stage = "Archived"
)

// Model is a registered model.
type Model struct {
	// ID never changes, even when the model is renamed; storage keys use it.
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Aliases maps an alias ("production", "champion") to a version number.
	Aliases map[string]int64 `json:"aliases,omitempty"`
	// Rollout is the model's canary rollout, active or the last finished one.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Shadow is the version receiving a copy of the traffic, if any.
	Shadow    *Shadow   `json:"shadow,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastAction is the audit action of the last write (used to rebuild a lost event).
	LastAction string `json:"last_action,omitempty"`
	// Rev counts writes to the object; the index keeps the highest it has seen.
	Rev     int64 `json:"rev"`
	Deleted bool  `json:"deleted,omitempty"`
}

// Artifact is one stored file of a model version.
type Artifact struct {
	// Path is relative to the version's artifact root ("model.onnx", "profile/reference.json").
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Lineage records where a version came from.
type Lineage struct {
	RunID         string             `json:"run_id,omitempty"`
	DatasetURI    string             `json:"dataset_uri,omitempty"`
	DatasetDigest string             `json:"dataset_digest,omitempty"`
	CodeVersion   string             `json:"code_version,omitempty"`
	Parameters    map[string]string  `json:"parameters,omitempty"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	// Parent is "name/version" of the version this one was derived from (retraining).
	Parent string `json:"parent,omitempty"`
}

// Version is a model version.
type Version struct {
	ModelID string `json:"model_id"`
	// Name is the model's current name (filled from the index on every read).
	Name          string `json:"name"`
	Version       int64  `json:"version"`
	Status        Status `json:"status"`
	StatusMessage string `json:"status_message,omitempty"`
	Stage         Stage  `json:"stage"`
	Description   string `json:"description,omitempty"`
	// Source is where the files came from: an MLflow URI ("runs:/<id>/model",
	// "mlflow-artifacts:/...") or "upload".
	Source  string `json:"source,omitempty"`
	RunID   string `json:"run_id,omitempty"`
	RunLink string `json:"run_link,omitempty"`
	// ArtifactPrefix is the registration's folder under registry/artifacts/<model id>/.
	ArtifactPrefix string     `json:"artifact_prefix,omitempty"`
	Artifacts      []Artifact `json:"artifacts,omitempty"`
	// ModelFile is the path of the ONNX file among Artifacts.
	ModelFile string            `json:"model_file,omitempty"`
	Signature *onnx.Signature   `json:"signature,omitempty"`
	Lineage   Lineage           `json:"lineage"`
	Tags      map[string]string `json:"tags,omitempty"`
	// Aliases pointing at this version (filled from the model on every read; not stored).
	Aliases    []string  `json:"aliases,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedBy  string    `json:"updated_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	LastAction string    `json:"last_action,omitempty"`
	Rev        int64     `json:"rev"`
	Deleted    bool      `json:"deleted,omitempty"`
	// Purged is set once a deleted version's files are gone.
	Purged bool `json:"purged,omitempty"`
}

// Event is one entry of the audit log, which is also the change feed.
type Event struct {
	// ID sorts by time; it is the event's key suffix in the store.
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Model     string    `json:"model,omitempty"`
	ModelID   string    `json:"model_id,omitempty"`
	Version   int64     `json:"version,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	// Details holds action-specific fields (alias, tag key, stage, ...).
	Details map[string]string `json:"details,omitempty"`
	// Object is the store key of the changed object and Rev its new revision.
	Object string `json:"object"`
	Rev    int64  `json:"rev"`
	// Before and After are snapshots of the object around the change.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Repaired marks an event rebuilt by the janitor after a writer crashed
	// between its metadata write and its event write; Before is unknown.
	Repaired bool `json:"repaired,omitempty"`
}

// Audit actions.
const (
	ActionModelCreate      = "model.create"
	ActionModelUpdate      = "model.update"
	ActionModelRename      = "model.rename"
	ActionModelDelete      = "model.delete"
	ActionModelTagSet      = "model.tag.set"
	ActionModelTagDelete   = "model.tag.delete"
	ActionAliasSet         = "alias.set"
	ActionAliasDelete      = "alias.delete"
	ActionVersionCreate    = "version.create"
	ActionVersionUpdate    = "version.update"
	ActionVersionDelete    = "version.delete"
	ActionVersionPurge     = "version.purge"
	ActionVersionFail      = "version.fail"
	ActionVersionStage     = "version.stage"
	ActionVersionTagSet    = "version.tag.set"
	ActionVersionTagDelete = "version.tag.delete"
)

func (m *Model) clone() *Model {
	c := *m
	c.Tags = maps.Clone(m.Tags)
	c.Aliases = maps.Clone(m.Aliases)
	if m.Rollout != nil {
		c.Rollout = cloneRollout(m.Rollout)
	}
	if m.Shadow != nil {
		sh := *m.Shadow
		c.Shadow = &sh
	}
	return &c
}

func (v *Version) clone() *Version {
	c := *v
	c.Tags = maps.Clone(v.Tags)
	c.Artifacts = slices.Clone(v.Artifacts)
	c.Aliases = slices.Clone(v.Aliases)
	c.Lineage.Parameters = maps.Clone(v.Lineage.Parameters)
	c.Lineage.Metrics = maps.Clone(v.Lineage.Metrics)
	return &c
}

// stamp records a write on the object.
func (m *Model) stamp(actor, action string, now time.Time) {
	m.Rev++
	m.UpdatedAt, m.UpdatedBy, m.LastAction = now, actor, action
}

func (v *Version) stamp(actor, action string, now time.Time) {
	v.Rev++
	v.UpdatedAt, v.UpdatedBy, v.LastAction = now, actor, action
}
