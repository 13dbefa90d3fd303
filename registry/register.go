package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/objstore"
)

// NewVersion describes a version to register.
type NewVersion struct {
	Name        string
	Description string
	// Source is where the files came from ("upload", "runs:/<run>/model", ...).
	Source  string
	RunID   string
	RunLink string
	Tags    map[string]string
	Lineage Lineage
	// Status is READY (the default) or FAILED_REGISTRATION, to record a
	// version that failed a quality gate together with its report.
	Status        Status
	StatusMessage string
	// ModelFile names the ONNX file among the artifacts. Default: the only
	// ".onnx" file, or "model.onnx" if there are several.
	ModelFile string
	// Aliases are pointed at the new version once it is committed.
	Aliases []string
}

func (in *NewVersion) validate() error {
	if err := ValidateModelName(in.Name); err != nil {
		return err
	}
	if err := ValidateDescription(in.Description); err != nil {
		return err
	}
	for k, v := range in.Tags {
		if err := ValidateTag(k, v); err != nil {
			return err
		}
	}
	for _, a := range in.Aliases {
		if err := ValidateAlias(a); err != nil {
			return err
		}
	}
	switch in.Status {
	case "":
		in.Status = StatusReady
	case StatusReady, StatusFailed:
	default:
		return invalid("a new version's status must be READY or FAILED_REGISTRATION, not %q", in.Status)
	}
	if in.ModelFile != "" {
		if err := ValidateArtifactPath(in.ModelFile); err != nil {
			return err
		}
	}
	if len(in.Source) > 4096 || len(in.RunID) > 256 || len(in.RunLink) > 4096 {
		return invalid("source, run_id or run_link is too long")
	}
	return nil
}

// lease guards a registration's files against garbage collection while it
// uploads. Renewals and revocation are compare-and-swap writes, so the
// janitor can never delete files that a registration is about to commit.
type lease struct {
	Registration string    `json:"registration"`
	ModelID      string    `json:"model_id"`
	Holder       string    `json:"holder"`
	Expires      time.Time `json:"expires"`
	Revoked      bool      `json:"revoked,omitempty"`
}

// Registration is a version being registered: its files are uploaded with
// PutArtifact, then Commit allocates the version number and makes it
// visible, or Abort removes the files. Nothing is visible until Commit.
// A Registration is not safe for concurrent use.
type Registration struct {
	s       *Service
	in      NewVersion
	modelID string
	id      string

	mu        sync.Mutex
	leaseETag string
	leasedAt  time.Time // when the lease was last written
	lost      error
	stop      chan struct{}
	done      chan struct{}

	files   []Artifact
	sigs    map[string]*onnx.Signature
	uploads []string // resumable uploads consumed, removed on commit
	ended   bool
}

// BeginVersion starts registering a version of an existing model.
func (s *Service) BeginVersion(ctx context.Context, in NewVersion) (*Registration, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	m, ok := s.idx.model(in.Name)
	if !ok {
		return nil, notFound("registered model %q does not exist; create it first", in.Name)
	}
	r := &Registration{
		s: s, in: in, modelID: m.ID, id: randomID(12),
		stop: make(chan struct{}), done: make(chan struct{}),
		sigs: map[string]*onnx.Signature{},
	}
	l := lease{Registration: r.id, ModelID: m.ID, Holder: actor(ctx), Expires: s.opts.Now().Add(s.opts.LeaseTTL)}
	info, err := putJSON(ctx, s.store, leaseKey(r.id), l, objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		return nil, fmt.Errorf("registry: take upload lease: %w", err)
	}
	r.leaseETag, r.leasedAt = info.ETag, s.opts.Now()
	go r.renewLoop()
	return r, nil
}

// Version is the model's name and the registration id (for logs).
func (r *Registration) String() string { return r.in.Name + "/" + r.id }

