package mlflowapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

func (a *API) trackingRoutes() {
	const ex, runs = "/mlflow/experiments/", "/mlflow/runs/"
	a.handle(ex+"create", "POST", a.createExperiment)
	a.handle(ex+"get", "GET", a.getExperiment)
	a.handle(ex+"get-by-name", "GET", a.getExperimentByName)
	a.handle(ex+"search", "GET,POST", a.searchExperiments)
	a.handle(ex+"update", "POST", a.updateExperiment)
	a.handle(ex+"delete", "POST", a.deleteExperiment)
	a.handle(ex+"restore", "POST", a.restoreExperiment)
	a.handle(ex+"set-experiment-tag", "POST", a.setExperimentTag)
	a.handle(ex+"delete-experiment-tag", "POST", a.deleteExperimentTag)
	a.handle(runs+"create", "POST", a.createRun)
	a.handle(runs+"get", "GET", a.getRun)
	a.handle(runs+"update", "POST", a.updateRun)
	a.handle(runs+"delete", "POST", a.deleteRun)
	a.handle(runs+"restore", "POST", a.restoreRun)
	a.handle(runs+"search", "POST", a.searchRuns)
	a.handle(runs+"log-batch", "POST", a.logBatch)
	a.handle(runs+"log-metric", "POST", a.logMetric)
	a.handle(runs+"log-parameter", "POST", a.logParam)
	a.handle(runs+"set-tag", "POST", a.setTag)
	a.handle(runs+"delete-tag", "POST", a.deleteTag)
	a.handle(runs+"log-model", "POST", a.logModel)
	a.handle(runs+"outputs", "POST", a.logOutputs)
	a.handle("/mlflow/metrics/get-history", "GET", a.metricHistory)
	a.handle("/mlflow/artifacts/list", "GET", a.listRunArtifacts)
}

func toTags(ws []wireTag) []tracking.Tag {
	out := make([]tracking.Tag, len(ws))
	for i, t := range ws {
		out[i] = tracking.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

type experimentResponse struct {
	Experiment wireExperiment `json:"experiment"`
}

func (a *API) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name             string    `json:"name" mlflow:"required"`
		ArtifactLocation string    `json:"artifact_location"`
		Tags             []wireTag `json:"tags"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := a.tr.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, toTags(req.Tags))
	if err != nil {
		return err
	}
	return reply(w, struct {
		ExperimentID string `json:"experiment_id"`
	}{id})
}

type experimentIDRequest struct {
	ExperimentID jsonID `json:"experiment_id" mlflow:"required"`
}

func (a *API) getExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentIDRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	e, err := a.tr.GetExperiment(r.Context(), string(req.ExperimentID))
	if err != nil {
		return err
	}
	return reply(w, experimentResponse{toWireExperiment(e)})
}

func (a *API) getExperimentByName(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"experiment_name" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	e, err := a.tr.GetExperimentByName(r.Context(), req.Name)
	if err != nil {
		return err
	}
	return reply(w, experimentResponse{toWireExperiment(e)})
}

func (a *API) searchExperiments(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		MaxResults *jsonInt `json:"max_results"`
		PageToken  string   `json:"page_token"`
		Filter     string   `json:"filter"`
		OrderBy    []string `json:"order_by"`
		ViewType   jsonEnum `json:"view_type"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	vt, err := tracking.ParseViewType(string(req.ViewType))
	if err != nil {
		return err
	}
	q := tracking.ExperimentQuery{Filter: req.Filter, OrderBy: req.OrderBy, ViewType: vt, PageToken: req.PageToken}
	if req.MaxResults != nil {
		if q.MaxResults, err = maxResults(int64(*req.MaxResults)); err != nil {
			return err
		}
	}
	es, next, err := a.tr.SearchExperiments(r.Context(), q)
	if err != nil {
		return err
	}
	var resp struct {
		Experiments   []wireExperiment `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}
	for _, e := range es {
		resp.Experiments = append(resp.Experiments, toWireExperiment(e))
	}
	resp.NextPageToken = next
	return reply(w, resp)
}

// maxResults checks a max_results value (0 is refused: MLflow's stores
// refuse it too, and 0 means "default" to the tracking store).
func maxResults(n int64) (int, error) {
	if n <= 0 || n > tracking.MaxSearchResults {
		return 0, invalidf("Invalid value %d for parameter 'max_results' supplied. It must be between 1 and %d.", n, tracking.MaxSearchResults)
	}
	return int(n), nil
}

func (a *API) updateExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID jsonID `json:"experiment_id" mlflow:"required"`
		NewName      string `json:"new_name" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.RenameExperiment(r.Context(), string(req.ExperimentID), req.NewName); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) deleteExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentIDRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.DeleteExperiment(r.Context(), string(req.ExperimentID)); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) restoreExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentIDRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.RestoreExperiment(r.Context(), string(req.ExperimentID)); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) setExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID jsonID `json:"experiment_id" mlflow:"required"`
		Key          string `json:"key" mlflow:"required"`
		Value        string `json:"value"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.SetExperimentTag(r.Context(), string(req.ExperimentID), tracking.Tag{Key: req.Key, Value: req.Value}); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) deleteExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID jsonID `json:"experiment_id" mlflow:"required"`
		Key          string `json:"key" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.DeleteExperimentTag(r.Context(), string(req.ExperimentID), req.Key); err != nil {
		return err
	}
	return reply(w, empty{})
}

