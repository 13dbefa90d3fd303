package serving

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

var features = []string{"population", "admissions", "lag1", "lag12"}

// linearModelBytes is a LinearRegressor whose prediction is intercept when
// the features are zero: versions are told apart by their intercept.
func linearModelBytes(intercept float32) []byte {
	return onnxtest.Marshal(onnxtest.LinearRegressor(features, []float32{1, 1, 1, 1}, intercept))
}

type env struct {
	reg    *registry.Service
	engine *linearEngine
	mgr    *Manager
	cache  string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	st, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(context.Background(), st, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{reg: reg, engine: &linearEngine{name: "native"}, cache: t.TempDir()}
	if _, err := reg.CreateModel(context.Background(), registry.NewModel{Name: "rutf-demand"}); err != nil {
		t.Fatal(err)
	}
	e.register(t, 100, "production")
	if opts.Targets == nil && opts.Alias == "" {
		opts.Targets = []Target{{Model: "rutf-demand", Ref: "production"}}
	}
	opts.Engines = map[string]Engine{"native": e.engine}
	opts.CacheDir = e.cache
	e.mgr, err = NewManager(LocalSource(reg), opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) register(t *testing.T, intercept float32, aliases ...string) int64 {
	t.Helper()
	ctx := context.Background()
	r, err := e.reg.BeginVersion(ctx, registry.NewVersion{Name: "rutf-demand", Aliases: aliases})
	if err != nil {
		t.Fatal(err)
	}
	b := linearModelBytes(intercept)
	if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	v, err := r.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

func request(rows int) *InferRequest {
	x := make([]float32, rows*len(features))
	return &InferRequest{Model: "rutf-demand", Inputs: []tensor.Tensor{tensor.FromFloat32("features", []int64{int64(rows), int64(len(features))}, x)}}
}

func predict(t *testing.T, b Backend) (float32, string) {
	t.Helper()
	resp, err := b.Infer(context.Background(), request(1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	return resp.Outputs[0].Float32s()[0], resp.Version
}

func TestLoadAndSwap(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.mgr.Ready() {
		t.Fatal("not ready after start")
	}
	if y, v := predict(t, e.mgr); y != 100 || v != "1" {
		t.Fatalf("prediction %v from version %s", y, v)
	}
	done := make(chan struct{})
	go func() { e.mgr.Run(ctx); close(done) }()

	// Hammer the model while the alias moves three times: no request may fail.
	var failures, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := e.mgr.Infer(context.Background(), request(2))
				if err != nil {
					failures.Add(1)
					t.Error(err)
					continue
				}
				served.Add(1)
				resp.Release()
			}
		})
	}
	for i, intercept := range []float32{200, 300, 400} {
		v := e.register(t, intercept)
		if err := e.reg.SetAlias(ctx, "rutf-demand", "production", v); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			y, _ := predict(t, e.mgr)
			if y == intercept {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("swap %d not visible in 5s (still %v)", i, y)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || served.Load() == 0 {
		t.Fatalf("%d failures, %d served", failures.Load(), served.Load())
	}
	t.Logf("%d requests during 3 swaps, 0 failures", served.Load())
	// Old versions are closed once drained.
	deadline := time.Now().Add(5 * time.Second)
	for e.engine.open.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d models still open, want 1", e.engine.open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	e.mgr.Close()
	if e.engine.open.Load() != 0 {
		t.Fatal("models left open after shutdown")
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nan := request(1)
	nan.Inputs[0].Float32s()[2] = float32(math.NaN())
	cases := []struct {
		name string
		req  *InferRequest
		kind error
		msg  string
	}{
		{"unknown model", &InferRequest{Model: "nope"}, errkind.NotFound, "not served here (served: rutf-demand)"},
		{"version not loaded", &InferRequest{Model: "rutf-demand", Version: "7"}, errkind.NotFound, "version 7"},
		{"missing input", &InferRequest{Model: "rutf-demand"}, errkind.Invalid, "missing input(s) features"},
		{"unknown input", &InferRequest{Model: "rutf-demand", Inputs: []tensor.Tensor{tensor.FromFloat32("x", []int64{1, 4}, make([]float32, 4))}}, errkind.Invalid, `no input "x"`},
		{"wrong shape", &InferRequest{Model: "rutf-demand", Inputs: []tensor.Tensor{tensor.FromFloat32("features", []int64{1, 5}, make([]float32, 5))}}, errkind.Invalid, "expected shape [-1, 4], got [1, 5]"},
		{"wrong type", &InferRequest{Model: "rutf-demand", Inputs: []tensor.Tensor{tensor.FromInt64("features", []int64{1, 4}, make([]int64, 4))}}, errkind.Invalid, "expected datatype FP32, got INT64"},
		{"short data", &InferRequest{Model: "rutf-demand", Inputs: []tensor.Tensor{tensor.FromFloat32("features", []int64{2, 4}, make([]float32, 4))}}, errkind.Invalid, "needs 32 bytes"},
		{"NaN", nan, errkind.Invalid, "element 2 is NaN"},
		{"unknown output", &InferRequest{Model: "rutf-demand", Inputs: request(1).Inputs, Outputs: []string{"label"}}, errkind.Invalid, `no output "label"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.mgr.Infer(ctx, tc.req)
			if !errors.Is(err, tc.kind) || !bytes.Contains([]byte(err.Error()), []byte(tc.msg)) {
				t.Fatalf("got %v; want %v containing %q", err, tc.kind, tc.msg)
			}
		})
	}
}

func TestOfflineStartFromCache(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	if err := e.mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A second server with the same cache whose registry is unreachable.
	down := &unreachable{}
	m2, err := NewManager(down, Options{
		Targets: []Target{{Model: "rutf-demand", Ref: "production"}}, CacheDir: e.cache,
		Engines: map[string]Engine{"native": e.engine}, StartTimeout: 200 * time.Millisecond,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !m2.Ready() || !m2.Offline() {
		t.Fatalf("ready=%v offline=%v", m2.Ready(), m2.Offline())
	}
	if y, v := predict(t, m2); y != 100 || v != "1" {
		t.Fatalf("served %v from version %s", y, v)
	}
}

type unreachable struct{}

var errDown = fmt.Errorf("dial tcp 127.0.0.1:9: connection refused")

func (unreachable) Watch(context.Context, string) ([]registry.Change, string, bool, error) {
	return nil, "", false, errDown
}
func (unreachable) Resolve(context.Context, string, string) (*registry.Version, error) {
	return nil, errDown
}
func (unreachable) ModelsWithAlias(context.Context, string) ([]string, error) { return nil, errDown }
func (unreachable) Model(context.Context, string) (*registry.Model, error) {
	return nil, errDown
}
func (unreachable) Open(context.Context, string, int64, string) (io.ReadCloser, error) {
	return nil, errDown
}

func TestDynamicBatching(t *testing.T) {
	e := newEnv(t, Options{Batching: map[string]BatchOptions{"*": {MaxBatch: 64, MaxDelay: 20 * time.Millisecond}}})
	e.engine.delay = 5 * time.Millisecond
	if err := e.mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			req := request(1)
			req.ID = fmt.Sprint(i)
			req.Inputs[0].Float32s()[0] = float32(i) // y = 100 + i
			resp, err := e.mgr.Infer(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Release()
			if y := resp.Outputs[0].Float32s()[0]; y != float32(100+i) || resp.ID != req.ID {
				t.Errorf("request %d got %v (id %s)", i, y, resp.ID)
			}
		})
	}
	wg.Wait()
	// One warm-up run, then far fewer runs than requests.
	if runs := e.engine.runs.Load() - 1; runs >= 16 {
		t.Fatalf("32 concurrent requests took %d engine runs: not batched", runs)
	} else {
		t.Logf("32 concurrent requests in %d engine runs", runs)
	}
}

func TestAliasMode(t *testing.T) {
	e := newEnv(t, Options{Alias: "production"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go e.mgr.Run(ctx)
	if got := e.mgr.Models(); len(got) != 1 {
		t.Fatalf("models %v", got)
	}
	// A new model that gets the alias is picked up through the watch.
	if _, err := e.reg.CreateModel(ctx, registry.NewModel{Name: "vaccine-demand"}); err != nil {
		t.Fatal(err)
	}
	r, _ := e.reg.BeginVersion(ctx, registry.NewVersion{Name: "vaccine-demand", Aliases: []string{"production"}})
	b := linearModelBytes(7)
	r.PutArtifact(ctx, "model.onnx", bytes.NewReader(b), int64(len(b)))
	if _, err := r.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.mgr.Models()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("new model not served: %v", e.mgr.Models())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCanaryAndShadowRouting(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go e.mgr.Run(ctx)
	v2 := e.register(t, 200)
	m, err := e.reg.StartRollout(ctx, "rutf-demand", registry.RolloutSpec{Version: v2, Steps: []float64{30, 100}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "canary loaded", func() bool { return e.mgr.Status()[0].Canary == v2 })

	// About 30% of unkeyed requests reach the canary.
	counts := map[string]int{}
	for range 2000 {
		resp, err := e.mgr.Infer(ctx, request(1))
		if err != nil {
			t.Fatal(err)
		}
		counts[resp.Version]++
		resp.Release()
	}
	if share := float64(counts["2"]) / 2000; share < 0.25 || share > 0.35 {
		t.Fatalf("canary share %.2f at weight 30 (%v)", share, counts)
	}
	// A routing key always reaches the same version; as the weight grows,
	// keys only move from stable to canary.
	before := map[string]string{}
	for k := range 200 {
		req := request(1)
		req.RoutingKey = fmt.Sprintf("district-%d", k)
		for range 3 {
			resp, err := e.mgr.Infer(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := before[req.RoutingKey]; ok && prev != resp.Version {
				t.Fatalf("key %s moved from %s to %s within a step", req.RoutingKey, prev, resp.Version)
			}
			before[req.RoutingKey] = resp.Version
			resp.Release()
		}
	}
	// The rollout's sticky key names a header, read through Lookup.
	e.reg.DecideRollout(ctx, "rutf-demand", m.Rollout.ID, registry.Decision{Action: registry.DecisionAdvance, Reason: "test"})
	waitFor(t, "weight 100", func() bool { return e.mgr.Status()[0].Weight == 100 })
	for k := range 200 {
		req := request(1)
		req.RoutingKey = fmt.Sprintf("district-%d", k)
		resp, _ := e.mgr.Infer(ctx, req)
		if resp.Version != "2" {
			t.Fatalf("key %s on version %s at weight 100", req.RoutingKey, resp.Version)
		}
		resp.Release()
	}
	// An explicit version bypasses routing.
	req := request(1)
	req.Version = "1"
	resp, err := e.mgr.Infer(ctx, req)
	if err != nil || resp.Version != "1" {
		t.Fatalf("explicit version: %v %v", resp, err)
	}
	resp.Release()

	// Promotion: the alias moves to the canary, which is reused, not reloaded.
	loads := e.engine.loads.Load()
	if _, err := e.reg.DecideRollout(ctx, "rutf-demand", m.Rollout.ID, registry.Decision{Action: registry.DecisionPromote, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "promoted", func() bool { st := e.mgr.Status()[0]; return st.Version == v2 && st.Canary == 0 })
	if e.engine.loads.Load() != loads {
		t.Fatal("the promoted canary was loaded again")
	}

	// A shadow gets copies; what it answers is not served.
	v3 := e.register(t, 300)
	if _, err := e.reg.StartShadow(ctx, "rutf-demand", v3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "shadow loaded", func() bool { return e.mgr.Status()[0].Shadow == v3 })
	runs := e.engine.runs.Load()
	for range 20 {
		resp, err := e.mgr.Infer(ctx, request(1))
		if err != nil || resp.Version != "2" || resp.Outputs[0].Float32s()[0] != 200 {
			t.Fatalf("served by %v: %v", resp, err)
		}
		resp.Release()
	}
	waitFor(t, "shadow ran", func() bool { return e.engine.runs.Load() >= runs+40 })
}

func TestCanaryThatCannotLoad(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.mgr.Start(ctx)
	go e.mgr.Run(ctx)
	// A valid ONNX model the test engine cannot run (an MLP).
	r, _ := e.reg.BeginVersion(ctx, registry.NewVersion{Name: "rutf-demand"})
	b := onnxtest.Marshal(onnxtest.RandomMLP(1, 4, 3))
	r.PutArtifact(ctx, "model.onnx", bytes.NewReader(b), int64(len(b)))
	v, err := r.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.StartRollout(ctx, "rutf-demand", registry.RolloutSpec{Version: v.Version, Steps: []float64{50, 100}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "canary load error reported", func() bool { return e.mgr.Status()[0].CanaryError != "" })
	for range 100 {
		resp, err := e.mgr.Infer(ctx, request(1))
		if err != nil || resp.Version != "1" {
			t.Fatalf("stable traffic affected: %v %v", resp, err)
		}
		resp.Release()
	}
}
