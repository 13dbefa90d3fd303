package tracking

import (
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits, as in MLflow (mlflow/utils/validation.py).
const (
	MaxExperimentNameLen = 500
	MaxEntityKeyLen      = 250
	MaxParamValueLen     = 6000
	MaxTagValueLen       = 5000
	MaxExperimentTagLen  = 5000
	MaxRunNameLen        = 250
	MaxParamsPerBatch    = 100
	MaxTagsPerBatch      = 100
	MaxMetricsPerBatch   = 1000
	MaxEntitiesPerBatch  = 1000
	// MaxLoggedModelsTagLen bounds the mlflow.log-model.history tag, which
	// the store writes itself (MLflow's file store does not bound it), and a
	// logged model's mlflow.modelVersions tag.
	MaxLoggedModelsTagLen = 1 << 20
	// MaxLoggedModelNameLen bounds a logged model's name and model type.
	MaxLoggedModelNameLen = 500
	// MaxLoggedModelEntries bounds the params, tags and linked metrics of one
	// logged model, so that its object stays small.
	MaxLoggedModelEntries = 10000
	// MaxRunOutputs bounds the logged models one run records as outputs.
	MaxRunOutputs = 1000
	// maxIDLen bounds ids that point elsewhere (run ids, model ids, datasets).
	maxIDLen = 500
)

// Tag keys MLflow gives meaning to.
const (
	TagRunName      = "mlflow.runName"
	TagLoggedModels = "mlflow.log-model.history"
	TagGitCommit    = "mlflow.source.git.commit"
	// TagModelVersions, on a logged model, lists the registered versions
	// made from it as JSON ([{"name": ..., "version": ...}]), as MLflow 3 keeps it.
	TagModelVersions = "mlflow.modelVersions"
)

// DefaultExperimentID is the id of the experiment runs go to by default,
// named "Default", which New creates.
const (
	DefaultExperimentID = "0"
	defaultExpName      = "Default"
)

var validKeyRE = regexp.MustCompile(`^[/\w.\- ]*$`)

const badCharacters = "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/)."

// validateKey checks a metric, param or tag name the way MLflow does.
func validateKey(what, key string) error {
	switch {
	case key == "":
		return invalid("%s name cannot be empty. A key name must be provided.", what)
	case !validKeyRE.MatchString(key):
		return invalid("Invalid %s name: '%s'. %s", strings.ToLower(what), key, badCharacters)
	case pathNotUnique(key):
		return invalid("Invalid %s name: '%s'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '%s'", strings.ToLower(what), key, path.Clean(key))
	case len(key) > MaxEntityKeyLen:
		return lengthError(what+" key", key, MaxEntityKeyLen)
	}
	return nil
}

func pathNotUnique(name string) bool {
	norm := path.Clean(name)
	return norm != name || norm == "." || strings.HasPrefix(norm, "..") || strings.HasPrefix(norm, "/")
}

func lengthError(what, value string, limit int) error {
	v := value
	if len(v) > 250 {
		v = v[:250]
	}
	return invalid("%s '%s' had length %d, which exceeded length limit of %d", what, v, len(value), limit)
}

func validateParam(p Param) error {
	if err := validateKey("Param", p.Key); err != nil {
		return err
	}
	if len(p.Value) > MaxParamValueLen {
		return lengthError("Param value", p.Value, MaxParamValueLen)
	}
	if !utf8.ValidString(p.Value) {
		return invalid("Param %q: value must be valid UTF-8", p.Key)
	}
	return nil
}

func validateTag(t Tag) error {
	if err := validateKey("Tag", t.Key); err != nil {
		return err
	}
	limit := MaxTagValueLen
	if t.Key == TagLoggedModels || t.Key == TagModelVersions {
		// Lists the store or the client grows with every model or version.
		limit = MaxLoggedModelsTagLen
	}
	if len(t.Value) > limit {
		return lengthError("Tag value", t.Value, limit)
	}
	if !utf8.ValidString(t.Value) {
		return invalid("Tag %q: value must be valid UTF-8", t.Key)
	}
	return nil
}

func validateExperimentTag(t Tag) error {
	if err := validateKey("Tag", t.Key); err != nil {
		return err
	}
	if len(t.Value) > MaxExperimentTagLen {
		return lengthError("Tag value", t.Value, MaxExperimentTagLen)
	}
	if !utf8.ValidString(t.Value) {
		return invalid("Tag %q: value must be valid UTF-8", t.Key)
	}
	return nil
}

func validateMetric(m Metric) error {
	if err := validateKey("Metric", m.Key); err != nil {
		return err
	}
	if m.Timestamp < 0 {
		return invalid("Got invalid timestamp %d for metric '%s' (value=%v). Timestamp must be a nonnegative long (64-bit integer) ", m.Timestamp, m.Key, m.Value)
	}
	for _, f := range []struct{ name, v string }{{"model_id", m.ModelID}, {"dataset_name", m.DatasetName}, {"dataset_digest", m.DatasetDigest}} {
		if len(f.v) > maxIDLen || !utf8.ValidString(f.v) {
			return invalid("Invalid %s of metric '%s': it must be valid UTF-8 of at most %d bytes", f.name, m.Key, maxIDLen)
		}
	}
	return nil
}

// loggedModelNameChars are the characters MLflow refuses in logged model
// names (mlflow/utils/validation.py), as they would break models:/ URIs.
const loggedModelNameChars = `/:.%"'`

func validateLoggedModelName(name string) error {
	switch {
	case name == "" || strings.ContainsAny(name, loggedModelNameChars):
		return invalid("Invalid model name (%q) provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%%', '\"', \"'\")", name)
	case len(name) > MaxLoggedModelNameLen:
		return lengthError("Model name", name, MaxLoggedModelNameLen)
	case !utf8.ValidString(name):
		return invalid("Invalid model name: it must be valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalid("Invalid model name %q: it must not contain control characters", name)
		}
	}
	return nil
}

func validateExperimentName(name string) error {
	switch {
	case name == "":
		return invalid("Invalid experiment name: ''")
	case len(name) > MaxExperimentNameLen:
		return invalid("Experiment name exceeds the maximum length of %d characters", MaxExperimentNameLen)
	case !utf8.ValidString(name):
		return invalid("Invalid experiment name: it must be valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalid("Invalid experiment name %q: it must not contain control characters", name)
		}
	}
	return nil
}

// validateBatch checks the limits of a log-batch request (MLflow's
// _validate_batch_log_limits) and every entry in it.
func validateBatch(metrics []Metric, params []Param, tags []Tag) error {
	limit := func(what string, max, n int) error {
		if n > max {
			return invalid("A batch logging request can contain at most %d %s. Got %d %s. Please split up %s across multiple requests and try again.", max, what, n, what, what)
		}
		return nil
	}
	if err := limit("metrics", MaxMetricsPerBatch, len(metrics)); err != nil {
		return err
	}
	if err := limit("params", MaxParamsPerBatch, len(params)); err != nil {
		return err
	}
	if err := limit("tags", MaxTagsPerBatch, len(tags)); err != nil {
		return err
	}
	if err := limit("metrics, params, and tags", MaxEntitiesPerBatch, len(metrics)+len(params)+len(tags)); err != nil {
		return err
	}
	for _, m := range metrics {
		if err := validateMetric(m); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	var dupes []string
	for _, p := range params {
		if err := validateParam(p); err != nil {
			return err
		}
		if seen[p.Key] {
			dupes = append(dupes, "'"+p.Key+"'")
		}
		seen[p.Key] = true
	}
	if len(dupes) > 0 {
		return invalid("Duplicate parameter keys have been submitted: [%s]. Please ensure the request contains only one param value per param key.", strings.Join(dupes, ", "))
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	return nil
}

// validateArtifactLocation checks an experiment's artifact location. Lantern
// stores artifacts itself, so only its proxy's scheme is accepted.
func validateArtifactLocation(loc string) error {
	if strings.HasPrefix(loc, "runs:") {
		return invalid("Artifact location cannot be a runs:/ URI. Given: '%s'", loc)
	}
	if !strings.HasPrefix(loc, ArtifactScheme+":") {
		return invalid("Artifact location %q is not supported: Lantern keeps artifacts in its own store and serves them through the MLflow artifact proxy, so an experiment's artifact location must be an mlflow-artifacts:/ URI (leave it empty for the default mlflow-artifacts:/<experiment id>)", loc)
	}
	p, err := ParseArtifactURI(loc)
	if err != nil {
		return err
	}
	if p == "" {
		return invalid("Artifact location %q has no path: use mlflow-artifacts:/<folder>", loc)
	}
	if p == ModelsDir || strings.HasPrefix(p, ModelsDir+"/") {
		return invalid("Artifact location %q is reserved: %s/ is the model registry's read-only folder", loc, ModelsDir)
	}
	return nil
}
