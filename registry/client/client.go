package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// Defaults of the options.
const (
	// DefaultTimeout bounds each small JSON call (not file transfers).
	DefaultTimeout = time.Minute
	// DefaultStallTimeout cancels a transfer that makes no progress that long.
	DefaultStallTimeout = 2 * time.Minute
	// DefaultResumableThreshold: larger files use resumable uploads.
	DefaultResumableThreshold = 64 << 20
	// DefaultPartSize is the size of resumable upload parts.
	DefaultPartSize = 16 << 20
	// DefaultRetries is how many times a failed part, download or poll is retried.
	DefaultRetries = 8
)

// Client talks to one registry. Create it with New.
type Client struct {
	base      *url.URL
	token     string
	hc        *http.Client
	userAgent string

	timeout   time.Duration
	stall     time.Duration
	threshold int64
	partSize  int64
	stateDir  string
	retries   int
	backoff   time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client. Give it no Timeout: that would
// cut long transfers; the Client bounds calls itself.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each small JSON call (default one minute).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithStallTimeout cancels an upload or download that moves no byte for d
// (default two minutes); the transfer is then retried or resumed.
func WithStallTimeout(d time.Duration) Option { return func(c *Client) { c.stall = d } }

// WithResumableThreshold sets the file size above which Register uses
// resumable uploads (default 64 MiB).
func WithResumableThreshold(n int64) Option { return func(c *Client) { c.threshold = n } }

// WithPartSize sets the part size of resumable uploads (default 16 MiB; at least 5 MiB).
func WithPartSize(n int64) Option { return func(c *Client) { c.partSize = n } }

// WithUploadStateDir sets where the ids of resumable uploads are remembered
// (default <user cache dir>/lantern/uploads).
func WithUploadStateDir(dir string) Option { return func(c *Client) { c.stateDir = dir } }

// WithRetry sets how often a failed part, download or poll is retried, and
// the first backoff, which doubles up to 30 s (defaults 8 and 500 ms).
func WithRetry(retries int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = retries, backoff }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the registry at baseURL ("http://host:8080", with
// a path if the registry is behind a proxy under one). token may be empty
// for registries that allow anonymous reads.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: registry address %q must be an http:// or https:// URL such as http://127.0.0.1:8080", errkind.Invalid, baseURL)
	}
	c := &Client{
		base: u, token: token, userAgent: "lantern/" + buildinfo.String(),
		timeout: DefaultTimeout, stall: DefaultStallTimeout,
		threshold: DefaultResumableThreshold, partSize: DefaultPartSize,
		retries: DefaultRetries, backoff: 500 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = newHTTPClient()
	}
	if c.stateDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			c.stateDir = filepath.Join(dir, "lantern", "uploads")
		}
	}
	return c, nil
}

// newHTTPClient has timeouts on everything but the exchange itself: dialing,
// TLS, an idle pool, and a short wait for "100 Continue" so a registration
// refused at once (bad token, unknown model) sends no file bytes. Transfers
// are bounded by the stall watchdog, JSON calls by a per-call deadline.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: 2 * time.Second,
	}}
}

// URL is the registry's base address.
func (c *Client) URL() string { return c.base.String() }

// endpoint builds the URL of an API path made of already-escaped segments.
func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.RawPath = ""
	u.Path = ""
	s := u.String() + c.base.EscapedPath() + wire.Prefix + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// seg escapes one path segment. "." and ".." are escaped too, or HTTP
// path cleaning would remove them (a model may be named "..").
func seg(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// segs escapes a slash-separated path segment by segment.
func segs(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = seg(s)
	}
	return strings.Join(parts, "/")
}

func (c *Client) newRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errkind.Invalid, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.userAgent)
	return req, nil
}

// call sends a JSON request and decodes a JSON answer into out (if not nil).
// GETs are retried on network errors and 5xx answers.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any, hdr ...string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%w: encode request: %v", errkind.Invalid, err)
		}
	}
	// Reads are retried a little (a registry restarting, a proxy hiccup);
	// a person waiting at the command line should hear soon that it is down.
	attempts := 1
	if method == http.MethodGet {
		attempts += min(c.retries, 2)
	}
	var err error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			if werr := sleep(ctx, c.delay(attempt-1)); werr != nil {
				return werr
			}
		}
		err = c.callOnce(ctx, method, path, q, body, out, hdr)
		if err == nil || !retryable(ctx, err) {
			return err
		}
	}
	return err
}