type runResponse struct {
	Run wireRun `json:"run"`
}

func (a *API) createRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID jsonID    `json:"experiment_id"`
		UserID       string    `json:"user_id"`
		RunName      string    `json:"run_name"`
		StartTime    jsonInt   `json:"start_time"`
		Tags         []wireTag `json:"tags"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	user := req.UserID
	if p, ok := auth.FromContext(r.Context()); ok && user == "" {
		user = p.Name
	}
	run, err := a.tr.CreateRun(r.Context(), tracking.NewRun{
		ExperimentID: string(req.ExperimentID), UserID: user, RunName: req.RunName,
		StartTime: int64(req.StartTime), Tags: toTags(req.Tags),
	})
	if err != nil {
		return err
	}
	return reply(w, runResponse{toWireRun(run)})
}

// runIDRequest carries run_id, or the legacy run_uuid.
type runIDRequest struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (req *runIDRequest) id() (string, error) {
	if req.RunID != "" {
		return req.RunID, nil
	}
	if req.RunUUID != "" {
		return req.RunUUID, nil
	}
	return "", missingValue("run_id")
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) error {
	var req runIDRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	run, err := a.tr.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	return reply(w, runResponse{toWireRun(run)})
}

func (a *API) updateRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string   `json:"run_id"`
		RunUUID string   `json:"run_uuid"`
		Status  jsonEnum `json:"status"`
		EndTime *jsonInt `json:"end_time"`
		RunName *string  `json:"run_name"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	var u tracking.RunUpdate
	if req.Status != "" {
		st, err := tracking.ParseRunStatus(string(req.Status))
		if err != nil {
			return err
		}
		u.Status = &st
	}
	if req.EndTime != nil {
		end := int64(*req.EndTime)
		u.EndTime = &end
	}
	u.RunName = req.RunName
	info, err := a.tr.UpdateRun(r.Context(), id, u)
	if err != nil {
		return err
	}
	return reply(w, struct {
		RunInfo wireRunInfo `json:"run_info"`
	}{toWireRunInfo(info)})
}

