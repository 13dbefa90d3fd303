package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// Resumable uploads: a large file is sent in numbered parts, each its own
// request, so a broken link costs one part, not the whole file. The parts
// are composed server-side when a version is committed (Registration.AddUpload).
const (
	// DefaultPartSize is used when the client does not choose one.
	DefaultPartSize = 16 << 20
	// MaxParts bounds the number of parts of one upload.
	MaxParts = 10000
	// uploadTTL is how long an upload survives without activity.
	uploadTTL = 7 * 24 * time.Hour
)

// Upload is a resumable upload of one file.
type Upload struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	// Size is the file's total size; PartSize the size of every part but the last.
	Size     int64 `json:"size"`
	PartSize int64 `json:"part_size"`
	// SHA256, if the client gave it, is checked when the file is assembled.
	SHA256    string       `json:"sha256,omitempty"`
	Parts     []UploadPart `json:"parts"`
	CreatedBy string       `json:"created_by,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// UploadPart is a received part.
type UploadPart struct {
	Number int    `json:"number"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// PartCount is the number of parts the file needs.
func (u *Upload) PartCount() int { return int((u.Size + u.PartSize - 1) / u.PartSize) }

// Missing lists the part numbers (1-based) not received yet.
func (u *Upload) Missing() []int {
	var out []int
	for n := 1; n <= u.PartCount(); n++ {
		if !slices.ContainsFunc(u.Parts, func(p UploadPart) bool { return p.Number == n }) {
			out = append(out, n)
		}
	}
	return out
}

func (u *Upload) partSize(n int) int64 {
	if n == u.PartCount() {
		return u.Size - int64(n-1)*u.PartSize
	}
	return u.PartSize
}

func uploadKey(id string) string      { return uploadsPrefix + id + "/upload.json" }
func partKey(id string, n int) string { return fmt.Sprintf("%s%s/part-%05d", uploadsPrefix, id, n) }
func validUploadID(id string) bool    { return len(id) == 24 && isHex(id) }
func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CreateUpload starts a resumable upload of a file for a model.
func (s *Service) CreateUpload(ctx context.Context, model string, size, partSize int64, sha string) (*Upload, error) {
	if _, err := s.live(model); err != nil {
		return nil, err
	}
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	switch {
	case size <= 0:
		return nil, invalid("upload size must be positive, not %d", size)
	case size > s.opts.MaxArtifactSize:
		return nil, &userError{ErrTooLarge, fmt.Sprintf("file is %d bytes; the limit is %d", size, s.opts.MaxArtifactSize)}
	case partSize < objstore.MinComposePart || partSize > 1<<30:
		return nil, invalid("part size must be between %d and %d bytes, not %d", objstore.MinComposePart, 1<<30, partSize)
	case (size+partSize-1)/partSize > MaxParts:
		return nil, invalid("%d-byte parts make more than %d parts for %d bytes; use larger parts", partSize, MaxParts, size)
	case sha != "" && (len(sha) != 64 || !isHex(sha)):
		return nil, invalid("sha256 must be 64 lowercase hex characters")
	}
	now := s.opts.Now()
	u := &Upload{
		ID: randomID(12), Model: model, Size: size, PartSize: partSize, SHA256: sha,
		Parts: []UploadPart{}, CreatedBy: actor(ctx), CreatedAt: now, UpdatedAt: now,
	}
	if _, err := putJSON(ctx, s.store, uploadKey(u.ID), u, objstore.PutOptions{IfNoneMatch: true}); err != nil {
		return nil, fmt.Errorf("registry: create upload: %w", err)
	}
	return u, nil
}

// GetUpload returns an upload's state, with the parts received so far.
func (s *Service) GetUpload(ctx context.Context, id string) (*Upload, error) {
	u, _, err := s.readUpload(ctx, id)
	return u, err
}

func (s *Service) readUpload(ctx context.Context, id string) (*Upload, string, error) {
	if !validUploadID(id) {
		return nil, "", notFound("upload %q does not exist", id)
	}
	u, etag, err := readJSON[Upload](ctx, s.store, uploadKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, "", notFound("upload %q does not exist (finished, aborted or expired after %s idle)", id, uploadTTL)
	}
	return u, etag, err
}

// PutUploadPart stores part n (1-based). Sending a part again replaces it,
// so a client that is unsure whether a part arrived can simply resend it.
func (s *Service) PutUploadPart(ctx context.Context, id string, n int, body io.Reader, size int64) (UploadPart, error) {
	u, _, err := s.readUpload(ctx, id)
	if err != nil {
		return UploadPart{}, err
	}
	if n < 1 || n > u.PartCount() {
		return UploadPart{}, invalid("part number %d is outside 1..%d", n, u.PartCount())
	}
	want := u.partSize(n)
	if size >= 0 && size != want {
		return UploadPart{}, invalid("part %d must be %d bytes, not %d", n, want, size)
	}
	d := newDigester(body, false)
	info, err := s.store.Put(ctx, partKey(id, n), d, want, objstore.PutOptions{})
	sum, _, _ := d.finish(err)
	if errors.Is(err, objstore.ErrShortWrite) {
		return UploadPart{}, invalid("part %d must be %d bytes; the body was shorter or longer", n, want)
	}
	if err != nil {
		return UploadPart{}, fmt.Errorf("registry: store part %d: %w", n, err)
	}
	part := UploadPart{Number: n, Size: info.Size, SHA256: sum}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		u, etag, err := s.readUpload(ctx, id)
		if err != nil {
			return UploadPart{}, err
		}
		u.Parts = slices.DeleteFunc(u.Parts, func(p UploadPart) bool { return p.Number == n })
		u.Parts = append(u.Parts, part)
		slices.SortFunc(u.Parts, func(a, b UploadPart) int { return a.Number - b.Number })
		u.UpdatedAt = s.opts.Now()
		_, err = putJSON(ctx, s.store, uploadKey(id), u, objstore.PutOptions{IfMatch: etag})
		if errors.Is(err, objstore.ErrPrecondition) {
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return UploadPart{}, err
		}
		return part, nil
	}
	return UploadPart{}, errConflict("upload " + id)
}