func (r *Registration) renewLoop() {
	defer close(r.done)
	t := time.NewTicker(r.s.opts.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.s.opts.LeaseTTL/3)
			err := r.renew(ctx)
			cancel()
			if err != nil {
				r.s.log.Warn("upload lease renewal failed", "registration", r.String(), "err", err)
			}
		}
	}
}

// renew extends the lease; once it fails with a precondition the lease is
// lost for good (the janitor revoked it) and Commit will refuse.
func (r *Registration) renew(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost != nil {
		return r.lost
	}
	l := lease{Registration: r.id, ModelID: r.modelID, Holder: r.in.Name, Expires: r.s.opts.Now().Add(r.s.opts.LeaseTTL)}
	now := r.s.opts.Now()
	info, err := putJSON(ctx, r.s.store, leaseKey(r.id), l, objstore.PutOptions{IfMatch: r.leaseETag})
	if errors.Is(err, objstore.ErrPrecondition) {
		r.lost = precondition("the upload lease expired (no progress for %s); upload again", r.s.opts.LeaseTTL)
		return r.lost
	}
	if err != nil {
		return err
	}
	r.leaseETag, r.leasedAt = info.ETag, now
	return nil
}

// leaseFresh reports whether the lease was written less than half its TTL
// ago: it cannot have expired, so the janitor (which revokes only expired
// leases) cannot have revoked it.
func (r *Registration) leaseFresh() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost == nil && r.s.opts.Now().Sub(r.leasedAt) < r.s.opts.LeaseTTL/2
}

// PutArtifact streams one file into the registration, computing its sha256
// and, for ".onnx" files, reading the model's signature in the same pass.
// size may be -1 if unknown. A file that fails (short body, over the size
// limit, not valid ONNX) is removed and the error says why; the
// registration can continue with other files or be aborted.
func (r *Registration) PutArtifact(ctx context.Context, p string, body io.Reader, size int64) (Artifact, error) {
	if r.ended {
		return Artifact{}, precondition("registration already finished")
	}
	if err := ValidateArtifactPath(p); err != nil {
		return Artifact{}, err
	}
	if slices.ContainsFunc(r.files, func(a Artifact) bool { return a.Path == p }) {
		return Artifact{}, invalid("artifact %q was already uploaded in this registration", p)
	}
	max := r.s.opts.MaxArtifactSize
	if size > max {
		return Artifact{}, &userError{ErrTooLarge, fmt.Sprintf("artifact %q is %d bytes; the limit is %d", p, size, max)}
	}
	lim := &limitedReader{r: body, n: max}
	// Small models are parsed as they stream in; large ones afterwards with
	// ranged reads that jump over the weights, which keeps the upload at
	// the store's speed (no second copy of every byte through a pipe).
	inline := isONNX(p) && (size < 0 || size <= inlineParseMax)
	d := newDigester(lim, inline)
	key := artifactPrefix(r.modelID, r.id) + p
	info, err := r.s.store.Put(ctx, key, d, size, objstore.PutOptions{})
	sum, sig, sigErr := d.finish(err)
	if err == nil && isONNX(p) && !inline {
		sig, sigErr = onnx.ReadSignatureAt(objstore.NewReaderAt(ctx, r.s.store, key), info.Size)
	}
	if err == nil && lim.over {
		err = &userError{ErrTooLarge, fmt.Sprintf("artifact %q is over the %d-byte limit", p, max)}
	}
	if err == nil && sigErr != nil {
		err = invalid("%s: %v", p, sigErr)
	}
	if err != nil {
		r.s.deleteQuietly(ctx, key)
		if errors.Is(err, objstore.ErrShortWrite) {
			return Artifact{}, invalid("artifact %q: the body ended before the declared %d bytes (or went past them)", p, size)
		}
		return Artifact{}, err
	}
	return r.add(Artifact{Path: p, Size: info.Size, SHA256: sum}, sig), nil
}

