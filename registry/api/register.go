package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// POST /api/v1/models/{name}/versions registers a version from one
// multipart/form-data body: a "metadata" part (JSON, wire.RegisterMetadata)
// first, then one "file" part per file whose filename is the artifact path.
// Each file streams straight into the registration; nothing is buffered.
// Any failure aborts the registration, so nothing becomes visible.
func (h *api) registerVersion(w http.ResponseWriter, r *http.Request) error {
	ctx, name := r.Context(), r.PathValue("name")
	if err := registry.ValidateModelName(name); err != nil {
		return err
	}
	mr, err := multipartReader(r)
	if err != nil {
		return err
	}
	part, err := mr.NextRawPart()
	if errors.Is(err, io.EOF) {
		return registry.Invalid("the body has no parts: send a %q part (JSON), then one %q part per file", "metadata", "file")
	}
	if err != nil {
		return bodyError(err)
	}
	if field, _, err := disposition(part); err != nil {
		return err
	} else if field != "metadata" {
		return registry.Invalid("the first part must be %q (JSON), not %q", "metadata", field)
	}
	md, err := decodeMetadata(part)
	if err != nil {
		return err
	}
	if _, err := h.svc.GetModel(ctx, name); errors.Is(err, registry.ErrNotFound) && md.CreateModel {
		// The model stays even if the upload fails: a retry finds it.
		if _, err := h.svc.CreateModel(ctx, registry.NewModel{Name: name}); err != nil && !errors.Is(err, registry.ErrAlreadyExists) {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("%w (set \"create_model\": true in the metadata to create it)", err)
	}
	reg, err := h.svc.BeginVersion(ctx, registry.NewVersion{
		Name: name, Description: md.Description, Source: md.Source, RunID: md.Lineage.RunID,
		RunLink: md.RunLink, Tags: md.Tags, Lineage: md.Lineage, Status: md.Status,
		StatusMessage: md.StatusMessage, ModelFile: md.ModelFile, Aliases: md.Aliases,
	})
	if err != nil {
		return err
	}
	// Abort does nothing after a successful Commit.
	defer reg.Abort(ctx)

	seen := map[string]bool{}
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		field, path, err := disposition(part)
		if err != nil {
			return err
		}
		if field != "file" {
			return registry.Invalid("unexpected part %q after the metadata: every further part must be a %q", field, "file")
		}
		if err := registry.ValidateArtifactPath(path); err != nil {
			return err
		}
		if seen[path] {
			return registry.Invalid("file %q is sent twice", path)
		}
		if len(seen)+len(md.Uploads) >= maxFiles {
			return registry.Invalid("a version may have at most %d files", maxFiles)
		}
		if _, ok := md.Uploads[path]; ok {
			return registry.Invalid("file %q is both sent in the body and named in \"uploads\"", path)
		}
		seen[path] = true
		size := int64(-1)
		if s := part.Header.Get("Content-Length"); s != "" {
			if size, err = strconv.ParseInt(s, 10, 64); err != nil || size < 0 {
				return registry.Invalid("file %q: the part's Content-Length %q is not a size", path, s)
			}
		}
		body := &readErr{r: part}
		if _, err := reg.PutArtifact(ctx, path, body, size); err != nil {
			if body.err != nil && !errors.Is(body.err, io.EOF) && !errkind.Known(err) {
				return bodyError(body.err)
			}
			return err
		}
	}
	for _, path := range sortedKeys(md.Uploads) {
		if _, err := reg.AddUpload(ctx, path, md.Uploads[path]); err != nil {
			return fmt.Errorf("file %q: %w", path, err)
		}
	}
	v, err := reg.Commit(ctx)
	if v == nil {
		return err
	}
	if err != nil {
		// Registered, but an alias could not be set: say so without failing,
		// or a retry would register the files a second time.
		h.log.Warn("version registered with a warning", "model", name, "version", v.Version, "err", err)
		w.Header().Set(wire.HeaderWarning, oneLine(err.Error()))
	}
	w.Header().Set("Location", fmt.Sprintf("%s/versions/%d", modelURL(name), v.Version))
	return writeJSON(w, http.StatusCreated, v)
}

// maxFiles bounds the files of one version.
const maxFiles = 10000

func multipartReader(r *http.Request) (*multipart.Reader, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, registry.Invalid("the body must be multipart/form-data with a boundary, not %q: send a \"metadata\" part, then one \"file\" part per file", ct)
	}
	return multipart.NewReader(r.Body, params["boundary"]), nil
}

// disposition returns a part's form field name and filename. The filename
// is read from the header itself: multipart.Part.FileName drops directories,
// and artifact paths keep them.
func disposition(p *multipart.Part) (field, filename string, err error) {
	cd := p.Header.Get("Content-Disposition")
	typ, params, perr := mime.ParseMediaType(cd)
	if perr != nil || typ != "form-data" || params["name"] == "" {
		return "", "", registry.Invalid("every part needs a header 'Content-Disposition: form-data; name=\"...\"', not %q", cd)
	}
	field, filename = params["name"], params["filename"]
	if field == "file" && filename == "" {
		return "", "", registry.Invalid("a \"file\" part needs a filename: the artifact path, such as model.onnx")
	}
	return field, filename, nil
}

// errTooLarge marks a metadata part over wire.MaxJSONBody.
var errTooLarge = fmt.Errorf("%w: the metadata part is over %d bytes", errkind.TooLarge, wire.MaxJSONBody)

// decodeMetadata reads and checks the metadata part, so a bad request fails
// before anything is created.
func decodeMetadata(r io.Reader) (*wire.RegisterMetadata, error) {
	var md wire.RegisterMetadata
	if err := decodeStrict(&limitReader{r: r, n: wire.MaxJSONBody}, &md); err != nil {
		if errors.Is(err, errkind.Invalid) {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		return nil, err
	}
	if err := registry.ValidateDescription(md.Description); err != nil {
		return nil, err
	}
	for k, v := range md.Tags {
		if err := registry.ValidateTag(k, v); err != nil {
			return nil, err
		}
	}
	for _, a := range md.Aliases {
		if err := registry.ValidateAlias(a); err != nil {
			return nil, err
		}
	}
	switch md.Status {
	case "", registry.StatusReady, registry.StatusFailed:
	default:
		return nil, registry.Invalid("metadata: status must be %s or %s, not %q", registry.StatusReady, registry.StatusFailed, md.Status)
	}
	if md.ModelFile != "" {
		if err := registry.ValidateArtifactPath(md.ModelFile); err != nil {
			return nil, err
		}
	}
	if len(md.Uploads) > maxFiles {
		return nil, registry.Invalid("metadata: at most %d uploads", maxFiles)
	}
	for path, id := range md.Uploads {
		if err := registry.ValidateArtifactPath(path); err != nil {
			return nil, err
		}
		if id == "" {
			return nil, registry.Invalid("metadata: uploads[%q] is empty: give the id of a completed upload", path)
		}
	}
	return &md, nil
}

// limitReader reads at most n bytes and fails with errTooLarge beyond.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return 0, errTooLarge
	}
	return n, err
}

// readErr remembers the error of the request body, to tell a broken upload
// (the client's problem) from a failing store (ours).
type readErr struct {
	r   io.Reader
	err error
}

func (b *readErr) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil {
		b.err = err
	}
	return n, err
}

// bodyError describes a request body that could not be read.
func bodyError(err error) error {
	if errkind.Known(err) {
		return err
	}
	return registry.Invalid("the request body could not be read (%v): the upload broke off or is not valid multipart", err)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}
