package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// Resumable uploads: POST /api/v1/uploads announces a file, each part is
// PUT on its own (so a broken link costs one part), GET tells which parts
// are missing, and a registration names the finished upload in its
// metadata's "uploads".

// POST /api/v1/uploads {model, size, part_size, sha256}
func (h *api) createUpload(w http.ResponseWriter, r *http.Request) error {
	var req wire.CreateUploadRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Model == "" {
		return registry.Invalid("field \"model\" is required: the registered model the file is for")
	}
	u, err := h.svc.CreateUpload(r.Context(), req.Model, req.Size, req.PartSize, req.SHA256)
	if err != nil {
		return err
	}
	w.Header().Set("Location", wire.Prefix+"/uploads/"+u.ID)
	return writeJSON(w, http.StatusCreated, wire.NewUpload(u))
}

// GET /api/v1/uploads/{id}
func (h *api) getUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.GetUpload(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.NewUpload(u))
}

// PUT /api/v1/uploads/{id}/parts/{n} with the part's bytes as the body.
// Sending a part again replaces it.
func (h *api) putUploadPart(w http.ResponseWriter, r *http.Request) error {
	s := r.PathValue("n")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > registry.MaxParts {
		return registry.Invalid("part number must be between 1 and %d, not %q", registry.MaxParts, s)
	}
	body := &readErr{r: r.Body}
	part, err := h.svc.PutUploadPart(r.Context(), r.PathValue("id"), n, body, r.ContentLength)
	if err != nil {
		if body.err != nil && !errors.Is(body.err, io.EOF) && !errkind.Known(err) {
			return bodyError(body.err)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, part)
}

// DELETE /api/v1/uploads/{id}
func (h *api) abortUpload(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.AbortUpload(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
