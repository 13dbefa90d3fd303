package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
	"github.com/lantern-mlops/lantern/registry/client"
)

// part is one part of a registration body.
type part struct {
	field, filename string
	header          map[string]string
	body            []byte
}

func meta(v any) part {
	b, _ := json.Marshal(v)
	return part{field: "metadata", body: b}
}

func file(path string, body []byte) part { return part{field: "file", filename: path, body: body} }

func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.field + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		for k, v := range p.header {
			h.Set(k, v)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// leftovers lists store keys that a failed registration must not leave:
// artifacts and upload leases.
func leftovers(t *testing.T, st objstore.Store) []string {
	t.Helper()
	var out []string
	for _, prefix := range []string{"registry/artifacts/", "registry/leases/"} {
		for info, err := range st.List(context.Background(), prefix, objstore.ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, info.Key)
		}
	}
	return out
}

func TestRegisterMultipart(t *testing.T) {
	e := newEnv(t)
	model := apitest.Model(t)
	ref := []byte(`{"features": ["price", "promo"]}`)
	ct, body := multipartBody(t,
		meta(map[string]any{
			"description": "weekly retrain", "tags": map[string]string{"approved": "no"},
			"lineage": map[string]any{"run_id": "r42", "dataset_uri": "s3://data/rutf/2025-03", "parameters": map[string]string{"alpha": "0.1"}, "metrics": map[string]float64{"rmse": 12.5}},
			"aliases": []string{"candidate"}, "create_model": true,
		}),
		file("model.onnx", model),
		part{field: "file", filename: "profile/reference.json", header: map[string]string{"Content-Length": "32"}, body: ref},
	)
	status, hdr, out := e.call("POST", "/api/v1/models/rutf-demand/versions", e.Writer, body, "Content-Type", ct)
	v := decode[registry.Version](t, out)
	if status != 201 || v.Version != 1 || v.Status != registry.StatusReady || v.ModelFile != "model.onnx" || v.Signature == nil {
		t.Fatalf("register: %d %s", status, out)
	}
	if hdr.Get("Location") != "/api/v1/models/rutf-demand/versions/1" {
		t.Fatalf("Location %q", hdr.Get("Location"))
	}
	sum := sha256.Sum256(ref)
	if len(v.Artifacts) != 2 || v.Artifacts[1].Path != "profile/reference.json" || v.Artifacts[1].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("artifacts %+v", v.Artifacts)
	}
	if v.Lineage.RunID != "r42" || v.RunID != "r42" || v.Lineage.Metrics["rmse"] != 12.5 || v.Tags["approved"] != "no" || !slices.Equal(v.Aliases, []string{"candidate"}) || v.CreatedBy != "writer" {
		t.Fatalf("version %+v", v)
	}
	if len(leftovers(t, e.Store)) != 2 {
		t.Fatalf("store: %v", leftovers(t, e.Store))
	}

	// A FAILED_REGISTRATION version cannot take an alias: registered, with a warning.
	ct, body = multipartBody(t, meta(map[string]any{"status": "FAILED_REGISTRATION", "status_message": "rmse too high", "aliases": []string{"production"}}), file("model.onnx", model))
	status, hdr, out = e.call("POST", "/api/v1/models/rutf-demand/versions", e.Writer, body, "Content-Type", ct)
	if v := decode[registry.Version](t, out); status != 201 || v.Version != 2 || !strings.Contains(hdr.Get("X-Lantern-Warning"), `alias "production" was not set`) {
		t.Fatalf("warning: %d %q %s", status, hdr.Get("X-Lantern-Warning"), out)
	}
}

