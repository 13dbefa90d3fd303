package platform

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
)

// BenchmarkServe measures batch-1 inference through the whole server
// (protocol, routing, validation, engine, metrics) over loopback, with
// parallel clients; make bench-serving measures the same from outside
// with ghz and hey.
func BenchmarkServe(b *testing.B) {
	e := start(b, "native")
	e.register(b, "forest", onnxtest.Marshal(onnxtest.Forest(30, 100, 6, 1)))
	row := make([]float32, 30)
	for i := range row {
		row[i] = float32(i%97) / 97
	}
	b.Run("grpc", func(b *testing.B) {
		req := &oippb.ModelInferRequest{ModelName: "forest", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{
			Name: "features", Datatype: "FP32", Shape: []int64{1, 30}, Contents: &oippb.InferTensorContents{Fp32Contents: row}}}}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.grpc.ModelInfer(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("rest", func(b *testing.B) {
		body := []byte(`{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","data":[0,0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09,0.1,0.11,0.12,0.13,0.14,0.15,0.16,0.17,0.18,0.19,0.2,0.21,0.22,0.23,0.24,0.25,0.26,0.27,0.28,0.29]}]}`)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := http.Post(e.base+"/v2/models/forest/infer", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}
