package mlflowapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

// The artifact proxy (mlflow server --serve-artifacts): clients upload and
// download files at /api/2.0/mlflow-artifacts/artifacts/<path>, which the
// store keeps under tracking.ArtifactKey(path), and list a directory with
// GET /api/2.0/mlflow-artifacts/artifacts?path=<dir>.
//
// The folder lantern-models/ is a read-only view of the registry:
// lantern-models/<name>/<version>/<file> is a registered version's file,
// read through the registry (which checks its sha256). get-download-uri
// returns such URIs, so MLflow clients download registered models through
// the proxy as they would from MLflow.

func (a *API) serveArtifacts(w http.ResponseWriter, r *http.Request, rest string) error {
	if rest == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			return methodNotAllowed(r, "GET")
		}
		return a.listArtifacts(w, r)
	}
	p, err := tracking.CleanArtifactPath(strings.TrimPrefix(rest, "/"))
	if err != nil {
		return err
	}
	if p == "" {
		return invalidf("Invalid path: the artifact path is empty")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return a.downloadArtifact(w, r, p)
	case http.MethodPut:
		return a.uploadArtifact(w, r, p)
	case http.MethodDelete:
		return a.deleteArtifact(w, r, p)
	}
	w.Header().Set("Allow", "GET, PUT, DELETE")
	return methodNotAllowed(r, "GET, PUT or DELETE")
}

func inModelsTree(p string) bool { return p == modelsTree || strings.HasPrefix(p, modelsTree+"/") }

func readOnly(p string) error {
	return invalidf("Invalid path %q: %s/ is a read-only view of the model registry; register models with model-versions/create", p, modelsTree)
}

// splitModelsPath splits lantern-models/<name>[/<version>[/<sub>]].
// version is 0 if absent; ok is false for a malformed path.
func splitModelsPath(p string) (name string, version int64, sub string, ok bool) {
	rest, found := strings.CutPrefix(p, modelsTree)
	if !found {
		return "", 0, "", false
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return "", 0, "", true
	}
	segs := strings.SplitN(rest, "/", 3)
	name = segs[0]
	if len(segs) == 1 {
		return name, 0, "", true
	}
	v, err := strconv.ParseInt(segs[1], 10, 64)
	if err != nil || v <= 0 {
		return "", 0, "", false
	}
	if len(segs) == 3 {
		sub = segs[2]
	}
	return name, v, sub, true
}

func (a *API) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Path *string `json:"path"`
	}
	if err := decodeQuery(r.URL.Query(), &req); err != nil {
		return err
	}
	dir := ""
	if req.Path != nil {
		var err error
		if dir, err = tracking.CleanArtifactPath(*req.Path); err != nil {
			return err
		}
	}
	files, err := a.listDir(r.Context(), dir)
	if err != nil {
		return err
	}
	var resp struct {
		Files []wireFileInfo `json:"files,omitempty"`
	}
	resp.Files = files
	return reply(w, resp)
}

// listDir lists one level of dir (a cleaned proxy path) as base names. The
// root also shows the registry's folder.
func (a *API) listDir(ctx context.Context, dir string) ([]wireFileInfo, error) {
	if inModelsTree(dir) {
		return a.listModelsTree(ctx, dir)
	}
	infos, err := a.tr.ListArtifacts(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make([]wireFileInfo, 0, len(infos)+1)
	for _, f := range infos {
		out = append(out, wireFileInfo{Path: f.Path, IsDir: f.IsDir, FileSize: f.Size})
	}
	if dir == "" {
		out = append(out, wireFileInfo{Path: modelsTree, IsDir: true})
	}
	sortFiles(out)
	return out, nil
}

// listModelsTree lists the registry's read-only folder. Missing models and
// versions list as empty, as missing directories do.
func (a *API) listModelsTree(ctx context.Context, dir string) ([]wireFileInfo, error) {
	name, version, sub, ok := splitModelsPath(dir)
	if !ok {
		return nil, nil
	}
	var out []wireFileInfo
	switch {
	case name == "":
		q := registry.SearchQuery{MaxResults: registry.MaxModelResults}
		for {
			models, next, err := a.reg.SearchModels(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, m := range models {
				out = append(out, wireFileInfo{Path: m.Name, IsDir: true})
			}
			if next == "" {
				break
			}
			q.PageToken = next
		}
	case version == 0:
		vs, err := a.reg.ListVersions(ctx, name)
		if errors.Is(err, registry.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if v.Status == registry.StatusReady {
				out = append(out, wireFileInfo{Path: versionString(v.Version), IsDir: true})
			}
		}
	default:
		v, err := a.reg.GetVersion(ctx, name, version)
		if errors.Is(err, registry.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		prefix := ""
		if sub != "" {
			prefix = sub + "/"
		}
		seen := map[string]bool{}
		for _, art := range v.Artifacts {
			rest, ok := strings.CutPrefix(art.Path, prefix)
			if !ok {
				continue
			}
			if d, _, isDir := strings.Cut(rest, "/"); isDir {
				if !seen[d] {
					seen[d] = true
					out = append(out, wireFileInfo{Path: d, IsDir: true})
				}
				continue
			}
			out = append(out, wireFileInfo{Path: rest, FileSize: art.Size})
		}
	}
	sortFiles(out)
	return out, nil
}

// byteRange is a parsed single-range Range header.
type byteRange struct {
	start, length int64
}

// parseRange reads "bytes=a-b", "bytes=a-" or "bytes=-n" against size. ok is
// false when the header should be ignored (absent, several ranges, another
// unit); unsatisfiable when it cannot be served.
func parseRange(h string, size int64) (br byteRange, ok, unsatisfiable bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if h == "" || !found || strings.Contains(spec, ",") {
		return byteRange{}, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return byteRange{}, false, true
		}
		n = min(n, size)
		return byteRange{size - n, n}, true, size == 0
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, false, false
	}
	if start >= size {
		return byteRange{}, false, true
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return byteRange{}, false, false
		}
		end = min(e, size-1)
	}
	return byteRange{start, end - start + 1}, true, false
}

func fileHeaders(w http.ResponseWriter, p string) {
	h := w.Header()
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Ranges", "bytes")
}

func (a *API) downloadArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	if inModelsTree(p) {
		return a.downloadVersionFile(w, r, p)
	}
	ctx := r.Context()
	key := tracking.ArtifactKey(p)
	info, err := a.store.Stat(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return notFoundf("No artifact at %s", p)
	}
	if err != nil {
		return err
	}
	br, ranged, unsat := parseRange(r.Header.Get("Range"), info.Size)
	if unsat {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		return &apiError{"INVALID_PARAMETER_VALUE", http.StatusRequestedRangeNotSatisfiable, "The requested range is outside the file"}
	}
	var rc io.ReadCloser
	if rr, ok := a.store.(objstore.RangeReader); ranged && ok {
		rc, info, err = rr.GetRange(ctx, key, br.start, br.length)
	} else {
		ranged = false
		rc, info, err = a.store.Get(ctx, key)
	}
	if errors.Is(err, objstore.ErrNotFound) {
		return notFoundf("No artifact at %s", p)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	fileHeaders(w, p)
	if ranged {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.start, br.start+br.length-1, info.Size))
		w.Header().Set("Content-Length", strconv.FormatInt(br.length, 10))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	if r.Method == http.MethodHead {
		return nil
	}
	_, err = io.Copy(w, rc)
	return err
}

