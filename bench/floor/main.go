// Command floor is the benchmark's floor: a gRPC server whose ModelInfer
// returns a fixed response, and an HTTP server whose handler returns fixed
// bytes. Lantern's serving latency is compared with it, on the same
// machine, in the same run.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/lantern-mlops/lantern/serving/oip/oippb"
)

type server struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	resp *oippb.ModelInferResponse
}

func (s *server) ModelInfer(context.Context, *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	return s.resp, nil
}

func main() {
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:9081", "gRPC listen address")
	httpAddr := flag.String("http-addr", "127.0.0.1:9080", "HTTP listen address")
	flag.Parse()
	body := []byte(`{"model_name":"floor","model_version":"1","outputs":[{"name":"prediction","datatype":"FP32","shape":[1,1],"data":[42.5]}]}`)
	resp := &oippb.ModelInferResponse{ModelName: "floor", ModelVersion: "1", Outputs: []*oippb.ModelInferResponse_InferOutputTensor{{
		Name: "prediction", Datatype: "FP32", Shape: []int64{1, 1},
		Contents: &oippb.InferTensorContents{Fp32Contents: []float32{42.5}},
	}}}
	l, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	gs := grpc.NewServer()
	oippb.RegisterGRPCInferenceServiceServer(gs, &server{resp: resp})
	reflection.Register(gs)
	go func() { log.Fatal(gs.Serve(l)) }()
	hs := &http.Server{Addr: *httpAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = r.Body.Read(make([]byte, 4096))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { log.Fatal(hs.ListenAndServe()) }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	gs.Stop()
	_ = hs.Close()
}
