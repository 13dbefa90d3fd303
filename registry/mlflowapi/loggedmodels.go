package mlflowapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/lantern-mlops/lantern/registry/tracking"
)

// MLflow 3's logged models (mlflow/protos/service.proto, PUBLIC_UNDOCUMENTED
// but what mlflow.<flavor>.log_model calls):
//
//	POST   /mlflow/logged-models                                   create (PENDING)
//	POST   /mlflow/logged-models/search                            search
//	GET    /mlflow/logged-models/{model_id}                        get
//	PATCH  /mlflow/logged-models/{model_id}                        finalize (READY or UPLOAD_FAILED)
//	DELETE /mlflow/logged-models/{model_id}                        delete
//	PATCH  /mlflow/logged-models/{model_id}/tags                   set tags
//	DELETE /mlflow/logged-models/{model_id}/tags/{tag_key}         delete a tag
//	POST   /mlflow/logged-models/{model_id}/params                 log params
//	GET    /mlflow/logged-models/{model_id}/artifacts/directories  list files
//
// The model's files are uploaded by the client to its artifact location
// (mlflow-artifacts:/<experiment>/models/<model_id>/artifacts) through the
// artifact proxy; model-versions/create copies them from there.

const loggedModelsRoute = "/mlflow/logged-models"

func (a *API) loggedModelRoutes() {
	a.handle(loggedModelsRoute, "POST", a.createLoggedModel)
	a.handle(loggedModelsRoute+"/search", "POST", a.searchLoggedModels)
}

type loggedModelHandler func(w http.ResponseWriter, r *http.Request, id, arg string) error

// serveLoggedModel routes /mlflow/logged-models/{model_id}[/...]; rest is
// the path after the collection. The path is decoded, so a tag key may
// contain slashes.
func (a *API) serveLoggedModel(w http.ResponseWriter, r *http.Request, rest string) error {
	id, sub, _ := strings.Cut(rest, "/")
	if id == "" {
		return endpointNotFound(r)
	}
	var methods map[string]loggedModelHandler
	arg := ""
	switch {
	case sub == "":
		methods = map[string]loggedModelHandler{"GET": a.getLoggedModel, "PATCH": a.finalizeLoggedModel, "DELETE": a.deleteLoggedModel}
	case sub == "tags":
		methods = map[string]loggedModelHandler{"PATCH": a.setLoggedModelTags}
	case strings.HasPrefix(sub, "tags/"):
		arg = strings.TrimPrefix(sub, "tags/")
		methods = map[string]loggedModelHandler{"DELETE": a.deleteLoggedModelTag}
	case sub == "params":
		methods = map[string]loggedModelHandler{"POST": a.logLoggedModelParams}
	case sub == "artifacts/directories":
		methods = map[string]loggedModelHandler{"GET": a.listLoggedModelArtifacts}
	default:
		return endpointNotFound(r)
	}
	h, ok := methods[r.Method]
	if !ok {
		allowed := slices.Sorted(func(yield func(string) bool) {
			for m := range methods {
				if !yield(m) {
					return
				}
			}
		})
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return methodNotAllowed(r, strings.Join(allowed, " or "))
	}
	return h(w, r, id, arg)
}

type loggedModelResponse struct {
	Model wireLoggedModel `json:"model"`
}

// checkBodyID refuses a body whose model_id differs from the path's.
func checkBodyID(body, path string) error {
	if body != "" && body != path {
		return invalidf("model_id '%s' in the request body does not match '%s' in the path", body, path)
	}
	return nil
}

func checkKeys(list string, tags []wireTag) error {
	for i, t := range tags {
		if t.Key == "" {
			return missingIndexed(list, i, "key")
		}
	}
	return nil
}

func toParams(ws []wireTag) []tracking.Param {
	out := make([]tracking.Param, len(ws))
	for i, p := range ws {
		out[i] = tracking.Param{Key: p.Key, Value: p.Value}
	}
	return out
}

