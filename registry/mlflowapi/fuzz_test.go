package mlflowapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

// fuzzTargets are request structs with every kind of field the handlers
// declare: required and optional strings, int64s, ids, bools, enums, lists
// of strings, tags, metrics and doubles.
func fuzzTargets() []any {
	return []any{
		&struct {
			Name        string    `json:"name" mlflow:"required"`
			Tags        []wireTag `json:"tags"`
			Description *string   `json:"description"`
		}{},
		&searchRequest{},
		&struct {
			ExperimentIDs []jsonID `json:"experiment_ids"`
			RunViewType   jsonEnum `json:"run_view_type"`
			MaxResults    *jsonInt `json:"max_results"`
			OrderBy       []string `json:"order_by"`
		}{},
		&struct {
			RunID   string         `json:"run_id" mlflow:"required"`
			Metrics []wireMetricIn `json:"metrics"`
			Params  []wireTag      `json:"params"`
		}{},
		&struct {
			Value     *tracking.Float `json:"value" mlflow:"required"`
			Timestamp *jsonInt        `json:"timestamp" mlflow:"required"`
			Step      jsonInt         `json:"step"`
		}{},
		&struct {
			Version jsonID   `json:"version" mlflow:"required"`
			Archive jsonBool `json:"archive_existing_versions"`
			Stages  []string `json:"stages"`
		}{},
		// MLflow 3's logged models.
		&searchLoggedModelsRequest{},
		&struct {
			ModelID string   `json:"model_id"`
			Status  jsonEnum `json:"status" mlflow:"required"`
		}{},
		&struct {
			RunID  string `json:"run_id" mlflow:"required"`
			Models []struct {
				ModelID string  `json:"model_id"`
				Step    jsonInt `json:"step"`
			} `json:"models"`
		}{},
	}
}

// checkQuery: a decoded logged-models search either builds a query or fails
// with a client error.
func checkQuery(t *testing.T, dst any) {
	if req, ok := dst.(*searchLoggedModelsRequest); ok {
		_, err := req.query()
		checkDecodeErr(t, err)
	}
}

