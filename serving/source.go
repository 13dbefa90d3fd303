package serving

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/client"
)

// Source is where the serving core learns which versions to serve and gets
// their files: the registry, in process or over HTTP.
type Source interface {
	// Watch returns registry changes after cursor (see registry.Service.Watch).
	Watch(ctx context.Context, cursor string) (changes []registry.Change, next string, reset bool, err error)
	// Resolve finds a version by reference: a number, an alias or "latest".
	Resolve(ctx context.Context, name, ref string) (*registry.Version, error)
	// ModelsWithAlias lists the models that have alias.
	ModelsWithAlias(ctx context.Context, alias string) ([]string, error)
	// Open reads one file of a version.
	Open(ctx context.Context, name string, version int64, path string) (io.ReadCloser, error)
	// Model returns a registered model, with its aliases, rollout and shadow.
	Model(ctx context.Context, name string) (*registry.Model, error)
}

// LocalSource serves from a registry in the same process (lantern up).
func LocalSource(s *registry.Service) Source { return localSource{s} }

type localSource struct{ s *registry.Service }

func (l localSource) Watch(ctx context.Context, cursor string) ([]registry.Change, string, bool, error) {
	if cursor != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	return l.s.Watch(ctx, cursor)
}

func (l localSource) Resolve(ctx context.Context, name, ref string) (*registry.Version, error) {
	return l.s.ResolveVersion(ctx, name, ref)
}

func (l localSource) ModelsWithAlias(ctx context.Context, alias string) ([]string, error) {
	return modelsWithAlias(func(q registry.SearchQuery) ([]*registry.Model, string, error) {
		return l.s.SearchModels(ctx, q)
	}, alias)
}

func (l localSource) Model(ctx context.Context, name string) (*registry.Model, error) {
	return l.s.GetModel(ctx, name)
}

func (l localSource) Open(ctx context.Context, name string, version int64, path string) (io.ReadCloser, error) {
	rc, _, err := l.s.OpenArtifact(ctx, name, version, path)
	return rc, err
}

// RemoteSource serves from a registry reached over HTTP (lantern serve --registry URL).
func RemoteSource(c *client.Client) Source { return remoteSource{c} }

type remoteSource struct{ c *client.Client }

func (r remoteSource) Watch(ctx context.Context, cursor string) ([]registry.Change, string, bool, error) {
	resp, err := r.c.Watch(ctx, cursor, 30*time.Second)
	if err != nil {
		return nil, "", false, err
	}
	return resp.Changes, resp.Cursor, resp.Reset, nil
}

func (r remoteSource) Resolve(ctx context.Context, name, ref string) (*registry.Version, error) {
	return r.c.GetVersion(ctx, name, ref)
}

func (r remoteSource) ModelsWithAlias(ctx context.Context, alias string) ([]string, error) {
	return modelsWithAlias(func(q registry.SearchQuery) ([]*registry.Model, string, error) {
		return r.c.SearchModels(ctx, q)
	}, alias)
}

func (r remoteSource) Model(ctx context.Context, name string) (*registry.Model, error) {
	return r.c.GetModel(ctx, name)
}

func (r remoteSource) Open(ctx context.Context, name string, version int64, path string) (io.ReadCloser, error) {
	rc, _, err := r.c.OpenFile(ctx, name, fmt.Sprint(version), path)
	return rc, err
}

func modelsWithAlias(search func(registry.SearchQuery) ([]*registry.Model, string, error), alias string) ([]string, error) {
	var out []string
	q := registry.SearchQuery{MaxResults: registry.MaxModelResults}
	for {
		ms, next, err := search(q)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if _, ok := m.Aliases[alias]; ok {
				out = append(out, m.Name)
			}
		}
		if next == "" {
			return out, nil
		}
		q.PageToken = next
	}
}
