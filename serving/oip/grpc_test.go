package oip

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
)

type grpcEnv struct {
	client oippb.GRPCInferenceServiceClient
	conn   *grpc.ClientConn
	svc    *GRPCService
	fb     *fakeBackend
}

func startGRPC(t *testing.T, authn *auth.Authenticator, m *GRPCMetrics, sopts GRPCServerOptions, gopts GRPCOptions) grpcEnv {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{}
	svc := NewGRPCService(fb, gopts)
	s := NewGRPCServer(svc, authn, nil, m, sopts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return grpcEnv{oippb.NewGRPCInferenceServiceClient(conn), conn, svc, fb}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), code, msg)
	}
}

func TestGRPCMetadataRPCs(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	c := env.client

	live, err := c.ServerLive(ctx, &oippb.ServerLiveRequest{})
	if err != nil || !live.Live {
		t.Fatalf("live %v %v", live, err)
	}
	ready, err := c.ServerReady(ctx, &oippb.ServerReadyRequest{})
	if err != nil || !ready.Ready {
		t.Fatalf("ready %v %v", ready, err)
	}
	sm, err := c.ServerMetadata(ctx, &oippb.ServerMetadataRequest{})
	if err != nil || sm.Name != "lantern" || sm.Version != buildinfo.String() || !slices.Equal(sm.Extensions, []string{"binary_tensor_data"}) {
		t.Fatalf("server metadata %v %v", sm, err)
	}
	md, err := c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "echo", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := &oippb.ModelMetadataResponse{
		Name: "echo", Versions: []string{"2", "1"}, Platform: "onnx_onnxv1",
		Inputs: []*oippb.ModelMetadataResponse_TensorMetadata{{Name: "features", Datatype: "FP32", Shape: []int64{-1, 4}}},
		Outputs: []*oippb.ModelMetadataResponse_TensorMetadata{
			{Name: "label", Datatype: "INT64", Shape: []int64{-1}},
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, 3}},
		},
		Properties: map[string]string{"engine": "fake"},
	}
	if !proto.Equal(md, want) {
		t.Errorf("model metadata %v", md)
	}
	_, err = c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "nope"})
	wantCode(t, err, codes.NotFound, `model "nope" is not served`)
	_, err = c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "echo", Version: "9"})
	wantCode(t, err, codes.NotFound, `no version "9"`)
	_, err = c.ModelMetadata(ctx, &oippb.ModelMetadataRequest{})
	wantCode(t, err, codes.InvalidArgument, "name is required")

	for _, tt := range []struct {
		name, version string
		ready         bool
		code          codes.Code
	}{
		{"echo", "", true, codes.OK},
		{"echo", "2", true, codes.OK},
		{"loading", "", false, codes.OK},
		{"nope", "", false, codes.NotFound},
		{"echo", "9", false, codes.NotFound},
	} {
		r, err := c.ModelReady(ctx, &oippb.ModelReadyRequest{Name: tt.name, Version: tt.version})
		if status.Code(err) != tt.code || err == nil && r.Ready != tt.ready {
			t.Errorf("ModelReady(%s, %s) = %v, %v", tt.name, tt.version, r, err)
		}
	}

	env.svc.Drain()
	if ready, _ := c.ServerReady(ctx, &oippb.ServerReadyRequest{}); ready.Ready {
		t.Error("ready after Drain")
	}
}

