package filter_test

import (
	"fmt"
	"slices"

	"github.com/lantern-mlops/lantern/registry/filter"
)

// version is how a registry might expose a model version to filters.
type version struct {
	Name    string
	Version int64
	RunID   string
	Updated int64
	Tags    map[string]string
}

func (v *version) Text(a filter.Attr) (string, bool) {
	switch a {
	case filter.AttrName:
		return v.Name, true
	case filter.AttrRunID:
		return v.RunID, v.RunID != ""
	}
	return "", false
}

func (v *version) Int(a filter.Attr) (int64, bool) {
	switch a {
	case filter.AttrVersionNumber:
		return v.Version, true
	case filter.AttrLastUpdatedTimestamp:
		return v.Updated, true
	}
	return 0, false
}

func (v *version) Tag(key string) (string, bool) {
	s, ok := v.Tags[key]
	return s, ok
}

func Example() {
	all := []*version{
		{Name: "fraud-detector", Version: 1, Updated: 10, Tags: map[string]string{"team": "risk"}},
		{Name: "fraud-detector", Version: 2, Updated: 30, Tags: map[string]string{"team": "risk"}},
		{Name: "Fraud-Scorer", Version: 1, Updated: 20, Tags: map[string]string{"team": "risk"}},
		{Name: "churn", Version: 7, Updated: 40},
	}
	expr, err := filter.Parse(filter.Versions, "name ILIKE 'fraud-%' and tags.team = 'risk' AND tag.`mlflow.prompt.is_prompt` != 'true'")
	if err != nil {
		panic(err)
	}
	keys, err := filter.ParseOrderBy(filter.Versions, []string{"version_number DESC"})
	if err != nil {
		panic(err)
	}
	var out []*version
	for _, v := range all {
		if expr.Match(v) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *version) int { return filter.Compare(keys, a, b) })

	fmt.Println(expr)
	fmt.Println(filter.FormatOrderBy(keys))
	for _, v := range out {
		fmt.Println(v.Name, v.Version)
	}
	// Output:
	// name ILIKE 'fraud-%' AND tags.team = 'risk' AND tags.mlflow.prompt.is_prompt != 'true'
	// version_number DESC, name ASC
	// fraud-detector 2
	// Fraud-Scorer 1
	// fraud-detector 1
}

func ExampleParse_error() {
	_, err := filter.Parse(filter.Versions, "name = 'a' OR name = 'b'")
	fmt.Println(err)
	_, err = filter.Parse(filter.Versions, "stage = 'Production'")
	fmt.Println(err)
	// Output:
	// Invalid filter: OR is not supported, clauses can only be joined with AND (at position 11)
	// Invalid attribute key 'stage' specified. Valid keys are '{name, run_id, source_path, version_number}'
}
