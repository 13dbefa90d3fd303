package miniostore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/objstore"
)

const (
	maxParts          = 10000 // S3's limit per multipart upload
	uploadConcurrency = 4     // parts in flight per upload
	abortTimeout      = 30 * time.Second
)

// Put stores the body with a single PUT or a multipart upload; see the package
// documentation.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if err := check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("miniostore: put: %w", err)
	}
	if size < -1 {
		return objstore.Info{}, fmt.Errorf("miniostore: put %s: invalid size %d", key, size)
	}
	b := &body{ctx: ctx, r: r, size: size}
	info, err := s.put(ctx, key, b, size, opts)
	berr := b.detach()
	if err != nil {
		if berr != nil && ctx.Err() == nil { // the body's fault, not the server's
			return objstore.Info{}, fmt.Errorf("miniostore: put %s: %w", key, berr)
		}
		return objstore.Info{}, s.writeErr(ctx, "put", key, err, opts)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, key string, b *body, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if size == 0 { // minio-go would not read the body at all
		if _, err := b.Read(nil); err != io.EOF {
			return objstore.Info{}, err
		}
	}
	if size >= 0 && size <= s.partSize {
		return s.putSingle(ctx, key, b, size, opts)
	}
	if size >= 0 {
		return s.putMultipart(ctx, key, b, size, nil, opts)
	}
	// Unknown size: read one part to find out whether a single PUT will do.
	bp := s.bufs.Get().(*[]byte)
	n, err := io.ReadFull(b, *bp)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		var r io.Reader = bytes.NewReader((*bp)[:n])
		if conditional(opts) {
			r = onlyReader{r}
		}
		info, err := s.putSingle(ctx, key, r, int64(n), opts)
		if err == nil { // else the HTTP client may still be reading the buffer
			s.bufs.Put(bp)
		}
		return info, err
	case err != nil:
		s.bufs.Put(bp)
		return objstore.Info{}, err
	}
	info, err := s.putMultipart(ctx, key, b, -1, *bp, opts)
	if err == nil {
		s.bufs.Put(bp)
	}
	return info, err
}

// putOptions translates opts for minio-go.
//
// Payloads are sent unsigned (as minio-go does anyway over TLS): over plain
// HTTP it would otherwise hash every byte with sha256 for the signature,
// which costs as much as the transfer on a small machine, while every
// Lantern artifact already carries its own sha256, checked on each read.
func putOptions(opts objstore.PutOptions) minio.PutObjectOptions {
	po := minio.PutObjectOptions{ContentType: opts.ContentType, DisableContentSha256: true}
	if opts.IfNoneMatch {
		po.SetMatchETagExcept("*")
	}
	if opts.IfMatch != "" {
		po.SetMatchETag(opts.IfMatch)
	}
	return po
}

func conditional(opts objstore.PutOptions) bool { return opts.IfNoneMatch || opts.IfMatch != "" }

// putSingle writes r, of exactly size bytes, with one PUT. r must not be
// seekable when the write is conditional, so that minio-go does not retry it
// (and s.once does not either).
func (s *Store) putSingle(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	c := s.core
	if conditional(opts) {
		c = s.once
	}
	ui, err := c.PutObject(ctx, s.bucket, s.prefix+key, r, size, "", "", putOptions(opts))
	if err != nil {
		return objstore.Info{}, err
	}
	return infoOf(key, size, ui), nil
}

// putMultipart uploads b in parts; first, if not nil, is the first part,
// already read. The conditions go with the initiation, to fail early, and with
// the completion, where the server checks them atomically.
func (s *Store) putMultipart(ctx context.Context, key string, b *body, size int64, first []byte, opts objstore.PutOptions) (objstore.Info, error) {
	obj := s.prefix + key
	upload, err := s.core.NewMultipartUpload(ctx, s.bucket, obj, putOptions(opts))
	if err != nil {
		return objstore.Info{}, err
	}
	committed := false
	defer func() {
		if !committed {
			s.abort(ctx, obj, upload)
		}
	}()
	parts, total, err := s.uploadParts(ctx, obj, upload, b, size, first)
	if err != nil {
		return objstore.Info{}, err
	}
	ui, err := s.complete(ctx, obj, upload, parts, opts)
	if err != nil {
		return objstore.Info{}, err
	}
	committed = true
	return infoOf(key, total, ui), nil
}

// complete completes a multipart upload with opts' conditions, without retries.
func (s *Store) complete(ctx context.Context, obj, upload string, parts []minio.CompletePart, opts objstore.PutOptions) (minio.UploadInfo, error) {
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	po := putOptions(opts)
	po.ContentType = "" // set at initiation
	return s.once.CompleteMultipartUpload(ctx, s.bucket, obj, upload, parts, po)
}

// abort cancels a multipart upload, even when ctx is already done.
func (s *Store) abort(ctx context.Context, obj, upload string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_ = s.core.AbortMultipartUpload(ctx, s.bucket, obj, upload) // else the server expires it
}