// typedCases has one input per datatype with extreme values.
func typedCases() []*oippb.ModelInferRequest_InferInputTensor {
	in := func(name, dt string, c *oippb.InferTensorContents, n int64) *oippb.ModelInferRequest_InferInputTensor {
		return &oippb.ModelInferRequest_InferInputTensor{Name: name, Datatype: dt, Shape: []int64{n}, Contents: c}
	}
	return []*oippb.ModelInferRequest_InferInputTensor{
		in("bool", "BOOL", &oippb.InferTensorContents{BoolContents: []bool{true, false, true}}, 3),
		in("i8", "INT8", &oippb.InferTensorContents{IntContents: []int32{-128, 127, 0}}, 3),
		in("i16", "INT16", &oippb.InferTensorContents{IntContents: []int32{-32768, 32767}}, 2),
		in("i32", "INT32", &oippb.InferTensorContents{IntContents: []int32{math.MinInt32, math.MaxInt32}}, 2),
		in("i64", "INT64", &oippb.InferTensorContents{Int64Contents: []int64{math.MinInt64, math.MaxInt64}}, 2),
		in("u8", "UINT8", &oippb.InferTensorContents{UintContents: []uint32{0, 255}}, 2),
		in("u16", "UINT16", &oippb.InferTensorContents{UintContents: []uint32{0, 65535}}, 2),
		in("u32", "UINT32", &oippb.InferTensorContents{UintContents: []uint32{0, math.MaxUint32}}, 2),
		in("u64", "UINT64", &oippb.InferTensorContents{Uint64Contents: []uint64{0, math.MaxUint64}}, 2),
		in("f32", "FP32", &oippb.InferTensorContents{Fp32Contents: []float32{1.5, float32(math.Inf(-1)), math.MaxFloat32}}, 3),
		in("f64", "FP64", &oippb.InferTensorContents{Fp64Contents: []float64{0.1, math.SmallestNonzeroFloat64}}, 2),
		in("bytes", "BYTES", &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), {}, {0xff, 0}}}, 3),
	}
}

func TestGRPCInferTyped(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	inputs := typedCases()
	var header metadata.MD
	resp, err := env.client.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "echo", ModelVersion: "1", Id: "abc", Inputs: inputs}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ModelName != "echo" || resp.ModelVersion != "1" || resp.Id != "abc" || len(resp.RawOutputContents) != 0 {
		t.Errorf("response %v", resp)
	}
	if v := header.Get(versionKey); len(v) != 1 || v[0] != "1" {
		t.Errorf("version header %v", header)
	}
	if len(resp.Outputs) != len(inputs) {
		t.Fatalf("%d outputs", len(resp.Outputs))
	}
	for i, out := range resp.Outputs {
		in := inputs[i]
		if out.Name != in.Name || out.Datatype != in.Datatype || !slices.Equal(out.Shape, in.Shape) {
			t.Errorf("output %d: %v", i, out)
		}
		c := in.Contents
		if in.Datatype == "BYTES" {
			// proto3 does not tell an empty bytes from a missing one.
			c = proto.Clone(c).(*oippb.InferTensorContents)
		}
		if !proto.Equal(out.Contents, c) {
			t.Errorf("output %s: contents %v, want %v", out.Name, out.Contents, c)
		}
	}

	// Requested outputs only.
	resp, err = env.client.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "echo", Inputs: inputs,
		Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "f64"}}})
	if err != nil || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "f64" || resp.ModelVersion != "2" {
		t.Errorf("requested output: %v %v", resp, err)
	}
}

func TestGRPCInferRaw(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	req := &oippb.ModelInferRequest{ModelName: "echo"}
	for _, dt := range []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"} {
		var raw []byte
		size := map[string]int{"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2,
			"UINT32": 4, "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}[dt]
		if dt == "BYTES" {
			raw = bytesRaw("hello", "", "\xff")
		} else {
			for i := range 3 * size {
				raw = append(raw, byte(i&1))
			}
		}
		req.Inputs = append(req.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: strings.ToLower(dt), Datatype: dt, Shape: []int64{1, 3}})
		req.RawInputContents = append(req.RawInputContents, raw)
	}
	resp, err := env.client.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.RawOutputContents) != len(req.Inputs) {
		t.Fatalf("%d raw outputs", len(resp.RawOutputContents))
	}
	for i, out := range resp.Outputs {
		if out.Contents != nil {
			t.Errorf("output %s has typed contents in a raw response", out.Name)
		}
		if !bytes.Equal(resp.RawOutputContents[i], req.RawInputContents[i]) || out.Datatype != req.Inputs[i].Datatype {
			t.Errorf("output %s: %v, want %v", out.Name, resp.RawOutputContents[i], req.RawInputContents[i])
		}
	}
}

