package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// GET /api/v1/models/{name}/versions/{ref}/files/{path...} streams a file
// with its size and sha256 (ETag "sha256:<hex>" and X-Lantern-Sha256), and
// serves single byte ranges (Range, If-Range) so downloads can resume.
//
// A whole-file answer is checked against the registered sha256 as it
// streams; if the stored bytes turn out to differ, the connection is cut
// before the last bytes, so no client can take the file for a good one.
func (h *api) getFile(w http.ResponseWriter, r *http.Request) error {
	ctx, name, p := r.Context(), r.PathValue("name"), r.PathValue("path")
	if err := registry.ValidateArtifactPath(p); err != nil {
		return err
	}
	v, err := h.svc.ResolveVersion(ctx, name, r.PathValue("ref"))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(v.Artifacts, func(a registry.Artifact) bool { return a.Path == p })
	if i < 0 {
		return fileNotFound(v, p)
	}
	a := v.Artifacts[i]
	etag := `"sha256:` + a.SHA256 + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set(wire.HeaderSHA256, a.SHA256)
	hdr.Set("X-Lantern-Version", strconv.FormatInt(v.Version, 10))
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// A ref may be an alias that moves: revalidate with the ETag.
	hdr.Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	start, length := int64(0), a.Size
	partial := false
	if rng := r.Header.Get("Range"); rng != "" && ifRange(r.Header.Get("If-Range"), etag) {
		s, l, ok, satisfiable := parseRange(rng, a.Size)
		if !satisfiable {
			hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", a.Size))
			return &httpError{http.StatusRequestedRangeNotSatisfiable, wire.CodeOutOfRange,
				fmt.Sprintf("range %q is outside the file (%d bytes)", rng, a.Size)}
		}
		if ok {
			start, length, partial = s, l, true
		}
	}
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(length, 10))
		if partial {
			hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, a.Size))
			w.WriteHeader(http.StatusPartialContent)
		}
		return nil
	}

	var body io.ReadCloser
	if partial {
		body, _, err = h.svc.OpenArtifactRange(ctx, name, v.Version, p, start, length)
	} else {
		body, _, err = h.svc.OpenArtifact(ctx, name, v.Version, p)
	}
	if err != nil {
		return err
	}
	defer body.Close()
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, a.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	// No io.LimitReader on the whole file: the verifying reader must see its end.
	n, err := copyHoldingBack(w, body)
	if err == nil && n != length {
		err = fmt.Errorf("%w: %s: the store returned %d bytes, %d expected", registry.ErrCorrupt, p, n, length)
	}
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("file download aborted", "model", name, "version", v.Version, "path", p, "err", err)
		}
		// Cut the connection: the client sees a short body, never a complete bad one.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func fileNotFound(v *registry.Version, p string) error {
	paths := make([]string, 0, len(v.Artifacts))
	for _, a := range v.Artifacts {
		paths = append(paths, a.Path)
	}
	if len(paths) > 10 {
		paths = append(paths[:10], "...")
	}
	return fmt.Errorf("%w: version %d of %q has no file %q (it has: %s)", registry.ErrNotFound, v.Version, v.Name, p, strings.Join(paths, ", "))
}

// copyHoldingBack copies r to w but writes each chunk only once the next
// read succeeded, so when the last read fails (a sha256 mismatch is reported
// at the end of the stream) the last bytes are never sent.
func copyHoldingBack(w io.Writer, r io.Reader) (int64, error) {
	bufs := [2][]byte{make([]byte, 32<<10), make([]byte, 32<<10)}
	var held []byte
	var total int64
	for i := 0; ; i ^= 1 {
		n, err := r.Read(bufs[i])
		if err != nil && !errors.Is(err, io.EOF) {
			return total, err
		}
		if n > 0 {
			if len(held) > 0 {
				if _, werr := w.Write(held); werr != nil {
					return total, werr
				}
				total += int64(len(held))
			}
			held = bufs[i][:n]
		}
		if errors.Is(err, io.EOF) {
			if len(held) > 0 {
				if _, werr := w.Write(held); werr != nil {
					return total, werr
				}
				total += int64(len(held))
			}
			return total, nil
		}
	}
}

// etagMatches reports whether an If-None-Match header names etag.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range header applies: there is no If-Range, or
// it names the current ETag. A date never matches (there is no Last-Modified).
func ifRange(header, etag string) bool {
	return header == "" || strings.TrimSpace(header) == etag
}

// parseRange reads a single "bytes=" range of a file of size bytes. ok is
// false when the header should be ignored (malformed, several ranges, another
// unit: RFC 9110 lets a server send the whole file then); satisfiable is
// false when the range starts past the end.
func parseRange(header string, size int64) (start, length int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, true
	}
	if first == "" {
		// Suffix range: the last n bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, true
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	s, err := strconv.ParseInt(first, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, true
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < s {
			return 0, 0, false, true
		}
		end = min(e, size-1)
	}
	if s >= size {
		return 0, 0, false, false
	}
	return s, end - s + 1, true, true
}