// uploadParts reads b part by part and uploads up to uploadConcurrency parts
// at a time. It returns the parts and the total size.
func (s *Store) uploadParts(ctx context.Context, obj, upload string, b *body, size int64, first []byte) ([]minio.CompletePart, int64, error) {
	ctx, cancel := context.WithCancel(ctx) // to stop the uploads when reading fails
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	slots := make(chan struct{}, uploadConcurrency)
	var (
		mu    sync.Mutex
		parts []minio.CompletePart
		total int64
	)
	var readErr error
read:
	for num := 1; ; num++ {
		if num > maxParts {
			readErr = fmt.Errorf("object larger than %d parts", maxParts)
			break
		}
		partSize := s.partSizeFor(num, size)
		var buf []byte
		var bp *[]byte
		if num == 1 && first != nil {
			buf = first
		} else {
			buf, bp = s.getBuf(partSize)
			n, err := io.ReadFull(b, buf)
			if err == io.EOF && num > 1 {
				s.putBuf(bp)
				break
			}
			if err != nil && err != io.ErrUnexpectedEOF {
				s.putBuf(bp)
				readErr = err
				break
			}
			buf = buf[:n]
		}
		total += int64(len(buf))
		last := int64(len(buf)) < partSize
		select {
		case slots <- struct{}{}:
		case <-gctx.Done(): // an upload failed; g.Wait reports it
			s.putBuf(bp)
			break read
		}
		g.Go(func() error {
			defer func() { <-slots }()
			p, err := s.core.PutObjectPart(gctx, s.bucket, obj, upload, num, bytes.NewReader(buf), int64(len(buf)), minio.PutObjectPartOptions{DisableContentSha256: true})
			if err != nil {
				// Leave buf to the garbage collector: after an early error
				// response the HTTP client may still be reading it.
				return fmt.Errorf("upload part %d: %w", num, err)
			}
			s.putBuf(bp)
			mu.Lock()
			parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
			mu.Unlock()
			return nil
		})
		if last {
			break
		}
	}
	if readErr != nil {
		cancel()
	}
	err := g.Wait()
	if readErr != nil {
		return nil, 0, readErr
	}
	if err != nil {
		return nil, 0, err
	}
	return parts, total, nil
}

// partSizeFor returns the size of part num of an upload of size bytes (-1 if
// unknown). A known size is split evenly into at most maxParts parts; an
// unknown one starts at the configured part size and doubles every 2000
// parts, which reaches about 1 TiB within S3's 10,000 parts.
func (s *Store) partSizeFor(num int, size int64) int64 {
	if size >= 0 {
		const mib = 1 << 20
		n := max(s.partSize, (size+maxParts-1)/maxParts)
		return min((n+mib-1)/mib*mib, MaxPartSize)
	}
	return min(s.partSize<<((num-1)/2000), MaxPartSize)
}

// getBuf returns a buffer of n bytes, pooled when n is the part size; bp is
// what to give back to putBuf.
func (s *Store) getBuf(n int64) (buf []byte, bp *[]byte) {
	if n != s.partSize {
		return make([]byte, n), nil
	}
	bp = s.bufs.Get().(*[]byte)
	return *bp, bp
}

func (s *Store) putBuf(bp *[]byte) {
	if bp != nil {
		s.bufs.Put(bp)
	}
}

// Compose concatenates srcs into dst on the server, with a multipart upload
// whose parts are copies of the sources (split at MaxPartSize), and honours
// opts like Put. Every source but the last must be at least
// objstore.MinComposePart bytes. A source that changes during the Compose
// makes it fail.
func (s *Store) Compose(ctx context.Context, dst string, srcs []string, opts objstore.PutOptions) (objstore.Info, error) {
	if err := check(ctx, dst); err != nil {
		return objstore.Info{}, fmt.Errorf("miniostore: compose: %w", err)
	}
	if len(srcs) == 0 {
		return objstore.Info{}, fmt.Errorf("miniostore: compose %s: no sources", dst)
	}
	for _, src := range srcs {
		if err := check(ctx, src); err != nil {
			return objstore.Info{}, fmt.Errorf("miniostore: compose %s: source: %w", dst, err)
		}
	}
	infos := make([]objstore.Info, len(srcs))
	var total int64
	for i, src := range srcs {
		info, err := s.Stat(ctx, src)
		if err != nil {
			return objstore.Info{}, fmt.Errorf("miniostore: compose %s: %w", dst, err)
		}
		infos[i] = info
		total += info.Size
	}
	if total == 0 { // S3 has no empty multipart uploads
		info, err := s.Put(ctx, dst, bytes.NewReader(nil), 0, opts)
		if err != nil {
			return objstore.Info{}, fmt.Errorf("miniostore: compose %s: %w", dst, err)
		}
		return info, nil
	}
	info, err := s.compose(ctx, dst, infos, total, opts)
	if err != nil {
		if resp, ok := s3Error(err); ok && resp.Code == "EntityTooSmall" {
			err = fmt.Errorf("every source but the last must be at least %d bytes: %w", objstore.MinComposePart, err)
		}
		return objstore.Info{}, s.writeErr(ctx, "compose", dst, err, opts)
	}
	return info, nil
}

