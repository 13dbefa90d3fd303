package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// File is one file of a version to register.
type File struct {
	// Path is the artifact path in the version ("model.onnx", "profile/reference.json").
	Path string
	// Local is the file on disk. Either Local or Open must be set.
	Local string
	// Open opens the content; it may be called more than once (resumable
	// uploads reopen the file for each part, and use io.ReaderAt if the
	// reader has it). Size is required with Open.
	Open func() (io.ReadCloser, error)
	// Size in bytes, required with Open (Local files are measured).
	Size int64
}

// RegisterRequest describes a version to register. Everything but Name and
// Files is optional.
type RegisterRequest struct {
	Name  string
	Files []File

	Description   string
	Tags          map[string]string
	Lineage       registry.Lineage
	Aliases       []string
	Status        registry.Status
	StatusMessage string
	ModelFile     string
	Source        string
	RunLink       string
	// CreateModel creates the registered model if it does not exist.
	CreateModel bool
	// Progress is called as bytes go out, with the bytes sent (or already
	// on the server from an earlier attempt) and the total. Calls never overlap.
	Progress func(sent, total int64)
}

// Register uploads files and registers them as a new version. Files up to
// the resumable threshold (64 MiB) stream in one multipart request; larger
// ones are sent first as resumable uploads, in parts that are retried on
// failure and remembered on disk, so running the same Register again after
// a crash or a dropped link sends only the parts the server lacks.
//
// If the version was registered but an alias could not be set, Register
// returns the version and an error saying so, as the registry does.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (*registry.Version, error) {
	files, total, err := prepareFiles(req.Files)
	if err != nil {
		return nil, err
	}
	if !req.CreateModel {
		// Fail before sending any file (the server would read the metadata,
		// which lets the body start, before it could say so).
		if _, err := c.GetModel(ctx, req.Name); err != nil {
			return nil, err
		}
	}
	prog := &progress{fn: req.Progress, total: total}
	md := wire.RegisterMetadata{
		Description: req.Description, Tags: req.Tags, Lineage: req.Lineage, Aliases: req.Aliases,
		Status: req.Status, StatusMessage: req.StatusMessage, ModelFile: req.ModelFile,
		Source: req.Source, RunLink: req.RunLink, CreateModel: req.CreateModel,
	}
	var streamed []*sentFile
	var states []string
	want := map[string]string{}
	for _, f := range files {
		if f.Size <= c.threshold {
			streamed = append(streamed, &sentFile{File: f})
			continue
		}
		if md.Uploads == nil {
			md.Uploads = map[string]string{}
			if req.CreateModel {
				if err := c.ensureModel(ctx, req.Name); err != nil {
					return nil, err
				}
			}
		}
		up, err := c.uploadResumable(ctx, req.Name, f, prog)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", f.Path, err)
		}
		md.Uploads[f.Path] = up.id
		want[f.Path] = up.sha256
		states = append(states, up.state)
	}
	v, warn, err := c.registerStream(ctx, req.Name, md, streamed, prog)
	if err != nil {
		return nil, err
	}
	for _, s := range states {
		_ = os.Remove(s) // the upload was consumed by the registration
	}
	for _, f := range streamed {
		want[f.Path] = f.sha256
	}
	for _, a := range v.Artifacts {
		if sum, ok := want[a.Path]; ok && sum != a.SHA256 {
			return v, fmt.Errorf("%w: %s was sent with sha256 %s but the registry stored %s: delete version %d and register again",
				errkind.DataLoss, a.Path, sum, a.SHA256, v.Version)
		}
	}
	if warn != "" {
		return v, &Error{Status: http.StatusCreated, Code: wire.CodeFailedPrecondition, Message: warn, kind: errkind.FailedPrecondition}
	}
	return v, nil
}

// prepareFiles checks the files and finds their sizes.
func prepareFiles(in []File) ([]File, int64, error) {
	if len(in) == 0 {
		return nil, 0, fmt.Errorf("%w: no files to register: a version needs at least its ONNX model", errkind.Invalid)
	}
	seen := map[string]bool{}
	var total int64
	out := make([]File, len(in))
	for i, f := range in {
		if f.Path == "" {
			return nil, 0, fmt.Errorf("%w: file %d has no artifact path", errkind.Invalid, i+1)
		}
		if seen[f.Path] {
			return nil, 0, fmt.Errorf("%w: artifact path %q is given twice", errkind.Invalid, f.Path)
		}
		seen[f.Path] = true
		switch {
		case f.Open != nil:
			if f.Size < 0 {
				return nil, 0, fmt.Errorf("%w: file %s: Size is required with Open", errkind.Invalid, f.Path)
			}
		case f.Local != "":
			st, err := os.Stat(f.Local)
			if err != nil {
				return nil, 0, err
			}
			if !st.Mode().IsRegular() {
				return nil, 0, fmt.Errorf("%w: %s is not a regular file", errkind.Invalid, f.Local)
			}
			f.Size = st.Size()
			local := f.Local
			f.Open = func() (io.ReadCloser, error) { return os.Open(local) }
		default:
			return nil, 0, fmt.Errorf("%w: file %s: set Local or Open", errkind.Invalid, f.Path)
		}
		total += f.Size
		out[i] = f
	}
	return out, total, nil
}