// add records a stored file.
func (r *Registration) add(a Artifact, sig *onnx.Signature) Artifact {
	r.files = append(r.files, a)
	if sig != nil {
		r.sigs[a.Path] = sig
	}
	r.s.metrics.uploadedBytes.Add(float64(a.Size))
	return a
}

func (s *Service) deleteQuietly(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.store.Delete(ctx, key); err != nil {
		s.log.Warn("could not delete a failed file; the janitor will", "key", key, "err", err)
	}
}

// digester computes a stream's sha256 while it passes through and, for
// ONNX files, reads the model's signature from the same bytes, so a file is
// stored, hashed and validated in one pass.
type digester struct {
	src    io.Reader
	h      hash.Hash
	pw     *io.PipeWriter
	wg     sync.WaitGroup
	sig    *onnx.Signature
	sigErr error
}

func newDigester(r io.Reader, parseONNX bool) *digester {
	d := &digester{h: sha256.New()}
	d.src = io.TeeReader(r, d.h)
	if parseONNX {
		pr, pw := io.Pipe()
		d.pw = pw
		d.src = io.TeeReader(d.src, pw)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.sig, d.sigErr = onnx.ReadSignature(pr)
			// Keep consuming so the stream never blocks on the parser.
			_, _ = io.Copy(io.Discard, pr)
		}()
	}
	return d
}

func (d *digester) Read(p []byte) (int, error) { return d.src.Read(p) }

// finish ends the stream (err is the consumer's error, if any) and returns
// the hex sha256 and, for ONNX, the signature or why the file is not a model.
func (d *digester) finish(err error) (string, *onnx.Signature, error) {
	if d.pw != nil {
		d.pw.CloseWithError(err)
		d.wg.Wait()
	}
	return hex.EncodeToString(d.h.Sum(nil)), d.sig, d.sigErr
}

// inlineParseMax is the largest model parsed while it streams in.
const inlineParseMax = 8 << 20

func isONNX(p string) bool { return strings.EqualFold(path.Ext(p), ".onnx") }

// limitedReader reads at most n bytes and records whether the source had more.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if k, _ := l.r.Read(one[:]); k > 0 {
			l.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

// modelFile picks the ONNX file among the uploaded artifacts.
func (r *Registration) modelFile() (string, error) {
	if r.in.ModelFile != "" {
		if _, ok := r.sigs[r.in.ModelFile]; !ok {
			return "", invalid("model file %q was not uploaded (or is not an .onnx file)", r.in.ModelFile)
		}
		return r.in.ModelFile, nil
	}
	var onnxFiles []string
	for _, a := range r.files {
		if _, ok := r.sigs[a.Path]; ok {
			onnxFiles = append(onnxFiles, a.Path)
		}
	}
	switch {
	case len(onnxFiles) == 1:
		return onnxFiles[0], nil
	case len(onnxFiles) == 0:
		return "", invalid("no ONNX model among the uploaded files: Lantern serves ONNX, so a version needs a .onnx file (for example model.onnx)")
	}
	for _, f := range onnxFiles {
		if path.Base(f) == "model.onnx" {
			return f, nil
		}
	}
	return "", invalid("several .onnx files (%s): say which one is the model", strings.Join(onnxFiles, ", "))
}

