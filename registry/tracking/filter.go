package tracking

import (
	"fmt"
	"strconv"
	"strings"
)

// The filter language of runs/search and experiments/search is the subset of
// MLflow's (mlflow/utils/search_utils.py) that clients commonly send:
//
//	filter     = clause { AND clause }
//	clause     = identifier comparator value
//	identifier = [ entity "." ] key
//	entity     = metrics | params | tags | attributes   (and their singular forms)
//	key        = word { "." word } | `quoted` | "quoted"
//	comparator = = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
//	value      = 'string' | "string" | number | ( 'string' { , 'string' } )
//
// Runs:        metrics.<key> (numeric comparators), params.<key> and tags.<key>
//              (= != LIKE ILIKE), attributes run_id (also IN, NOT IN), run_name,
//              status, user_id, artifact_uri (= != LIKE ILIKE) and start_time,
//              end_time (numeric). A bare key is an attribute.
// Experiments: name (= != LIKE ILIKE), creation_time, last_update_time
//              (numeric) and tags.<key> (= != LIKE ILIKE).
// Logged models: metrics.<key> (numeric), params.<key>, tags.<key> and the
//              attributes name, model_id, model_type, status, source_run_id
//              (= != LIKE ILIKE IN NOT IN), creation_timestamp and
//              last_updated_timestamp (numeric; also creation_time,
//              last_updated_time). status compares to PENDING, READY and
//              FAILED (the proto names LOGGED_MODEL_READY... are accepted).
//
// Anything else (OR, parentheses, datasets.*, other attributes) is refused
// with an INVALID_PARAMETER_VALUE error that says what is supported.

type entity int

const (
	entAttr entity = iota
	entMetric
	entParam
	entTag
)

func (e entity) String() string {
	return [...]string{"attribute", "metric", "parameter", "tag"}[e]
}

type clause struct {
	ent   entity
	key   string
	op    string
	str   string
	num   float64
	isNum bool
	list  []string
	like  likePattern
}

// searchKind describes what a search accepts.
type searchKind struct {
	name     string
	entities map[string]entity
	strAttrs []string
	numAttrs []string
	inAttrs  []string
	// listParamsTags allows IN and NOT IN on params and tags too.
	listParamsTags bool
}

var (
	runSearch = searchKind{
		name: "runs",
		entities: map[string]entity{
			"metric": entMetric, "metrics": entMetric,
			"param": entParam, "params": entParam, "parameter": entParam, "parameters": entParam,
			"tag": entTag, "tags": entTag,
			"attribute": entAttr, "attributes": entAttr, "attr": entAttr, "run": entAttr,
		},
		strAttrs: []string{"run_id", "run_name", "status", "user_id", "artifact_uri"},
		numAttrs: []string{"start_time", "end_time", "created"},
		inAttrs:  []string{"run_id"},
	}
	loggedModelSearch = searchKind{
		name: "logged models",
		entities: map[string]entity{
			"metric": entMetric, "metrics": entMetric,
			"param": entParam, "params": entParam, "parameter": entParam, "parameters": entParam,
			"tag": entTag, "tags": entTag,
			"attribute": entAttr, "attributes": entAttr, "attr": entAttr,
		},
		strAttrs:       []string{"name", "model_id", "model_type", "status", "source_run_id"},
		numAttrs:       []string{"creation_timestamp", "creation_time", "last_updated_timestamp", "last_updated_time"},
		inAttrs:        []string{"name", "model_id", "model_type", "status", "source_run_id"},
		listParamsTags: true,
	}
	experimentSearch = searchKind{
		name: "experiments",
		entities: map[string]entity{
			"tag": entTag, "tags": entTag,
			"attribute": entAttr, "attributes": entAttr, "attr": entAttr,
		},
		strAttrs: []string{"name"},
		numAttrs: []string{"creation_time", "last_update_time"},
	}
)

func (k searchKind) validEntities() string {
	if k.name != "experiments" {
		return "['metric', 'parameter', 'tag', 'attribute']"
	}
	return "['tag', 'attribute']"
}

