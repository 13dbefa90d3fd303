package tracking

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// Search limits, as in MLflow's stores.
const (
	DefaultSearchResults = 1000
	MaxSearchResults     = 50000
)

// ExperimentQuery is an experiments/search request.
type ExperimentQuery struct {
	Filter     string
	OrderBy    []string
	ViewType   ViewType
	MaxResults int
	PageToken  string
}

// RunQuery is a runs/search request.
type RunQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []string
	ViewType      ViewType
	MaxResults    int
	PageToken     string
}

type orderKey struct {
	ent  entity
	key  string
	desc bool
}

// parseOrderBy reads "<identifier> [ASC|DESC]" clauses.
func parseOrderBy(k searchKind, clauses []string) ([]orderKey, error) {
	var keys []orderKey
	for _, c := range clauses {
		sc := &scanner{s: c}
		if sc.eof() {
			return nil, invalid("Invalid order_by clause '%s': it is empty", c)
		}
		ent, key, err := sc.identifier(k)
		if err != nil {
			return nil, invalid("Invalid order_by clause '%s': %v", c, err)
		}
		ok := orderKey{ent: ent, key: key}
		switch {
		case sc.keyword("DESC"):
			ok.desc = true
		case sc.keyword("ASC"):
		}
		if !sc.eof() {
			return nil, invalid("Invalid order_by clause '%s': expected '<key> [ASC|DESC]'", c)
		}
		if k.name == "experiments" && ent != entAttr {
			return nil, invalid("Invalid order_by clause '%s': experiments can only be ordered by name, experiment_id, creation_time or last_update_time", c)
		}
		if ent == entAttr {
			valid := append(append([]string{}, k.strAttrs...), k.numAttrs...)
			if k.name == "experiments" {
				valid = append(valid, "experiment_id")
			}
			if !contains(valid, key) {
				return nil, invalid("Invalid order_by clause '%s': invalid attribute key '%s'. Valid keys are '%s'", c, key, strings.Join(valid, "', '"))
			}
			if key == "created" {
				ok.key = "start_time"
			}
		}
		keys = append(keys, ok)
	}
	return keys, nil
}

func hasKey(keys []orderKey, ent entity, key string) bool {
	return slices.ContainsFunc(keys, func(k orderKey) bool { return k.ent == ent && k.key == key })
}

// Page tokens are opaque: an offset and a hash of the query they belong to,
// so a token reused with another query is refused rather than silently
// returning the wrong page.
type pageToken struct {
	Offset int    `json:"o"`
	Query  uint32 `json:"q"`
}

func queryHash(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

func encodeToken(offset int, q uint32) string {
	b, _ := json.Marshal(pageToken{offset, q})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok string, q uint32) (int, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	var t pageToken
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Offset < 0 {
		return 0, invalid("Invalid page token, could not base64-decode or parse it: use the next_page_token of a previous response")
	}
	if t.Query != q {
		return 0, invalid("Invalid page token: it belongs to a search with another filter, order_by or view type")
	}
	return t.Offset, nil
}

func checkMaxResults(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultSearchResults, nil
	case n < 0:
		return 0, invalid("Invalid value for request parameter max_results. It must be a positive integer, but got %d", n)
	case n > MaxSearchResults:
		return 0, invalid("Invalid value for request parameter max_results. It must be at most %d, but got value %d", MaxSearchResults, n)
	}
	return n, nil
}

func page[T any](rows []T, offset, max int, q uint32) ([]T, string) {
	if offset >= len(rows) {
		return []T{}, ""
	}
	rows = rows[offset:]
	if len(rows) > max {
		return rows[:max], encodeToken(offset+max, q)
	}
	return rows, ""
}

