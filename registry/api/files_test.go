package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
)

func TestDownload(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 1, "production")
	v, _ := e.Service.GetVersion(context.Background(), "demand", 1)
	a := v.Artifacts[0]
	model := bytes.Clone(e.fixture())
	size := int64(len(model))
	etag := `"sha256:` + a.SHA256 + `"`
	path := "/api/v1/models/demand/versions/production/files/model.onnx"

	tests := []struct {
		name    string
		method  string
		hdr     []string
		status  int
		body    []byte
		crange  string
		bodyLen int64
	}{
		{"whole file", "GET", nil, 200, model, "", size},
		{"head", "HEAD", nil, 200, nil, "", size},
		{"range", "GET", []string{"Range", "bytes=10-19"}, 206, model[10:20], "bytes 10-19/" + strconv.FormatInt(size, 10), 10},
		{"open range", "GET", []string{"Range", "bytes=100-"}, 206, model[100:], "bytes 100-" + strconv.FormatInt(size-1, 10) + "/" + strconv.FormatInt(size, 10), size - 100},
		{"suffix range", "GET", []string{"Range", "bytes=-5"}, 206, model[size-5:], "", 5},
		{"range past the end is clipped", "GET", []string{"Range", "bytes=5-99999999"}, 206, model[5:], "", size - 5},
		{"if-range matches", "GET", []string{"Range", "bytes=10-19", "If-Range", etag}, 206, model[10:20], "", 10},
		{"if-range differs", "GET", []string{"Range", "bytes=10-19", "If-Range", `"sha256:0000"`}, 200, model, "", size},
		{"several ranges: whole file", "GET", []string{"Range", "bytes=1-2,5-6"}, 200, model, "", size},
		{"not bytes: whole file", "GET", []string{"Range", "lines=1-2"}, 200, model, "", size},
		{"if-none-match", "GET", []string{"If-None-Match", etag}, 304, nil, "", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := e.call(tc.method, path, e.Reader, nil, tc.hdr...)
			if status != tc.status {
				t.Fatalf("status %d: %s", status, body)
			}
			if hdr.Get("ETag") != etag || hdr.Get("X-Lantern-Sha256") != a.SHA256 || hdr.Get("X-Lantern-Version") != "1" {
				t.Fatalf("headers %v", hdr)
			}
			if tc.bodyLen >= 0 && hdr.Get("Content-Length") != strconv.FormatInt(tc.bodyLen, 10) {
				t.Fatalf("Content-Length %q, want %d", hdr.Get("Content-Length"), tc.bodyLen)
			}
			if !bytes.Equal(body, tc.body) {
				t.Fatalf("body: %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.crange != "" && hdr.Get("Content-Range") != tc.crange {
				t.Fatalf("Content-Range %q", hdr.Get("Content-Range"))
			}
			if status < 300 && hdr.Get("Accept-Ranges") != "bytes" {
				t.Fatal("no Accept-Ranges")
			}
		})
	}
	t.Run("unsatisfiable", func(t *testing.T) {
		status, hdr, body := e.call("GET", path, e.Reader, nil, "Range", "bytes=99999999-")
		wantError(t, status, body, 416, "OUT_OF_RANGE", "outside the file")
		if hdr.Get("Content-Range") != "bytes */"+strconv.FormatInt(size, 10) {
			t.Fatalf("Content-Range %q", hdr.Get("Content-Range"))
		}
	})
}

func (e *env) fixture() []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "onnx", "testdata", "demand_linear.onnx"))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// corrupt flips a byte of every stored artifact, as a failing disk would.
func (e *env) corrupt() {
	e.t.Helper()
	n := 0
	for info, err := range e.Store.List(context.Background(), "registry/artifacts/", objstore.ListOptions{}) {
		if err != nil {
			e.t.Fatal(err)
		}
		p := filepath.Join(e.Dir, filepath.FromSlash(info.Key))
		b, err := os.ReadFile(p)
		if err != nil {
			e.t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		e.t.Fatal("nothing to corrupt")
	}
}

// TestDownloadCorrupt: a stored file that no longer matches its sha256 is
// never served whole: the connection is cut before its last bytes.
func TestDownloadCorrupt(t *testing.T) {
	e := newEnv(t)
	e.model("small", 1) // fits in the held-back chunk: not even the headers go out
	e.model("large", 0)
	r, _ := e.Service.BeginVersion(e.ctx(), registry.NewVersion{Name: "large"})
	if _, err := r.PutArtifact(e.ctx(), "model.onnx", apitest.ModelReader(t, 1<<20), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(e.ctx()); err != nil {
		t.Fatal(err)
	}
	e.corrupt()
	for _, name := range []string{"small", "large"} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL+"/api/v1/models/"+name+"/versions/1/files/model.onnx", nil)
			req.Header.Set("Authorization", "Bearer "+e.Reader)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if name == "small" {
					return // no answer at all: fine
				}
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(b)) >= resp.ContentLength {
				t.Fatalf("read %d of %d bytes, err %v: a corrupt file was served as if complete", len(b), resp.ContentLength, err)
			}
		})
	}
	if !strings.Contains(e.Log.String(), "file download aborted") {
		t.Fatalf("not logged:\n%s", e.Log.String())
	}
}
