package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
)

type env struct {
	p    *Platform
	base string
	grpc oippb.GRPCInferenceServiceClient
	conn *grpc.ClientConn
}

// start runs the whole platform (registry + serving) on loopback.
func start(t testing.TB, engine string) *env {
	t.Helper()
	st, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	authn, _ := auth.New(auth.Config{Insecure: true}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Config{
		Store: st, Auth: authn, HTTPAddr: "127.0.0.1:0", DrainTimeout: 5 * time.Second,
		Serving: &ServingConfig{
			Manager:  serving.Options{Alias: "production", Engine: engine, CacheDir: t.TempDir()},
			GRPCAddr: "127.0.0.1:0",
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := p.Wait(); err != nil {
			t.Error(err)
		}
	})
	return &env{p: p, base: "http://" + p.HTTPAddr, grpc: oippb.NewGRPCInferenceServiceClient(conn), conn: conn}
}

func (e *env) register(t testing.TB, name string, model []byte) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := e.p.Registry.GetModel(ctx, name); err != nil {
		if _, err := e.p.Registry.CreateModel(ctx, registry.NewModel{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.p.Registry.BeginVersion(ctx, registry.NewVersion{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(model), int64(len(model))); err != nil {
		t.Fatal(err)
	}
	v, err := r.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Registry.SetAlias(ctx, name, "production", v.Version); err != nil {
		t.Fatal(err)
	}
	e.waitVersion(t, name, v.Version)
	return v.Version
}

func (e *env) waitVersion(t testing.TB, name string, version int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info, err := e.p.Serving.Model(name, ""); err == nil && info.Versions[0] == fmt.Sprint(version) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s v%d not served within 10s: %+v", name, version, e.p.Serving.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) rest(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, r)
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

// The models of the two families Lantern serves.
var features = []string{"population_k", "admissions", "lag_1", "lag_2", "lag_3", "lag_12"}

func demandTree() []byte { return onnxtest.Marshal(onnxtest.Forest(6, 20, 4, 7)) }
func demandLinear() []byte {
	return onnxtest.Marshal(onnxtest.LinearRegressor(features, []float32{0.5, 1.5, 0.4, 0.2, 0.1, 0.3}, 12))
}
func riskMLP() []byte { return onnxtest.Marshal(onnxtest.RandomMLP(3, 6, 16, 3)) }
func riskLogistic() []byte {
	return onnxtest.Marshal(onnxtest.LogisticRegression(features,
		[][]float32{{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}}, []float32{0, 0.1, 0.2}, []int64{0, 1, 2}))
}

// TestServeBothFamiliesOverRESTAndGRPC: demand-forecast models (trees,
// linear) and classifiers (MLP, logistic regression with ZipMap) are
// registered, served, and answer over OIP REST, OIP gRPC and MLflow scoring
// with the same numbers.
func TestServeBothFamiliesOverRESTAndGRPC(t *testing.T) {
	for _, engine := range []string{"native", "onnxruntime"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "onnxruntime" && os.Getenv("LANTERN_ORT_LIB") == "" {
				if os.Getenv("LANTERN_INTEGRATION") == "1" {
					t.Fatal("LANTERN_ORT_LIB is not set: run make onnxruntime")
				}
				t.Skip("ONNX Runtime not available")
			}
			e := start(t, engine)
			models := map[string][]byte{"demand-tree": demandTree(), "demand-linear": demandLinear(), "risk-mlp": riskMLP(), "risk-logistic": riskLogistic()}
			for name, m := range models {
				e.register(t, name, m)
			}
			row := []float32{0.3, 0.7, 0.1, 0.9, 0.5, 0.2}
			for name := range models {
				st, body := e.rest(t, "POST", "/v2/models/"+name+"/infer", map[string]any{
					"id": "req-1", "inputs": []map[string]any{{"name": "features", "shape": []int{1, 6}, "datatype": "FP32", "data": row}},
				})
				if st != 200 || body["id"] != "req-1" || body["model_version"] != "1" {
					t.Fatalf("%s REST: %d %v", name, st, body)
				}
				resp, err := e.grpc.ModelInfer(context.Background(), &oippb.ModelInferRequest{
					ModelName: name, Id: "req-2",
					Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "features", Datatype: "FP32", Shape: []int64{1, 6},
						Contents: &oippb.InferTensorContents{Fp32Contents: row}}},
				})
				if err != nil {
					t.Fatalf("%s gRPC: %v", name, err)
				}
				restOut := body["outputs"].([]any)
				if len(restOut) != len(resp.Outputs) {
					t.Fatalf("%s: %d REST outputs, %d gRPC outputs", name, len(restOut), len(resp.Outputs))
				}
				for i, o := range resp.Outputs {
					ro := restOut[i].(map[string]any)
					var grpcVals []float64
					for _, v := range o.GetContents().GetFp32Contents() {
						grpcVals = append(grpcVals, float64(v))
					}
					for _, v := range o.GetContents().GetInt64Contents() {
						grpcVals = append(grpcVals, float64(v))
					}
					restVals := ro["data"].([]any)
					if ro["name"] != o.Name || len(restVals) != len(grpcVals) {
						t.Fatalf("%s output %d: REST %v, gRPC %v", name, i, ro, o)
					}
					for j := range grpcVals {
						if float32(restVals[j].(float64)) != float32(grpcVals[j]) {
							t.Fatalf("%s output %s[%d]: REST %v, gRPC %v", name, o.Name, j, restVals[j], grpcVals[j])
						}
					}
				}
			}
			// MLflow scoring with named columns (the linear model records its feature names).
			st, body := e.rest(t, "POST", "/invocations/demand-linear", map[string]any{
				"dataframe_split": map[string]any{"columns": features, "data": [][]float32{row}},
			})
			if st != 200 || body["predictions"] == nil {
				t.Fatalf("MLflow scoring: %d %v", st, body)
			}
			// gRPC health per model and overall.
			h := healthpb.NewHealthClient(e.conn)
			for _, svc := range []string{"", "inference.GRPCInferenceService", "risk-mlp"} {
				r, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
				if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("health %q: %v %v", svc, r, err)
				}
			}
			if info, _ := e.p.Serving.Model("risk-logistic", ""); info.Properties["engine"] != engine {
				t.Fatalf("ran on %s", info.Properties["engine"])
			}
		})
	}
}

// TestSwapUnderLoadOverHTTP: while clients hammer REST, the production
// alias moves three times; every request succeeds and the new versions answer.
func TestSwapUnderLoadOverHTTP(t *testing.T) {
	e := start(t, "auto")
	e.register(t, "rutf-demand", demandLinear())
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "features", "shape": []int{1, 6}, "datatype": "FP32", "data": make([]float32, 6)}}})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(e.base+"/v2/models/rutf-demand/infer", "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	for i := range 3 {
		m := onnxtest.Marshal(onnxtest.LinearRegressor(features, []float32{1, 1, 1, 1, 1, 1}, float32(100*(i+1))))
		e.register(t, "rutf-demand", m)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 100 {
		t.Fatalf("%d requests failed, %d succeeded", failed.Load(), ok.Load())
	}
	t.Logf("%d requests over HTTP during 3 version swaps, 0 failed", ok.Load())
	_, out := e.rest(t, "POST", "/v2/models/rutf-demand/infer", json.RawMessage(body))
	if v := out["model_version"]; v != "4" {
		t.Fatalf("answered by version %v, want 4", v)
	}
}