func TestGRPCInferErrors(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	f32 := func(name string, shape []int64, v ...float32) *oippb.ModelInferRequest_InferInputTensor {
		return &oippb.ModelInferRequest_InferInputTensor{Name: name, Datatype: "FP32", Shape: shape, Contents: &oippb.InferTensorContents{Fp32Contents: v}}
	}
	tests := []struct {
		name string
		req  *oippb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"no model", &oippb.ModelInferRequest{}, codes.InvalidArgument, "model_name is required"},
		{"unknown model", &oippb.ModelInferRequest{ModelName: "nope"}, codes.NotFound, `model "nope" is not served`},
		{"unknown version", &oippb.ModelInferRequest{ModelName: "echo", ModelVersion: "5"}, codes.NotFound, `no version "5"`},
		{"count", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{f32("features", []int64{1, 4}, 1, 2, 3)}},
			codes.InvalidArgument, `input "features": shape [1,4] needs 4 elements, got 3 in contents.fp32_contents`},
		{"wrong field", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "FP32", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Fp64Contents: []float64{1}}}}},
			codes.InvalidArgument, `FP32 data goes in contents.fp32_contents, but other contents fields are set`},
		{"int8 range", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "INT8", Shape: []int64{2}, Contents: &oippb.InferTensorContents{IntContents: []int32{1, 300}}}}},
			codes.InvalidArgument, `input "x": element 1 (300) is out of range for INT8`},
		{"uint16 range", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "UINT16", Shape: []int64{1}, Contents: &oippb.InferTensorContents{UintContents: []uint32{70000}}}}},
			codes.InvalidArgument, `out of range for UINT16`},
		{"fp16 typed", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "FP16", Shape: []int64{1}, Contents: &oippb.InferTensorContents{Fp32Contents: []float32{1}}}}},
			codes.InvalidArgument, `FP16 has no typed contents field; send it in raw_input_contents`},
		{"datatype", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FLOAT"}}},
			codes.InvalidArgument, `unknown datatype "FLOAT"`},
		{"no name", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Datatype: "FP32"}}},
			codes.InvalidArgument, `input 0 has no name`},
		{"negative shape", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{f32("x", []int64{-1}, 1)}},
			codes.InvalidArgument, `shape [-1] is not valid`},
		{"duplicate", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{f32("x", []int64{1}, 1), f32("x", []int64{1}, 1)}},
			codes.InvalidArgument, `input "x" is given twice`},
		{"mixed", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{f32("x", []int64{1}, 1)}, RawInputContents: [][]byte{le32(1)}},
			codes.InvalidArgument, `raw and typed contents must not be mixed`},
		{"raw count", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1}}, {Name: "y", Datatype: "FP32", Shape: []int64{1}}}, RawInputContents: [][]byte{le32(1)}},
			codes.InvalidArgument, `raw_input_contents has 1 entries for 2 inputs`},
		{"raw size", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{2}}}, RawInputContents: [][]byte{le32(1)}},
			codes.InvalidArgument, `input "x": shape [2] of FP32 needs 8 bytes of raw data, got 4`},
		{"raw bytes", &oippb.ModelInferRequest{ModelName: "echo", Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "BYTES", Shape: []int64{1}}}, RawInputContents: [][]byte{{5, 0, 0, 0, 'a'}}},
			codes.InvalidArgument, `claims 5 bytes but only 1 remain`},
		{"duplicate output", &oippb.ModelInferRequest{ModelName: "echo", Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a"}, {Name: "a"}}},
			codes.InvalidArgument, `output "a" is requested twice`},
		{"not ready", &oippb.ModelInferRequest{ModelName: "loading"}, codes.Unavailable, "is loading"},
		{"overloaded", &oippb.ModelInferRequest{ModelName: "busy"}, codes.ResourceExhausted, "full queue"},
		{"broken", &oippb.ModelInferRequest{ModelName: "broken"}, codes.Internal, "internal error; the details are in the server log under request id"},
		{"panic", &oippb.ModelInferRequest{ModelName: "panic"}, codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.client.ModelInfer(ctx, tt.req)
			wantCode(t, err, tt.code, tt.msg)
		})
	}
	// The server survived the panic.
	if _, err := env.client.ServerLive(ctx, &oippb.ServerLiveRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestGRPCMalformedMessage(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	// Send bytes that are not a ModelInferRequest with a raw codec.
	msg := rawMsg{0xff, 0xff, 0xff}
	err := env.conn.Invoke(ctxT(t), oippb.GRPCInferenceService_ModelInfer_FullMethodName, &msg, new(rawMsg), grpc.ForceCodecV2(rawCodec{}))
	if c := status.Code(err); c != codes.Internal && c != codes.InvalidArgument {
		t.Fatalf("malformed protobuf: %v", err)
	}
}

type rawMsg []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*rawMsg))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawMsg) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestGRPCRoutingKey(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	req := &oippb.ModelInferRequest{ModelName: "echo", Parameters: map[string]*oippb.InferParameter{
		"routing_key": {ParameterChoice: &oippb.InferParameter_StringParam{StringParam: "p"}}}}
	if _, err := env.client.ModelInfer(ctx, req); err != nil {
		t.Fatal(err)
	}
	if k := env.fb.lastRequest().RoutingKey; k != "p" {
		t.Errorf("routing key %q", k)
	}
	mctx := metadata.AppendToOutgoingContext(ctx, "x-lantern-routing-key", "m")
	if _, err := env.client.ModelInfer(mctx, req); err != nil {
		t.Fatal(err)
	}
	if last := env.fb.lastRequest(); last.RoutingKey != "m" || last.Protocol != "grpc" {
		t.Errorf("request %+v", last)
	}
	req.Parameters["routing_key"] = &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: 12}}
	if _, err := env.client.ModelInfer(ctx, req); err != nil {
		t.Fatal(err)
	}
	if k := env.fb.lastRequest().RoutingKey; k != "12" {
		t.Errorf("routing key %q", k)
	}
}