// Commit allocates the next version number and makes the version visible
// with its files, sizes, hashes and signature. Then it points the requested
// aliases at it.
func (r *Registration) Commit(ctx context.Context) (*Version, error) {
	if r.ended {
		return nil, precondition("registration already finished")
	}
	s := r.s
	v := &Version{
		ModelID: r.modelID, Name: r.in.Name, Status: r.in.Status, StatusMessage: r.in.StatusMessage,
		Stage: StageNone, Description: r.in.Description, Source: r.in.Source,
		RunID: r.in.RunID, RunLink: r.in.RunLink, ArtifactPrefix: r.id,
		Artifacts: slices.Clone(r.files), Lineage: r.in.Lineage, Tags: r.in.Tags,
	}
	if v.Source == "" {
		v.Source = "upload"
	}
	if v.RunID == "" {
		v.RunID = v.Lineage.RunID
	}
	mf, err := r.modelFile()
	switch {
	case err == nil:
		v.ModelFile, v.Signature = mf, r.sigs[mf]
	case v.Status == StatusReady:
		return nil, err
	}
	// The lease must still hold: a lease written less than half a TTL ago
	// does; an older one is renewed, which fails if the janitor revoked it.
	if !r.leaseFresh() {
		if err := r.renew(ctx); err != nil {
			return nil, err
		}
	}
	if m, ok := s.idx.modelByID(r.modelID); !ok || m.Deleted {
		// (A deletion in another process not seen yet is caught by the
		// janitor, which purges versions of deleted models.)
		return nil, notFound("registered model %q was deleted during the upload", r.in.Name)
	}
	if err := s.allocate(ctx, v); err != nil {
		return nil, err
	}
	r.finish(ctx, false)
	for _, id := range r.uploads {
		if err := s.removeUpload(ctx, id); err != nil {
			s.log.Warn("used upload not removed; it expires", "upload", id, "err", err)
		}
	}
	s.metrics.registrations.WithLabelValues(string(v.Status)).Inc()
	for _, a := range r.in.Aliases {
		if err := s.SetAlias(ctx, r.in.Name, a, v.Version); err != nil {
			return s.viewOf(v), fmt.Errorf("version %d registered, but alias %q was not set: %w", v.Version, a, err)
		}
	}
	return s.viewOf(v), nil
}

// allocate writes v create-only at the next free version number.
func (s *Service) allocate(ctx context.Context, v *Version) error {
	mu, _ := s.createMu.LoadOrStore(v.ModelID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	n := s.idx.maxVersion(v.ModelID) + 1
	for attempt := 0; ; attempt++ {
		if attempt == 8 || attempt%64 == 63 {
			// Far behind another process: catch up from the store.
			if err := s.refreshModel(ctx, v.ModelID); err != nil {
				return err
			}
			n = max(n, s.idx.maxVersion(v.ModelID)+1)
		}
		now := s.opts.Now()
		v.Version, v.Rev = n, 1
		v.CreatedAt, v.UpdatedAt = now, now
		v.CreatedBy, v.UpdatedBy, v.LastAction = actor(ctx), actor(ctx), ActionVersionCreate
		err := s.create(ctx, versionKey(v.ModelID, n), ActionVersionCreate, v, nil)
		if err == nil {
			return nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return fmt.Errorf("registry: write version %d: %w", n, err)
		}
		s.metrics.conflicts.Inc()
		n++
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Abort removes the registration's files. It is safe to call after Commit
// (it does nothing then) and on every error path.
func (r *Registration) Abort(ctx context.Context) {
	if r.ended {
		return
	}
	r.finish(ctx, true)
}

func (r *Registration) finish(ctx context.Context, deleteFiles bool) {
	r.ended = true
	close(r.stop)
	<-r.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if deleteFiles {
		if err := r.s.deletePrefix(ctx, artifactPrefix(r.modelID, r.id)); err != nil {
			r.s.log.Warn("abort: files left for the janitor", "registration", r.String(), "err", err)
			return // keep the lease: the janitor removes files and lease once it expires
		}
	}
	if err := r.s.store.Delete(ctx, leaseKey(r.id)); err != nil {
		r.s.log.Warn("lease not removed; the janitor will", "registration", r.String(), "err", err)
	}
}

func (s *Service) deletePrefix(ctx context.Context, prefix string) error {
	var errs []error
	for info, err := range s.store.List(ctx, prefix, objstore.ListOptions{}) {
		if err != nil {
			return err
		}
		if err := s.store.Delete(ctx, info.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// viewOf returns the API view of a version just written.
func (s *Service) viewOf(v *Version) *Version {
	if m, ok := s.idx.modelByID(v.ModelID); ok {
		return view(m, v)
	}
	return v.clone()
}
