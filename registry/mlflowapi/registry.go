package mlflowapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/registry"
)

// Search defaults of the registry endpoints, as in MLflow's protos.
const (
	defaultModelResults   = 100
	defaultVersionResults = registry.MaxVersionResults
)

func (a *API) registryRoutes() {
	const rm, mv = "/mlflow/registered-models/", "/mlflow/model-versions/"
	a.handle(rm+"create", "POST", a.createModel)
	a.handle(rm+"get", "GET", a.getModel)
	a.handle(rm+"rename", "POST", a.renameModel)
	a.handle(rm+"update", "PATCH", a.updateModel)
	a.handle(rm+"delete", "DELETE", a.deleteModel)
	a.handle(rm+"search", "GET,POST", a.searchModels)
	a.handle(rm+"get-latest-versions", "GET,POST", a.latestVersions)
	a.handle(rm+"set-tag", "POST", a.setModelTag)
	a.handle(rm+"delete-tag", "DELETE", a.deleteModelTag)
	a.handle(rm+"alias", "POST", a.setAlias)
	a.handle(rm+"alias", "DELETE", a.deleteAlias)
	a.handle(rm+"alias", "GET", a.getByAlias)
	a.handle(mv+"create", "POST", a.createVersion)
	a.handle(mv+"get", "GET", a.getVersion)
	a.handle(mv+"update", "PATCH", a.updateVersion)
	a.handle(mv+"delete", "DELETE", a.deleteVersion)
	a.handle(mv+"search", "GET,POST", a.searchVersions)
	a.handle(mv+"get-download-uri", "GET", a.downloadURI)
	a.handle(mv+"transition-stage", "POST", a.transitionStage)
	a.handle(mv+"set-tag", "POST", a.setVersionTag)
	a.handle(mv+"delete-tag", "DELETE", a.deleteVersionTag)
}

// parseVersion reads a model version number as MLflow sends it (a string).
func parseVersion(name, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, invalidf("Model version must be an integer, got '%s'", s)
	}
	if n <= 0 {
		return 0, notFoundf("Model Version (name=%s, version=%s) not found", name, s)
	}
	return n, nil
}

// modelReply is a registered model with its latest versions per stage.
func (a *API) modelReply(ctx context.Context, m *registry.Model) (wireRegisteredModel, error) {
	latest, err := a.reg.LatestVersions(ctx, m.Name, nil)
	if err != nil {
		return wireRegisteredModel{}, err
	}
	return toWireModel(m, latest), nil
}

type registeredModelResponse struct {
	RegisteredModel wireRegisteredModel `json:"registered_model"`
}

type modelVersionResponse struct {
	ModelVersion wireModelVersion `json:"model_version"`
}

func tagMap(tags []wireTag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func (a *API) createModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string    `json:"name" mlflow:"required"`
		Tags        []wireTag `json:"tags"`
		Description string    `json:"description"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	m, err := a.reg.CreateModel(r.Context(), registry.NewModel{Name: req.Name, Description: req.Description, Tags: tagMap(req.Tags)})
	if err != nil {
		return err
	}
	return reply(w, registeredModelResponse{toWireModel(m, nil)})
}

type nameRequest struct {
	Name string `json:"name" mlflow:"required"`
}

func (a *API) getModel(w http.ResponseWriter, r *http.Request) error {
	var req nameRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	m, err := a.reg.GetModel(r.Context(), req.Name)
	if err != nil {
		return err
	}
	wm, err := a.modelReply(r.Context(), m)
	if err != nil {
		return err
	}
	return reply(w, registeredModelResponse{wm})
}

func (a *API) renameModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name" mlflow:"required"`
		NewName string `json:"new_name" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	m, err := a.reg.RenameModel(r.Context(), req.Name, req.NewName)
	if err != nil {
		return err
	}
	wm, err := a.modelReply(r.Context(), m)
	if err != nil {
		return err
	}
	return reply(w, registeredModelResponse{wm})
}

func (a *API) updateModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string  `json:"name" mlflow:"required"`
		Description *string `json:"description"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var m *registry.Model
	var err error
	if req.Description == nil {
		m, err = a.reg.GetModel(r.Context(), req.Name)
	} else {
		m, err = a.reg.UpdateModel(r.Context(), req.Name, *req.Description)
	}
	if err != nil {
		return err
	}
	wm, err := a.modelReply(r.Context(), m)
	if err != nil {
		return err
	}
	return reply(w, registeredModelResponse{wm})
}

