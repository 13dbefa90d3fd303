package api

import (
	"net/http"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// GET /api/v1/audit?model=&version=&action=&actor=&since=&until=&limit=&page_token=
// returns events newest first.
func (h *api) audit(w http.ResponseWriter, r *http.Request) error {
	q, err := auditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	events, next, err := h.svc.Audit(r.Context(), q)
	if err != nil {
		return err
	}
	if events == nil {
		events = []*registry.Event{}
	}
	return writeJSON(w, http.StatusOK, wire.AuditList{Events: events, NextPageToken: next})
}
