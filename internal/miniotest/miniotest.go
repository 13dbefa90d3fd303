package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the MinIO server version that scripts/tools.sh builds and caches.
// Keep the two in sync.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Region is the region every server reports.
const Region = "us-east-1"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	logTail      = 64 << 10
)

// Server is a running MinIO server. Its fields must not be modified.
type Server struct {
	// Endpoint is host:port of the S3 API, without a scheme (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the root credentials, random per server.
	AccessKey string
	SecretKey string

	bin     string
	dir     string // holds data/, certs/, home/ and minio.log
	logPath string
	console string // host:port of the (unused) console listener
	client  *minio.Client

	mu   sync.Mutex
	proc *process // nil once stopped or killed
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// shared is the per-binary server that Main enables and Start hands out.
var shared struct {
	enabled atomic.Bool
	once    sync.Once
	srv     *Server
	err     error
}

// Main runs the tests of a package with one shared MinIO server, started by the
// first Start, and stops it before exiting. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with its own clean-up: it
// returns the tests' exit code.
func Run(m *testing.M) int {
	shared.enabled.Store(true)
	code := m.Run()
	if s := shared.srv; s != nil {
		s.stop()
		_ = os.RemoveAll(s.dir)
	}
	return code
}

// Start returns a running server: the package's shared one when the package
// uses Main, else a new one stopped at the end of t. It skips t when the
// MinIO binary is missing (fails it when LANTERN_INTEGRATION=1). Tests sharing
// a server must isolate themselves with NewBucket and must not Kill it.
func Start(t testing.TB) *Server {
	t.Helper()
	if !shared.enabled.Load() {
		return StartDedicated(t)
	}
	bin := binary(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "lantern-miniotest-*")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = launch(bin, dir)
		if shared.err != nil {
			_ = os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("miniotest: start shared server: %v", shared.err)
	}
	s := shared.srv
	t.Cleanup(func() { s.logOnFailure(t) })
	return s
}

// StartDedicated starts a server for t alone and stops it when t ends. Use it
// for tests that Kill or Restart the server.
func StartDedicated(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	s, err := launch(bin, t.TempDir())
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	t.Cleanup(func() {
		s.logOnFailure(t)
		s.stop()
	})
	return s
}

// Binary returns the path of the MinIO server binary: $LANTERN_MINIO_BIN, else
// the copy cached by scripts/tools.sh.
func Binary() (string, error) {
	if p := os.Getenv("LANTERN_MINIO_BIN"); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("LANTERN_MINIO_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	cache := os.Getenv("LANTERN_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locate cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "lantern")
	}
	p := filepath.Join(cache, "tools", "minio-"+Version, "minio")
	if err := executable(p); err != nil {
		return "", err
	}
	return p, nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// binary returns the MinIO binary or ends t: Skip normally, Fatal when
// LANTERN_INTEGRATION=1 (as `make test` sets it), so CI cannot silently skip.
func binary(t testing.TB) string {
	t.Helper()
	p, err := Binary()
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("MinIO server binary not found (%v); build it with `scripts/tools.sh minio` "+
		"or run `make test`, or point LANTERN_MINIO_BIN at one", err)
	if os.Getenv("LANTERN_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// launch starts a server with fresh credentials in dir, retrying on another
// port when the one it picked was taken in the meantime.
func launch(bin, dir string) (*Server, error) {
	s := &Server{
		AccessKey: "lantern-" + randomHex(6),
		SecretKey: randomHex(20),
		bin:       bin,
		dir:       dir,
		logPath:   filepath.Join(dir, "minio.log"),
	}
	for _, sub := range []string{"data", "certs", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var api, console string
		if api, err = freeAddr(); err != nil {
			return nil, err
		}
		if console, err = freeAddr(); err != nil {
			return nil, err
		}
		s.Endpoint, s.console = api, console
		if err = s.start(); err == nil {
			return s, nil
		}
		if !strings.Contains(s.logTail(), "already in use") {
			break
		}
	}
	return nil, fmt.Errorf("start %s: %w\n--- minio log ---\n%s", bin, err, s.logTail())
}

// start runs the process on s's address and waits until it serves S3.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== miniotest: starting on %s at %s\n", s.Endpoint, time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command(s.bin, "server",
		"--address", s.Endpoint,
		"--console-address", s.console,
		"--certs-dir", filepath.Join(s.dir, "certs"),
		filepath.Join(s.dir, "data"))
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcAttr(cmd)

	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The process is started from a goroutine locked to its thread, and that
		// thread lives until the process exits: Linux sends the parent-death
		// signal when the thread that forked the child exits, not the process.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.stop()
		return err
	}
	return nil
}

func (s *Server) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MINIO_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+filepath.Join(s.dir, "home"),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+Region,
		"MINIO_CI_CD=1", // allows data on the root disk, as in containers
	)
}

// waitReady polls the liveness endpoint, then the S3 API, until both answer.
func (s *Server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: Region,
	})
	if err != nil {
		return err
	}
	live := "http://" + s.Endpoint + "/minio/health/live"
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if err = probe(ctx, hc, live); err == nil {
			_, err = client.ListBuckets(ctx)
		}
		if err == nil {
			s.client = client
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("minio exited during startup: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("minio not ready after %v: %w", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// stop terminates the process gracefully, then forcibly after stopTimeout.
func (s *Server) stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill stops the server abruptly (SIGKILL), as a crash would. Only use it on
// a server from StartDedicated.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart stops the server if it is running and starts it again on the same
// address with the same credentials and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err = s.start(); err == nil {
			return
		}
		if time.Now().After(deadline) || !strings.Contains(s.logTail(), "already in use") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("miniotest: restart: %v\n--- minio log ---\n%s", err, s.logTail())
}

// Client returns a minio-go client with the root credentials.
func (s *Server) Client() *minio.Client { return s.client }

var bucketSeq atomic.Int64

// NewBucket creates an empty bucket for t and removes it, with its contents,
// when t ends.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName(t.Name(), bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("miniotest: make bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.client.RemoveBucketWithOptions(ctx, name, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return name
}

// bucketName makes a valid, unique S3 bucket name that still says which test
// it belongs to.
func bucketName(test string, seq int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	suffix := fmt.Sprintf("-%d-%s", seq, randomHex(3))
	stem := strings.Trim(b.String(), "-")
	if max := 63 - len(suffix) - 1; len(stem) > max {
		stem = strings.Trim(stem[len(stem)-max:], "-")
	}
	return "t" + stem + suffix
}

// LogTail returns the end of the server's log.
func (s *Server) LogTail() string { return s.logTail() }

func (s *Server) logTail() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTail {
		_, _ = f.Seek(-logTail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func (s *Server) logOnFailure(t testing.TB) {
	if t.Failed() {
		t.Logf("miniotest: server %s log (%s):\n%s", s.Endpoint, s.logPath, s.logTail())
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.Join(errors.New("miniotest: random"), err))
	}
	return hex.EncodeToString(b)
}
