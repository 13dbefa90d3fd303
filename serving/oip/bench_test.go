package oip

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// benchBackend answers like a binary classifier: label INT64 [N] and
// probabilities FP32 [N,2], from buffers built once.
type benchBackend struct {
	fakeBackend
	outputs map[int][]tensor.Tensor
}

func newBenchBackend(batches ...int) *benchBackend {
	b := &benchBackend{outputs: map[int][]tensor.Tensor{}}
	for _, n := range batches {
		labels := make([]int64, n)
		probs := make([]float32, 2*n)
		for i := range n {
			p := rand.Float32()
			probs[2*i], probs[2*i+1] = 1-p, p
			if p > 0.5 {
				labels[i] = 1
			}
		}
		b.outputs[n] = []tensor.Tensor{
			tensor.FromInt64("label", []int64{int64(n)}, labels),
			tensor.FromFloat32("probabilities", []int64{int64(n), 2}, probs),
		}
	}
	return b
}

func (b *benchBackend) Infer(ctx context.Context, req *serving.InferRequest) (*serving.InferResponse, error) {
	n := int(req.Inputs[0].Shape[0])
	return &serving.InferResponse{Model: req.Model, ID: req.ID, Outputs: b.outputs[n]}, nil
}

// features returns n rows of 30 features as Python writes floats.
func features(n int) [][]float32 {
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, 30)
		for j := range rows[i] {
			rows[i][j] = float32(r.NormFloat64() * 100)
		}
	}
	return rows
}

func restBody(rows [][]float32) []byte {
	b := []byte(`{"id":"bench","inputs":[{"name":"features","shape":[` + strconv.Itoa(len(rows)) + `,30],"datatype":"FP32","data":[`)
	for i, row := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range row {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendFloat(b, float64(v), 'g', 17, 64) // float64 repr, as numpy.tolist + json.dumps
		}
		b = append(b, ']')
	}
	return append(b, "]}]}"...)
}

type benchWriter struct {
	h http.Header
	n int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkRESTInfer measures the REST handler in process: reading and
// decoding the body, the (trivial) backend, encoding and writing.
func BenchmarkRESTInfer(b *testing.B) {
	for _, n := range []int{1, 1024} {
		b.Run("batch"+strconv.Itoa(n)+"x30", func(b *testing.B) {
			h := NewREST(newBenchBackend(n), RESTOptions{})
			body := restBody(features(n))
			rd := bytes.NewReader(body)
			req := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
			w := &benchWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.Body = io.NopCloser(rd)
				req.ContentLength = int64(len(body))
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

func BenchmarkRESTDecode(b *testing.B) {
	for _, n := range []int{1, 1024} {
		b.Run("batch"+strconv.Itoa(n)+"x30", func(b *testing.B) {
			body := restBody(features(n))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeInferRequest(body, -1, decodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRESTEncode(b *testing.B) {
	for _, n := range []int{1, 1024} {
		b.Run("batch"+strconv.Itoa(n)+"x30", func(b *testing.B) {
			// Encode the features themselves: 30 FP32 per row.
			req, err := decodeInferRequest(restBody(features(n)), -1, decodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			resp := &serving.InferResponse{Model: "m", Version: "1", Outputs: req.inputs}
			buf := make([]byte, 0, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				buf, _, err = appendResponse(buf[:0], resp, req, NonFiniteTokens)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func grpcRequest(rows [][]float32, raw bool) *oippb.ModelInferRequest {
	flat := make([]float32, 0, len(rows)*30)
	for _, r := range rows {
		flat = append(flat, r...)
	}
	in := &oippb.ModelInferRequest_InferInputTensor{Name: "features", Datatype: "FP32", Shape: []int64{int64(len(rows)), 30}}
	req := &oippb.ModelInferRequest{ModelName: "m", Id: "bench", Inputs: []*oippb.ModelInferRequest_InferInputTensor{in}}
	if raw {
		t := tensor.FromFloat32("features", in.Shape, flat)
		req.RawInputContents = [][]byte{t.Raw}
	} else {
		in.Contents = &oippb.InferTensorContents{Fp32Contents: flat}
	}
	return req
}

// BenchmarkGRPCInfer measures the gRPC path in process: unmarshalling the
// request, ModelInfer and marshalling the response (what the gRPC codec
// and handler do), typed and raw.
func BenchmarkGRPCInfer(b *testing.B) {
	for _, raw := range []bool{false, true} {
		for _, n := range []int{1, 1024} {
			kind := "typed"
			if raw {
				kind = "raw"
			}
			b.Run(kind+"/batch"+strconv.Itoa(n)+"x30", func(b *testing.B) {
				svc := NewGRPCService(newBenchBackend(n), GRPCOptions{})
				wire, err := proto.Marshal(grpcRequest(features(n), raw))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.SetBytes(int64(len(wire)))
				b.ReportAllocs()
				for b.Loop() {
					req := &oippb.ModelInferRequest{}
					if err := proto.Unmarshal(wire, req); err != nil {
						b.Fatal(err)
					}
					resp, err := svc.ModelInfer(ctx, req)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := proto.Marshal(resp); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkLoopback measures a whole batch-1 call over 127.0.0.1 with a
// real client, REST and gRPC, for scale.
func BenchmarkLoopback(b *testing.B) {
	be := newBenchBackend(1)
	rows := features(1)
	b.Run("rest", func(b *testing.B) {
		srv := httptest.NewServer(NewREST(be, RESTOptions{}))
		defer srv.Close()
		body := restBody(rows)
		url := srv.URL + "/v2/models/m/infer"
		b.ReportAllocs()
		for b.Loop() {
			resp, err := srv.Client().Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
	b.Run("grpc", func(b *testing.B) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := NewGRPCServer(NewGRPCService(be, GRPCOptions{}), nil, nil, nil, GRPCServerOptions{})
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Serve(lis) }()
		defer func() { s.Stop(); <-done }()
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		c := oippb.NewGRPCInferenceServiceClient(conn)
		req := grpcRequest(rows, false)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ModelInfer(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