func (a *API) deleteModel(w http.ResponseWriter, r *http.Request) error {
	var req nameRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.reg.DeleteModel(r.Context(), req.Name); err != nil {
		return err
	}
	return reply(w, empty{})
}

type searchRequest struct {
	Filter     string   `json:"filter"`
	MaxResults *jsonInt `json:"max_results"`
	OrderBy    []string `json:"order_by"`
	PageToken  string   `json:"page_token"`
}

func (s *searchRequest) query(def int) (registry.SearchQuery, error) {
	q := registry.SearchQuery{Filter: s.Filter, OrderBy: s.OrderBy, MaxResults: def, PageToken: s.PageToken}
	if s.MaxResults != nil {
		n := int64(*s.MaxResults)
		if n <= 0 || n > int64(registry.MaxVersionResults) {
			return q, invalidf("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer no larger than the maximum for this search.", n)
		}
		q.MaxResults = int(n)
	}
	return q, nil
}

func (a *API) searchModels(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if req.MaxResults != nil && *req.MaxResults > registry.MaxModelResults {
		return invalidf("Invalid value %d for parameter 'max_results' supplied. It must be at most %d.", *req.MaxResults, registry.MaxModelResults)
	}
	q, err := req.query(defaultModelResults)
	if err != nil {
		return err
	}
	models, next, err := a.reg.SearchModels(r.Context(), q)
	if err != nil {
		return err
	}
	var resp struct {
		RegisteredModels []wireRegisteredModel `json:"registered_models,omitempty"`
		NextPageToken    string                `json:"next_page_token,omitempty"`
	}
	for _, m := range models {
		wm, err := a.modelReply(r.Context(), m)
		if err != nil {
			return err
		}
		resp.RegisteredModels = append(resp.RegisteredModels, wm)
	}
	resp.NextPageToken = next
	return reply(w, resp)
}

