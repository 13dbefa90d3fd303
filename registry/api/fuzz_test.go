package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
)

// clientError reports whether err is one a client caused (and is told about).
func clientError(err error) bool {
	return errors.Is(err, errkind.Invalid) || errors.Is(err, errkind.TooLarge)
}

// FuzzDecodeMetadata: any metadata part either decodes to metadata that
// survives a round trip, or is refused as the client's error; it never
// panics or fails as an internal error.
func FuzzDecodeMetadata(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzDecodeMetadata.
	f.Add([]byte(`{"description": "weekly", "aliases": ["candidate"], "create_model": true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := decodeMetadata(bytes.NewReader(data))
		if err != nil {
			if !clientError(err) {
				t.Fatalf("%q: error of no client kind: %v", data, err)
			}
			return
		}
		b, err := json.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		md2, err := decodeMetadata(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("re-encoded metadata refused: %s: %v", b, err)
		}
		if b2, _ := json.Marshal(md2); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the metadata:\n%s\n%s", b, b2)
		}
	})
}

// FuzzQuery: the query parameters of the search, audit and watch
// endpoints are accepted or refused as the client's error, and what is
// accepted runs against a registry without an internal error.
func FuzzQuery(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzQuery.
	f.Add("filter=name+LIKE+%27rutf%25%27&order_by=name+DESC&max_results=2")
	st, err := fsstore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	svc, err := registry.New(context.Background(), st, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateModel(context.Background(), registry.NewModel{Name: "demand", Tags: map[string]string{"team": "supply"}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ctx := context.Background()
		q, _ := url.ParseQuery(raw)
		check := func(what string, err error) {
			t.Helper()
			if err != nil && !clientError(err) {
				t.Fatalf("%s %q: error of no client kind: %v", what, raw, err)
			}
		}
		if sq, err := searchQuery(q, defaultModelResults); err != nil {
			check("search query", err)
		} else {
			_, _, err := svc.SearchModels(ctx, sq)
			check("search models", err)
			_, _, err = svc.SearchVersions(ctx, sq)
			check("search versions", err)
		}
		if aq, err := auditQuery(q); err != nil {
			check("audit query", err)
		} else {
			if aq.Version < 0 || (!aq.Since.IsZero() && !aq.Until.IsZero() && aq.Until.Before(aq.Since)) {
				t.Fatalf("audit query %+v accepted", aq)
			}
			_, _, err := svc.Audit(ctx, aq)
			check("audit", err)
		}
		if d, err := watchTimeout(q.Get("timeout")); err != nil {
			check("timeout", err)
		} else if d < 0 || d > maxWatchTimeout {
			t.Fatalf("timeout %q accepted as %s", q.Get("timeout"), d)
		}
		if s := q.Get("version"); s != "" {
			if n, err := parseVersion(s); err != nil {
				check("version", err)
			} else if n <= 0 {
				t.Fatalf("version %q accepted as %d", s, n)
			}
		}
		_, _, _, err := svc.Watch(ctx, q.Get("cursor"))
		check("watch cursor", err)
	})
}
