package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
	"github.com/lantern-mlops/lantern/registry/client"
)

// partCounter counts, on the server, the upload parts received by number
// and outcome.
type partCounter struct {
	mu       sync.Mutex
	ok       map[int]int
	failed   map[int]int
	afterOK  func(total int)
	totalOK  int
	requests []string
}

var partPath = regexp.MustCompile(`^/api/v1/uploads/[0-9a-f]+/parts/(\d+)$`)

func newPartCounter() *partCounter {
	return &partCounter{ok: map[int]int{}, failed: map[int]int{}}
}

func (c *partCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests = append(c.requests, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		m := partPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodPut || m == nil {
			next.ServeHTTP(w, r)
			return
		}
		n, _ := strconv.Atoi(m[1])
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		c.mu.Lock()
		var hook func(int)
		if rec.status == 200 {
			c.ok[n]++
			c.totalOK++
			hook = c.afterOK
		} else {
			c.failed[n]++
		}
		total := c.totalOK
		c.mu.Unlock()
		if hook != nil {
			hook(total)
		}
	})
}

func (c *partCounter) counts() (ok, failed map[int]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, failed = map[int]int{}, map[int]int{}
	for k, v := range c.ok {
		ok[k] = v
	}
	for k, v := range c.failed {
		failed[k] = v
	}
	return ok, failed
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// flakyProxy forwards to the registry and can break requests: cut(r) says
// after how many bytes of the request body (and, for responses, of the
// response body) the connection is dropped; -1 leaves it alone.
type flakyProxy struct {
	*httptest.Server
	mu      sync.Mutex
	cutReq  func(r *http.Request) int64
	cutResp func(r *http.Request) int64
	ranges  []string
}

var errCut = errors.New("proxy: link dropped")

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	u, _ := url.Parse(target)
	p := &flakyProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// Drop the client's connection, as a dying link would.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		cut := p.cutResp
		p.mu.Unlock()
		if cut != nil {
			if n := cut(resp.Request); n >= 0 {
				resp.Body = &cutReader{r: resp.Body, left: n}
			}
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if rg := r.Header.Get("Range"); rg != "" {
			p.ranges = append(p.ranges, rg)
		}
		cut := p.cutReq
		p.mu.Unlock()
		if cut != nil {
			switch n := cut(r); {
			case n == 0:
				rp.ErrorHandler(w, r, errCut)
				return
			case n > 0:
				r.Body = &cutReader{r: r.Body, left: n}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.CloseClientConnections()
		p.Close()
	})
	return p
}

type cutReader struct {
	r    io.ReadCloser
	left int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

const bigSize = 70 << 20 // 5 parts of 16 MiB: 4 full and one of 6 MiB

// TestResumableRetriesAPart: the link drops in the middle of part 2; the
// part is sent again and the registration completes.
func TestResumableRetriesAPart(t *testing.T) {
	if testing.Short() {
		t.Skip("70 MiB upload")
	}
	parts := newPartCounter()
	s := apitest.Start(t, &apitest.Options{Wrap: parts.wrap})
	proxy := newFlakyProxy(t, s.URL)
	var once sync.Once
	proxy.cutReq = func(r *http.Request) int64 {
		cut := int64(-1)
		if m := partPath.FindStringSubmatch(r.URL.Path); m != nil && m[1] == "2" {
			once.Do(func() { cut = 8 << 20 })
		}
		return cut
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	apitest.WriteModel(t, path, bigSize)
	c := newClient(t, proxy.URL, s.Writer)
	var last, total int64
	start := time.Now()
	v, err := c.Register(context.Background(), client.RegisterRequest{
		Name: "big", CreateModel: true, Aliases: []string{"candidate"},
		Files:    []client.File{{Path: "model.onnx", Local: path}},
		Progress: func(sent, t int64) { last, total = sent, t },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("70 MiB through a flaky proxy in %s", time.Since(start).Round(time.Millisecond))
	if v.Artifacts[0].Size != bigSize || v.Artifacts[0].SHA256 != sha256File(t, path) || v.Signature == nil || v.Aliases[0] != "candidate" {
		t.Fatalf("version %+v", v)
	}
	if last != bigSize || total != bigSize {
		t.Fatalf("progress ended at %d of %d", last, total)
	}
	ok, failed := parts.counts()
	for n := 1; n <= 5; n++ {
		if ok[n] != 1 {
			t.Errorf("part %d stored %d times", n, ok[n])
		}
	}
	if failed[2] != 1 || len(failed) != 1 {
		t.Errorf("failed parts %v; want part 2 once (the server saw it break off)", failed)
	}
	// The upload is gone once used.
	if _, err := s.Service.GetUpload(context.Background(), "000000000000000000000000"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatal(err)
	}
}

// TestResumableAcrossRuns: a first run is cancelled after two parts; a
// second run of the same registration sends only the parts still missing.
func TestResumableAcrossRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("70 MiB upload")
	}
	parts := newPartCounter()
	s := apitest.Start(t, &apitest.Options{Wrap: parts.wrap})
	path := filepath.Join(t.TempDir(), "model.onnx")
	apitest.WriteModel(t, path, bigSize)
	stateDir := t.TempDir()
	req := client.RegisterRequest{Name: "big", CreateModel: true, Files: []client.File{{Path: "model.onnx", Local: path}}}

	ctx, cancel := context.WithCancel(context.Background())
	parts.afterOK = func(total int) {
		if total == 2 {
			cancel() // the laptop lid closes
		}
	}
	c1 := newClient(t, s.URL, s.Writer, client.WithUploadStateDir(stateDir))
	if _, err := c1.Register(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	ok, _ := parts.counts()
	if ok[1] != 1 || ok[2] != 1 || ok[3]+ok[4]+ok[5] != 0 {
		t.Fatalf("first run stored parts %v", ok)
	}
	states, _ := filepath.Glob(filepath.Join(stateDir, "*.json"))
	if len(states) != 1 {
		t.Fatalf("state files %v", states)
	}

	parts.afterOK = nil
	var first int64 = -1
	req.Progress = func(sent, total int64) {
		if first < 0 {
			first = sent
		}
	}
	c2 := newClient(t, s.URL, s.Writer, client.WithUploadStateDir(stateDir))
	v, err := c2.Register(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if v.Artifacts[0].SHA256 != sha256File(t, path) {
		t.Fatalf("artifact %+v", v.Artifacts[0])
	}
	ok, _ = parts.counts()
	for n := 1; n <= 5; n++ {
		if ok[n] != 1 {
			t.Errorf("part %d stored %d times over both runs (%v)", n, ok[n], ok)
		}
	}
	// The second run reported the two parts already there at once.
	if first != 32<<20 {
		t.Errorf("second run started at %d bytes, want %d", first, 32<<20)
	}
	if states, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(states) != 0 {
		t.Errorf("state files left: %v", states)
	}
}