// ensureModel creates the model unless it exists.
func (c *Client) ensureModel(ctx context.Context, name string) error {
	_, err := c.GetModel(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		_, err = c.CreateModel(ctx, registry.NewModel{Name: name})
		if errors.Is(err, registry.ErrAlreadyExists) {
			err = nil
		}
	}
	return err
}

// progress serialises progress reports.
type progress struct {
	mu    sync.Mutex
	fn    func(sent, total int64)
	sent  int64
	total int64
}

func (p *progress) add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	if p.fn != nil {
		p.fn(p.sent, p.total)
	}
}

// sentFile is a file streamed in the multipart body, hashed on the way.
type sentFile struct {
	File
	sha256 string
}

// registerStream sends the multipart registration: the metadata, then each
// file, through a pipe, so no file is ever held in memory.
// It returns the registry's warning, if any, with the version.
func (c *Client) registerStream(ctx context.Context, name string, md wire.RegisterMetadata, files []*sentFile, prog *progress) (*registry.Version, string, error) {
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, "", err
	}
	ctx, dog, cancel := newWatchdog(ctx, c.stall)
	defer cancel()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan error, 1)
	go func() {
		err := writeParts(mw, meta, files, dog, prog)
		if err == nil {
			err = mw.Close()
		}
		// The body is complete: the server may now take its time to commit.
		dog.stop()
		pw.CloseWithError(err)
		done <- err
	}()
	req, err := c.newRequest(ctx, http.MethodPost, c.endpoint("/models/"+seg(name)+"/versions", nil), pr)
	if err != nil {
		pr.Close()
		<-done
		return nil, "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	// Lets the server refuse (token, unknown model) before any file byte goes out.
	req.Header.Set("Expect", "100-continue")
	resp, err := c.hc.Do(req)
	pr.CloseWithError(errRequestFinished)
	werr := <-done
	if err != nil {
		if werr != nil && !isPipeClosed(werr) {
			return nil, "", werr // a local file could not be read
		}
		return nil, "", c.netErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		if resp.StatusCode < 300 {
			return nil, "", fmt.Errorf("registry answered %s to a registration, expected 201 Created", resp.Status)
		}
		return nil, "", responseError(resp)
	}
	if werr != nil {
		return nil, "", werr
	}
	var v registry.Version
	if err := c.decode(ctx, resp, &v); err != nil {
		return nil, "", err
	}
	return &v, resp.Header.Get(wire.HeaderWarning), nil
}

// errRequestFinished ends the body writer once the request is over.
var errRequestFinished = errors.New("request finished")

func isPipeClosed(err error) bool {
	return errors.Is(err, io.ErrClosedPipe) || errors.Is(err, errRequestFinished)
}

func writeParts(mw *multipart.Writer, meta []byte, files []*sentFile, dog *watchdog, prog *progress) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"`)
	h.Set("Content-Type", "application/json")
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(meta); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFilePart(mw, f, dog, prog); err != nil {
			return err
		}
	}
	return nil
}

func writeFilePart(mw *multipart.Writer, f *sentFile, dog *watchdog, prog *progress) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Path, err)
	}
	defer rc.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper.Replace(f.Path)+`"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	sum := sha256.New()
	n, err := io.Copy(w, io.TeeReader(&kickReader{r: rc, w: dog, step: prog.add}, sum))
	if err != nil {
		if !isPipeClosed(err) {
			err = fmt.Errorf("read %s: %w", f.Path, err)
		}
		return err
	}
	if n != f.Size {
		return fmt.Errorf("%s changed while it was being sent: %d bytes read, %d expected", f.Path, n, f.Size)
	}
	f.sha256 = hex.EncodeToString(sum.Sum(nil))
	return nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

// hashFile returns the sha256 of a file and of each of its parts.
func hashFile(ctx context.Context, f File, partSize int64) (string, []string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	whole := sha256.New()
	var parts []string
	buf := make([]byte, 256<<10)
	var part hash.Hash
	var inPart, total int64
	for {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		n, err := rc.Read(buf)
		total += int64(n)
		for b := buf[:n]; len(b) > 0; {
			if part == nil {
				part, inPart = sha256.New(), 0
			}
			k := min(int64(len(b)), partSize-inPart)
			whole.Write(b[:k])
			part.Write(b[:k])
			inPart += k
			b = b[k:]
			if inPart == partSize {
				parts = append(parts, hex.EncodeToString(part.Sum(nil)))
				part = nil
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
	}
	if part != nil {
		parts = append(parts, hex.EncodeToString(part.Sum(nil)))
	}
	if total != f.Size {
		return "", nil, fmt.Errorf("%s changed while it was being read: %d bytes, expected %d", f.Path, total, f.Size)
	}
	return hex.EncodeToString(whole.Sum(nil)), parts, nil
}