func (a *API) createLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID jsonID    `json:"experiment_id" mlflow:"required"`
		Name         string    `json:"name"`
		ModelType    string    `json:"model_type"`
		SourceRunID  string    `json:"source_run_id"`
		Params       []wireTag `json:"params"`
		Tags         []wireTag `json:"tags"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkKeys("params", req.Params); err != nil {
		return err
	}
	if err := checkKeys("tags", req.Tags); err != nil {
		return err
	}
	m, err := a.tr.CreateLoggedModel(r.Context(), tracking.NewLoggedModel{
		ExperimentID: string(req.ExperimentID), Name: req.Name, ModelType: req.ModelType,
		SourceRunID: req.SourceRunID, Params: toParams(req.Params), Tags: toTags(req.Tags),
	})
	if err != nil {
		return err
	}
	return reply(w, loggedModelResponse{toWireLoggedModel(m)})
}

func (a *API) getLoggedModel(w http.ResponseWriter, r *http.Request, id, _ string) error {
	m, err := a.tr.GetLoggedModel(r.Context(), id)
	if err != nil {
		return err
	}
	return reply(w, loggedModelResponse{toWireLoggedModel(m)})
}

func (a *API) finalizeLoggedModel(w http.ResponseWriter, r *http.Request, id, _ string) error {
	var req struct {
		ModelID string   `json:"model_id"`
		Status  jsonEnum `json:"status" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkBodyID(req.ModelID, id); err != nil {
		return err
	}
	st, err := tracking.ParseFinalStatus(string(req.Status))
	if err != nil {
		return err
	}
	m, err := a.tr.FinalizeLoggedModel(r.Context(), id, st)
	if err != nil {
		return err
	}
	return reply(w, loggedModelResponse{toWireLoggedModel(m)})
}

func (a *API) deleteLoggedModel(w http.ResponseWriter, r *http.Request, id, _ string) error {
	if err := a.tr.DeleteLoggedModel(r.Context(), id); err != nil {
		return err
	}
	return reply(w, empty{})
}

