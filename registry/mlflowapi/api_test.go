package mlflowapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

var onnxModel = func() []byte {
	b, err := os.ReadFile("../../internal/onnx/testdata/demand_linear.onnx")
	if err != nil {
		panic(err)
	}
	return b
}()

// logModel logs an ONNX model the way the client does and returns the run id.
func (e *env) logModel(exp string) string {
	e.t.Helper()
	var run struct {
		Run wireRun `json:"run"`
	}
	e.call("POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp}, &run)
	id := run.Run.Info.RunID
	base := fmt.Sprintf("/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model/", exp, id)
	for name, body := range map[string][]byte{
		"MLmodel":    []byte("artifact_path: model\nflavors:\n  onnx:\n    data: model.onnx\n"),
		"model.onnx": onnxModel,
	} {
		if status, b, _ := e.do("writer", "PUT", base+name, bytes.NewReader(body), "application/octet-stream"); status != 200 {
			e.t.Fatalf("PUT %s: %d %s", name, status, b)
		}
	}
	return id
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two Lantern processes over one store: each sees the other's runs at once
// and its registry changes within a feed poll.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	a := newEnv(t, fsStore(t, dir), Options{})
	b := newEnv(t, fsStore(t, dir), Options{})
	var exp struct {
		ID string `json:"experiment_id"`
	}
	a.call("POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "shared"}, &exp)
	var got struct {
		Experiment wireExperiment `json:"experiment"`
	}
	b.call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=shared", nil, &got)
	if got.Experiment.ExperimentID != exp.ID {
		t.Fatalf("process b sees experiment %+v", got.Experiment)
	}
	runID := a.logModel(exp.ID)
	b.call("POST", "/api/2.0/mlflow/runs/log-metric", map[string]any{"run_id": runID, "key": "rmse", "value": 0.25, "timestamp": 1}, nil)
	var run struct {
		Run wireRun `json:"run"`
	}
	a.call("GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil, &run)
	if len(run.Run.Data.Metrics) != 1 || run.Run.Data.Metrics[0].Value != 0.25 {
		t.Fatalf("process a sees metrics %+v", run.Run.Data.Metrics)
	}
	a.call("POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "shared"}, nil)
	eventually(t, "process b sees the model", func() bool {
		status, _, _ := b.do("reader", "GET", "/api/2.0/mlflow/registered-models/get?name=shared", nil, "")
		return status == 200
	})
	var mv modelVersionResponse
	b.call("POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "shared", "source": "runs:/" + runID + "/model"}, &mv)
	if mv.ModelVersion.Version != "1" {
		t.Fatalf("version %+v", mv.ModelVersion)
	}
	var versions struct {
		ModelVersions []wireModelVersion `json:"model_versions"`
	}
	eventually(t, "process a sees the version", func() bool {
		a.call("GET", "/api/2.0/mlflow/model-versions/search?filter=name%3D'shared'", nil, &versions)
		return len(versions.ModelVersions) == 1
	})
	if v := versions.ModelVersions[0]; v.RunID != runID || v.Status != "READY" {
		t.Fatalf("version seen by a: %+v", v)
	}
	status, body, _ := a.do("reader", "GET", "/api/2.0/mlflow-artifacts/artifacts/lantern-models/shared/1/model.onnx", nil, "")
	if status != 200 || !bytes.Equal(body, onnxModel) {
		t.Fatalf("download through a: %d, %d bytes", status, len(body))
	}
	// The run's params and metrics became the version's lineage.
	v, err := a.reg.GetVersion(context.Background(), "shared", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Lineage.RunID != runID || v.Lineage.Metrics["rmse"] != 0.25 || v.ModelFile != "model.onnx" || v.Signature == nil {
		t.Fatalf("lineage %+v, model file %q, signature %v", v.Lineage, v.ModelFile, v.Signature)
	}
}

// A registered file whose stored bytes no longer match its sha256 is not
// delivered as a complete download.
func TestCorruptDownload(t *testing.T) {
	e := newEnv(t, fsStore(t, t.TempDir()), Options{})
	runID := e.logModel("0")
	e.call("POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "m"}, nil)
	e.call("POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "m", "source": "runs:/" + runID + "/model"}, nil)
	ctx := context.Background()
	var key string
	for info, err := range e.store.List(ctx, "registry/artifacts/", objstore.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasSuffix([]byte(info.Key), []byte("/model.onnx")) {
			key = info.Key
		}
	}
	bad := slices.Clone(onnxModel)
	bad[len(bad)-1] ^= 0xff
	if _, err := objstore.PutBytes(ctx, e.store, key, bad, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/lantern-models/m/1/model.onnx", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["reader"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // cut before the headers: fine
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a corrupt file was downloaded completely (%d, %d bytes)", resp.StatusCode, len(body))
	}
}

// Concurrent registrations from one source get distinct, dense numbers.
func TestConcurrentRegistrations(t *testing.T) {
	e := newEnv(t, fsStore(t, t.TempDir()), Options{})
	runID := e.logModel("0")
	e.call("POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "m"}, nil)
	const n = 8
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"name": "m", "source": "runs:/" + runID + "/model"})
			status, b, _ := e.do("writer", "POST", "/api/2.0/mlflow/model-versions/create", bytes.NewReader(body), "application/json")
			var mv modelVersionResponse
			if status != 200 || json.Unmarshal(b, &mv) != nil {
				t.Errorf("%d %s", status, b)
				return
			}
			mu.Lock()
			got = append(got, mv.ModelVersion.Version)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(got, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	want := []string{"1", "2", "3", "4", "5", "6", "7", "8"}
	if !slices.Equal(got, want) {
		t.Fatalf("versions %v", got)
	}
}

// Uploads stream into the store and obey the size limit; a refused upload
// stores nothing.
func TestUploadLimit(t *testing.T) {
	e := newEnv(t, fsStore(t, t.TempDir()), Options{MaxArtifactSize: 1 << 20})
	big := make([]byte, 3<<20)
	_, _ = rand.Read(big)
	path := "/api/2.0/mlflow-artifacts/artifacts/0/big.bin"
	status, b, _ := e.do("writer", "PUT", path, bytes.NewReader(big), "application/octet-stream")
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d %s", status, b)
	}
	// Without a Content-Length the limit is found while streaming.
	status, b, _ = e.do("writer", "PUT", path, io.MultiReader(bytes.NewReader(big)), "application/octet-stream")
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized chunked upload: %d %s", status, b)
	}
	if _, err := e.store.Stat(context.Background(), tracking.ArtifactKey("0/big.bin")); err == nil {
		t.Fatal("a refused upload left a file")
	}
	ok := big[:1<<20]
	if status, b, _ := e.do("writer", "PUT", path, io.MultiReader(bytes.NewReader(ok)), "application/octet-stream"); status != 200 {
		t.Fatalf("upload at the limit: %d %s", status, b)
	}
	status, b, h := e.do("reader", "GET", path, nil, "")
	if status != 200 || !bytes.Equal(b, ok) || h.Get("Content-Length") != fmt.Sprint(len(ok)) {
		t.Fatalf("download: %d, %d bytes", status, len(b))
	}
	if status, b, _ := e.do("writer", "DELETE", path, nil, ""); status != 200 {
		t.Fatalf("delete: %d %s", status, b)
	}
	if status, _, _ := e.do("reader", "GET", path, nil, ""); status != 404 {
		t.Fatalf("after delete: %d", status)
	}
}

func TestRoles(t *testing.T) {
	a := New(nil, nil, nil, Options{})
	for _, tc := range []struct {
		method, path string
		want         auth.Role
	}{
		{"GET", "/api/2.0/mlflow/registered-models/get", auth.RoleReader},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/x", auth.RoleReader},
		{"POST", "/api/2.0/mlflow/registered-models/search", auth.RoleReader},
		{"POST", "/ajax-api/2.0/mlflow/runs/search", auth.RoleReader},
		{"POST", "/api/2.0/mlflow/experiments/search", auth.RoleReader},
		{"POST", "/api/2.0/mlflow/registered-models/get-latest-versions", auth.RoleReader},
		{"POST", "/api/2.0/mlflow/registered-models/create", auth.RoleWriter},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/x", auth.RoleWriter},
		{"DELETE", "/api/2.0/mlflow/model-versions/delete", auth.RoleWriter},
		{"DELETE", "/api/2.0/mlflow/registered-models/delete", auth.RoleAdmin},
		{"DELETE", "/ajax-api/2.0/mlflow/registered-models/delete", auth.RoleAdmin},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if got := a.Role(r); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

// The audit log names the caller of every registry write.
func TestAuditActor(t *testing.T) {
	e := newEnv(t, fsStore(t, t.TempDir()), Options{})
	body, _ := json.Marshal(map[string]any{"name": "audited"})
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/2.0/mlflow/registered-models/create", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.tokens["writer"])
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	evs, _, err := e.reg.Audit(context.Background(), registry.AuditQuery{Model: "audited"})
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v %v", evs, err)
	}
	if evs[0].Actor != "writer-user" || evs[0].RequestID != "req-42" {
		t.Fatalf("event %+v", evs[0])
	}
}

// A model name with spaces and '#' survives the download URI: the client
// joins the URI's path to the proxy URL for files, and sends it as the
// (encoded) path parameter for listings.
func TestDownloadURIEscaping(t *testing.T) {
	e := newEnv(t, fsStore(t, t.TempDir()), Options{})
	runID := e.logModel("0")
	const name = "demand model #1"
	e.call("POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": name}, nil)
	e.call("POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": name, "source": "runs:/" + runID + "/model"}, nil)
	var uri struct {
		ArtifactURI string `json:"artifact_uri"`
	}
	e.call("GET", "/api/2.0/mlflow/model-versions/get-download-uri?"+url.Values{"name": {name}, "version": {"1"}}.Encode(), nil, &uri)
	const want = "mlflow-artifacts:/lantern-models/demand%20model%20%231/1"
	if uri.ArtifactURI != want {
		t.Fatalf("artifact_uri = %q, want %q", uri.ArtifactURI, want)
	}
	p := strings.TrimPrefix(uri.ArtifactURI, "mlflow-artifacts:/")
	var list struct {
		Files []wireFileInfo `json:"files"`
	}
	e.call("GET", "/api/2.0/mlflow-artifacts/artifacts?"+url.Values{"path": {p}}.Encode(), nil, &list)
	if len(list.Files) != 2 || list.Files[1].Path != "model.onnx" {
		t.Fatalf("listing %+v", list.Files)
	}
	status, body, _ := e.do("reader", "GET", "/api/2.0/mlflow-artifacts/artifacts/"+p+"/model.onnx", nil, "")
	if status != 200 || !bytes.Equal(body, onnxModel) {
		t.Fatalf("download: %d %.200s", status, body)
	}
}
