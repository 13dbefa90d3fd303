package tracking

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
)

// DefaultLoggedModelResults is the page size of a logged-models search
// that does not ask for one (the default of MLflow's SearchLoggedModels).
const DefaultLoggedModelResults = 50

// DatasetRef names a dataset metrics were computed on; an empty Digest
// matches any digest.
type DatasetRef struct {
	Name   string
	Digest string
}

// LoggedModelOrder is an order_by entry of a logged-models search: an
// attribute (name, model_id, model_type, status, source_run_id,
// creation_timestamp, last_updated_timestamp) or "metrics.<key>", whose
// latest value (on DatasetName and DatasetDigest, if set) is compared.
type LoggedModelOrder struct {
	Field         string
	Ascending     bool
	DatasetName   string
	DatasetDigest string
}

// LoggedModelQuery is a logged-models/search request.
type LoggedModelQuery struct {
	ExperimentIDs []string
	// Filter uses the grammar of filter.go for logged models.
	Filter string
	// Datasets restrict metric clauses to values computed on these datasets;
	// with no metric clause, only models with a metric on one of them match.
	Datasets   []DatasetRef
	OrderBy    []LoggedModelOrder
	MaxResults int // 0: DefaultLoggedModelResults
	PageToken  string
}

var modelOrderAttrs = []string{
	"name", "model_id", "model_type", "status", "source_run_id",
	"creation_timestamp", "creation_time", "last_updated_timestamp", "last_updated_time",
}

// checkModelOrder validates order_by entries the way MLflow does
// (SearchLoggedModelsUtils.parse_order_by_for_logged_models) and adds the
// tie-breakers: creation_timestamp DESC, then model_id.
func checkModelOrder(order []LoggedModelOrder) ([]LoggedModelOrder, error) {
	out := make([]LoggedModelOrder, 0, len(order)+2)
	for _, o := range order {
		o.Field = strings.TrimSpace(o.Field)
		switch entity, key, dotted := strings.Cut(o.Field, "."); {
		case o.Field == "":
			return nil, invalid("`field_name` in the `order_by` clause must be specified.")
		case dotted && (entity != "metrics" || key == ""):
			return nil, invalid("Invalid order by field name: %s, only `metrics.<name>` is allowed.", entity)
		case !dotted && !contains(modelOrderAttrs, o.Field):
			return nil, invalid("Invalid order by field name: %s. Valid fields are %s and metrics.<name>", o.Field, strings.Join(modelOrderAttrs, ", "))
		case o.DatasetDigest != "" && o.DatasetName == "":
			return nil, invalid("`dataset_digest` can only be specified if `dataset_name` is also specified.")
		}
		switch o.Field {
		case "creation_time":
			o.Field = "creation_timestamp"
		case "last_updated_time":
			o.Field = "last_updated_timestamp"
		}
		out = append(out, o)
	}
	has := func(f string) bool {
		return slices.ContainsFunc(out, func(o LoggedModelOrder) bool { return o.Field == f })
	}
	if !has("creation_timestamp") {
		out = append(out, LoggedModelOrder{Field: "creation_timestamp"})
	}
	if !has("model_id") {
		out = append(out, LoggedModelOrder{Field: "model_id", Ascending: true})
	}
	return out, nil
}

// SearchLoggedModels returns the active logged models of the given
// experiments that match q, and the token of the next page ("" on the last
// one). The default order is creation_timestamp DESC, model_id ASC, as in
// MLflow; models without a value for a metric they are ordered by come last.
func (s *Store) SearchLoggedModels(ctx context.Context, q LoggedModelQuery) ([]*LoggedModel, string, error) {
	max := q.MaxResults
	switch {
	case max == 0:
		max = DefaultLoggedModelResults
	case max < 0 || max > MaxSearchResults:
		return nil, "", invalid("Invalid value %d for parameter 'max_results': it must be between 1 and %d", max, MaxSearchResults)
	}
	if len(q.ExperimentIDs) == 0 {
		return nil, "", invalid("Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters.")
	}
	for _, d := range q.Datasets {
		if d.Name == "" {
			return nil, "", invalid("Missing value for required parameter 'datasets.dataset_name'.")
		}
	}
	clauses, err := parseFilter(loggedModelSearch, q.Filter)
	if err != nil {
		return nil, "", err
	}
	order, err := checkModelOrder(q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	ids := slices.Clone(q.ExperimentIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var parts []string
	for _, o := range q.OrderBy {
		parts = append(parts, o.Field, strconv.FormatBool(o.Ascending), o.DatasetName, o.DatasetDigest)
	}
	for _, d := range q.Datasets {
		parts = append(parts, d.Name, d.Digest)
	}
	qh := queryHash(q.Filter, strings.Join(ids, ","), strings.Join(parts, "\x01"))
	offset, err := decodeToken(q.PageToken, qh)
	if err != nil {
		return nil, "", err
	}
	hasMetricClause := slices.ContainsFunc(clauses, func(c clause) bool { return c.ent == entMetric })
	var rows []*LoggedModel
	for _, id := range ids {
		if !validExperimentID(id) {
			continue
		}
		models, err := s.listLoggedModels(ctx, id)
		if err != nil {
			return nil, "", err
		}
		for _, m := range models {
			if m.LifecycleStage != StageActive {
				continue
			}
			if len(q.Datasets) > 0 && !hasMetricClause &&
				!slices.ContainsFunc(m.Metrics, func(mm ModelMetric) bool { return onDatasets(mm, q.Datasets) }) {
				continue
			}
			if !slices.ContainsFunc(clauses, func(c clause) bool { return !c.matchLoggedModel(m, q.Datasets) }) {
				rows = append(rows, m)
			}
		}
	}
	slices.SortFunc(rows, func(a, b *LoggedModel) int { return compareModels(order, a, b) })
	out, next := page(rows, offset, max, qh)
	for i, m := range out {
		out[i] = m.clone()
	}
	return out, next, nil
}

// latestMetric is the value of a model's metric with the latest timestamp
// (on the order's dataset, if it names one).
func latestMetric(m *LoggedModel, o LoggedModelOrder, key string) (float64, bool) {
	var best *ModelMetric
	for i := range m.Metrics {
		mm := &m.Metrics[i]
		if mm.Key != key || (o.DatasetName != "" && mm.DatasetName != o.DatasetName) ||
			(o.DatasetDigest != "" && mm.DatasetDigest != o.DatasetDigest) {
			continue
		}
		if best == nil || mm.Timestamp > best.Timestamp {
			best = mm
		}
	}
	if best == nil {
		return 0, false
	}
	return best.Value, true
}

func compareModels(order []LoggedModelOrder, a, b *LoggedModel) int {
	for _, o := range order {
		var c int
		if key, ok := strings.CutPrefix(o.Field, "metrics."); ok {
			va, oka := latestMetric(a, o, key)
			vb, okb := latestMetric(b, o, key)
			if c = presence(oka, okb); c != 0 {
				return c // missing values last, in both directions
			}
			if oka {
				c = cmp.Compare(va, vb)
			}
		} else {
			switch o.Field {
			case "creation_timestamp":
				c = cmp.Compare(a.CreationTime, b.CreationTime)
			case "last_updated_timestamp":
				c = cmp.Compare(a.LastUpdateTime, b.LastUpdateTime)
			default:
				va, _ := modelAttr(a, o.Field)
				vb, _ := modelAttr(b, o.Field)
				c = strings.Compare(va, vb)
			}
		}
		if !o.Ascending {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
