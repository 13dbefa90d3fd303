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
		"name = 'model' AND source_run_id = 'r'", "status IN ('READY', 'LOGGED_MODEL_UPLOAD_FAILED')", "params.a NOT IN ('b')",
		"creation_time > 1 AND last_updated_timestamp <= 2e3", "model_type ILIKE '%Reg%'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []searchKind{runSearch, experimentSearch, loggedModelSearch} {
			cs, err := parseFilter(k, s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q: %v is not ErrInvalid", s, err)
				}
				continue
			}
			r := &Run{Metrics: map[string]Metric{"a": {}}, Params: map[string]string{"a": "b"}, Tags: map[string]string{"a": "b"}}
			e := &Experiment{Name: "x", Tags: map[string]string{"a": "b"}}
			m := &LoggedModel{Name: "x", Status: LoggedModelReady, Params: map[string]string{"a": "b"},
				Metrics: []ModelMetric{{Key: "a", DatasetName: "d"}}}
			for _, c := range cs {
				c.matchRun(r)
				c.matchExperiment(e)
				c.matchLoggedModel(m, []DatasetRef{{Name: "d"}})
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

func FuzzModelVersionsTag(f *testing.F) {
	for _, s := range []string{
		``, `[]`, `[{"name": "a", "version": "1"}]`, `[{"name":"a","version":"1"},{"name":"a","version":1}]`,
		`[{"name": "a"}]`, `{"name": "a"}`, `[{"name": 1, "version": "1"}]`, `[{"name": "\u00e9<>", "version": 1e3}]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out := dedupeModelVersions(v)
		if again := dedupeModelVersions(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", v, out, again)
		}
		in, ok := parseModelVersions(v)
		if !ok {
			if out != v {
				t.Fatalf("%q is not a list of versions, yet was changed to %q", v, out)
			}
			return
		}
		refs, ok := parseModelVersions(out)
		if !ok {
			t.Fatalf("%q deduplicated to %q, which does not parse", v, out)
		}
		seen := map[modelVersionRef]bool{}
		for _, r := range refs {
			if seen[r] {
				t.Fatalf("%q still has %v twice", out, r)
			}
			seen[r] = true
		}
		for _, r := range in {
			if !seen[r] {
				t.Fatalf("%q lost %v", out, r)
			}
		}
	})
}
