package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

func searchValues(q registry.SearchQuery) url.Values {
	v := url.Values{}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	for _, o := range q.OrderBy {
		v.Add("order_by", o)
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	return v
}

// SearchModels returns one page of registered models matching q (the
// MLflow filter grammar, see registry/filter) and the token of the next
// page ("" on the last). A zero MaxResults means the server's default (100).
func (c *Client) SearchModels(ctx context.Context, q registry.SearchQuery) ([]*registry.Model, string, error) {
	var out wire.ModelList
	err := c.call(ctx, http.MethodGet, "/models", searchValues(q), nil, &out)
	return out.Models, out.NextPageToken, err
}

// Models iterates over every page of SearchModels.
func (c *Client) Models(ctx context.Context, q registry.SearchQuery) iter.Seq2[*registry.Model, error] {
	return pages(ctx, q, c.SearchModels)
}

// pages turns a paginated call into an iterator.
func pages[T any](ctx context.Context, q registry.SearchQuery, page func(context.Context, registry.SearchQuery) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, next, err := page(ctx, q)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			q.PageToken = next
		}
	}
}

// CreateModel creates a registered model.
func (c *Client) CreateModel(ctx context.Context, in registry.NewModel) (*registry.Model, error) {
	var m registry.Model
	req := wire.CreateModelRequest{Name: in.Name, Description: in.Description, Tags: in.Tags}
	if err := c.call(ctx, http.MethodPost, "/models", nil, req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// GetModel returns a registered model.
func (c *Client) GetModel(ctx context.Context, name string) (*registry.Model, error) {
	var m registry.Model
	if err := c.call(ctx, http.MethodGet, "/models/"+seg(name), nil, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RenameModel renames a registered model.
func (c *Client) RenameModel(ctx context.Context, name, newName string) (*registry.Model, error) {
	return c.patchModel(ctx, name, wire.UpdateModelRequest{Name: &newName})
}

// UpdateModel sets a registered model's description.
func (c *Client) UpdateModel(ctx context.Context, name, description string) (*registry.Model, error) {
	return c.patchModel(ctx, name, wire.UpdateModelRequest{Description: &description})
}

func (c *Client) patchModel(ctx context.Context, name string, req wire.UpdateModelRequest) (*registry.Model, error) {
	var m registry.Model
	if err := c.call(ctx, http.MethodPatch, "/models/"+seg(name), nil, req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// DeleteModel deletes a registered model with all its versions (needs an admin token).
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/models/"+seg(name), nil, nil, nil)
}

// SetModelTag sets a tag on a registered model.
func (c *Client) SetModelTag(ctx context.Context, name, key, value string) error {
	return c.call(ctx, http.MethodPut, "/models/"+seg(name)+"/tags/"+segs(key), nil, wire.TagRequest{Value: &value}, nil)
}

// DeleteModelTag removes a tag from a registered model.
func (c *Client) DeleteModelTag(ctx context.Context, name, key string) error {
	return c.call(ctx, http.MethodDelete, "/models/"+seg(name)+"/tags/"+segs(key), nil, nil, nil)
}

// ListVersions returns one page of a model's versions, newest first unless
// q.OrderBy says otherwise; q.Filter narrows them further.
func (c *Client) ListVersions(ctx context.Context, name string, q registry.SearchQuery) ([]*registry.Version, string, error) {
	var out wire.VersionList
	err := c.call(ctx, http.MethodGet, "/models/"+seg(name)+"/versions", searchValues(q), nil, &out)
	return out.Versions, out.NextPageToken, err
}

// Versions iterates over all of a model's versions.
func (c *Client) Versions(ctx context.Context, name string, q registry.SearchQuery) iter.Seq2[*registry.Version, error] {
	return pages(ctx, q, func(ctx context.Context, q registry.SearchQuery) ([]*registry.Version, string, error) {
		return c.ListVersions(ctx, name, q)
	})
}

// SearchVersions returns one page of versions of any model matching q.
func (c *Client) SearchVersions(ctx context.Context, q registry.SearchQuery) ([]*registry.Version, string, error) {
	var out wire.VersionList
	err := c.call(ctx, http.MethodGet, "/versions", searchValues(q), nil, &out)
	return out.Versions, out.NextPageToken, err
}

// AllVersions iterates over every page of SearchVersions.
func (c *Client) AllVersions(ctx context.Context, q registry.SearchQuery) iter.Seq2[*registry.Version, error] {
	return pages(ctx, q, c.SearchVersions)
}

// GetVersion returns a version by reference: a number ("3" or "v3"), an
// alias, or "latest" (the newest READY version).
func (c *Client) GetVersion(ctx context.Context, name, ref string) (*registry.Version, error) {
	var v registry.Version
	if err := c.call(ctx, http.MethodGet, "/models/"+seg(name)+"/versions/"+seg(ref), nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func versionPath(name string, version int64) string {
	return "/models/" + seg(name) + "/versions/" + strconv.FormatInt(version, 10)
}

// UpdateVersion sets a version's description.
func (c *Client) UpdateVersion(ctx context.Context, name string, version int64, description string) (*registry.Version, error) {
	var v registry.Version
	err := c.call(ctx, http.MethodPatch, versionPath(name, version), nil, wire.UpdateVersionRequest{Description: &description}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// TransitionStage moves a version to a legacy MLflow stage.
func (c *Client) TransitionStage(ctx context.Context, name string, version int64, stage registry.Stage, archiveExisting bool) (*registry.Version, error) {
	var v registry.Version
	s := string(stage)
	err := c.call(ctx, http.MethodPatch, versionPath(name, version), nil, wire.UpdateVersionRequest{Stage: &s, ArchiveExisting: archiveExisting}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteVersion deletes a version and its files.
func (c *Client) DeleteVersion(ctx context.Context, name string, version int64) error {
	return c.call(ctx, http.MethodDelete, versionPath(name, version), nil, nil, nil)
}

// SetVersionTag sets a tag on a version.
func (c *Client) SetVersionTag(ctx context.Context, name string, version int64, key, value string) error {
	return c.call(ctx, http.MethodPut, versionPath(name, version)+"/tags/"+segs(key), nil, wire.TagRequest{Value: &value}, nil)
}

// DeleteVersionTag removes a tag from a version.
func (c *Client) DeleteVersionTag(ctx context.Context, name string, version int64, key string) error {
	return c.call(ctx, http.MethodDelete, versionPath(name, version)+"/tags/"+segs(key), nil, nil, nil)
}

// SetAlias points alias at a READY version; reason goes to the audit log.
// It returns the version.
func (c *Client) SetAlias(ctx context.Context, name, alias string, version int64, reason string) (*registry.Version, error) {
	var v registry.Version
	err := c.call(ctx, http.MethodPut, "/models/"+seg(name)+"/aliases/"+seg(alias), nil, wire.AliasRequest{Version: version, Reason: reason}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteAlias removes an alias; reason goes to the audit log.
func (c *Client) DeleteAlias(ctx context.Context, name, alias, reason string) error {
	return c.call(ctx, http.MethodDelete, "/models/"+seg(name)+"/aliases/"+seg(alias), nil, nil, nil, wire.HeaderReason, reason)
}

// VersionByAlias returns the version an alias points at.
func (c *Client) VersionByAlias(ctx context.Context, name, alias string) (*registry.Version, error) {
	var v registry.Version
	if err := c.call(ctx, http.MethodGet, "/models/"+seg(name)+"/aliases/"+seg(alias), nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