// downloadVersionFile serves a registered version's file. The registry
// verifies its sha256 while it streams; the response is sent without a
// Content-Length so that a mismatch, found at the end, cuts the transfer
// short and the client sees an error rather than a corrupt file. Range
// requests are served unverified (the client checks the whole file).
func (a *API) downloadVersionFile(w http.ResponseWriter, r *http.Request, p string) error {
	name, version, sub, ok := splitModelsPath(p)
	if !ok || version == 0 || sub == "" {
		return notFoundf("No artifact at %s", p)
	}
	ctx := r.Context()
	v, err := a.reg.GetVersion(ctx, name, version)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(v.Artifacts, func(art registry.Artifact) bool { return art.Path == sub })
	if i < 0 {
		return notFoundf("No artifact at %s: version %d of %q has no file %q", p, version, name, sub)
	}
	size := v.Artifacts[i].Size
	br, ranged, unsat := parseRange(r.Header.Get("Range"), size)
	if unsat {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return &apiError{"INVALID_PARAMETER_VALUE", http.StatusRequestedRangeNotSatisfiable, "The requested range is outside the file"}
	}
	var rc io.ReadCloser
	if ranged {
		rc, _, err = a.reg.OpenArtifactRange(ctx, name, version, sub, br.start, br.length)
	} else {
		rc, _, err = a.reg.OpenArtifact(ctx, name, version, sub)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	fileHeaders(w, sub)
	if ranged {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.start, br.start+br.length-1, size))
		w.Header().Set("Content-Length", strconv.FormatInt(br.length, 10))
		w.WriteHeader(http.StatusPartialContent)
	}
	if r.Method == http.MethodHead {
		return nil
	}
	_, err = io.Copy(w, rc)
	return err
}

func (a *API) uploadArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	if inModelsTree(p) {
		return readOnly(p)
	}
	max := a.opts.MaxArtifactSize
	if r.ContentLength > max {
		return &userError{errkind.TooLarge, fmt.Sprintf("The file is %d bytes; the artifact proxy accepts files of at most %d bytes", r.ContentLength, max)}
	}
	ctx := r.Context()
	key := tracking.ArtifactKey(p)
	if a.isDir(ctx, key) {
		return invalidf("Invalid path %q: it is a directory", p)
	}
	body := http.MaxBytesReader(w, r.Body, max)
	_, err := a.store.Put(ctx, key, body, r.ContentLength, objstore.PutOptions{ContentType: r.Header.Get("Content-Type")})
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return &userError{errkind.TooLarge, fmt.Sprintf("The file is over the %d-byte limit of the artifact proxy", max)}
	case errors.Is(err, objstore.ErrShortWrite):
		return invalidf("The upload of %s ended before its Content-Length; nothing was stored", p)
	case errors.Is(err, objstore.ErrInvalidKey):
		return invalidf("Invalid path %q", p)
	case err != nil:
		return err
	}
	return reply(w, empty{})
}

func (a *API) isDir(ctx context.Context, key string) bool {
	for _, err := range a.store.List(ctx, key+"/", objstore.ListOptions{}) {
		return err == nil
	}
	return false
}

func (a *API) deleteArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	if inModelsTree(p) {
		return readOnly(p)
	}
	ctx := r.Context()
	key := tracking.ArtifactKey(p)
	var errs []error
	for info, err := range a.store.List(ctx, key+"/", objstore.ListOptions{}) {
		if err != nil {
			return err
		}
		errs = append(errs, a.store.Delete(ctx, info.Key))
	}
	errs = append(errs, a.store.Delete(ctx, key))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return reply(w, empty{})
}