func TestGRPCDeadlines(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{Timeout: 100 * time.Millisecond})
	slow := &oippb.ModelInferRequest{ModelName: "slow"}
	// The server's own timeout.
	start := time.Now()
	_, err := env.client.ModelInfer(ctxT(t), slow)
	wantCode(t, err, codes.DeadlineExceeded, "request timeout (100ms)")
	// A shorter client deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = env.client.ModelInfer(ctx, slow)
	wantCode(t, err, codes.DeadlineExceeded, "")
	// The client's deadline is not blamed on the server's timeout.
	svc := NewGRPCService(&fakeBackend{}, GRPCOptions{Timeout: time.Hour})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_, err = svc.ModelInfer(ctx2, slow)
	wantCode(t, err, codes.DeadlineExceeded, "the client's deadline passed")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestGRPCMessageSize(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{MaxRecvMsgSize: 1024}, GRPCOptions{})
	req := &oippb.ModelInferRequest{ModelName: "echo",
		Inputs:           []*oippb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "UINT8", Shape: []int64{4096}}},
		RawInputContents: [][]byte{make([]byte, 4096)}}
	_, err := env.client.ModelInfer(ctxT(t), req)
	wantCode(t, err, codes.ResourceExhausted, "")
}

func TestGRPCAuth(t *testing.T) {
	authn, reader, writer := newAuth(t)
	reg := prometheus.NewRegistry()
	m := NewGRPCMetrics(reg)
	env := startGRPC(t, authn, m, GRPCServerOptions{InferRole: auth.RoleWriter}, GRPCOptions{})
	with := func(token string) context.Context {
		return metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+token)
	}
	_, err := env.client.ServerMetadata(ctxT(t), &oippb.ServerMetadataRequest{})
	wantCode(t, err, codes.Unauthenticated, "send an API token")
	_, err = env.client.ServerMetadata(with("lnt_bad"), &oippb.ServerMetadataRequest{})
	wantCode(t, err, codes.Unauthenticated, "not valid")
	var header metadata.MD
	if _, err := env.client.ServerMetadata(with(reader), &oippb.ServerMetadataRequest{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if len(header.Get("x-request-id")) != 1 {
		t.Errorf("no request id in %v", header)
	}
	_, err = env.client.ModelInfer(with(reader), &oippb.ModelInferRequest{ModelName: "echo"})
	wantCode(t, err, codes.PermissionDenied, "writer role")
	if _, err := env.client.ModelInfer(with(writer), &oippb.ModelInferRequest{ModelName: "echo"}); err != nil {
		t.Fatal(err)
	}
	// Health is open; reflection is not.
	if _, err := healthpb.NewHealthClient(env.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(env.conn).ServerReflectionInfo(ctxT(t))
	if err == nil {
		_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.Unauthenticated, "")

	for _, tt := range []struct {
		method, code string
		want         float64
	}{
		{oippb.GRPCInferenceService_ServerMetadata_FullMethodName, "Unauthenticated", 2},
		{oippb.GRPCInferenceService_ServerMetadata_FullMethodName, "OK", 1},
		{oippb.GRPCInferenceService_ModelInfer_FullMethodName, "PermissionDenied", 1},
		{oippb.GRPCInferenceService_ModelInfer_FullMethodName, "OK", 1},
		{"/grpc.health.v1.Health/Check", "OK", 1},
	} {
		if got := metricValue(t, reg, "lantern_grpc_requests_total", tt.code, tt.method); got != tt.want {
			t.Errorf("lantern_grpc_requests_total{method=%q,code=%q} = %v, want %v", tt.method, tt.code, got, tt.want)
		}
	}
	if n := metricValue(t, reg, "lantern_grpc_request_duration_seconds", oippb.GRPCInferenceService_ModelInfer_FullMethodName); n != 2 {
		t.Errorf("%v ModelInfer latency samples, want 2", n)
	}
}

// metricValue is the value of a counter (or a histogram's sample count)
// whose label values, in the order of the label names, are labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != labels[i] {
					continue metrics
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestGRPCHealth(t *testing.T) {
	old := watchInterval
	watchInterval = 10 * time.Millisecond
	defer func() { watchInterval = old }()
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	ctx := ctxT(t)
	hc := healthpb.NewHealthClient(env.conn)
	for _, tt := range []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
		code    codes.Code
	}{
		{"", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"inference.GRPCInferenceService", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"echo", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"loading", healthpb.HealthCheckResponse_NOT_SERVING, codes.OK},
		{"nope", 0, codes.NotFound},
	} {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: tt.service})
		if status.Code(err) != tt.code || err == nil && r.Status != tt.want {
			t.Errorf("Check(%q) = %v, %v", tt.service, r, err)
		}
	}
	list, err := hc.List(ctx, &healthpb.HealthListRequest{})
	if err != nil || len(list.Statuses) != 2+len(fakeModels) || list.Statuses["loading"].Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("List = %v, %v", list, err)
	}

	// Watch sees readiness flip, then the drain.
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		r, err := w.Recv()
		if err != nil || r.Status != want {
			t.Fatalf("Watch: %v %v, want %v", r, err, want)
		}
	}
	next(healthpb.HealthCheckResponse_SERVING)
	env.fb.mu.Lock()
	env.fb.notReady = true
	env.fb.mu.Unlock()
	next(healthpb.HealthCheckResponse_NOT_SERVING)
	env.fb.mu.Lock()
	env.fb.notReady = false
	env.fb.mu.Unlock()
	next(healthpb.HealthCheckResponse_SERVING)
	env.svc.Drain()
	next(healthpb.HealthCheckResponse_NOT_SERVING)
	if r, _ := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "echo"}); r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("model after drain: %v", r)
	}
	uw, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := uw.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Errorf("Watch(unknown) = %v, %v", r, err)
	}
}

func TestGRPCReflection(t *testing.T) {
	env := startGRPC(t, nil, nil, GRPCServerOptions{}, GRPCOptions{})
	stream, err := reflectionpb.NewServerReflectionClient(env.conn).ServerReflectionInfo(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	for _, want := range []string{"inference.GRPCInferenceService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("services %v lack %s", names, want)
		}
	}
	// The descriptor of the inference service resolves.
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "inference.GRPCInferenceService"}}); err != nil {
		t.Fatal(err)
	}
	r, err = stream.Recv()
	if err != nil || len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Fatalf("file descriptor: %v %v", r, err)
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v", err)
	}
}
