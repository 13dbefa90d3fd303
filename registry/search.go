package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/lantern-mlops/lantern/registry/filter"
)

// SearchQuery is an MLflow-style search: a filter (see package filter), an
// order, and a page.
type SearchQuery struct {
	Filter     string
	OrderBy    []string
	MaxResults int
	PageToken  string
}

// Search limits, as in MLflow.
const (
	MaxModelResults   = 1000
	MaxVersionResults = 200000
)

// SearchModels returns live registered models matching q.
func (s *Service) SearchModels(_ context.Context, q SearchQuery) ([]*Model, string, error) {
	expr, keys, offset, err := prepare(filter.Models, q, MaxModelResults)
	if err != nil {
		return nil, "", err
	}
	rows := s.idx.sortedModels(keys)
	var out []*Model
	skipped := 0
	for _, r := range rows {
		if !expr.Match(r) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if len(out) == q.MaxResults {
			// r matched, so there is a next page.
			return out, pageToken(q, offset+len(out)), nil
		}
		out = append(out, r.m)
	}
	return out, "", nil
}

// SearchVersions returns live versions of live models matching q.
func (s *Service) SearchVersions(_ context.Context, q SearchQuery) ([]*Version, string, error) {
	expr, keys, offset, err := prepare(filter.Versions, q, MaxVersionResults)
	if err != nil {
		return nil, "", err
	}
	rows := s.idx.sortedVersions(keys)
	var out []*Version
	skipped := 0
	for i := range rows {
		r := &rows[i]
		if !expr.Match(r) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if len(out) == q.MaxResults {
			// r matched, so there is a next page.
			return out, pageToken(q, offset+len(out)), nil
		}
		out = append(out, view(r.m, r.v))
	}
	return out, "", nil
}

func prepare(kind filter.Kind, q SearchQuery, limit int) (*filter.Expr, []filter.OrderKey, int, error) {
	if q.MaxResults <= 0 || q.MaxResults > limit {
		return nil, nil, 0, invalid("Invalid value %d for parameter 'max_results' supplied. It must be at most %d and positive.", q.MaxResults, limit)
	}
	expr, err := filter.Parse(kind, q.Filter)
	if err != nil {
		return nil, nil, 0, asInvalid(err)
	}
	keys, err := filter.ParseOrderBy(kind, q.OrderBy)
	if err != nil {
		return nil, nil, 0, asInvalid(err)
	}
	offset, err := parsePageToken(q)
	return expr, keys, offset, err
}

func asInvalid(err error) error {
	var fe *filter.Error
	if errors.As(err, &fe) {
		return invalid("%s", fe.Msg)
	}
	return invalid("%v", err)
}

// Page tokens are opaque to clients: an offset and a hash of the query they
// belong to, so a token used with another filter is refused rather than
// silently returning the wrong page.
type token struct {
	Offset int    `json:"o"`
	Query  uint32 `json:"q"`
}

func queryHash(q SearchQuery) uint32 {
	h := fnv.New32a()
	h.Write([]byte(q.Filter))
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(q.OrderBy, "\x00")))
	return h.Sum32()
}

func pageToken(q SearchQuery, offset int) string {
	b, _ := json.Marshal(token{Offset: offset, Query: queryHash(q)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func parsePageToken(q SearchQuery) (int, error) {
	if q.PageToken == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(q.PageToken, "="))
	var t token
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Offset < 0 {
		return 0, invalid("Invalid page token, could not base64-decode or parse it: use the next_page_token of a previous response")
	}
	if t.Query != queryHash(q) {
		return 0, invalid("Invalid page token: it belongs to a search with another filter or order_by")
	}
	return t.Offset, nil
}

// modelRow and versionRow adapt index entries to filter.Object without allocating.
type modelRow struct{ m *Model }

func (r modelRow) Text(a filter.Attr) (string, bool) {
	if a == filter.AttrName {
		return r.m.Name, true
	}
	return "", false
}

func (r modelRow) Int(a filter.Attr) (int64, bool) {
	switch a {
	case filter.AttrCreationTimestamp:
		return r.m.CreatedAt.UnixMilli(), true
	case filter.AttrLastUpdatedTimestamp:
		return r.m.UpdatedAt.UnixMilli(), true
	}
	return 0, false
}

func (r modelRow) Tag(k string) (string, bool) { v, ok := r.m.Tags[k]; return v, ok }

type versionRow struct {
	m *Model
	v *Version
}

func (r *versionRow) Text(a filter.Attr) (string, bool) {
	switch a {
	case filter.AttrName:
		return r.m.Name, true
	case filter.AttrRunID:
		return r.v.RunID, r.v.RunID != ""
	case filter.AttrSourcePath:
		return r.v.Source, r.v.Source != ""
	}
	return "", false
}

func (r *versionRow) Int(a filter.Attr) (int64, bool) {
	switch a {
	case filter.AttrVersionNumber:
		return r.v.Version, true
	case filter.AttrCreationTimestamp:
		return r.v.CreatedAt.UnixMilli(), true
	case filter.AttrLastUpdatedTimestamp:
		return r.v.UpdatedAt.UnixMilli(), true
	}
	return 0, false
}

func (r *versionRow) Tag(k string) (string, bool) { v, ok := r.v.Tags[k]; return v, ok }

// sortedModels returns the live models in the given order, cached until the next change.
func (ix *index) sortedModels(keys []filter.OrderKey) []modelRow {
	ck := filter.FormatOrderBy(keys)
	ix.mu.RLock()
	rows, ok := ix.msorted[ck]
	gen := ix.gen
	if !ok {
		rows = make([]modelRow, 0, len(ix.byName))
		for _, e := range ix.byName {
			rows = append(rows, modelRow{e.model})
		}
	}
	ix.mu.RUnlock()
	if ok {
		return rows
	}
	slices.SortFunc(rows, func(a, b modelRow) int { return filter.Compare(keys, a, b) })
	ix.mu.Lock()
	if ix.gen == gen {
		ix.msorted[ck] = rows
	}
	ix.mu.Unlock()
	return rows
}

// sortedVersions returns the live versions of live models in the given
// order, cached until the next change.
func (ix *index) sortedVersions(keys []filter.OrderKey) []versionRow {
	ck := filter.FormatOrderBy(keys)
	ix.mu.RLock()
	rows, ok := ix.vsorted[ck]
	gen := ix.gen
	if !ok {
		for _, e := range ix.byName {
			for _, v := range e.versions {
				if !v.Deleted {
					rows = append(rows, versionRow{e.model, v})
				}
			}
		}
	}
	ix.mu.RUnlock()
	if ok {
		return rows
	}
	slices.SortFunc(rows, func(a, b versionRow) int { return filter.Compare(keys, &a, &b) })
	ix.mu.Lock()
	if ix.gen == gen {
		ix.vsorted[ck] = rows
	}
	ix.mu.Unlock()
	return rows
}