func (k searchKind) attrKeys() string {
	return "'" + strings.Join(append(append([]string{}, k.strAttrs...), k.numAttrs...), "', '") + "'"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scanner reads a filter or order_by clause.
type scanner struct {
	s   string
	pos int
}

func (sc *scanner) errf(format string, a ...any) error {
	return invalid("Invalid filter %q: %s (at position %d)", sc.s, fmt.Sprintf(format, a...), sc.pos)
}

func (sc *scanner) skipSpace() {
	for sc.pos < len(sc.s) && (sc.s[sc.pos] == ' ' || sc.s[sc.pos] == '\t' || sc.s[sc.pos] == '\n' || sc.s[sc.pos] == '\r') {
		sc.pos++
	}
}

func (sc *scanner) eof() bool { sc.skipSpace(); return sc.pos >= len(sc.s) }

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (sc *scanner) word() string {
	start := sc.pos
	for sc.pos < len(sc.s) && isWordByte(sc.s[sc.pos]) {
		sc.pos++
	}
	return sc.s[start:sc.pos]
}

// quoted reads a string quoted with q, where a doubled q stands for one.
func (sc *scanner) quoted(q byte) (string, error) {
	start := sc.pos
	sc.pos++
	var b strings.Builder
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		sc.pos++
		if c == q {
			if sc.pos < len(sc.s) && sc.s[sc.pos] == q {
				b.WriteByte(q)
				sc.pos++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	sc.pos = start
	return "", sc.errf("unterminated quote %c", q)
}

// keyword reads a case-insensitive keyword if it comes next.
func (sc *scanner) keyword(kw string) bool {
	sc.skipSpace()
	end := sc.pos + len(kw)
	if end > len(sc.s) || !strings.EqualFold(sc.s[sc.pos:end], kw) {
		return false
	}
	if end < len(sc.s) && isWordByte(sc.s[end]) {
		return false
	}
	sc.pos = end
	return true
}

// identifier reads [entity "."] key.
func (sc *scanner) identifier(k searchKind) (entity, string, error) {
	sc.skipSpace()
	if sc.pos >= len(sc.s) {
		return 0, "", sc.errf("expected an identifier such as %s", k.example())
	}
	if c := sc.s[sc.pos]; c == '`' || c == '"' {
		key, err := sc.quoted(c)
		return entAttr, key, err
	}
	w := sc.word()
	if w == "" {
		return 0, "", sc.errf("expected an identifier such as %s, found %q", k.example(), sc.s[sc.pos:sc.pos+1])
	}
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '.' {
		return entAttr, w, nil
	}
	ent, ok := k.entities[strings.ToLower(w)]
	if !ok {
		if strings.HasPrefix(strings.ToLower(w), "dataset") {
			return 0, "", sc.errf("dataset filters are not supported")
		}
		return 0, "", sc.errf("invalid entity type '%s'. Valid values are %s", w, k.validEntities())
	}
	sc.pos++ // the dot
	if sc.pos < len(sc.s) && (sc.s[sc.pos] == '`' || sc.s[sc.pos] == '"') {
		key, err := sc.quoted(sc.s[sc.pos])
		if err != nil {
			return 0, "", err
		}
		if key == "" {
			return 0, "", sc.errf("empty %s key", ent)
		}
		return ent, key, nil
	}
	start := sc.pos
	for sc.pos < len(sc.s) && (isWordByte(sc.s[sc.pos]) || sc.s[sc.pos] == '.') {
		sc.pos++
	}
	key := sc.s[start:sc.pos]
	if key == "" {
		return 0, "", sc.errf("expected a %s key after '%s.' (quote keys with other characters in backticks: %s.`my-key`)", ent, w, w)
	}
	return ent, key, nil
}

func (k searchKind) example() string {
	switch k.name {
	case "runs":
		return "metrics.rmse, params.alpha, tags.team or attributes.status"
	case "logged models":
		return "name, source_run_id, metrics.rmse, params.alpha or tags.team"
	}
	return "name or tags.team"
}

var comparators = []string{"!=", "<>", ">=", "<=", "=", ">", "<"}

func (sc *scanner) comparator() (string, error) {
	sc.skipSpace()
	for _, op := range comparators {
		if strings.HasPrefix(sc.s[sc.pos:], op) {
			sc.pos += len(op)
			if op == "<>" {
				op = "!="
			}
			return op, nil
		}
	}
	for _, kw := range []string{"LIKE", "ILIKE", "IN"} {
		if sc.keyword(kw) {
			return kw, nil
		}
	}
	if sc.keyword("NOT") {
		if sc.keyword("IN") {
			return "NOT IN", nil
		}
		return "", sc.errf("NOT is only supported as NOT IN")
	}
	return "", sc.errf("expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)")
}

// value reads a quoted string, a number or a parenthesised list of strings.
func (sc *scanner) value(c *clause) error {
	sc.skipSpace()
	if sc.pos >= len(sc.s) {
		return sc.errf("expected a value")
	}
	switch ch := sc.s[sc.pos]; {
	case ch == '\'' || ch == '"':
		v, err := sc.quoted(ch)
		c.str = v
		return err
	case ch == '(':
		sc.pos++
		for {
			sc.skipSpace()
			if sc.pos >= len(sc.s) || (sc.s[sc.pos] != '\'' && sc.s[sc.pos] != '"') {
				return sc.errf("expected a quoted string in the list")
			}
			v, err := sc.quoted(sc.s[sc.pos])
			if err != nil {
				return err
			}
			c.list = append(c.list, v)
			sc.skipSpace()
			if sc.pos < len(sc.s) && sc.s[sc.pos] == ',' {
				sc.pos++
				continue
			}
			if sc.pos < len(sc.s) && sc.s[sc.pos] == ')' {
				sc.pos++
				return nil
			}
			return sc.errf("expected ',' or ')' in the list")
		}
	default:
		start := sc.pos
		for sc.pos < len(sc.s) && strings.IndexByte("+-0123456789.eE", sc.s[sc.pos]) >= 0 {
			sc.pos++
		}
		n, err := strconv.ParseFloat(sc.s[start:sc.pos], 64)
		if err != nil || start == sc.pos {
			sc.pos = start
			return sc.errf("expected a quoted string or a number as the value")
		}
		c.num, c.isNum = n, true
		return nil
	}
}

// parseFilter parses a whole filter for k. An empty filter has no clauses.
func parseFilter(k searchKind, s string) ([]clause, error) {
	sc := &scanner{s: s}
	var out []clause
	if sc.eof() {
		return nil, nil
	}
	for {
		if sc.s[sc.pos] == '(' {
			return nil, sc.errf("parentheses are not supported; join clauses with AND")
		}
		var c clause
		var err error
		if c.ent, c.key, err = sc.identifier(k); err != nil {
			return nil, err
		}
		if c.op, err = sc.comparator(); err != nil {
			return nil, err
		}
		if err = sc.value(&c); err != nil {
			return nil, err
		}
		if err := k.check(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
		if sc.eof() {
			return out, nil
		}
		if sc.keyword("OR") {
			return nil, sc.errf("OR is not supported; clauses can only be joined with AND")
		}
		if !sc.keyword("AND") {
			return nil, sc.errf("expected AND between clauses")
		}
		if sc.eof() {
			return nil, sc.errf("expected a clause after AND")
		}
	}
}

var numericOps = []string{"=", "!=", ">", ">=", "<", "<="}
var stringOps = []string{"=", "!=", "LIKE", "ILIKE"}

func opsList(ops []string) string { return "['" + strings.Join(ops, "', '") + "']" }

// check validates a clause against what k supports and prepares matching.
func (k searchKind) check(c *clause) error {
	numeric := false
	allowed := stringOps
	switch c.ent {
	case entMetric:
		numeric, allowed = true, numericOps
	case entAttr:
		switch {
		case contains(k.numAttrs, c.key):
			numeric, allowed = true, numericOps
		case contains(k.inAttrs, c.key):
			allowed = append(append([]string{}, stringOps...), "IN", "NOT IN")
		case contains(k.strAttrs, c.key):
		default:
			return invalid("Invalid attribute key '%s' specified. Valid keys are '%s'", c.key, strings.Trim(k.attrKeys(), "'"))
		}
	case entParam, entTag:
		if k.listParamsTags {
			allowed = append(append([]string{}, stringOps...), "IN", "NOT IN")
		}
	}
	if !contains(allowed, c.op) {
		return invalid("Invalid comparator '%s' for %s '%s': it must be one of %s", c.op, c.ent, c.key, opsList(allowed))
	}
	switch {
	case c.op == "IN" || c.op == "NOT IN":
		if c.list == nil {
			return invalid("The value of %s %s must be a parenthesised list of quoted strings, e.g. ('a', 'b')", c.key, c.op)
		}
	case c.list != nil:
		return invalid("A list value is only allowed with IN and NOT IN")
	case numeric && !c.isNum:
		n, err := strconv.ParseFloat(strings.TrimSpace(c.str), 64)
		if err != nil {
			return invalid("Expected numeric value type for %s '%s', got '%s'", c.ent, c.key, c.str)
		}
		c.num, c.isNum = n, true
	case !numeric && c.isNum:
		return invalid("Expected a quoted string value for %s '%s' (e.g. %s = 'value')", c.ent, c.key, c.key)
	}
	if k.name == loggedModelSearch.name && c.ent == entAttr && c.key == "status" && c.op != "LIKE" && c.op != "ILIKE" {
		c.str = normalizeModelStatus(c.str)
		for i, v := range c.list {
			c.list[i] = normalizeModelStatus(v)
		}
	}
	if c.op == "LIKE" || c.op == "ILIKE" {
		c.like = compileLike(c.str, c.op == "ILIKE")
	}
	return nil
}

func (c *clause) matchString(v string, ok bool) bool {
	if !ok {
		return false
	}
	switch c.op {
	case "=":
		return v == c.str
	case "!=":
		return v != c.str
	case "LIKE", "ILIKE":
		return c.like.match(v)
	case "IN":
		return contains(c.list, v)
	case "NOT IN":
		return !contains(c.list, v)
	}
	return false
}

func (c *clause) matchNumber(v float64, ok bool) bool {
	if !ok {
		return false
	}
	switch c.op {
	case "=":
		return v == c.num
	case "!=":
		return v != c.num
	case ">":
		return v > c.num
	case ">=":
		return v >= c.num
	case "<":
		return v < c.num
	case "<=":
		return v <= c.num
	}
	return false
}

// matchRun evaluates a run clause.
func (c *clause) matchRun(r *Run) bool {
	switch c.ent {
	case entMetric:
		m, ok := r.Metrics[c.key]
		return c.matchNumber(m.Value, ok)
	case entParam:
		v, ok := r.Params[c.key]
		return c.matchString(v, ok)
	case entTag:
		v, ok := r.Tags[c.key]
		return c.matchString(v, ok)
	}
	switch c.key {
	case "start_time", "created":
		return c.matchNumber(float64(r.Info.StartTime), true)
	case "end_time":
		return c.matchNumber(float64(r.Info.EndTime), r.Info.EndTime != 0)
	}
	v, ok := runAttr(r, c.key)
	return c.matchString(v, ok)
}

func runAttr(r *Run, key string) (string, bool) {
	switch key {
	case "run_id":
		return r.Info.RunID, true
	case "run_name":
		return r.Info.RunName, true
	case "status":
		return string(r.Info.Status), true
	case "user_id":
		return r.Info.UserID, true
	case "artifact_uri":
		return r.Info.ArtifactURI, true
	}
	return "", false
}

// matchExperiment evaluates an experiment clause.
func (c *clause) matchExperiment(e *Experiment) bool {
	if c.ent == entTag {
		v, ok := e.Tags[c.key]
		return c.matchString(v, ok)
	}
	switch c.key {
	case "creation_time":
		return c.matchNumber(float64(e.CreationTime), true)
	case "last_update_time":
		return c.matchNumber(float64(e.LastUpdateTime), true)
	}
	return c.matchString(e.Name, true)
}

// matchLoggedModel evaluates a logged model clause. A metric clause holds if
// any of the model's values of that metric (on one of datasets, if given)
// satisfies it. Unset attributes (model_type, source_run_id) match nothing,
// as in MLflow.
func (c *clause) matchLoggedModel(m *LoggedModel, datasets []DatasetRef) bool {
	switch c.ent {
	case entMetric:
		for _, mm := range m.Metrics {
			if mm.Key == c.key && onDatasets(mm, datasets) && c.matchNumber(mm.Value, true) {
				return true
			}
		}
		return false
	case entParam:
		v, ok := m.Params[c.key]
		return c.matchString(v, ok)
	case entTag:
		v, ok := m.Tags[c.key]
		return c.matchString(v, ok)
	}
	switch c.key {
	case "creation_timestamp", "creation_time":
		return c.matchNumber(float64(m.CreationTime), true)
	case "last_updated_timestamp", "last_updated_time":
		return c.matchNumber(float64(m.LastUpdateTime), true)
	}
	v, ok := modelAttr(m, c.key)
	return c.matchString(v, ok)
}

func modelAttr(m *LoggedModel, key string) (string, bool) {
	switch key {
	case "name":
		return m.Name, true
	case "model_id":
		return m.ID, true
	case "model_type":
		return m.ModelType, m.ModelType != ""
	case "status":
		return normalizeModelStatus(string(m.Status)), true
	case "source_run_id":
		return m.SourceRunID, m.SourceRunID != ""
	}
	return "", false
}

// onDatasets reports whether a model metric was computed on one of datasets
// (any, if none are given); a dataset without a digest matches any digest.
func onDatasets(mm ModelMetric, datasets []DatasetRef) bool {
	if len(datasets) == 0 {
		return true
	}
	for _, d := range datasets {
		if mm.DatasetName == d.Name && (d.Digest == "" || mm.DatasetDigest == d.Digest) {
			return true
		}
	}
	return false
}
