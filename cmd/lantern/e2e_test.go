package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

// These tests run the real binary as separate processes.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lantern-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "lantern")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lantern: %v\n%s", err, out)
		os.Exit(1)
	}
	code := miniotest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd      *exec.Cmd
	addr     string
	grpcAddr string
	log      *syncBuffer
}

// syncBuffer is the process's output; exec copies into it from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs `lantern up` with args and waits until it is ready.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: freeAddr(t), log: &syncBuffer{}}
	p.grpcAddr = freeAddr(t)
	p.cmd = exec.Command(binary, append([]string{"up", "--insecure", "--http-addr", p.addr, "--grpc-addr", p.grpcAddr, "--log-format", "json"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lantern up did not become ready:\n%s", p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url(path), r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func filesUnder(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestKilledMidUpload: the server is killed with SIGKILL while a 64 MiB
// model streams in. No version appears; after a restart the janitor removes
// the partial files once the upload's lease expires, and registering works.
func TestKilledMidUpload(t *testing.T) {
	data := t.TempDir()
	flags := []string{"--data-dir", data, "--lease-ttl", "2s", "--reconcile-interval", "500ms"}
	p := start(t, nil, flags...)
	if st, _ := p.do(t, "POST", "/api/v1/models", map[string]string{"name": "rutf-demand"}); st != 201 {
		t.Fatalf("create model: %d", st)
	}
	model := onnxtest.Marshal(onnxtest.WithPadding(onnxtest.LinearRegressor([]string{"x"}, []float32{1}, 0), 64<<20))

	// A small file completes, then the model streams slowly until the kill.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest("POST", p.url("/api/v1/models/rutf-demand/versions"), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("upload finished with %d", resp.StatusCode)
		}
		done <- err
	}()
	md, _ := mw.CreateFormField("metadata")
	md.Write([]byte(`{"description":"will be killed"}`))
	f, _ := mw.CreateFormFile("file", "profile.json")
	f.Write([]byte(`{"features":[]}`))
	f, _ = mw.CreateFormFile("file", "model.onnx")
	f.Write(model[:32<<20])
	storeDir := filepath.Join(data, "store", "registry", "artifacts")
	deadline := time.Now().Add(10 * time.Second)
	for len(filesUnder(t, storeDir)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first file never reached the store")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	pw.CloseWithError(fmt.Errorf("client gone"))
	if err := <-done; strings.Contains(fmt.Sprint(err), "finished") {
		t.Fatalf("the upload should not have finished: %v", err)
	}
	left := filesUnder(t, storeDir)
	if len(left) == 0 {
		t.Fatal("expected the completed file to be left behind by the kill")
	}

	p2 := start(t, nil, flags...)
	st, body := p2.do(t, "GET", "/api/v1/models/rutf-demand/versions", nil)
	if st != 200 || len(body["versions"].([]any)) != 0 {
		t.Fatalf("versions after the crash: %d %v", st, body)
	}
	deadline = time.Now().Add(15 * time.Second)
	for len(filesUnder(t, storeDir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("partial files not collected: %v\n%s", filesUnder(t, storeDir), p2.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Registering works after the restart and gets version 1.
	out, err := exec.Command(binary, "models", "register", "--registry", p2.url(""), "--name", "rutf-demand",
		"--file", writeTemp(t, onnxtest.Marshal(onnxtest.LinearRegressor([]string{"x"}, []float32{1}, 0)))).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "version 1") {
		t.Fatalf("register after restart: %v\n%s", err, out)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTwoProcessesOneBucket: two registry processes over one MinIO bucket;
// a version registered through one is found by the other's search within 5 s.
func TestTwoProcessesOneBucket(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	env := []string{
		"LANTERN_S3_ENDPOINT=" + srv.Endpoint, "LANTERN_S3_BUCKET=" + bucket,
		"LANTERN_S3_ACCESS_KEY=" + srv.AccessKey, "LANTERN_S3_SECRET_KEY=" + srv.SecretKey,
	}
	a := start(t, env, "--data-dir", t.TempDir())
	b := start(t, env, "--data-dir", t.TempDir())
	out, err := exec.Command(binary, "models", "register", "--registry", a.url(""), "--name", "malnutrition-risk", "--alias", "production",
		"--file", writeTemp(t, onnxtest.Marshal(onnxtest.LinearRegressor([]string{"muac"}, []float32{1}, 0)))).CombinedOutput()
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	registered := time.Now()
	for {
		st, body := b.do(t, "GET", "/api/2.0/mlflow/model-versions/search?filter="+urlQuery("name='malnutrition-risk'"), nil)
		if st == 200 && body["model_versions"] != nil {
			t.Logf("visible in the other process after %s", time.Since(registered).Round(time.Millisecond))
			break
		}
		if time.Since(registered) > 5*time.Second {
			t.Fatalf("not visible in the other process within 5 s: %d %v", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(a.log.String()+b.log.String(), srv.SecretKey) {
		t.Fatal("the S3 secret key appears in the logs")
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "=", "%3D").Replace(s)
}