func (s *Store) compose(ctx context.Context, dst string, srcs []objstore.Info, total int64, opts objstore.PutOptions) (objstore.Info, error) {
	// Plan the parts: every non-empty source, split evenly when it is larger
	// than a part may be.
	type copyPart struct {
		src         objstore.Info
		off, length int64
	}
	var plan []copyPart
	for _, src := range srcs {
		if src.Size == 0 {
			continue
		}
		chunks := (src.Size + MaxPartSize - 1) / MaxPartSize
		chunk := (src.Size + chunks - 1) / chunks
		for off := int64(0); off < src.Size; off += chunk {
			plan = append(plan, copyPart{src, off, min(chunk, src.Size-off)})
		}
	}
	if len(plan) > maxParts {
		return objstore.Info{}, fmt.Errorf("%d parts, more than %d", len(plan), maxParts)
	}

	obj := s.prefix + dst
	upload, err := s.core.NewMultipartUpload(ctx, s.bucket, obj, putOptions(opts))
	if err != nil {
		return objstore.Info{}, err
	}
	committed := false
	defer func() {
		if !committed {
			s.abort(ctx, obj, upload)
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	parts := make([]minio.CompletePart, len(plan))
	for i, p := range plan {
		g.Go(func() error {
			// Copy only the version that was measured.
			cond := map[string]string{"x-amz-copy-source-if-match": `"` + p.src.ETag + `"`}
			cp, err := s.core.CopyObjectPart(gctx, s.bucket, s.prefix+p.src.Key, s.bucket, obj, upload, i+1, p.off, p.length, cond)
			if resp, _ := s3Error(err); err != nil && isPreconditionFailed(resp) {
				return fmt.Errorf("source %s changed during compose", p.src.Key)
			}
			if err != nil {
				return fmt.Errorf("copy %s into part %d: %w", p.src.Key, i+1, err)
			}
			parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: cp.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return objstore.Info{}, err
	}
	ui, err := s.complete(ctx, obj, upload, parts, opts)
	if err != nil {
		return objstore.Info{}, err
	}
	committed = true
	return infoOf(dst, total, ui), nil
}

// body wraps the caller's reader for an upload. It stops at ctx's end, and
// when size >= 0 insists on exactly size bytes: it makes sure the reader is
// exhausted before handing over the last byte, so that an over-long body fails
// the request instead of being silently truncated. Its first error sticks.
//
// The HTTP client may still read a request body after the response arrived
// (see http.RoundTripper), so Put detaches the body before returning: from
// then on it no longer touches the caller's reader.
type body struct {
	ctx  context.Context
	r    io.Reader
	size int64 // -1 if unknown

	mu       sync.Mutex
	n        int64 // bytes handed over
	err      error // sticky: io.EOF or the failure
	detached bool
}

var errDetached = errors.New("miniostore: read of a finished upload's body")

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.detached {
		return 0, errDetached
	}
	return b.read(p)
}

// detach waits for a Read in progress, makes later ones fail, and returns the
// error that stopped the body, if it was not io.EOF.
func (b *body) detach() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.detached = true
	if b.err == nil || b.err == io.EOF {
		return nil
	}
	return b.err
}

func (b *body) read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if err := b.ctx.Err(); err != nil {
		return b.fail(err)
	}
	if b.size >= 0 {
		if b.n == b.size {
			return b.fail(b.expectEOF())
		}
		p = p[:min(int64(len(p)), b.size-b.n)]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF && b.size >= 0 && b.n < b.size:
		return b.fail(fmt.Errorf("%w: body ended after %d of %d bytes", objstore.ErrShortWrite, b.n, b.size))
	case err == io.EOF:
		b.err = io.EOF
		return n, io.EOF
	case err != nil:
		return b.fail(fmt.Errorf("read body: %w", err))
	}
	if b.size >= 0 && b.n == b.size {
		if err := b.ctx.Err(); err != nil {
			return b.fail(err)
		}
		if err := b.expectEOF(); err != io.EOF {
			return b.fail(err) // withhold the last bytes: the request must not complete
		}
		b.err = io.EOF
	}
	return n, nil
}

func (b *body) fail(err error) (int, error) {
	b.err = err
	return 0, err
}

// expectEOF returns io.EOF if the reader has nothing left.
func (b *body) expectEOF() error {
	var one [1]byte
	n, err := io.ReadFull(b.r, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w: body longer than %d bytes", objstore.ErrShortWrite, b.size)
	case err == io.EOF:
		return io.EOF
	default:
		return fmt.Errorf("read body: %w", err)
	}
}

// onlyReader hides all methods but Read, so that minio-go cannot seek (and
// retry) a body.
type onlyReader struct{ io.Reader }