func (c *Client) callOnce(ctx context.Context, method, path string, q url.Values, body []byte, out any, hdr []string) error {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := c.newRequest(ctx, method, c.endpoint(path, q), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] != "" {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.netErr(ctx, err)
	}
	defer resp.Body.Close()
	return c.decode(ctx, resp, out)
}

// decode reads a JSON answer into out, or turns an error answer into *Error.
func (c *Client) decode(ctx context.Context, resp *http.Response, out any) error {
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return c.netErr(ctx, err)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return c.netErr(ctx, fmt.Errorf("reading the answer: %w", err))
		}
		return fmt.Errorf("registry answer to %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// Error is an error answer of the registry. It wraps the errkind sentinel
// of its code, so errors.Is(err, registry.ErrNotFound) works.
type Error struct {
	// Status is the HTTP status, Code the API error code (wire.Code*).
	Status    int
	Code      string
	Message   string
	RequestID string
	kind      error
}

func (e *Error) Error() string {
	if e.Code == wire.CodeInternal && e.RequestID != "" && !strings.Contains(e.Message, e.RequestID) {
		return e.Message + " (request id " + e.RequestID + ")"
	}
	return e.Message
}

// Unwrap returns the errkind sentinel of the error's code (nil if internal).
func (e *Error) Unwrap() error { return e.kind }

func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body wire.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		return &Error{
			Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message,
			RequestID: body.Error.RequestID, kind: wire.Kind(body.Error.Code, resp.StatusCode),
		}
	}
	// Not a Lantern answer: a proxy, a load balancer, or not a registry at all.
	msg := fmt.Sprintf("%s %s answered %s", resp.Request.Method, resp.Request.URL.Redacted(), resp.Status)
	if s := strings.TrimSpace(string(b)); s != "" && len(s) < 200 && !strings.ContainsAny(s, "<\n") {
		msg += ": " + s
	}
	code := wire.CodeInternal
	if resp.StatusCode == http.StatusNotFound {
		msg += " (is this a Lantern registry?)"
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: msg, RequestID: resp.Header.Get(wire.HeaderRequestID), kind: wire.KindOfStatus(resp.StatusCode)}
}

// UnreachableError reports that the registry could not be reached, or the
// connection broke. It wraps errkind.Unavailable and the network error.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the registry at %s: %v", e.URL, e.Err)
}

// Unwrap returns errkind.Unavailable and the cause.
func (e *UnreachableError) Unwrap() []error { return []error{errkind.Unavailable, e.Err} }

// errStalled is the cause of a transfer cancelled by the stall watchdog.
var errStalled = errors.New("the transfer stalled")

// netErr classifies a transport error: the caller's cancellation stays
// itself; everything else is an UnreachableError.
func (c *Client) netErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		switch {
		case errors.Is(cause, errStalled):
			return &UnreachableError{URL: c.base.Redacted(), Err: fmt.Errorf("no progress for %s: %w", c.stall, errStalled)}
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("the registry at %s did not answer in time: %w", c.base.Redacted(), ctx.Err())
		case cause != nil && cause != ctx.Err():
			return fmt.Errorf("%w: %v", ctx.Err(), cause) // "interrupt signal received"
		}
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &UnreachableError{URL: c.base.Redacted(), Err: err}
}

// retryable reports whether a failed call may succeed if repeated.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return e.Code != wire.CodeDataLoss
		}
	}
	return false
}

// delay is the backoff before retry number attempt (0-based), with jitter.
func (c *Client) delay(attempt int) time.Duration {
	d := c.backoff
	for i := 0; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	d = min(d, 30*time.Second)
	return d/2 + time.Duration(time.Now().UnixNano()%int64(d/2+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// watchdog cancels a transfer's context when kick is not called for d.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

func newWatchdog(ctx context.Context, d time.Duration) (context.Context, *watchdog, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if d <= 0 {
		return ctx, &watchdog{}, func() { cancel(nil) }
	}
	w := &watchdog{d: d, t: time.AfterFunc(d, func() { cancel(errStalled) })}
	return ctx, w, func() { w.stop(); cancel(nil) }
}

func (w *watchdog) kick() {
	if w.t != nil {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

// kickReader kicks a watchdog and reports progress on every read.
type kickReader struct {
	r    io.Reader
	w    *watchdog
	n    int64
	step func(n int64)
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.w.kick()
		k.n += int64(n)
		if k.step != nil {
			k.step(int64(n))
		}
	}
	return n, err
}
