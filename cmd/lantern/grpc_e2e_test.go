package main

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

// tool returns the path of a pinned external client from `make test`'s
// environment, skipping (or failing under LANTERN_INTEGRATION=1) without it.
func tool(t *testing.T, env string) string {
	p := os.Getenv(env)
	if p == "" {
		if os.Getenv("LANTERN_INTEGRATION") == "1" {
			t.Fatalf("%s is not set: run the tests with make test", env)
		}
		t.Skipf("%s not set (make test installs it)", env)
	}
	return p
}

func registerDemand(t *testing.T, p *proc) {
	t.Helper()
	out, err := exec.Command(binary, "models", "register", "--registry", p.url(""), "--name", "rutf-demand", "--alias", "production",
		"--file", writeTemp(t, onnxtest.Marshal(onnxtest.LinearRegressor([]string{"population", "admissions"}, []float32{0.5, 2}, 10)))).CombinedOutput()
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.url("/v2/models/rutf-demand/ready"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("model not served:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStandardGRPCClients: grpcurl (through server reflection) and
// grpc-health-probe work against lantern with no .proto file and no setup.
func TestStandardGRPCClients(t *testing.T) {
	grpcurl := tool(t, "LANTERN_GRPCURL_BIN")
	probe := tool(t, "LANTERN_GRPC_HEALTH_PROBE_BIN")
	p := start(t, nil, "--data-dir", t.TempDir())
	registerDemand(t, p)

	out, err := exec.Command(grpcurl, "-plaintext", p.grpcAddr, "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "inference.GRPCInferenceService") || !strings.Contains(string(out), "grpc.health.v1.Health") {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	req := `{"model_name":"rutf-demand","inputs":[{"name":"features","datatype":"FP32","shape":[1,2],"contents":{"fp32_contents":[100,20]}}]}`
	out, err = exec.Command(grpcurl, "-plaintext", "-d", req, p.grpcAddr, "inference.GRPCInferenceService/ModelInfer").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"modelVersion": "1"`) || !strings.Contains(string(out), "100") {
		t.Fatalf("grpcurl ModelInfer: %v\n%s", err, out) // 0.5*100 + 2*20 + 10 = 100
	}
	out, err = exec.Command(grpcurl, "-plaintext", "-d", `{"model_name":"nope"}`, p.grpcAddr, "inference.GRPCInferenceService/ModelInfer").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "NotFound") {
		t.Fatalf("unknown model over gRPC: %v\n%s", err, out)
	}
	for _, svc := range []string{"", "rutf-demand"} {
		if out, err := exec.Command(probe, "-addr="+p.grpcAddr, "-service="+svc).CombinedOutput(); err != nil {
			t.Fatalf("grpc-health-probe %q: %v\n%s", svc, err, out)
		}
	}
	if err := exec.Command(probe, "-addr="+p.grpcAddr, "-service=no-such-model").Run(); err == nil {
		t.Fatal("health probe of an unknown model succeeded")
	}
}

// TestGracefulDrain: SIGTERM while requests are in flight (held 300 ms in
// the dynamic-batching queue): every one of them gets its answer, the
// server reports not ready during the shutdown delay, and exits 0.
func TestGracefulDrain(t *testing.T) {
	p := start(t, nil, "--data-dir", t.TempDir(), "--drain-timeout", "10s", "--shutdown-delay", "500ms",
		"--batch-max-size", "64", "--batch-max-delay", "300ms")
	registerDemand(t, p)
	body := `{"inputs":[{"name":"features","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`
	const n = 16
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := http.Post(p.url("/v2/models/rutf-demand/infer"), "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("in-flight request failed: %v", err)
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(100 * time.Millisecond) // the requests are waiting in the batcher
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if resp, err := http.Get(p.url("/readyz")); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during the shutdown delay: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("in-flight request answered %d", c)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lantern up exited with %v:\n%s", err, p.log)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("lantern up did not exit within 15 s of SIGTERM")
	}
}

// startServe runs `lantern serve` against a registry and waits until ready.
func startServe(t *testing.T, registry, dataDir string) *proc {
	t.Helper()
	p := &proc{addr: freeAddr(t), grpcAddr: freeAddr(t), log: &syncBuffer{}}
	p.cmd = exec.Command(binary, "serve", "--insecure", "--registry", registry, "--model", "rutf-demand@production",
		"--data-dir", dataDir, "--http-addr", p.addr, "--grpc-addr", p.grpcAddr, "--log-format", "json")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lantern serve not ready:\n%s", p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func infer(t *testing.T, p *proc) int {
	t.Helper()
	resp, err := http.Post(p.url("/v2/models/rutf-demand/infer"), "application/json",
		strings.NewReader(`{"inputs":[{"name":"features","shape":[1,2],"datatype":"FP32","data":[100,20]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeOffline: lantern serve keeps serving when the registry goes
// away, and a restarted lantern serve starts from its cache while the
// registry is still down, and says so.
func TestServeOffline(t *testing.T) {
	reg := start(t, nil, "--data-dir", t.TempDir())
	registerDemand(t, reg)
	cache := t.TempDir()
	s := startServe(t, reg.url(""), cache)
	if st := infer(t, s); st != 200 {
		t.Fatalf("infer: %d", st)
	}
	reg.kill()
	for range 20 {
		if st := infer(t, s); st != 200 {
			t.Fatalf("infer without the registry: %d", st)
		}
	}
	s.kill()
	s2 := startServe(t, reg.url(""), cache)
	if st := infer(t, s2); st != 200 {
		t.Fatalf("infer after an offline start: %d\n%s", st, s2.log)
	}
	if !strings.Contains(s2.log.String(), "registry unreachable at start") {
		t.Fatalf("the offline start is not reported:\n%s", s2.log)
	}
}
