package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// CreateUpload starts a resumable upload of a file for a model. partSize 0
// means the server's default (16 MiB).
func (c *Client) CreateUpload(ctx context.Context, req wire.CreateUploadRequest) (*wire.Upload, error) {
	var u wire.Upload
	if err := c.call(ctx, http.MethodPost, "/uploads", nil, req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUpload returns an upload with the parts received and missing.
func (c *Client) GetUpload(ctx context.Context, id string) (*wire.Upload, error) {
	var u wire.Upload
	if err := c.call(ctx, http.MethodGet, "/uploads/"+seg(id), nil, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// AbortUpload deletes an upload and the parts received.
func (c *Client) AbortUpload(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/uploads/"+seg(id), nil, nil, nil)
}

// PutUploadPart sends part n (1-based) of size bytes, once: it is not
// retried (Register retries parts). A transfer that stalls is cancelled.
func (c *Client) PutUploadPart(ctx context.Context, id string, n int, body io.Reader, size int64) (*registry.UploadPart, error) {
	return c.putPart(ctx, id, n, body, size, nil)
}

func (c *Client) putPart(ctx context.Context, id string, n int, body io.Reader, size int64, step func(int64)) (*registry.UploadPart, error) {
	ctx, dog, cancel := newWatchdog(ctx, c.stall)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodPut, c.endpoint("/uploads/"+seg(id)+"/parts/"+strconv.Itoa(n), nil),
		&kickReader{r: body, w: dog, step: step})
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.netErr(ctx, err)
	}
	defer resp.Body.Close()
	// The body is sent; the server hashes and stores it before answering.
	dog.stop()
	var p registry.UploadPart
	if err := c.decode(ctx, resp, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// uploaded is a finished resumable upload.
type uploaded struct {
	id, sha256 string
	// state is the file remembering the upload, removed once it is used.
	state string
}

// uploadResumable sends f as a resumable upload, resuming the one an earlier
// run left (remembered in the state directory under the file's sha256) and
// sending only the parts the server does not have.
func (c *Client) uploadResumable(ctx context.Context, model string, f File, prog *progress) (*uploaded, error) {
	sum, partSums, err := hashFile(ctx, f, c.partSize)
	if err != nil {
		return nil, err
	}
	statePath := c.statePath(sum, model)
	var u *wire.Upload
	if st, ok := readState(statePath); ok && st.Registry == c.base.String() && st.Model == model && st.Size == f.Size && st.SHA256 == sum {
		u, err = c.GetUpload(ctx, st.UploadID)
		if errors.Is(err, registry.ErrNotFound) {
			u, err = nil, nil // used, aborted or expired: start again
		}
		if err != nil {
			return nil, err
		}
		if u != nil && u.PartSize != c.partSize {
			if sum, partSums, err = hashFile(ctx, f, u.PartSize); err != nil {
				return nil, err
			}
		}
	}
	if u == nil {
		u, err = c.CreateUpload(ctx, wire.CreateUploadRequest{Model: model, Size: f.Size, PartSize: c.partSize, SHA256: sum})
		if err != nil {
			return nil, err
		}
		c.writeState(statePath, uploadState{
			UploadID: u.ID, Registry: c.base.String(), Model: model, Path: f.Path, Local: f.Local,
			Size: f.Size, PartSize: u.PartSize, SHA256: sum, Created: time.Now().UTC(),
		})
	}
	if len(partSums) != u.PartCount {
		return nil, fmt.Errorf("upload %s has %d parts, the file makes %d", u.ID, u.PartCount, len(partSums))
	}
	// Parts the server holds with the right content count as sent.
	have := map[int]bool{}
	var there int64
	for _, p := range u.Parts {
		if p.Number >= 1 && p.Number <= len(partSums) && p.SHA256 == partSums[p.Number-1] {
			have[p.Number] = true
			there += p.Size
		}
	}
	if there > 0 {
		prog.add(there)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ra, _ := rc.(io.ReaderAt)
	for n := 1; n <= u.PartCount; n++ {
		if have[n] {
			continue
		}
		off := int64(n-1) * u.PartSize
		size := min(u.PartSize, f.Size-off)
		if err := c.sendPart(ctx, u.ID, n, f, ra, off, size, partSums[n-1], prog); err != nil {
			return nil, err
		}
	}
	return &uploaded{id: u.ID, sha256: sum, state: statePath}, nil
}

// sendPart sends one part, retrying with backoff on network errors, server
// errors and a part that arrives with the wrong sha256.
func (c *Client) sendPart(ctx context.Context, id string, n int, f File, ra io.ReaderAt, off, size int64, want string, prog *progress) error {
	for attempt := 0; ; attempt++ {
		var sent int64
		step := func(k int64) { sent += k; prog.add(k) }
		body, closeBody, err := partReader(f, ra, off, size)
		if err != nil {
			return err
		}
		p, err := c.putPart(ctx, id, n, body, size, step)
		closeBody()
		retry := retryable(ctx, err)
		if err == nil && p.SHA256 != want {
			err = fmt.Errorf("part %d arrived with sha256 %s, sent %s (corrupted on the way)", n, p.SHA256, want)
			retry = true
		}
		if err == nil {
			return nil
		}
		prog.add(-sent)
		if !retry || attempt >= c.retries {
			return fmt.Errorf("part %d: %w", n, err)
		}
		if err := sleep(ctx, c.delay(attempt)); err != nil {
			return err
		}
	}
}

// partReader reads size bytes at off, with ReaderAt if there is one, or by
// reopening the file and skipping.
func partReader(f File, ra io.ReaderAt, off, size int64) (io.Reader, func(), error) {
	if ra != nil {
		return io.NewSectionReader(ra, off, size), func() {}, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	return io.LimitReader(rc, size), func() { rc.Close() }, nil
}

// uploadState remembers a resumable upload across runs.
type uploadState struct {
	UploadID string    `json:"upload_id"`
	Registry string    `json:"registry"`
	Model    string    `json:"model"`
	Path     string    `json:"path"`
	Local    string    `json:"local,omitempty"`
	Size     int64     `json:"size"`
	PartSize int64     `json:"part_size"`
	SHA256   string    `json:"sha256"`
	Created  time.Time `json:"created"`
}

// statePath names the state file of a file (by its sha256) sent to a model
// of this registry; "" when there is no state directory.
func (c *Client) statePath(sum, model string) string {
	if c.stateDir == "" {
		return ""
	}
	h := sha256.Sum256([]byte(c.base.String() + "\x00" + model))
	return filepath.Join(c.stateDir, sum+"-"+hex.EncodeToString(h[:4])+".json")
}

func readState(path string) (uploadState, bool) {
	var st uploadState
	if path == "" {
		return st, false
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &st) != nil || st.UploadID == "" {
		return st, false
	}
	return st, true
}

// writeState saves the state atomically. Failing to save only costs the
// ability to resume, so it is not an error.
func (c *Client) writeState(path string, st uploadState) {
	if path == "" {
		return
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, path)
}
