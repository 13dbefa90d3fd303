package tracking

import (
	"errors"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "metrics.rmse > 0.5", "params.model = 'linear' AND tags.`team x` LIKE 'a%'",
		"attributes.run_id IN ('a', \"b\")", "run_id NOT IN ('a')", "name ILIKE '%x%'", "status = 'RUNNING' and start_time >= 1e3",
		"metrics.\"a b\" <= -1", "tags.mlflow.runName != 'it''s'", "a = 'x' OR b = 'y'", "(a = 'b')", "metrics.a >", "datasets.x = 'y'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []searchKind{runSearch, experimentSearch} {
			cs, err := parseFilter(k, s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q: %v is not ErrInvalid", s, err)
				}
				continue
			}
			r := &Run{Metrics: map[string]Metric{"a": {}}, Params: map[string]string{"a": "b"}, Tags: map[string]string{"a": "b"}}
			e := &Experiment{Name: "x", Tags: map[string]string{"a": "b"}}
			for _, c := range cs {
				c.matchRun(r)
				c.matchExperiment(e)
			}
			if _, err := parseOrderBy(k, []string{s}); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("order_by %q: %v is not ErrInvalid", s, err)
			}
		}
		compileLike(s, true).match(s)
	})
}

func FuzzCleanArtifactPath(f *testing.F) {
	for _, s := range []string{"", "a/b", "../x", "%2e%2e/x", "%252e%252e", "a\\b", "/abs", "a//b/./c/", "C:/x", "%", "%%32%65"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := CleanArtifactPath(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: %v is not ErrInvalid", s, err)
			}
			return
		}
		if p == "" {
			return
		}
		// Whatever was accepted is a valid key under the artifact root, and
		// decoding it again cannot reveal a "..".
		if err := objstore.ValidateKey(ArtifactKey(p)); err != nil {
			t.Fatalf("%q cleaned to %q, an invalid key: %v", s, p, err)
		}
		for seg := range strings.SplitSeq(unquote(p), "/") {
			if seg == ".." {
				t.Fatalf("%q cleaned to %q, which decodes to a '..'", s, p)
			}
		}
	})
}