func TestRegisterErrors(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 0)
	model := apitest.Model(t)
	okMeta := meta(map[string]any{"description": "d"})
	bigMeta := part{field: "metadata", body: []byte(`{"description": "` + strings.Repeat("x", 1<<20) + `"}`)}
	u, err := e.Service.CreateUpload(e.ctx(), "demand", 6<<20, 5<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		model         string
		contentType   string // "" means the multipart type
		parts         []part
		status        int
		code, message string
	}{
		{"not multipart", "demand", "application/json", []part{okMeta}, 400, "INVALID_ARGUMENT", "must be multipart/form-data"},
		{"no parts", "demand", "", nil, 400, "INVALID_ARGUMENT", "no parts"},
		{"file first", "demand", "", []part{file("model.onnx", model)}, 400, "INVALID_ARGUMENT", `first part must be "metadata"`},
		{"bad metadata JSON", "demand", "", []part{{field: "metadata", body: []byte(`{"description": `)}}, 400, "INVALID_ARGUMENT", "metadata: the JSON body ends"},
		{"unknown metadata field", "demand", "", []part{meta(map[string]any{"name": "x"})}, 400, "INVALID_ARGUMENT", `metadata: unknown field "name"`},
		{"metadata wrong type", "demand", "", []part{meta(map[string]any{"aliases": "prod"})}, 400, "INVALID_ARGUMENT", `field "aliases" must be a list of strings`},
		{"metadata too large", "demand", "", []part{bigMeta}, 413, "RESOURCE_EXHAUSTED", "metadata part is over"},
		{"bad status", "demand", "", []part{meta(map[string]any{"status": "DONE"})}, 400, "INVALID_ARGUMENT", "status must be"},
		{"bad alias", "demand", "", []part{meta(map[string]any{"aliases": []string{"latest"}}), file("model.onnx", model)}, 400, "INVALID_ARGUMENT", "reserved"},
		{"unknown model", "nope", "", []part{okMeta, file("model.onnx", model)}, 404, "NOT_FOUND", `set "create_model": true`},
		{"bad model name", "a%2Fb", "", []part{okMeta}, 400, "INVALID_ARGUMENT", "must not contain '/'"},
		{"path traversal", "demand", "", []part{okMeta, file("../model.onnx", model)}, 400, "INVALID_ARGUMENT", "not allowed"},
		{"absolute path", "demand", "", []part{okMeta, file("/etc/model.onnx", model)}, 400, "INVALID_ARGUMENT", "not allowed"},
		{"file without name", "demand", "", []part{okMeta, {field: "file", body: model}}, 400, "INVALID_ARGUMENT", "needs a filename"},
		{"unexpected part", "demand", "", []part{okMeta, {field: "notes", body: []byte("x")}}, 400, "INVALID_ARGUMENT", `unexpected part "notes"`},
		{"duplicate file", "demand", "", []part{okMeta, file("model.onnx", model), file("model.onnx", model)}, 400, "INVALID_ARGUMENT", "sent twice"},
		{"not ONNX", "demand", "", []part{okMeta, file("model.onnx", []byte("PK\x03\x04 a zip file"))}, 400, "INVALID_ARGUMENT", "model.onnx"},
		{"no model file", "demand", "", []part{okMeta, file("notes.txt", []byte("hi"))}, 400, "INVALID_ARGUMENT", "no ONNX model"},
		{"short part", "demand", "", []part{okMeta, {field: "file", filename: "model.onnx", header: map[string]string{"Content-Length": "999999"}, body: model}}, 400, "INVALID_ARGUMENT", "ended before"},
		{"bad part length", "demand", "", []part{okMeta, {field: "file", filename: "model.onnx", header: map[string]string{"Content-Length": "lots"}, body: model}}, 400, "INVALID_ARGUMENT", "Content-Length"},
		{"unknown upload", "demand", "", []part{meta(map[string]any{"uploads": map[string]string{"model.onnx": "0123456789abcdef01234567"}})}, 404, "NOT_FOUND", "upload"},
		{"incomplete upload", "demand", "", []part{meta(map[string]any{"uploads": map[string]string{"model.onnx": u.ID}})}, 409, "FAILED_PRECONDITION", "missing 2 of 2 parts"},
		{"file also uploaded", "demand", "", []part{meta(map[string]any{"uploads": map[string]string{"model.onnx": u.ID}}), file("model.onnx", model)}, 400, "INVALID_ARGUMENT", "both sent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state()
			ct, body := multipartBody(t, tc.parts...)
			if tc.contentType != "" {
				ct = tc.contentType
			}
			status, _, out := e.call("POST", "/api/v1/models/"+tc.model+"/versions", e.Writer, body, "Content-Type", ct)
			wantError(t, status, out, tc.status, tc.code, tc.message)
			if after := e.state(); after != before {
				t.Fatalf("state changed:\n%s\n---\n%s", before, after)
			}
			if left := leftovers(t, e.Store); len(left) != 0 {
				t.Fatalf("files left behind: %v", left)
			}
		})
	}
}

// TestRegisterBrokenUpload cuts a registration off in the middle of a file:
// the registration is aborted and nothing is left.
func TestRegisterBrokenUpload(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 0)
	before := e.state()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="metadata"`}})
		w.Write([]byte(`{}`))
		w, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="file"; filename="model.onnx"`}})
		io.CopyN(w, apitest.ModelReader(t, 8<<20), 4<<20)
		pw.CloseWithError(io.ErrUnexpectedEOF) // the link drops
	}()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/models/demand/versions", pr)
	req.Header.Set("Authorization", "Bearer "+e.Writer)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a broken body was answered %s", resp.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(leftovers(t, e.Store)) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := leftovers(t, e.Store); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
	if after := e.state(); after != before {
		t.Fatalf("state changed:\n%s\n---\n%s", before, after)
	}
}

// TestRegisterStreams100MiB registers a 100 MiB model in one streamed
// multipart request and checks that the heap stays far below the file size.
func TestRegisterStreams100MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB upload")
	}
	const size = 100 << 20
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "model.onnx")
	apitest.WriteModel(t, path, size)
	c, err := client.New(e.URL, e.Writer, client.WithResumableThreshold(1<<40), client.WithUploadStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	v, err := c.Register(context.Background(), client.RegisterRequest{Name: "big", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: path}}})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if v.Artifacts[0].Size != size || v.Signature == nil {
		t.Fatalf("version %+v", v)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("100 MiB streamed in %s (%.0f MiB/s); heap in use %.1f MiB before, peak %.1f MiB (growth %.1f MiB)",
		elapsed.Round(time.Millisecond), float64(size)/(1<<20)/elapsed.Seconds(),
		float64(base)/(1<<20), float64(peak.Load())/(1<<20), float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d MiB during a 100 MiB upload: something buffers the file", growth>>20)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != size {
		t.Fatal(err)
	}
}