func (a *API) latestVersions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   string   `json:"name" mlflow:"required"`
		Stages []string `json:"stages"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var stages []registry.Stage
	for _, s := range req.Stages {
		st, err := registry.ParseStage(s)
		if err != nil {
			return err
		}
		stages = append(stages, st)
	}
	vs, err := a.reg.LatestVersions(r.Context(), req.Name, stages)
	if err != nil {
		return err
	}
	var resp struct {
		ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
	}
	if len(vs) > 0 {
		resp.ModelVersions = toWireVersions(vs)
	}
	return reply(w, resp)
}

func (a *API) setModelTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name  string `json:"name" mlflow:"required"`
		Key   string `json:"key" mlflow:"required"`
		Value string `json:"value"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.reg.SetModelTag(r.Context(), req.Name, req.Key, req.Value); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) deleteModelTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name" mlflow:"required"`
		Key  string `json:"key" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.reg.DeleteModelTag(r.Context(), req.Name, req.Key); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) setAlias(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name" mlflow:"required"`
		Alias   string `json:"alias" mlflow:"required"`
		Version string `json:"version" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := registry.ValidateAlias(req.Alias); err != nil {
		return err
	}
	n, err := parseVersion(req.Name, req.Version)
	if err != nil {
		return err
	}
	if err := a.reg.SetAlias(r.Context(), req.Name, req.Alias, n); err != nil {
		return err
	}
	return reply(w, empty{})
}

type aliasRequest struct {
	Name  string `json:"name" mlflow:"required"`
	Alias string `json:"alias" mlflow:"required"`
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.reg.DeleteAlias(r.Context(), req.Name, req.Alias); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) getByAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	v, err := a.reg.VersionByAlias(r.Context(), req.Name, req.Alias)
	if err != nil {
		return err
	}
	return reply(w, modelVersionResponse{toWireVersion(v)})
}

type versionRequest struct {
	Name    string `json:"name" mlflow:"required"`
	Version string `json:"version" mlflow:"required"`
}

func (req *versionRequest) number() (int64, error) { return parseVersion(req.Name, req.Version) }

func (a *API) getVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := req.number()
	if err != nil {
		return err
	}
	v, err := a.reg.GetVersion(r.Context(), req.Name, n)
	if err != nil {
		return err
	}
	return reply(w, modelVersionResponse{toWireVersion(v)})
}

func (a *API) updateVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string  `json:"name" mlflow:"required"`
		Version     string  `json:"version" mlflow:"required"`
		Description *string `json:"description"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := parseVersion(req.Name, req.Version)
	if err != nil {
		return err
	}
	var v *registry.Version
	if req.Description == nil {
		v, err = a.reg.GetVersion(r.Context(), req.Name, n)
	} else {
		v, err = a.reg.UpdateVersion(r.Context(), req.Name, n, *req.Description)
	}
	if err != nil {
		return err
	}
	return reply(w, modelVersionResponse{toWireVersion(v)})
}

func (a *API) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := req.number()
	if err != nil {
		return err
	}
	if err := a.reg.DeleteVersion(r.Context(), req.Name, n); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) searchVersions(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	q, err := req.query(defaultVersionResults)
	if err != nil {
		return err
	}
	vs, next, err := a.reg.SearchVersions(r.Context(), q)
	if err != nil {
		return err
	}
	var resp struct {
		ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
		NextPageToken string             `json:"next_page_token,omitempty"`
	}
	if len(vs) > 0 {
		resp.ModelVersions = toWireVersions(vs)
	}
	resp.NextPageToken = next
	return reply(w, resp)
}

func (a *API) downloadURI(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := req.number()
	if err != nil {
		return err
	}
	v, err := a.reg.GetVersion(r.Context(), req.Name, n)
	if err != nil {
		return err
	}
	return reply(w, struct {
		ArtifactURI string `json:"artifact_uri"`
	}{versionURI(v.Name, v.Version)})
}

func (a *API) transitionStage(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name                    string   `json:"name" mlflow:"required"`
		Version                 string   `json:"version" mlflow:"required"`
		Stage                   string   `json:"stage" mlflow:"required"`
		ArchiveExistingVersions jsonBool `json:"archive_existing_versions"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := parseVersion(req.Name, req.Version)
	if err != nil {
		return err
	}
	v, err := a.reg.TransitionStage(r.Context(), req.Name, n, registry.Stage(req.Stage), bool(req.ArchiveExistingVersions))
	if err != nil {
		return err
	}
	return reply(w, modelVersionResponse{toWireVersion(v)})
}

func (a *API) setVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name" mlflow:"required"`
		Version string `json:"version" mlflow:"required"`
		Key     string `json:"key" mlflow:"required"`
		Value   string `json:"value"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := parseVersion(req.Name, req.Version)
	if err != nil {
		return err
	}
	if err := a.reg.SetVersionTag(r.Context(), req.Name, n, req.Key, req.Value); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) deleteVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name" mlflow:"required"`
		Version string `json:"version" mlflow:"required"`
		Key     string `json:"key" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	n, err := parseVersion(req.Name, req.Version)
	if err != nil {
		return err
	}
	if err := a.reg.DeleteVersionTag(r.Context(), req.Name, n, req.Key); err != nil {
		return err
	}
	return reply(w, empty{})
}