// AbortUpload deletes an upload and its parts.
func (s *Service) AbortUpload(ctx context.Context, id string) error {
	if _, _, err := s.readUpload(ctx, id); err != nil {
		return err
	}
	return s.removeUpload(ctx, id)
}

func (s *Service) removeUpload(ctx context.Context, id string) error {
	// The session object goes last, so a crash leaves a session the janitor finds.
	var errs []error
	for info, err := range s.store.List(ctx, uploadsPrefix+id+"/part-", objstore.ListOptions{}) {
		if err != nil {
			return err
		}
		errs = append(errs, s.store.Delete(ctx, info.Key))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return s.store.Delete(ctx, uploadKey(id))
}

// AddUpload assembles a completed upload into the registration as file p,
// hashing it (and reading its ONNX signature) in one pass and checking the
// size and the sha256 the client announced. The upload itself is removed
// when the registration commits.
func (r *Registration) AddUpload(ctx context.Context, p, uploadID string) (Artifact, error) {
	if r.ended {
		return Artifact{}, precondition("registration already finished")
	}
	if err := ValidateArtifactPath(p); err != nil {
		return Artifact{}, err
	}
	if slices.ContainsFunc(r.files, func(a Artifact) bool { return a.Path == p }) {
		return Artifact{}, invalid("artifact %q was already uploaded in this registration", p)
	}
	s := r.s
	u, _, err := s.readUpload(ctx, uploadID)
	if err != nil {
		return Artifact{}, err
	}
	if u.Model != r.in.Name {
		return Artifact{}, invalid("upload %s was started for model %q, not %q", uploadID, u.Model, r.in.Name)
	}
	if missing := u.Missing(); len(missing) > 0 {
		return Artifact{}, precondition("upload %s is missing %d of %d parts (first missing: %d); send them and try again", uploadID, len(missing), u.PartCount(), missing[0])
	}
	key := artifactPrefix(r.modelID, r.id) + p
	srcs := make([]string, u.PartCount())
	for i := range srcs {
		srcs[i] = partKey(uploadID, i+1)
	}
	if err := s.concat(ctx, key, srcs); err != nil {
		s.deleteQuietly(ctx, key)
		return Artifact{}, fmt.Errorf("registry: assemble upload %s: %w", uploadID, err)
	}
	rc, info, err := s.store.Get(ctx, key)
	if err != nil {
		return Artifact{}, err
	}
	d := newDigester(rc, isONNX(p))
	_, err = io.Copy(io.Discard, d)
	rc.Close()
	sum, sig, sigErr := d.finish(err)
	switch {
	case err != nil:
	case info.Size != u.Size:
		err = invalid("assembled upload is %d bytes, announced %d", info.Size, u.Size)
	case u.SHA256 != "" && sum != u.SHA256:
		err = invalid("assembled upload has sha256 %s, announced %s: a part was corrupted; re-send the parts", sum, u.SHA256)
	case sigErr != nil:
		err = invalid("%s: %v", p, sigErr)
	}
	if err != nil {
		s.deleteQuietly(ctx, key)
		return Artifact{}, err
	}
	r.uploads = append(r.uploads, uploadID)
	return r.add(Artifact{Path: p, Size: info.Size, SHA256: sum}, sig), nil
}

// concat writes the concatenation of srcs to dst, server-side if the store can.
func (s *Service) concat(ctx context.Context, dst string, srcs []string) error {
	if c, ok := s.store.(objstore.Composer); ok {
		_, err := c.Compose(ctx, dst, srcs, objstore.PutOptions{})
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		for _, k := range srcs {
			rc, _, err := s.store.Get(ctx, k)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			_, err = io.Copy(pw, rc)
			rc.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	_, err := s.store.Put(ctx, dst, pr, -1, objstore.PutOptions{})
	pr.CloseWithError(err)
	return err
}

// collectUploads removes uploads idle for longer than uploadTTL.
func (s *Service) collectUploads(ctx context.Context) error {
	var errs []error
	cutoff := s.opts.Now().Add(-uploadTTL)
	for info, err := range s.store.List(ctx, uploadsPrefix, objstore.ListOptions{Delimited: true}) {
		if err != nil {
			return err
		}
		id := info.Key[len(uploadsPrefix) : len(info.Key)-1]
		if !info.IsPrefix || !validUploadID(id) {
			continue
		}
		u, _, err := s.readUpload(ctx, id)
		if errors.Is(err, ErrNotFound) {
			// Parts without a session: an abort that crashed half-way.
			if s.olderThan(ctx, info.Key, time.Hour) {
				errs = append(errs, s.removeUpload(ctx, id))
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if u.UpdatedAt.Before(cutoff) {
			errs = append(errs, s.removeUpload(ctx, id))
		}
	}
	return errors.Join(errs...)
}
