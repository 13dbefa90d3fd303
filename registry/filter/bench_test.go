package filter

import (
	"fmt"
	"slices"
	"testing"
)

// benchVersions returns 10,000 versions: 100 models of 100 versions each.
func benchVersions() []*obj {
	teams := []string{"risk", "growth", "ops", "search"}
	out := make([]*obj, 0, 10000)
	for m := range 100 {
		for v := range 100 {
			out = append(out, &obj{
				name:    fmt.Sprintf("model-%03d", m),
				runID:   fmt.Sprintf("%032x", m*1000+v),
				source:  fmt.Sprintf("s3://lantern/models/model-%03d/versions/%d", m, v+1),
				version: int64(v + 1),
				created: int64(1_700_000_000_000 + m*100 + v),
				updated: int64(1_700_000_000_000 + (m*7919+v*104729)%1_000_000),
				tags:    map[string]string{"team": teams[(m+v)%len(teams)], "framework": "onnx"},
			})
		}
	}
	return out
}

// BenchmarkMatch10k times one search: a filter matched against 10,000 versions per op.
func BenchmarkMatch10k(b *testing.B) {
	versions := benchVersions()
	for _, f := range []string{
		"name = 'model-042'",
		"tag.`mlflow.prompt.is_prompt` != 'true'",
		"name LIKE 'model-04%' AND version_number > 50",
		"name ILIKE '%MODEL-04_%' AND tags.team = 'risk'",
		"source_path LIKE '%/versions/9_'",
		"run_id IN ('000000000000000000000000000000a1', '000000000000000000000000000000b2', '00000000000000000000000000000ff0', '0000000000000000000000000000abcd', '000000000000000000000000000010e1', '00000000000000000000000000001111', '00000000000000000000000000002222', '00000000000000000000000000003333', '00000000000000000000000000004444')",
	} {
		e, err := Parse(Versions, f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				for _, v := range versions {
					if e.Match(v) {
						n++
					}
				}
			}
			b.ReportMetric(float64(n), "matches")
		})
	}
}

func BenchmarkSort10k(b *testing.B) {
	versions := benchVersions()
	keys, _ := ParseOrderBy(Versions, nil)
	b.ReportAllocs()
	for b.Loop() {
		s := slices.Clone(versions)
		slices.SortFunc(s, func(x, y *obj) int { return Compare(keys, x, y) })
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(Versions, "name LIKE 'model-04%' AND tags.`my key` ILIKE '%Risk%' AND version_number > 50 AND run_id IN ('a', 'b')"); err != nil {
			b.Fatal(err)
		}
	}
}
