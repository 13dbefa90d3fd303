package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// env is a running API with helpers to call it.
type env struct {
	*apitest.Server
	t *testing.T
}

func newEnv(t *testing.T) *env {
	return &env{Server: apitest.Start(t, nil), t: t}
}

// call sends a request with a JSON (or raw string) body and returns the
// status, headers and body.
func (e *env) call(method, path, token string, body any, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// ctx attributes direct service calls to "tester".
func (e *env) ctx() context.Context { return registry.WithActor(context.Background(), "tester") }

// model creates a model and registers n versions through the service.
func (e *env) model(name string, versions int, aliases ...string) {
	e.t.Helper()
	if _, err := e.Service.CreateModel(e.ctx(), registry.NewModel{Name: name}); err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i < versions; i++ {
		var as []string
		if i == versions-1 {
			as = aliases
		}
		e.version(name, as...)
	}
}

func (e *env) version(name string, aliases ...string) *registry.Version {
	e.t.Helper()
	r, err := e.Service.BeginVersion(e.ctx(), registry.NewVersion{Name: name, Aliases: aliases})
	if err != nil {
		e.t.Fatal(err)
	}
	b := apitest.Model(e.t)
	if _, err := r.PutArtifact(e.ctx(), "model.onnx", bytes.NewReader(b), int64(len(b))); err != nil {
		e.t.Fatal(err)
	}
	v, err := r.Commit(e.ctx())
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// state is a fingerprint of everything visible, to check that a failed
// request changed nothing.
func (e *env) state() string {
	e.t.Helper()
	ctx := context.Background()
	models, _, err := e.Service.SearchModels(ctx, registry.SearchQuery{MaxResults: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	versions, _, err := e.Service.SearchVersions(ctx, registry.SearchQuery{MaxResults: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	events, _, err := e.Service.Audit(ctx, registry.AuditQuery{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range models {
		fmt.Fprintf(&b, "model %s rev %d %q tags=%v aliases=%v\n", m.Name, m.Rev, m.Description, m.Tags, m.Aliases)
	}
	for _, v := range versions {
		fmt.Fprintf(&b, "version %s/%d rev %d %s %s %q tags=%v\n", v.Name, v.Version, v.Rev, v.Status, v.Stage, v.Description, v.Tags)
	}
	fmt.Fprintf(&b, "%d events\n", len(events))
	return b.String()
}

// wantError checks an error answer.
func wantError(t *testing.T, status int, body []byte, wantStatus int, wantCode, wantMsg string) {
	t.Helper()
	var eb wire.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("status %d, body is not an error object: %s", status, body)
	}
	if status != wantStatus || eb.Error.Code != wantCode || !strings.Contains(eb.Error.Message, wantMsg) {
		t.Fatalf("got %d %s %q; want %d %s containing %q", status, eb.Error.Code, eb.Error.Message, wantStatus, wantCode, wantMsg)
	}
	if eb.Error.RequestID == "" {
		t.Fatalf("error without request id: %s", body)
	}
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, body)
	}
	return v
}

// TestHappyPaths walks every JSON endpoint through its success case.
func TestHappyPaths(t *testing.T) {
	e := newEnv(t)
	w, a := e.Writer, e.Admin

	st, hdr, body := e.call("POST", "/api/v1/models", w, map[string]any{"name": "rutf demand", "description": "RUTF cartons", "tags": map[string]string{"team": "supply"}})
	m := decode[registry.Model](t, body)
	if st != 201 || m.Name != "rutf demand" || m.Tags["team"] != "supply" || m.CreatedBy != "writer" || hdr.Get("Location") != "/api/v1/models/rutf%20demand" {
		t.Fatalf("create: %d %s %s", st, hdr.Get("Location"), body)
	}
	e.version("rutf demand")
	e.version("rutf demand", "production")
	e.model("other", 1)

	st, _, body = e.call("GET", "/api/v1/models?filter="+urlq("name LIKE 'rutf%'"), e.Reader, nil)
	if l := decode[wire.ModelList](t, body); st != 200 || len(l.Models) != 1 || l.Models[0].Aliases["production"] != 2 {
		t.Fatalf("list: %d %s", st, body)
	}
	// Pagination: one model per page.
	st, _, body = e.call("GET", "/api/v1/models?max_results=1&order_by="+urlq("name DESC"), e.Reader, nil)
	page := decode[wire.ModelList](t, body)
	if st != 200 || len(page.Models) != 1 || page.Models[0].Name != "rutf demand" || page.NextPageToken == "" {
		t.Fatalf("page 1: %d %s", st, body)
	}
	_, _, body = e.call("GET", "/api/v1/models?max_results=1&order_by="+urlq("name DESC")+"&page_token="+page.NextPageToken, e.Reader, nil)
	if page = decode[wire.ModelList](t, body); len(page.Models) != 1 || page.Models[0].Name != "other" || page.NextPageToken != "" {
		t.Fatalf("page 2: %s", body)
	}

	st, _, body = e.call("GET", "/api/v1/models/rutf%20demand", e.Reader, nil)
	if m = decode[registry.Model](t, body); st != 200 || m.Description != "RUTF cartons" {
		t.Fatalf("get: %d %s", st, body)
	}
	st, _, body = e.call("PATCH", "/api/v1/models/rutf%20demand", w, map[string]any{"description": "cartons per district"})
	if m = decode[registry.Model](t, body); st != 200 || m.Description != "cartons per district" {
		t.Fatalf("patch description: %d %s", st, body)
	}
	st, hdr, body = e.call("PATCH", "/api/v1/models/rutf%20demand", w, map[string]any{"name": "rutf-demand", "description": "renamed"})
	if m = decode[registry.Model](t, body); st != 200 || m.Name != "rutf-demand" || m.Description != "renamed" || hdr.Get("Location") != "/api/v1/models/rutf-demand" {
		t.Fatalf("rename: %d %s", st, body)
	}
	st, _, body = e.call("PUT", "/api/v1/models/rutf-demand/tags/region/east", w, map[string]any{"value": "Kassala"})
	if m = decode[registry.Model](t, body); st != 200 || m.Tags["region/east"] != "Kassala" {
		t.Fatalf("model tag: %d %s", st, body)
	}
	st, _, body = e.call("DELETE", "/api/v1/models/rutf-demand/tags/region/east", w, nil)
	if m = decode[registry.Model](t, body); st != 200 || m.Tags["region/east"] != "" {
		t.Fatalf("model tag delete: %d %s", st, body)
	}

	st, _, body = e.call("GET", "/api/v1/models/rutf-demand/versions", e.Reader, nil)
	vl := decode[wire.VersionList](t, body)
	if st != 200 || len(vl.Versions) != 2 || vl.Versions[0].Version != 2 || vl.Versions[0].Name != "rutf-demand" {
		t.Fatalf("versions: %d %s", st, body)
	}
	st, _, body = e.call("GET", "/api/v1/versions?filter="+urlq("version_number = 1")+"&order_by=name", e.Reader, nil)
	if vl = decode[wire.VersionList](t, body); st != 200 || len(vl.Versions) != 2 || vl.Versions[0].Name != "other" {
		t.Fatalf("search versions: %d %s", st, body)
	}
	for ref, want := range map[string]int64{"1": 1, "v2": 2, "production": 2, "latest": 2} {
		st, _, body = e.call("GET", "/api/v1/models/rutf-demand/versions/"+ref, e.Reader, nil)
		if v := decode[registry.Version](t, body); st != 200 || v.Version != want {
			t.Fatalf("version %s: %d %s", ref, st, body)
		}
	}
	st, _, body = e.call("PATCH", "/api/v1/models/rutf-demand/versions/1", w, map[string]any{"description": "first", "stage": "staging"})
	if v := decode[registry.Version](t, body); st != 200 || v.Description != "first" || v.Stage != registry.StageStaging {
		t.Fatalf("patch version: %d %s", st, body)
	}
	st, _, body = e.call("PUT", "/api/v1/models/rutf-demand/versions/v1/tags/approved", w, map[string]any{"value": "yes"})
	if v := decode[registry.Version](t, body); st != 200 || v.Tags["approved"] != "yes" {
		t.Fatalf("version tag: %d %s", st, body)
	}
	st, _, body = e.call("DELETE", "/api/v1/models/rutf-demand/versions/1/tags/approved", w, nil)
	if v := decode[registry.Version](t, body); st != 200 || len(v.Tags) != 0 {
		t.Fatalf("version tag delete: %d %s", st, body)
	}

	st, _, body = e.call("PUT", "/api/v1/models/rutf-demand/aliases/production", w, map[string]any{"version": 1}, "X-Lantern-Reason", "v2 over-predicts in Kassala")
	if v := decode[registry.Version](t, body); st != 200 || v.Version != 1 || !slices.Contains(v.Aliases, "production") {
		t.Fatalf("alias set: %d %s", st, body)
	}
	st, _, body = e.call("PUT", "/api/v1/models/rutf-demand/aliases/candidate", w, map[string]any{"version": 2, "reason": "shadow test"})
	if st != 200 {
		t.Fatalf("alias set 2: %d %s", st, body)
	}
	st, _, body = e.call("GET", "/api/v1/models/rutf-demand/aliases/production", e.Reader, nil)
	if v := decode[registry.Version](t, body); st != 200 || v.Version != 1 {
		t.Fatalf("alias get: %d %s", st, body)
	}
	st, _, _ = e.call("DELETE", "/api/v1/models/rutf-demand/aliases/candidate", w, nil)
	if st != 204 {
		t.Fatalf("alias delete: %d", st)
	}

	// A live model's events are found by its current name, including those
	// from before the rename (the alias set at registration, under "rutf demand").
	st, _, body = e.call("GET", "/api/v1/audit?model=rutf-demand&action=alias.set", e.Reader, nil)
	al := decode[wire.AuditList](t, body)
	if st != 200 || len(al.Events) != 3 || al.Events[2].Model != "rutf demand" {
		t.Fatalf("audit: %d %s", st, body)
	}
	if ev := al.Events[1]; ev.Reason != "v2 over-predicts in Kassala" || ev.Actor != "writer" || ev.Details["previous"] != "2" || ev.RequestID == "" {
		t.Fatalf("audit event: %+v", ev)
	}
	if al.Events[0].Reason != "shadow test" {
		t.Fatalf("reason from the body: %+v", al.Events[0])
	}
	st, _, body = e.call("GET", "/api/v1/audit?limit=2", e.Reader, nil)
	if al = decode[wire.AuditList](t, body); st != 200 || len(al.Events) != 2 || al.NextPageToken == "" {
		t.Fatalf("audit page: %d %s", st, body)
	}
	_, _, body = e.call("GET", "/api/v1/audit?limit=2&page_token="+urlq(al.NextPageToken), e.Reader, nil)
	if al2 := decode[wire.AuditList](t, body); len(al2.Events) != 2 || al2.Events[0].ID >= al.Events[1].ID {
		t.Fatalf("audit page 2: %s", body)
	}

	st, _, _ = e.call("DELETE", "/api/v1/models/rutf-demand/versions/2", w, nil)
	if st != 204 {
		t.Fatalf("delete version: %d", st)
	}
	if _, err := e.Service.GetVersion(context.Background(), "rutf-demand", 2); err == nil {
		t.Fatal("version 2 still there")
	}
	st, _, _ = e.call("DELETE", "/api/v1/models/rutf-demand", a, nil)
	if st != 204 {
		t.Fatalf("delete model: %d", st)
	}
	if _, err := e.Service.GetModel(context.Background(), "rutf-demand"); err == nil {
		t.Fatal("model still there")
	}
}

func urlq(s string) string { return url.QueryEscape(s) }

// TestErrors checks each endpoint's failures: status, code, message, and
// that nothing changed.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 2, "production")
	failed, _ := e.Service.BeginVersion(e.ctx(), registry.NewVersion{Name: "demand", Status: registry.StatusFailed, StatusMessage: "quality gate"})
	if _, err := failed.Commit(e.ctx()); err != nil {
		t.Fatal(err)
	}
	// Admin: every failure below is the request's, not a missing role.
	w := e.Admin
	big := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name          string
		method, path  string
		body          any
		status        int
		code, message string
	}{
		{"unknown model", "GET", "/api/v1/models/nope", nil, 404, "NOT_FOUND", `registered model "nope" does not exist`},
		{"empty name", "POST", "/api/v1/models", `{"name": ""}`, 400, "INVALID_ARGUMENT", "name must not be empty"},
		{"missing body", "POST", "/api/v1/models", "", 400, "INVALID_ARGUMENT", "body is empty"},
		{"unknown field", "POST", "/api/v1/models", `{"name": "x", "colour": "red"}`, 400, "INVALID_ARGUMENT", `unknown field "colour"`},
		{"malformed JSON", "POST", "/api/v1/models", `{"name": "x",}`, 400, "INVALID_ARGUMENT", "malformed JSON at byte"},
		{"truncated JSON", "POST", "/api/v1/models", `{"name": "x"`, 400, "INVALID_ARGUMENT", "ends in the middle"},
		{"wrong type", "POST", "/api/v1/models", `{"name": 5}`, 400, "INVALID_ARGUMENT", `field "name" must be a string, not a number`},
		{"wrong tag type", "POST", "/api/v1/models", `{"name": "x", "tags": {"a": 1}}`, 400, "INVALID_ARGUMENT", `must be a string`},
		{"not an object", "POST", "/api/v1/models", `["x"]`, 400, "INVALID_ARGUMENT", "must be a JSON object, not an array"},
		{"two objects", "POST", "/api/v1/models", `{"name": "x"} {"name": "y"}`, 400, "INVALID_ARGUMENT", "more after the JSON object"},
		{"body too large", "POST", "/api/v1/models", big, 413, "RESOURCE_EXHAUSTED", "over the 1048576-byte limit"},
		{"bad name", "POST", "/api/v1/models", `{"name": "a/b"}`, 400, "INVALID_ARGUMENT", "must not contain '/'"},
		{"bad tag", "POST", "/api/v1/models", `{"name": "x", "tags": {"a..b": "c"}}`, 400, "INVALID_ARGUMENT", "must not contain '..'"},
		{"duplicate", "POST", "/api/v1/models", `{"name": "demand"}`, 409, "ALREADY_EXISTS", `"demand" already exists`},
		{"patch nothing", "PATCH", "/api/v1/models/demand", `{}`, 400, "INVALID_ARGUMENT", "nothing to change"},
		{"patch unknown", "PATCH", "/api/v1/models/nope", `{"description": "d"}`, 404, "NOT_FOUND", "does not exist"},
		{"rename bad", "PATCH", "/api/v1/models/demand", `{"name": " x", "description": "never"}`, 400, "INVALID_ARGUMENT", "spaces"},
		{"delete unknown", "DELETE", "/api/v1/models/nope", nil, 404, "NOT_FOUND", "does not exist"},
		{"tag without value", "PUT", "/api/v1/models/demand/tags/k", `{}`, 400, "INVALID_ARGUMENT", `"value" is required`},
		{"tag null value", "PUT", "/api/v1/models/demand/tags/k", `{"value": null}`, 400, "INVALID_ARGUMENT", `"value" is required`},
		{"tag bad key", "PUT", "/api/v1/models/demand/tags/a%20%3F", `{"value": "v"}`, 400, "INVALID_ARGUMENT", "may only contain"},
		{"tag unknown model", "PUT", "/api/v1/models/nope/tags/k", `{"value": "v"}`, 404, "NOT_FOUND", "does not exist"},
		{"versions unknown model", "GET", "/api/v1/models/nope/versions", nil, 404, "NOT_FOUND", "does not exist"},
		{"versions bad filter", "GET", "/api/v1/models/demand/versions?filter=" + urlq("colour = 'red'"), nil, 400, "INVALID_ARGUMENT", "Invalid attribute key"},
		{"search bad max", "GET", "/api/v1/versions?max_results=lots", nil, 400, "INVALID_ARGUMENT", "max_results must be a whole number"},
		{"search max zero", "GET", "/api/v1/models?max_results=0", nil, 400, "INVALID_ARGUMENT", "max_results"},
		{"search bad order", "GET", "/api/v1/models?order_by=colour", nil, 400, "INVALID_ARGUMENT", "Invalid order by key 'colour'"},
		{"search bad token", "GET", "/api/v1/models?page_token=garbage", nil, 400, "INVALID_ARGUMENT", "page token"},
		{"unknown version", "GET", "/api/v1/models/demand/versions/9", nil, 404, "NOT_FOUND", "version 9"},
		{"unknown alias", "GET", "/api/v1/models/demand/versions/champion", nil, 404, "NOT_FOUND", `no alias "champion"`},
		{"patch by alias", "PATCH", "/api/v1/models/demand/versions/production", `{"description": "d"}`, 400, "INVALID_ARGUMENT", "positive number such as 3 or v3"},
		{"patch bad stage", "PATCH", "/api/v1/models/demand/versions/1", `{"stage": "Live", "description": "never"}`, 400, "INVALID_ARGUMENT", "invalid stage"},
		{"patch unknown version", "PATCH", "/api/v1/models/demand/versions/9", `{"description": "d"}`, 404, "NOT_FOUND", "version 9"},
		{"delete version zero", "DELETE", "/api/v1/models/demand/versions/0", nil, 400, "INVALID_ARGUMENT", "positive number"},
		{"delete unknown version", "DELETE", "/api/v1/models/demand/versions/9", nil, 404, "NOT_FOUND", "version 9"},
		{"version tag unknown", "PUT", "/api/v1/models/demand/versions/9/tags/k", `{"value": "v"}`, 404, "NOT_FOUND", "version 9"},
		{"alias no version", "PUT", "/api/v1/models/demand/aliases/champion", `{}`, 400, "INVALID_ARGUMENT", `"version" is required`},
		{"alias unknown version", "PUT", "/api/v1/models/demand/aliases/champion", `{"version": 9}`, 404, "NOT_FOUND", "version 9"},
		{"alias reserved", "PUT", "/api/v1/models/demand/aliases/latest", `{"version": 1}`, 400, "INVALID_ARGUMENT", "reserved"},
		{"alias version-like", "PUT", "/api/v1/models/demand/aliases/v2", `{"version": 1}`, 400, "INVALID_ARGUMENT", "reserved"},
		{"alias failed version", "PUT", "/api/v1/models/demand/aliases/champion", `{"version": 3}`, 409, "FAILED_PRECONDITION", "only READY versions"},
		{"alias reason too long", "PUT", "/api/v1/models/demand/aliases/champion", `{"version": 1, "reason": "` + strings.Repeat("r", 5000) + `"}`, 400, "INVALID_ARGUMENT", "reason"},
		{"get unknown alias", "GET", "/api/v1/models/demand/aliases/champion", nil, 404, "NOT_FOUND", "no alias"},
		{"upload unknown model", "POST", "/api/v1/uploads", `{"model": "nope", "size": 10}`, 404, "NOT_FOUND", "does not exist"},
		{"upload no model", "POST", "/api/v1/uploads", `{"size": 10}`, 400, "INVALID_ARGUMENT", `"model" is required`},
		{"upload bad size", "POST", "/api/v1/uploads", `{"model": "demand", "size": -1}`, 400, "INVALID_ARGUMENT", "size must be positive"},
		{"upload small parts", "POST", "/api/v1/uploads", `{"model": "demand", "size": 100, "part_size": 1024}`, 400, "INVALID_ARGUMENT", "part size"},
		{"upload bad sha", "POST", "/api/v1/uploads", `{"model": "demand", "size": 100, "sha256": "xyz"}`, 400, "INVALID_ARGUMENT", "sha256"},
		{"get unknown upload", "GET", "/api/v1/uploads/0123456789abcdef01234567", nil, 404, "NOT_FOUND", "does not exist"},
		{"part of unknown upload", "PUT", "/api/v1/uploads/nope/parts/1", "data", 404, "NOT_FOUND", "does not exist"},
		{"part zero", "PUT", "/api/v1/uploads/nope/parts/0", "data", 400, "INVALID_ARGUMENT", "part number"},
		{"part not a number", "PUT", "/api/v1/uploads/nope/parts/one", "data", 400, "INVALID_ARGUMENT", "part number"},
		{"abort unknown upload", "DELETE", "/api/v1/uploads/nope", nil, 404, "NOT_FOUND", "does not exist"},
		{"audit bad since", "GET", "/api/v1/audit?since=yesterday", nil, 400, "INVALID_ARGUMENT", "since must be an RFC 3339 time"},
		{"audit until before since", "GET", "/api/v1/audit?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", nil, 400, "INVALID_ARGUMENT", "before since"},
		{"audit bad limit", "GET", "/api/v1/audit?limit=0", nil, 400, "INVALID_ARGUMENT", "limit"},
		{"audit large limit", "GET", "/api/v1/audit?limit=5000", nil, 400, "INVALID_ARGUMENT", "limit"},
		{"audit bad version", "GET", "/api/v1/audit?version=x", nil, 400, "INVALID_ARGUMENT", "version"},
		{"audit bad token", "GET", "/api/v1/audit?page_token=x", nil, 400, "INVALID_ARGUMENT", "page_token"},
		{"watch bad timeout", "GET", "/api/v1/watch?cursor=x&timeout=1h", nil, 400, "INVALID_ARGUMENT", "timeout"},
		{"watch bad cursor", "GET", "/api/v1/watch?cursor=garbage&timeout=1s", nil, 400, "INVALID_ARGUMENT", "cursor"},
		{"no such endpoint", "GET", "/api/v1/nothing", nil, 404, "NOT_FOUND", "no endpoint GET /api/v1/nothing"},
		{"method not allowed", "POST", "/api/v1/models/demand", `{}`, 405, "METHOD_NOT_ALLOWED", "use GET, PATCH, DELETE"},
		{"file traversal", "GET", "/api/v1/models/demand/versions/1/files/a%2F..%2Fmodel.onnx", nil, 400, "INVALID_ARGUMENT", "not allowed"},
		{"file unknown", "GET", "/api/v1/models/demand/versions/1/files/weights.bin", nil, 404, "NOT_FOUND", `no file "weights.bin" (it has: model.onnx)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state()
			status, hdr, body := e.call(tc.method, tc.path, w, tc.body)
			wantError(t, status, body, tc.status, tc.code, tc.message)
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if after := e.state(); after != before {
				t.Fatalf("state changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 1)
	tests := []struct {
		name         string
		token        string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"no token", "", "GET", "/api/v1/models", nil, 401, "UNAUTHENTICATED"},
		{"bad token", "lnt_nope", "GET", "/api/v1/models", nil, 401, "UNAUTHENTICATED"},
		{"reader reads", e.Reader, "GET", "/api/v1/models/demand", nil, 200, ""},
		{"reader reads audit", e.Reader, "GET", "/api/v1/audit", nil, 200, ""},
		{"reader cannot write", e.Reader, "POST", "/api/v1/models", `{"name": "x"}`, 403, "PERMISSION_DENIED"},
		{"reader cannot register", e.Reader, "POST", "/api/v1/models/demand/versions", "", 403, "PERMISSION_DENIED"},
		{"writer cannot delete a model", e.Writer, "DELETE", "/api/v1/models/demand", nil, 403, "PERMISSION_DENIED"},
		{"writer writes", e.Writer, "PUT", "/api/v1/models/demand/tags/k", `{"value": "v"}`, 200, ""},
		{"writer deletes a version", e.Writer, "DELETE", "/api/v1/models/demand/versions/1", nil, 204, ""},
		{"admin deletes a model", e.Admin, "DELETE", "/api/v1/models/demand", nil, 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.call(tc.method, tc.path, tc.token, tc.body)
			if tc.code == "" {
				if status != tc.status {
					t.Fatalf("status %d: %s", status, body)
				}
				return
			}
			wantError(t, status, body, tc.status, tc.code, "")
		})
	}
	// Writes are attributed to the token's name.
	events, _, _ := e.Service.Audit(context.Background(), registry.AuditQuery{Action: "model.delete"})
	if len(events) != 1 || events[0].Actor != "admin" {
		t.Fatalf("events %+v", events)
	}
}

func TestUploads(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 0)
	const size, part = 6<<20 + 100, 5 << 20
	status, hdr, body := e.call("POST", "/api/v1/uploads", e.Writer, map[string]any{"model": "demand", "size": size, "part_size": part})
	u := decode[wire.Upload](t, body)
	if status != 201 || u.PartCount != 2 || !slices.Equal(u.Missing, []int{1, 2}) || hdr.Get("Location") != "/api/v1/uploads/"+u.ID || u.CreatedBy != "writer" {
		t.Fatalf("create: %d %s", status, body)
	}
	data := bytes.Repeat([]byte("p"), size)
	status, _, body = e.call("PUT", "/api/v1/uploads/"+u.ID+"/parts/2", e.Writer, data[part:])
	if p := decode[registry.UploadPart](t, body); status != 200 || p.Number != 2 || p.Size != size-part || len(p.SHA256) != 64 {
		t.Fatalf("part: %d %s", status, body)
	}
	status, _, body = e.call("PUT", "/api/v1/uploads/"+u.ID+"/parts/1", e.Writer, data[:10])
	wantError(t, status, body, 400, "INVALID_ARGUMENT", "part 1 must be 5242880 bytes, not 10")
	status, _, body = e.call("PUT", "/api/v1/uploads/"+u.ID+"/parts/3", e.Writer, data[:10])
	wantError(t, status, body, 400, "INVALID_ARGUMENT", "outside 1..2")
	status, _, body = e.call("GET", "/api/v1/uploads/"+u.ID, e.Reader, nil)
	if u = decode[wire.Upload](t, body); status != 200 || !slices.Equal(u.Missing, []int{1}) || len(u.Parts) != 1 {
		t.Fatalf("get: %d %s", status, body)
	}
	status, _, body = e.call("PUT", "/api/v1/uploads/"+u.ID+"/parts/1", e.Reader, data[:part])
	wantError(t, status, body, 403, "PERMISSION_DENIED", "")
	if status, _, _ = e.call("DELETE", "/api/v1/uploads/"+u.ID, e.Writer, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, _, body = e.call("GET", "/api/v1/uploads/"+u.ID, e.Reader, nil)
	wantError(t, status, body, 404, "NOT_FOUND", "does not exist")
}