func (a *API) deleteRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID string `json:"run_id" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.DeleteRun(r.Context(), req.RunID); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) restoreRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID string `json:"run_id" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.RestoreRun(r.Context(), req.RunID); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) searchRuns(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentIDs []jsonID `json:"experiment_ids"`
		Filter        string   `json:"filter"`
		RunViewType   jsonEnum `json:"run_view_type"`
		MaxResults    *jsonInt `json:"max_results"`
		OrderBy       []string `json:"order_by"`
		PageToken     string   `json:"page_token"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	vt, err := tracking.ParseViewType(string(req.RunViewType))
	if err != nil {
		return err
	}
	q := tracking.RunQuery{Filter: req.Filter, OrderBy: req.OrderBy, ViewType: vt, PageToken: req.PageToken}
	for _, id := range req.ExperimentIDs {
		q.ExperimentIDs = append(q.ExperimentIDs, string(id))
	}
	if req.MaxResults != nil {
		if q.MaxResults, err = maxResults(int64(*req.MaxResults)); err != nil {
			return err
		}
	}
	runs, next, err := a.tr.SearchRuns(r.Context(), q)
	if err != nil {
		return err
	}
	var resp struct {
		Runs          []wireRun `json:"runs,omitempty"`
		NextPageToken string    `json:"next_page_token,omitempty"`
	}
	for _, run := range runs {
		resp.Runs = append(resp.Runs, toWireRun(run))
	}
	resp.NextPageToken = next
	return reply(w, resp)
}

type wireMetricIn struct {
	Key       string          `json:"key"`
	Value     *tracking.Float `json:"value"`
	Timestamp *jsonInt        `json:"timestamp"`
	Step      jsonInt         `json:"step"`
	// MLflow 3 links a value to a logged model and a dataset.
	ModelID       string `json:"model_id"`
	DatasetName   string `json:"dataset_name"`
	DatasetDigest string `json:"dataset_digest"`
}

func (a *API) logBatch(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string         `json:"run_id" mlflow:"required"`
		Metrics []wireMetricIn `json:"metrics"`
		Params  []wireTag      `json:"params"`
		Tags    []wireTag      `json:"tags"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var metrics []tracking.Metric
	for i, m := range req.Metrics {
		switch {
		case m.Key == "":
			return missingIndexed("metrics", i, "key")
		case m.Value == nil:
			return missingIndexed("metrics", i, "value")
		case m.Timestamp == nil:
			return missingIndexed("metrics", i, "timestamp")
		}
		metrics = append(metrics, tracking.Metric{
			Key: m.Key, Value: float64(*m.Value), Timestamp: int64(*m.Timestamp), Step: int64(m.Step),
			ModelID: m.ModelID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest,
		})
	}
	var params []tracking.Param
	for i, p := range req.Params {
		if p.Key == "" {
			return missingIndexed("params", i, "key")
		}
		params = append(params, tracking.Param{Key: p.Key, Value: p.Value})
	}
	for i, t := range req.Tags {
		if t.Key == "" {
			return missingIndexed("tags", i, "key")
		}
	}
	if err := a.tr.LogBatch(r.Context(), req.RunID, metrics, params, toTags(req.Tags)); err != nil {
		return err
	}
	return reply(w, empty{})
}

func missingIndexed(list string, i int, field string) error {
	return missingValue(list + "[" + itoa(i) + "]." + field)
}

func itoa(i int) string { return versionString(int64(i)) }

