package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

func filePath(name string, version int64, p string) string {
	return versionPath(name, version) + "/files/" + segs(p)
}

// artifactOf finds a file of a version.
func artifactOf(v *registry.Version, p string) (registry.Artifact, error) {
	i := slices.IndexFunc(v.Artifacts, func(a registry.Artifact) bool { return a.Path == p })
	if i < 0 {
		paths := make([]string, len(v.Artifacts))
		for j, a := range v.Artifacts {
			paths[j] = a.Path
		}
		return registry.Artifact{}, fmt.Errorf("%w: version %d of %q has no file %q (it has: %s)", registry.ErrNotFound, v.Version, v.Name, p, strings.Join(paths, ", "))
	}
	return v.Artifacts[i], nil
}

// OpenFile streams a version's file (ref as in GetVersion). The reader
// fails at the end with an error wrapping registry.ErrCorrupt if the bytes
// do not match the registered sha256, so a caller must not use the content
// before reading to io.EOF. The caller closes the reader.
func (c *Client) OpenFile(ctx context.Context, name, ref, p string) (io.ReadCloser, *registry.Version, error) {
	v, err := c.GetVersion(ctx, name, ref)
	if err != nil {
		return nil, nil, err
	}
	a, err := artifactOf(v, p)
	if err != nil {
		return nil, nil, err
	}
	ctx, dog, cancel := newWatchdog(ctx, c.stall)
	req, err := c.newRequest(ctx, http.MethodGet, c.endpoint(filePath(name, v.Version, p), nil), nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, c.netErr(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, responseError(resp)
	}
	return &verifier{
		r: &kickReader{r: resp.Body, w: dog}, body: resp.Body, cancel: cancel, c: c, ctx: ctx,
		h: sha256.New(), want: a.SHA256, size: a.Size, path: p,
	}, v, nil
}

type verifier struct {
	r      io.Reader
	body   io.Closer
	cancel context.CancelFunc
	c      *Client
	ctx    context.Context
	h      hash.Hash
	want   string
	size   int64
	n      int64
	path   string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want || v.n != v.size {
			return n, fmt.Errorf("%w: %s: received %d bytes with sha256 %s; registered %d bytes with %s", registry.ErrCorrupt, v.path, v.n, got, v.size, v.want)
		}
	case err != nil:
		return n, v.c.netErr(v.ctx, err)
	}
	return n, err
}

func (v *verifier) Close() error {
	err := v.body.Close()
	v.cancel()
	return err
}

// DownloadFile downloads a version's file (ref as in GetVersion) to dst.
// Bytes go to dst+".part" first; a download that breaks off is resumed with
// an HTTP range, now or by a later call, and the file is renamed into place
// only after its sha256 matched the registered one. progress, if not nil,
// is called with the bytes on disk and the total.
//
// The reference is resolved once, so an alias that moves meanwhile cannot
// mix two versions' bytes. It returns the version downloaded from.
func (c *Client) DownloadFile(ctx context.Context, name, ref, p, dst string, progress func(done, total int64)) (*registry.Version, error) {
	v, err := c.GetVersion(ctx, name, ref)
	if err != nil {
		return nil, err
	}
	a, err := artifactOf(v, p)
	if err != nil {
		return nil, err
	}
	part := dst + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	d := &download{c: c, f: f, w: f, a: a, url: c.endpoint(filePath(name, v.Version, p), nil), progress: progress}
	err = d.run(ctx)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, registry.ErrCorrupt) {
			os.Remove(part)
		}
		return nil, err
	}
	if err := os.Rename(part, dst); err != nil {
		return nil, err
	}
	return v, nil
}

