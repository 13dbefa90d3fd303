package api

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// GET /api/v1/versions: search across models.
func (h *api) searchVersions(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(r.URL.Query(), defaultVersionResults)
	if err != nil {
		return err
	}
	return h.writeVersions(w, r, q)
}

// GET /api/v1/models/{name}/versions: one model's versions, newest first
// unless order_by says otherwise; filter narrows them further.
func (h *api) listModelVersions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := h.svc.GetModel(r.Context(), name); err != nil {
		return err
	}
	q, err := searchQuery(r.URL.Query(), defaultVersionResults)
	if err != nil {
		return err
	}
	byName := "name = " + quoteFilter(name)
	if q.Filter != "" {
		q.Filter = byName + " AND " + q.Filter
	} else {
		q.Filter = byName
	}
	if len(q.OrderBy) == 0 {
		q.OrderBy = []string{"version_number DESC"}
	}
	return h.writeVersions(w, r, q)
}

func (h *api) writeVersions(w http.ResponseWriter, r *http.Request, q registry.SearchQuery) error {
	vs, next, err := h.svc.SearchVersions(r.Context(), q)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []*registry.Version{}
	}
	return writeJSON(w, http.StatusOK, wire.VersionList{Versions: vs, NextPageToken: next})
}

// GET /api/v1/models/{name}/versions/{ref}: ref is a number, "v3", an alias or "latest".
func (h *api) getVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := h.svc.ResolveVersion(r.Context(), r.PathValue("name"), r.PathValue("ref"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// PATCH /api/v1/models/{name}/versions/{v}: description and/or stage.
// Writes take a version number, never an alias, so they cannot hit a
// version that an alias moved to meanwhile.
func (h *api) updateVersion(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	n, err := parseVersion(r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req wire.UpdateVersionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Description == nil && req.Stage == nil {
		return registry.Invalid("nothing to change: send \"description\" and/or \"stage\"")
	}
	var stage registry.Stage
	if req.Stage != nil {
		if stage, err = registry.ParseStage(*req.Stage); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := registry.ValidateDescription(*req.Description); err != nil {
			return err
		}
	}
	ctx := r.Context()
	v, err := h.svc.GetVersion(ctx, name, n)
	if err != nil {
		return err
	}
	if req.Description != nil {
		if v, err = h.svc.UpdateVersion(ctx, name, n, *req.Description); err != nil {
			return err
		}
	}
	if req.Stage != nil {
		if v, err = h.svc.TransitionStage(ctx, name, n, stage, req.ArchiveExisting); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, v)
}

// DELETE /api/v1/models/{name}/versions/{v}
func (h *api) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := parseVersion(r.PathValue("ref"))
	if err != nil {
		return err
	}
	if err := h.svc.DeleteVersion(r.Context(), r.PathValue("name"), n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PUT /api/v1/models/{name}/versions/{v}/tags/{key...}
func (h *api) setVersionTag(w http.ResponseWriter, r *http.Request) error {
	n, err := parseVersion(r.PathValue("ref"))
	if err != nil {
		return err
	}
	value, err := tagValue(w, r)
	if err != nil {
		return err
	}
	ctx, name := r.Context(), r.PathValue("name")
	if err := h.svc.SetVersionTag(ctx, name, n, r.PathValue("key"), value); err != nil {
		return err
	}
	return h.writeVersion(w, r, name, n)
}

// DELETE /api/v1/models/{name}/versions/{v}/tags/{key...}
func (h *api) deleteVersionTag(w http.ResponseWriter, r *http.Request) error {
	n, err := parseVersion(r.PathValue("ref"))
	if err != nil {
		return err
	}
	ctx, name := r.Context(), r.PathValue("name")
	if err := h.svc.DeleteVersionTag(ctx, name, n, r.PathValue("key")); err != nil {
		return err
	}
	return h.writeVersion(w, r, name, n)
}

func (h *api) writeVersion(w http.ResponseWriter, r *http.Request, name string, n int64) error {
	v, err := h.svc.GetVersion(r.Context(), name, n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// GET /api/v1/models/{name}/aliases/{alias}: the version the alias points at.
func (h *api) getAlias(w http.ResponseWriter, r *http.Request) error {
	v, err := h.svc.VersionByAlias(r.Context(), r.PathValue("name"), r.PathValue("alias"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// PUT /api/v1/models/{name}/aliases/{alias} {version, reason}
func (h *api) setAlias(w http.ResponseWriter, r *http.Request) error {
	var req wire.AliasRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Version <= 0 {
		return registry.Invalid("field \"version\" is required: the version number the alias should point at")
	}
	ctx, err := withReason(r, req.Reason)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := h.svc.SetAlias(ctx, name, r.PathValue("alias"), req.Version); err != nil {
		return err
	}
	return h.writeVersion(w, r, name, req.Version)
}

// DELETE /api/v1/models/{name}/aliases/{alias}
func (h *api) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	ctx, err := withReason(r, r.URL.Query().Get("reason"))
	if err != nil {
		return err
	}
	if err := h.svc.DeleteAlias(ctx, r.PathValue("name"), r.PathValue("alias")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxReason bounds the reason recorded with a write.
const maxReason = 4096

// withReason returns the request's context carrying the reason for the audit
// log, from the body (or query) or else the X-Lantern-Reason header.
func withReason(r *http.Request, reason string) (context.Context, error) {
	if reason == "" {
		reason = r.Header.Get(wire.HeaderReason)
	}
	if len(reason) > maxReason || !utf8.ValidString(reason) {
		return nil, registry.Invalid("reason must be valid UTF-8 of at most %d bytes", maxReason)
	}
	if reason == "" {
		return r.Context(), nil
	}
	return registry.WithReason(r.Context(), reason), nil
}
