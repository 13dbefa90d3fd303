package tracking

import (
	"context"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/objstore"
)

// ArtifactScheme is the URI scheme of MLflow's artifact proxy.
const ArtifactScheme = "mlflow-artifacts"

// ModelsDir is the top folder of the artifact proxy reserved for the
// registry's read-only view of registered versions
// (mlflow-artifacts:/lantern-models/<name>/<version>/...). Nothing is
// stored under it, and experiments cannot use it as artifact location.
const ModelsDir = "lantern-models"

// CleanArtifactPath validates a path of the artifact proxy the way MLflow's
// validate_path_is_safe does, and returns it cleaned. The path is
// percent-decoded until it stops changing (so "%2e%2e" and "%252e%252e" are
// ".."); it must then be relative, use '/' only (no backslashes), contain no
// ".." segment and no control characters. "." and empty segments are dropped
// and a trailing '/' is ignored, so "" is the root.
func CleanArtifactPath(p string) (string, error) {
	orig := p
	for i := 0; ; i++ {
		d := unquote(p)
		if d == p {
			break
		}
		if i == 10 {
			return "", invalid("Invalid path %q: it is encoded too many times", orig)
		}
		p = d
	}
	switch {
	case !utf8.ValidString(p):
		return "", invalid("Invalid path: it must be valid UTF-8")
	case strings.ContainsRune(p, '\\'):
		return "", invalid("Invalid path %q: use '/' as the separator, not '\\'", orig)
	case strings.HasPrefix(p, "/"), len(p) >= 2 && p[1] == ':':
		return "", invalid("Invalid path %q: it must be relative, not absolute", orig)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", invalid("Invalid path %q: it must not contain control characters", orig)
		}
	}
	var segs []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "..":
			return "", invalid("Invalid path %q: '..' is not allowed", orig)
		case "", ".":
			continue
		}
		segs = append(segs, seg)
	}
	out := strings.Join(segs, "/")
	if len(out) > 1024-len(artifactsPrefix)-1 {
		return "", invalid("Invalid path: it is %d bytes long; the limit is %d", len(out), 1024-len(artifactsPrefix)-1)
	}
	return out, nil
}

// unquote decodes every valid %XX sequence of s and leaves anything else as
// is, as Python's urllib.parse.unquote does.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ParseArtifactURI returns the cleaned proxy path of an mlflow-artifacts URI:
// "mlflow-artifacts:/a/b", "mlflow-artifacts:///a/b" and
// "mlflow-artifacts://host:port/a/b" all give "a/b" (the host is the
// tracking server the client talks to, which is this one).
func ParseArtifactURI(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, ArtifactScheme+":")
	if !ok {
		return "", invalid("%q is not an %s: URI", uri, ArtifactScheme)
	}
	if strings.HasPrefix(rest, "//") {
		u, err := url.Parse(uri)
		if err != nil {
			return "", invalid("Invalid %s URI %q: %v", ArtifactScheme, uri, err)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", invalid("Invalid %s URI %q: it must not have a query or fragment", ArtifactScheme, uri)
		}
		rest = u.EscapedPath()
	}
	return CleanArtifactPath(strings.TrimPrefix(rest, "/"))
}

// FileInfo is an entry of an artifact listing.
type FileInfo struct {
	// Path is relative to the listed directory's root, as the caller asked.
	Path  string
	IsDir bool
	// Size is the file's size; 0 for directories.
	Size int64
}

// ListArtifacts lists one level of the artifact proxy's directory dir (a
// cleaned path; "" is the root). A missing directory, or a file, lists as
// empty, as MLflow's artifact repositories do. Paths are base names.
func (s *Store) ListArtifacts(ctx context.Context, dir string) ([]FileInfo, error) {
	prefix := artifactsPrefix
	if dir != "" {
		prefix += dir + "/"
	}
	var out []FileInfo
	for info, err := range s.store.List(ctx, prefix, objstore.ListOptions{Delimited: true}) {
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(info.Key, prefix), "/")
		if name == "" {
			continue
		}
		out = append(out, FileInfo{Path: name, IsDir: info.IsPrefix, Size: info.Size})
	}
	return out, nil
}

// RunArtifactDir returns the proxy path of a run's artifact root, or an error
// if the run's artifacts are not kept by this server.
func RunArtifactDir(r *Run) (string, error) {
	p, err := ParseArtifactURI(r.Info.ArtifactURI)
	if err != nil {
		return "", invalid("The artifacts of run %s are at %q, which this server does not store: only %s: locations are served", r.Info.RunID, r.Info.ArtifactURI, ArtifactScheme)
	}
	return p, nil
}

// joinPath joins cleaned proxy paths.
func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return path.Join(a, b)
}

// JoinArtifactPath joins cleaned proxy paths ("" is the root).
func JoinArtifactPath(a, b string) string { return joinPath(a, b) }