// checkDecodeErr: every decoding failure is a client error, never an internal one.
func checkDecodeErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	if !errors.Is(err, errkind.Invalid) {
		t.Fatalf("decoding failed with a non-client error: %v", err)
	}
	if code, status, msg, internal := classify(err); internal || code != "INVALID_PARAMETER_VALUE" || status != 400 || msg == "" {
		t.Fatalf("classified as %s %d %q internal=%v", code, status, msg, internal)
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `null`, `[]`, `"{\"name\": \"x\"}"`, `{"name": "demand", "tags": [{"key": "a", "value": "b"}]}`,
		`{"name": 1}`, `{"max_results": "10", "order_by": ["name DESC"], "page_token": "abc"}`,
		`{"experiment_ids": [1, "2"], "run_view_type": 3, "max_results": 1e3}`,
		`{"run_id": "r", "metrics": [{"key": "m", "value": "NaN", "timestamp": "1", "step": 2}]}`,
		`{"value": "-Infinity", "timestamp": 1.0}`, `{"version": "1", "archive_existing_versions": "true"}`,
		`{"name": "\ud800"}`, `{"max_results": 9223372036854775808}`, `{"name": "x",`,
		`{"experiment_ids": ["1"], "filter": "name = 'model'", "order_by": [{"field_name": "metrics.rmse", "ascending": false, "dataset_name": "d"}]}`,
		`{"experiment_ids": [], "datasets": [{"dataset_digest": "x"}], "order_by": [null, 1, {"ascending": "yes"}]}`,
		`{"model_id": "m-1", "status": "LOGGED_MODEL_READY"}`, `{"status": 2}`, `{"run_id": "r", "models": [{"model_id": "m", "step": "3"}, {}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range fuzzTargets() {
			err := decodeBody(body, dst)
			checkDecodeErr(t, err)
			if err == nil {
				checkQuery(t, dst)
			}
		}
	})
}

func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{
		"", "name=demand", "name=a&name=b", "max_results=10&order_by=name&order_by=version_number+DESC",
		"max_results=ten", "archive_existing_versions=TRUE", "archive_existing_versions=yes",
		"experiment_ids=1&experiment_ids=x", "version=%ZZ", "stages=Production&stages=None", "value=NaN&timestamp=-1",
		"tags=x", "metrics=1", "experiment_ids=1&order_by=x", "status=LOGGED_MODEL_READY", "artifact_directory_path=model",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		for _, dst := range fuzzTargets() {
			err := decodeQuery(q, dst)
			checkDecodeErr(t, err)
			if err == nil {
				checkQuery(t, dst)
			}
		}
	})
}

// fuzzAPI is one in-process API over a directory store for FuzzRequest,
// with a model, a run and a logged model to find.
func fuzzAPI(f *testing.F) (*API, string, string) {
	ctx := context.Background()
	st := fsStore(f, f.TempDir())
	reg, err := registry.New(ctx, st, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	tr, err := tracking.New(ctx, st, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	a := New(reg, tr, st, Options{})
	run, err := tr.CreateRun(ctx, tracking.NewRun{})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := reg.CreateModel(ctx, registry.NewModel{Name: "demand"}); err != nil {
		f.Fatal(err)
	}
	lm, err := tr.CreateLoggedModel(ctx, tracking.NewLoggedModel{ExperimentID: "0", Name: "model", SourceRunID: run.Info.RunID})
	if err != nil {
		f.Fatal(err)
	}
	return a, run.Info.RunID, lm.ID
}

// FuzzRequest sends fuzzed queries and bodies to the read-only endpoints of
// a real API: whatever comes in, the answer is MLflow JSON and never a 500.
func FuzzRequest(f *testing.F) {
	a, runID, modelID := fuzzAPI(f)
	endpoints := []string{
		"/mlflow/registered-models/search", "/mlflow/model-versions/search", "/mlflow/registered-models/get",
		"/mlflow/registered-models/get-latest-versions", "/mlflow/registered-models/alias", "/mlflow/model-versions/get",
		"/mlflow/model-versions/get-download-uri", "/mlflow/experiments/search", "/mlflow/experiments/get",
		"/mlflow/experiments/get-by-name", "/mlflow/runs/search", "/mlflow/runs/get", "/mlflow/metrics/get-history",
		"/mlflow/artifacts/list", "/mlflow-artifacts/artifacts", "/mlflow/logged-models/search",
		"/mlflow/logged-models/" + modelID, "/mlflow/logged-models/" + modelID + "/artifacts/directories",
	}
	for i, s := range []string{
		"filter=name+LIKE+'d%25'&max_results=1", "filter=version_number+>+1+AND+tags.a+=+'b'", "name=demand",
		"name=demand&alias=champion", "name=demand&version=1", "experiment_id=0", "experiment_name=Default",
		"run_id=" + runID + "&metric_key=m", "run_id=" + runID + "&path=model", "path=lantern-models/demand",
		"page_token=eyJvIjoxLCJxIjoxfQ", "filter=metrics.a+>+1&order_by=metrics.a+DESC",
		"artifact_directory_path=model", "experiment_ids=0",
	} {
		f.Add(uint8(i), s, []byte(`{"experiment_ids": ["0"], "filter": "params.a = 'b'", "max_results": 5}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, query string, body []byte) {
		ep := endpoints[int(which)%len(endpoints)]
		method := http.MethodGet
		if which >= 128 {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, "http://lantern/api/2.0"+ep+"?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q: %d %s", method, ep, query, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode == "" || e.Message == "" {
				t.Fatalf("%s %s: %d with a body that is not MLflow's error JSON: %s", method, ep, rec.Code, rec.Body)
			}
		} else if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON answer %s", method, ep, rec.Body)
		}
	})
}

// FuzzLoggedModelPath sends every method to fuzzed paths under
// /mlflow/logged-models/: whatever the path, the answer is MLflow JSON and
// never a 500.
func FuzzLoggedModelPath(f *testing.F) {
	a, _, modelID := fuzzAPI(f)
	for i, s := range []string{
		modelID, modelID + "/tags", modelID + "/tags/mlflow.user", modelID + "/tags/a/b", modelID + "/params",
		modelID + "/artifacts/directories", "search", "", "/", "m-x/tags/", modelID + "//", "%2e%2e/x", "m-0/nope",
	} {
		f.Add(uint8(i), s, []byte(`{"status": "LOGGED_MODEL_READY", "tags": [{"key": "a", "value": "b"}], "params": [{"key": "p", "value": "1"}]}`))
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut}
	f.Fuzz(func(t *testing.T, which uint8, rest string, body []byte) {
		method := methods[int(which)%len(methods)]
		req, err := http.NewRequest(method, "http://lantern/api/2.0/mlflow/logged-models/"+rest, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q %q: %d %s", method, rest, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode == "" || e.Message == "" {
				t.Fatalf("%s %q: %d with a body that is not MLflow's error JSON: %s", method, rest, rec.Code, rec.Body)
			}
		} else if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON answer %s", method, rest, rec.Body)
		}
	})
}
