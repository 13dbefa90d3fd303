package api

import (
	"net/http"
	"net/url"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

func modelURL(name string) string { return wire.Prefix + "/models/" + url.PathEscape(name) }

// GET /api/v1/models
func (h *api) listModels(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(r.URL.Query(), defaultModelResults)
	if err != nil {
		return err
	}
	models, next, err := h.svc.SearchModels(r.Context(), q)
	if err != nil {
		return err
	}
	if models == nil {
		models = []*registry.Model{}
	}
	return writeJSON(w, http.StatusOK, wire.ModelList{Models: models, NextPageToken: next})
}

// POST /api/v1/models
func (h *api) createModel(w http.ResponseWriter, r *http.Request) error {
	var req wire.CreateModelRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	m, err := h.svc.CreateModel(r.Context(), registry.NewModel{Name: req.Name, Description: req.Description, Tags: req.Tags})
	if err != nil {
		return err
	}
	w.Header().Set("Location", modelURL(m.Name))
	return writeJSON(w, http.StatusCreated, m)
}

// GET /api/v1/models/{name}
func (h *api) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := h.svc.GetModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// PATCH /api/v1/models/{name}: description, and/or name to rename.
func (h *api) updateModel(w http.ResponseWriter, r *http.Request) error {
	var req wire.UpdateModelRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Description == nil {
		return registry.Invalid("nothing to change: send \"name\" to rename the model and/or \"description\"")
	}
	ctx, name := r.Context(), r.PathValue("name")
	// Check everything before the first write, so a bad description does not leave a half-done rename.
	if req.Description != nil {
		if err := registry.ValidateDescription(*req.Description); err != nil {
			return err
		}
	}
	if req.Name != nil {
		if err := registry.ValidateModelName(*req.Name); err != nil {
			return err
		}
	}
	m, err := h.svc.GetModel(ctx, name)
	if err != nil {
		return err
	}
	if req.Name != nil && *req.Name != name {
		if m, err = h.svc.RenameModel(ctx, name, *req.Name); err != nil {
			return err
		}
		name = m.Name
		w.Header().Set("Location", modelURL(name))
	}
	if req.Description != nil && *req.Description != m.Description {
		if m, err = h.svc.UpdateModel(ctx, name, *req.Description); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, m)
}

// DELETE /api/v1/models/{name} (admin)
func (h *api) deleteModel(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteModel(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PUT /api/v1/models/{name}/tags/{key...}
func (h *api) setModelTag(w http.ResponseWriter, r *http.Request) error {
	value, err := tagValue(w, r)
	if err != nil {
		return err
	}
	ctx, name := r.Context(), r.PathValue("name")
	if err := h.svc.SetModelTag(ctx, name, r.PathValue("key"), value); err != nil {
		return err
	}
	return h.writeModel(w, r, name)
}

// DELETE /api/v1/models/{name}/tags/{key...}
func (h *api) deleteModelTag(w http.ResponseWriter, r *http.Request) error {
	ctx, name := r.Context(), r.PathValue("name")
	if err := h.svc.DeleteModelTag(ctx, name, r.PathValue("key")); err != nil {
		return err
	}
	return h.writeModel(w, r, name)
}

func (h *api) writeModel(w http.ResponseWriter, r *http.Request, name string) error {
	m, err := h.svc.GetModel(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func tagValue(w http.ResponseWriter, r *http.Request) (string, error) {
	var req wire.TagRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return "", err
	}
	if req.Value == nil {
		return "", registry.Invalid("field \"value\" is required (it may be an empty string)")
	}
	return *req.Value, nil
}