// setLoggedModelTags answers with the model, as the proto's response
// declares (MLflow's server leaves it empty; clients ignore it).
func (a *API) setLoggedModelTags(w http.ResponseWriter, r *http.Request, id, _ string) error {
	var req struct {
		ModelID string    `json:"model_id"`
		Tags    []wireTag `json:"tags"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkBodyID(req.ModelID, id); err != nil {
		return err
	}
	if err := checkKeys("tags", req.Tags); err != nil {
		return err
	}
	m, err := a.tr.SetLoggedModelTags(r.Context(), id, toTags(req.Tags))
	if err != nil {
		return err
	}
	return reply(w, loggedModelResponse{toWireLoggedModel(m)})
}

func (a *API) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request, id, key string) error {
	if key == "" {
		return missingValue("tag_key")
	}
	if err := a.tr.DeleteLoggedModelTag(r.Context(), id, key); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) logLoggedModelParams(w http.ResponseWriter, r *http.Request, id, _ string) error {
	var req struct {
		ModelID string    `json:"model_id"`
		Params  []wireTag `json:"params"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkBodyID(req.ModelID, id); err != nil {
		return err
	}
	if err := checkKeys("params", req.Params); err != nil {
		return err
	}
	if err := a.tr.LogLoggedModelParams(r.Context(), id, toParams(req.Params)); err != nil {
		return err
	}
	return reply(w, empty{})
}

// listLoggedModelArtifacts lists one level of a logged model's files, with
// paths relative to its artifact location, as artifacts/list does for runs.
func (a *API) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request, id, _ string) error {
	var req struct {
		Path      *string `json:"artifact_directory_path"`
		PageToken string  `json:"page_token"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	rel := ""
	if req.Path != nil {
		var err error
		if rel, err = tracking.CleanArtifactPath(*req.Path); err != nil {
			return err
		}
	}
	m, err := a.tr.GetLoggedModel(r.Context(), id)
	if err != nil {
		return err
	}
	root, err := tracking.ParseArtifactURI(m.ArtifactLocation)
	if err != nil {
		return err
	}
	files, err := a.listDir(r.Context(), tracking.JoinArtifactPath(root, rel))
	if err != nil {
		return err
	}
	var resp struct {
		RootURI string         `json:"root_uri"`
		Files   []wireFileInfo `json:"files,omitempty"`
	}
	resp.RootURI = m.ArtifactLocation
	for _, f := range files {
		if rel != "" {
			f.Path = rel + "/" + f.Path
		}
		resp.Files = append(resp.Files, f)
	}
	return reply(w, resp)
}

type wireModelOrder struct {
	FieldName     string    `json:"field_name"`
	Ascending     *jsonBool `json:"ascending"`
	DatasetName   string    `json:"dataset_name"`
	DatasetDigest string    `json:"dataset_digest"`
}

type wireDatasetRef struct {
	DatasetName   string `json:"dataset_name"`
	DatasetDigest string `json:"dataset_digest"`
}

// searchLoggedModelsRequest is SearchLoggedModels. order_by entries are
// decoded one by one, so that an error names the entry.
type searchLoggedModelsRequest struct {
	ExperimentIDs []jsonID          `json:"experiment_ids"`
	Filter        string            `json:"filter"`
	Datasets      []wireDatasetRef  `json:"datasets"`
	MaxResults    *jsonInt          `json:"max_results"`
	OrderBy       []json.RawMessage `json:"order_by"`
	PageToken     string            `json:"page_token"`
}

func (req *searchLoggedModelsRequest) query() (tracking.LoggedModelQuery, error) {
	q := tracking.LoggedModelQuery{Filter: req.Filter, PageToken: req.PageToken}
	if len(req.ExperimentIDs) == 0 {
		return q, missingValue("experiment_ids")
	}
	for _, id := range req.ExperimentIDs {
		q.ExperimentIDs = append(q.ExperimentIDs, string(id))
	}
	for i, d := range req.Datasets {
		if d.DatasetName == "" {
			return q, missingIndexed("datasets", i, "dataset_name")
		}
		q.Datasets = append(q.Datasets, tracking.DatasetRef{Name: d.DatasetName, Digest: d.DatasetDigest})
	}
	for i, raw := range req.OrderBy {
		var o wireModelOrder
		if err := json.Unmarshal(raw, &o); err != nil {
			return q, invalidValue(fmt.Sprintf("order_by[%d]", i), raw)
		}
		if o.FieldName == "" {
			return q, missingIndexed("order_by", i, "field_name")
		}
		asc := o.Ascending == nil || bool(*o.Ascending)
		q.OrderBy = append(q.OrderBy, tracking.LoggedModelOrder{Field: o.FieldName, Ascending: asc, DatasetName: o.DatasetName, DatasetDigest: o.DatasetDigest})
	}
	if req.MaxResults != nil {
		n := int64(*req.MaxResults)
		if n <= 0 || n > tracking.MaxSearchResults {
			return q, invalidf("Invalid value %d for parameter 'max_results' supplied. It must be between 1 and %d.", n, tracking.MaxSearchResults)
		}
		q.MaxResults = int(n)
	}
	return q, nil
}

func (a *API) searchLoggedModels(w http.ResponseWriter, r *http.Request) error {
	var req searchLoggedModelsRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	q, err := req.query()
	if err != nil {
		return err
	}
	models, next, err := a.tr.SearchLoggedModels(r.Context(), q)
	if err != nil {
		return err
	}
	var resp struct {
		Models        []wireLoggedModel `json:"models,omitempty"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}
	for _, m := range models {
		resp.Models = append(resp.Models, toWireLoggedModel(m))
	}
	resp.NextPageToken = next
	return reply(w, resp)
}