func (a *API) logMetric(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID     string          `json:"run_id"`
		RunUUID   string          `json:"run_uuid"`
		Key       string          `json:"key" mlflow:"required"`
		Value     *tracking.Float `json:"value" mlflow:"required"`
		Timestamp *jsonInt        `json:"timestamp" mlflow:"required"`
		Step      jsonInt         `json:"step"`
		// MLflow 3 links a value to a logged model and a dataset.
		ModelID       string `json:"model_id"`
		DatasetName   string `json:"dataset_name"`
		DatasetDigest string `json:"dataset_digest"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	m := tracking.Metric{
		Key: req.Key, Value: float64(*req.Value), Timestamp: int64(*req.Timestamp), Step: int64(req.Step),
		ModelID: req.ModelID, DatasetName: req.DatasetName, DatasetDigest: req.DatasetDigest,
	}
	if err := a.tr.LogBatch(r.Context(), id, []tracking.Metric{m}, nil, nil); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) logParam(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Key     string `json:"key" mlflow:"required"`
		Value   string `json:"value"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	if err := a.tr.LogBatch(r.Context(), id, nil, []tracking.Param{{Key: req.Key, Value: req.Value}}, nil); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) setTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Key     string `json:"key" mlflow:"required"`
		Value   string `json:"value"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	if err := a.tr.LogBatch(r.Context(), id, nil, nil, []tracking.Tag{{Key: req.Key, Value: req.Value}}); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID string `json:"run_id" mlflow:"required"`
		Key   string `json:"key" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.tr.DeleteTag(r.Context(), req.RunID, req.Key); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) logModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID     string `json:"run_id" mlflow:"required"`
		ModelJSON string `json:"model_json" mlflow:"required"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var model map[string]any
	if err := json.Unmarshal([]byte(req.ModelJSON), &model); err != nil || model == nil {
		return invalidf("Malformed model info. \n %.200s \n is not a valid JSON.", req.ModelJSON)
	}
	var missing []string
	for _, k := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := model[k]; !ok {
			missing = append(missing, "'"+k+"'")
		}
	}
	if len(missing) > 0 {
		return invalidf("Model json is missing mandatory fields: {%s}", strings.Join(missing, ", "))
	}
	if err := a.tr.LogModel(r.Context(), req.RunID, model); err != nil {
		return err
	}
	return reply(w, empty{})
}

// logOutputs records the logged models a run produced (MLflow 3's
// mlflow.<flavor>.log_model calls it before uploading the model's files).
func (a *API) logOutputs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID  string `json:"run_id" mlflow:"required"`
		Models []struct {
			ModelID string  `json:"model_id"`
			Step    jsonInt `json:"step"`
		} `json:"models"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var outputs []tracking.ModelOutput
	for i, m := range req.Models {
		if m.ModelID == "" {
			return missingIndexed("models", i, "model_id")
		}
		outputs = append(outputs, tracking.ModelOutput{ModelID: m.ModelID, Step: int64(m.Step)})
	}
	if err := a.tr.LogOutputs(r.Context(), req.RunID, outputs); err != nil {
		return err
	}
	return reply(w, empty{})
}

func (a *API) metricHistory(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID      string   `json:"run_id"`
		RunUUID    string   `json:"run_uuid"`
		MetricKey  string   `json:"metric_key" mlflow:"required"`
		PageToken  string   `json:"page_token"`
		MaxResults *jsonInt `json:"max_results"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	max := 0
	if req.MaxResults != nil {
		n := int64(*req.MaxResults)
		if n <= 0 || n > tracking.MaxHistoryResults {
			return invalidf("Invalid value %d for parameter 'max_results' supplied. It must be between 1 and %d.", n, tracking.MaxHistoryResults)
		}
		max = int(n)
	}
	ms, next, err := a.tr.MetricHistory(r.Context(), id, req.MetricKey, max, req.PageToken)
	if err != nil {
		return err
	}
	var resp struct {
		Metrics       []wireMetric `json:"metrics,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}
	for _, m := range ms {
		resp.Metrics = append(resp.Metrics, toWireMetric(m))
	}
	resp.NextPageToken = next
	return reply(w, resp)
}

func (a *API) listRunArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID     string  `json:"run_id"`
		RunUUID   string  `json:"run_uuid"`
		Path      *string `json:"path"`
		PageToken string  `json:"page_token"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	id, err := (&runIDRequest{req.RunID, req.RunUUID}).id()
	if err != nil {
		return err
	}
	rel := ""
	if req.Path != nil {
		if rel, err = tracking.CleanArtifactPath(*req.Path); err != nil {
			return err
		}
	}
	run, err := a.tr.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	root, err := tracking.RunArtifactDir(run)
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
	resp.RootURI = run.Info.ArtifactURI
	for _, f := range files {
		if rel != "" {
			f.Path = rel + "/" + f.Path
		}
		resp.Files = append(resp.Files, f)
	}
	return reply(w, resp)
}