// DownloadTo downloads a version's file into w from offset 0, for callers
// that keep it elsewhere than in a file of its own (a buffer, a region of a
// larger file). A transfer that breaks off is resumed with an HTTP range
// within the call; the sha256 is checked at the end, and on a mismatch the
// error wraps registry.ErrCorrupt and w's content must not be used.
func (c *Client) DownloadTo(ctx context.Context, name, ref, p string, w io.WriterAt, progress func(done, total int64)) (*registry.Version, error) {
	v, err := c.GetVersion(ctx, name, ref)
	if err != nil {
		return nil, err
	}
	a, err := artifactOf(v, p)
	if err != nil {
		return nil, err
	}
	d := &download{c: c, w: w, a: a, url: c.endpoint(filePath(name, v.Version, p), nil), progress: progress, h: sha256.New()}
	if err := d.run(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

type download struct {
	c *Client
	// f is the part file, when downloading to one (it can be resumed
	// across calls); w is where bytes go.
	f        *os.File
	w        io.WriterAt
	a        registry.Artifact
	url      string
	progress func(done, total int64)
	h        hash.Hash
	off      int64
}

// run fills the part file and checks it.
func (d *download) run(ctx context.Context) error {
	if err := d.resume(ctx); err != nil {
		return err
	}
	// resumed: some bytes on disk came from an earlier request; restarted:
	// the file was started over once already after a sha256 mismatch.
	resumed, restarted := d.off > 0, false
	failures := 0
	for {
		if d.off < d.a.Size {
			before := d.off
			err := d.fetch(ctx)
			if err != nil {
				if d.off > before {
					failures = 0 // progress: keep going as long as bytes arrive
				}
				if !retryable(ctx, err) || failures >= d.c.retries {
					return err
				}
				failures++
				if err := sleep(ctx, d.c.delay(failures-1)); err != nil {
					return err
				}
				resumed = resumed || d.off > 0
				continue
			}
		}
		got := hex.EncodeToString(d.h.Sum(nil))
		if got == d.a.SHA256 && d.off == d.a.Size {
			if d.f != nil {
				return d.f.Sync()
			}
			return nil
		}
		if resumed && !restarted {
			// The bytes kept from before may belong to another file, or
			// were damaged: start over once, from nothing.
			resumed, restarted = false, true
			if err := d.truncate(); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("%w: %s: downloaded %d bytes with sha256 %s; the registry recorded %d bytes with %s",
			registry.ErrCorrupt, d.a.Path, d.off, got, d.a.Size, d.a.SHA256)
	}
}

// resume hashes what an earlier attempt left in the part file.
func (d *download) resume(ctx context.Context) error {
	if d.f == nil {
		return nil
	}
	st, err := d.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > d.a.Size {
		return d.truncate()
	}
	d.h = sha256.New()
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(d.h, d.f)
	if err != nil {
		return err
	}
	d.off = n
	d.report()
	return ctx.Err()
}

func (d *download) truncate() error {
	if d.f != nil {
		if err := d.f.Truncate(0); err != nil {
			return err
		}
	}
	d.h, d.off = sha256.New(), 0
	d.report()
	return nil
}

func (d *download) report() {
	if d.progress != nil {
		d.progress(d.off, d.a.Size)
	}
}

// fetch requests the rest of the file from d.off and appends it.
func (d *download) fetch(ctx context.Context) error {
	ctx, dog, cancel := newWatchdog(ctx, d.c.stall)
	defer cancel()
	req, err := d.c.newRequest(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return err
	}
	etag := `"sha256:` + d.a.SHA256 + `"`
	if d.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(d.off, 10)+"-")
		req.Header.Set("If-Range", etag)
	}
	resp, err := d.c.hc.Do(req)
	if err != nil {
		return d.c.netErr(ctx, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != d.off {
			return fmt.Errorf("%w: the registry answered range %q to a request from byte %d", errkind.Unavailable, resp.Header.Get("Content-Range"), d.off)
		}
	case http.StatusOK:
		if d.off > 0 {
			if err := d.truncate(); err != nil {
				return err
			}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := d.truncate(); err != nil {
			return err
		}
		return &UnreachableError{URL: d.c.base.Redacted(), Err: errors.New("the partial file is longer than the registry's: starting over")}
	default:
		return responseError(resp)
	}
	if tag := resp.Header.Get("ETag"); tag != "" && tag != etag {
		return fmt.Errorf("%w: the registry's file has ETag %s, expected %s", registry.ErrCorrupt, tag, etag)
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			dog.kick()
			if d.off+int64(n) > d.a.Size {
				return fmt.Errorf("%w: the registry sent more than the file's %d bytes", registry.ErrCorrupt, d.a.Size)
			}
			if _, err := d.w.WriteAt(buf[:n], d.off); err != nil {
				return err
			}
			d.h.Write(buf[:n])
			d.off += int64(n)
			d.report()
		}
		if errors.Is(rerr, io.EOF) {
			if d.off < d.a.Size {
				return &UnreachableError{URL: d.c.base.Redacted(), Err: io.ErrUnexpectedEOF}
			}
			return nil
		}
		if rerr != nil {
			return d.c.netErr(ctx, rerr)
		}
	}
}

// rangeStart reads the first byte position of "bytes a-b/n".
func rangeStart(cr string) (int64, bool) {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// Head returns a file's size and sha256 as the registry serves them.
func (c *Client) Head(ctx context.Context, name string, version int64, p string) (size int64, sha string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodHead, c.endpoint(filePath(name, version, p), nil), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", c.netErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", &Error{Status: resp.StatusCode, Code: wire.CodeInternal, Message: fmt.Sprintf("HEAD %s: %s", p, resp.Status), kind: wire.KindOfStatus(resp.StatusCode)}
	}
	return resp.ContentLength, resp.Header.Get(wire.HeaderSHA256), nil
}