// SearchExperiments returns the experiments matching q, and the token of
// the next page ("" on the last one). The default order is creation_time
// DESC, experiment_id ASC, as in MLflow.
func (s *Store) SearchExperiments(ctx context.Context, q ExperimentQuery) ([]*Experiment, string, error) {
	max, err := checkMaxResults(q.MaxResults)
	if err != nil {
		return nil, "", err
	}
	if q.ViewType == 0 {
		q.ViewType = ActiveOnly
	}
	clauses, err := parseFilter(experimentSearch, q.Filter)
	if err != nil {
		return nil, "", err
	}
	keys, err := parseOrderBy(experimentSearch, q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	if len(keys) == 0 {
		keys = []orderKey{{key: "creation_time", desc: true}, {key: "experiment_id"}}
	}
	if !hasKey(keys, entAttr, "experiment_id") {
		keys = append(keys, orderKey{key: "experiment_id"})
	}
	qh := queryHash(q.Filter, strings.Join(q.OrderBy, "\x01"), strconv.Itoa(int(q.ViewType)))
	offset, err := decodeToken(q.PageToken, qh)
	if err != nil {
		return nil, "", err
	}
	all, err := s.listExperiments(ctx)
	if err != nil {
		return nil, "", err
	}
	var rows []*Experiment
	for _, e := range all {
		if !q.ViewType.includes(e.LifecycleStage) {
			continue
		}
		if !slices.ContainsFunc(clauses, func(c clause) bool { return !c.matchExperiment(e) }) {
			rows = append(rows, e)
		}
	}
	slices.SortFunc(rows, func(a, b *Experiment) int { return compareExperiments(keys, a, b) })
	out, next := page(rows, offset, max, qh)
	for i, e := range out {
		out[i] = e.clone()
	}
	return out, next, nil
}

func expNumber(id string) int64 { n, _ := strconv.ParseInt(id, 10, 64); return n }

func compareExperiments(keys []orderKey, a, b *Experiment) int {
	for _, k := range keys {
		var c int
		switch k.key {
		case "name":
			c = strings.Compare(a.Name, b.Name)
		case "experiment_id":
			c = cmp.Compare(expNumber(a.ID), expNumber(b.ID))
		case "creation_time":
			c = cmp.Compare(a.CreationTime, b.CreationTime)
		case "last_update_time":
			c = cmp.Compare(a.LastUpdateTime, b.LastUpdateTime)
		case "":
		default:
			if k.ent == entTag {
				c = strings.Compare(a.Tags[k.key], b.Tags[k.key])
			}
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// SearchRuns returns the runs of the given experiments matching q, and the
// token of the next page. The default order is start_time DESC, run_id ASC,
// as in MLflow; runs without a value for a sort key come last.
func (s *Store) SearchRuns(ctx context.Context, q RunQuery) ([]*Run, string, error) {
	max, err := checkMaxResults(q.MaxResults)
	if err != nil {
		return nil, "", err
	}
	if q.ViewType == 0 {
		q.ViewType = ActiveOnly
	}
	clauses, err := parseFilter(runSearch, q.Filter)
	if err != nil {
		return nil, "", err
	}
	keys, err := parseOrderBy(runSearch, q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	if !hasKey(keys, entAttr, "start_time") {
		keys = append(keys, orderKey{key: "start_time", desc: true})
	}
	if !hasKey(keys, entAttr, "run_id") {
		keys = append(keys, orderKey{key: "run_id"})
	}
	ids := slices.Clone(q.ExperimentIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	qh := queryHash(q.Filter, strings.Join(q.OrderBy, "\x01"), strconv.Itoa(int(q.ViewType)), strings.Join(ids, ","))
	offset, err := decodeToken(q.PageToken, qh)
	if err != nil {
		return nil, "", err
	}
	var rows []*Run
	for _, id := range ids {
		if !validExperimentID(id) {
			continue
		}
		runs, err := s.listRuns(ctx, id)
		if err != nil {
			return nil, "", err
		}
		for _, r := range runs {
			if !q.ViewType.includes(r.Info.LifecycleStage) {
				continue
			}
			if !slices.ContainsFunc(clauses, func(c clause) bool { return !c.matchRun(r) }) {
				rows = append(rows, r)
			}
		}
	}
	slices.SortFunc(rows, func(a, b *Run) int { return compareRuns(keys, a, b) })
	out, next := page(rows, offset, max, qh)
	for i, r := range out {
		out[i] = r.clone()
	}
	return out, next, nil
}

// compareRuns orders by keys; a missing value sorts after every present one
// in both directions, as MLflow's SQL store does.
func compareRuns(keys []orderKey, a, b *Run) int {
	for _, k := range keys {
		var c int
		switch k.ent {
		case entMetric:
			ma, oka := a.Metrics[k.key]
			mb, okb := b.Metrics[k.key]
			if c = presence(oka, okb); c == 0 && oka {
				c = cmp.Compare(ma.Value, mb.Value)
				if k.desc {
					c = -c
				}
			}
		case entParam:
			va, oka := a.Params[k.key]
			vb, okb := b.Params[k.key]
			c = compareOptional(va, oka, vb, okb, k.desc)
		case entTag:
			va, oka := a.Tags[k.key]
			vb, okb := b.Tags[k.key]
			c = compareOptional(va, oka, vb, okb, k.desc)
		default:
			switch k.key {
			case "start_time":
				c = cmp.Compare(a.Info.StartTime, b.Info.StartTime)
			case "end_time":
				if c = presence(a.Info.EndTime != 0, b.Info.EndTime != 0); c != 0 {
					return c
				}
				c = cmp.Compare(a.Info.EndTime, b.Info.EndTime)
			default:
				va, _ := runAttr(a, k.key)
				vb, _ := runAttr(b, k.key)
				c = strings.Compare(va, vb)
			}
			if k.desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// presence orders present before missing.
func presence(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func compareOptional(a string, oka bool, b string, okb bool, desc bool) int {
	if c := presence(oka, okb); c != 0 || !oka {
		return c
	}
	c := strings.Compare(a, b)
	if desc {
		c = -c
	}
	return c
}
