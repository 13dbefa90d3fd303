package registry

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/objstore"
)

// Limits on user-supplied strings (MLflow's where it has one).
const (
	MaxNameLen        = 256
	MaxTagKeyLen      = 250
	MaxTagValueLen    = 5000
	MaxAliasLen       = 255
	MaxDescriptionLen = 65536
	MaxArtifactPath   = 512
)

// ValidateModelName checks a registered model name. Names are what people
// type: letters, digits, spaces and punctuation, but not "/", ":" or "@",
// which would make "models:/name@alias" URIs ambiguous.
func ValidateModelName(name string) error {
	switch {
	case name == "":
		return invalid("registered model name must not be empty")
	case len(name) > MaxNameLen:
		return invalid("registered model name %.40q... is %d bytes; the limit is %d", name, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return invalid("registered model name must be valid UTF-8")
	case strings.TrimSpace(name) != name:
		return invalid("registered model name %q must not start or end with spaces", name)
	case name == "." || name == "..":
		return invalid("registered model name %q is not allowed", name)
	case strings.ContainsAny(name, "/:@\\"):
		return invalid("registered model name %q must not contain '/', ':', '@' or '\\'", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("registered model name %q must not contain control characters", name)
		}
	}
	return nil
}

var aliasRE = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)
var versionLikeRE = regexp.MustCompile(`^[vV]\d+$`)

// ValidateAlias checks an alias name with MLflow's rules.
func ValidateAlias(alias string) error {
	switch {
	case alias == "":
		return invalid("alias must not be empty")
	case len(alias) > MaxAliasLen:
		return invalid("alias is %d characters; the limit is %d", len(alias), MaxAliasLen)
	case !aliasRE.MatchString(alias):
		return invalid("alias %q may only contain letters, digits, '_' and '-'", alias)
	case strings.EqualFold(alias, "latest"):
		return invalid("alias %q is reserved: 'latest' always means the newest version", alias)
	case versionLikeRE.MatchString(alias):
		return invalid("alias %q is reserved: 'v<number>' means a version number", alias)
	}
	return nil
}

var tagKeyRE = regexp.MustCompile(`^[\w\-./ ]+$`)

// ValidateTag checks a tag key and value.
func ValidateTag(key, value string) error {
	switch {
	case key == "":
		return invalid("tag key must not be empty")
	case len(key) > MaxTagKeyLen:
		return invalid("tag key %.40q... is %d characters; the limit is %d", key, len(key), MaxTagKeyLen)
	case !tagKeyRE.MatchString(key):
		return invalid("tag key %q may only contain letters, digits, '_', '-', '.', '/' and spaces", key)
	case strings.Contains(key, ".."), strings.HasPrefix(key, "/"):
		return invalid("tag key %q must not contain '..' or start with '/'", key)
	case len(value) > MaxTagValueLen:
		return invalid("tag %q: value is %d characters; the limit is %d", key, len(value), MaxTagValueLen)
	case !utf8.ValidString(value):
		return invalid("tag %q: value must be valid UTF-8", key)
	}
	return nil
}

// ValidateDescription checks a description's size.
func ValidateDescription(d string) error {
	if len(d) > MaxDescriptionLen {
		return invalid("description is %d bytes; the limit is %d", len(d), MaxDescriptionLen)
	}
	if !utf8.ValidString(d) {
		return invalid("description must be valid UTF-8")
	}
	return nil
}

// ValidateArtifactPath checks a path inside a version's artifact folder:
// relative, slash-separated, no "..", "." or empty segments.
func ValidateArtifactPath(p string) error {
	if len(p) > MaxArtifactPath {
		return invalid("artifact path is %d bytes; the limit is %d", len(p), MaxArtifactPath)
	}
	if err := objstore.ValidateKey(p); err != nil {
		return invalid("artifact path %q is not allowed: use a relative path with '/' separators and no '..', '.' or empty parts", p)
	}
	return nil
}

// ParseStage reads a stage name case-insensitively, as MLflow does.
func ParseStage(s string) (Stage, error) {
	for _, st := range []Stage{StageNone, StageStaging, StageProduction, StageArchived} {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", invalid("invalid stage %q: must be one of None, Staging, Production, Archived", s)
}
