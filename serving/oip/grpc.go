package oip

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// GRPCOptions configures the gRPC service. The zero value gives the defaults.
type GRPCOptions struct {
	// Timeout bounds one inference (default 30s); a client's shorter
	// deadline wins.
	Timeout time.Duration
	// RoutingKeyMetadata is the request metadata key that carries the
	// routing key for sticky rollouts (default "x-lantern-routing-key").
	RoutingKeyMetadata string
	// RoutingKeyParameter is the inference request parameter that carries
	// it when the metadata is absent (default "routing_key").
	RoutingKeyParameter string
	// Logger receives internal errors (nil: discarded).
	Logger *slog.Logger
}

func (o GRPCOptions) withDefaults() GRPCOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RoutingKeyMetadata == "" {
		o.RoutingKeyMetadata = DefaultRoutingKeyHeader
	}
	if o.RoutingKeyParameter == "" {
		o.RoutingKeyParameter = DefaultRoutingKeyParameter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// GRPCService implements the Open Inference Protocol's gRPC service
// (inference.GRPCInferenceService) over a Backend. It is safe for
// concurrent use.
//
// ModelInfer accepts tensor data either typed (InferTensorContents, the
// field matching each input's datatype) or raw (raw_input_contents, one
// entry per input), never both, and answers in kind: raw_output_contents
// for a raw request, typed contents otherwise (FP16/BF16 outputs, which
// have no typed field, make the whole response raw).
type GRPCService struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	b    serving.Backend
	opts GRPCOptions
	log  *slog.Logger

	draining  atomic.Bool
	drainOnce sync.Once
	drained   chan struct{} // closed by Drain
}

var _ oippb.GRPCInferenceServiceServer = (*GRPCService)(nil)

// NewGRPCService returns the gRPC service over b.
func NewGRPCService(b serving.Backend, opts GRPCOptions) *GRPCService {
	opts = opts.withDefaults()
	return &GRPCService{b: b, opts: opts, log: opts.Logger.With("component", "oip_grpc"), drained: make(chan struct{})}
}

// Drain marks the server as going away: ServerReady and the health
// service answer NOT_SERVING from now on (Watch streams are told at
// once), so that load balancers stop sending work before the server stops.
// Requests keep being served.
func (s *GRPCService) Drain() {
	s.drainOnce.Do(func() {
		s.draining.Store(true)
		close(s.drained)
	})
}

// ready reports whether the server should get traffic.
func (s *GRPCService) ready() bool { return !s.draining.Load() && s.b.Ready() }

// ServerLive implements oippb.GRPCInferenceServiceServer.
func (s *GRPCService) ServerLive(context.Context, *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	return &oippb.ServerLiveResponse{Live: true}, nil
}

// ServerReady implements oippb.GRPCInferenceServiceServer.
func (s *GRPCService) ServerReady(context.Context, *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	return &oippb.ServerReadyResponse{Ready: s.ready()}, nil
}

// ModelReady implements oippb.GRPCInferenceServiceServer. An unknown
// model is NotFound; a known one that is not loaded is ready=false.
func (s *GRPCService) ModelReady(ctx context.Context, req *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	ready := s.b.ModelReady(req.Name, req.Version)
	if !ready {
		if _, err := s.b.Model(req.Name, req.Version); errors.Is(err, errkind.NotFound) {
			return nil, s.status(ctx, err)
		}
	}
	return &oippb.ModelReadyResponse{Ready: ready}, nil
}

// ServerMetadata implements oippb.GRPCInferenceServiceServer.
func (s *GRPCService) ServerMetadata(context.Context, *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	return &oippb.ServerMetadataResponse{Name: ServerName, Version: buildinfo.String(), Extensions: extensions}, nil
}

// ModelMetadata implements oippb.GRPCInferenceServiceServer.
func (s *GRPCService) ModelMetadata(ctx context.Context, req *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	info, err := s.b.Model(req.Name, req.Version)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	md := &oippb.ModelMetadataResponse{
		Name:       info.Name,
		Versions:   info.Versions,
		Platform:   info.Platform,
		Properties: info.Properties,
	}
	for _, t := range info.Inputs {
		md.Inputs = append(md.Inputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.DType.OIP(), Shape: t.Shape})
	}
	for _, t := range info.Outputs {
		md.Outputs = append(md.Outputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.DType.OIP(), Shape: t.Shape})
	}
	return md, nil
}

// versionKey is the response metadata key of VersionHeader.
const versionKey = "x-lantern-model-version"

// ModelInfer implements oippb.GRPCInferenceServiceServer.
func (s *GRPCService) ModelInfer(ctx context.Context, req *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	if req.ModelName == "" {
		return nil, status.Error(codes.InvalidArgument, "model_name is required")
	}
	inputs, useRaw, err := decodeGRPCInputs(req)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	var outputs []string
	if len(req.Outputs) > 0 {
		outputs = make([]string, len(req.Outputs))
		for i, o := range req.Outputs {
			if o.GetName() == "" {
				return nil, status.Errorf(codes.InvalidArgument, "requested output %d has no name", i)
			}
			for _, prev := range outputs[:i] {
				if prev == o.Name {
					return nil, status.Errorf(codes.InvalidArgument, "output %q is requested twice", o.Name)
				}
			}
			outputs[i] = o.Name
		}
	}
	ireq := &serving.InferRequest{
		ID:         req.Id,
		Model:      req.ModelName,
		Version:    req.ModelVersion,
		Inputs:     inputs,
		Outputs:    outputs,
		RoutingKey: s.routingKey(ctx, req),
		Protocol:   "grpc",
		Lookup: func(name string) string {
			if p, ok := strings.CutPrefix(name, "param:"); ok {
				return paramString(req.Parameters[p])
			}
			if md, ok := metadata.FromIncomingContext(ctx); ok {
				if v := md.Get(name); len(v) > 0 {
					return v[0]
				}
			}
			return ""
		},
	}
	ictx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	resp, err := s.b.Infer(ictx, ireq)
	if err != nil {
		return nil, s.status(ctx, timeoutError(ctx, ictx, err, s.opts.Timeout))
	}
	defer resp.Release()
	out, err := encodeGRPCResponse(resp, req.Id, useRaw)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if resp.Version != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs(versionKey, resp.Version))
	}
	return out, nil
}

func (s *GRPCService) routingKey(ctx context.Context, req *oippb.ModelInferRequest) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(s.opts.RoutingKeyMetadata); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return paramString(req.Parameters[s.opts.RoutingKeyParameter])
}

// paramString is a string or integer parameter's value as text ("" otherwise).
func paramString(p *oippb.InferParameter) string {
	switch v := p.GetParameterChoice().(type) {
	case *oippb.InferParameter_StringParam:
		return v.StringParam
	case *oippb.InferParameter_Int64Param:
		return strconv.FormatInt(v.Int64Param, 10)
	case *oippb.InferParameter_Uint64Param:
		return strconv.FormatUint(v.Uint64Param, 10)
	}
	return ""
}

// status converts err to a gRPC status error: its kind picks the code; an
// error of no known kind is logged and answered with a generic message.
func (s *GRPCService) status(ctx context.Context, err error) error {
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	if errkind.Known(err) {
		return status.Error(errkind.GRPCCode(err), err.Error())
	}
	id := grpcRequestID(ctx)
	method, _ := grpc.Method(ctx)
	s.log.Error("internal error", "request_id", id, "method", method, "err", err)
	msg := "internal error; the details are in the server log"
	if id != "" {
		msg += " under request id " + id
	}
	return status.Error(codes.Internal, msg)
}

// decodeGRPCInputs converts the request's input tensors; useRaw reports
// whether they came in raw_input_contents. Tensor data aliases the
// request message, which the backend may keep: gRPC does not reuse it.
func decodeGRPCInputs(req *oippb.ModelInferRequest) (ts []tensor.Tensor, useRaw bool, err error) {
	raw := req.RawInputContents
	useRaw = len(raw) > 0
	if useRaw && len(raw) != len(req.Inputs) {
		return nil, false, invalidf("raw_input_contents has %d entries for %d inputs; send one entry per input, in the order of inputs", len(raw), len(req.Inputs))
	}
	ts = make([]tensor.Tensor, len(req.Inputs))
	for i, in := range req.Inputs {
		if in.GetName() == "" {
			return nil, false, invalidf("input %d has no name", i)
		}
		dt, ok := tensor.FromOIP(in.Datatype)
		if !ok {
			return nil, false, invalidf("input %q: unknown datatype %q; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES", in.Name, in.Datatype)
		}
		t := &ts[i]
		t.Name, t.DType, t.Shape = in.Name, dt, in.Shape
		if useRaw {
			if contentsCount(in.Contents) > 0 {
				return nil, false, invalidf("input %q has contents but the request uses raw_input_contents; raw and typed contents must not be mixed", in.Name)
			}
			if err := decodeRaw("input", t, raw[i], false); err != nil {
				return nil, false, err
			}
			continue
		}
		if err := decodeContents(t, in.Contents); err != nil {
			return nil, false, err
		}
	}
	if err := checkNames(ts); err != nil {
		return nil, false, err
	}
	return ts, useRaw, nil
}

// contentsCount is the number of elements in all fields of c.
func contentsCount(c *oippb.InferTensorContents) int {
	if c == nil {
		return 0
	}
	return len(c.BoolContents) + len(c.IntContents) + len(c.Int64Contents) + len(c.UintContents) +
		len(c.Uint64Contents) + len(c.Fp32Contents) + len(c.Fp64Contents) + len(c.BytesContents)
}

// contentsField is the InferTensorContents field of each datatype.
func contentsField(dt tensor.DType) string {
	switch dt {
	case tensor.Bool:
		return "bool_contents"
	case tensor.Int8, tensor.Int16, tensor.Int32:
		return "int_contents"
	case tensor.Int64:
		return "int64_contents"
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		return "uint_contents"
	case tensor.Uint64:
		return "uint64_contents"
	case tensor.Float32:
		return "fp32_contents"
	case tensor.Float64:
		return "fp64_contents"
	case tensor.String:
		return "bytes_contents"
	}
	return ""
}

// decodeContents fills t from typed contents.
func decodeContents(t *tensor.Tensor, c *oippb.InferTensorContents) error {
	n, err := numElements("input", t.Name, t.Shape)
	if err != nil {
		return err
	}
	if t.DType == tensor.Float16 || t.DType == tensor.BFloat16 {
		return invalidf("input %q: %s has no typed contents field; send it in raw_input_contents", t.Name, t.DType.OIP())
	}
	if c == nil {
		c = &oippb.InferTensorContents{}
	}
	var got int
	switch t.DType {
	case tensor.Bool:
		got = len(c.BoolContents)
	case tensor.Int8, tensor.Int16, tensor.Int32:
		got = len(c.IntContents)
	case tensor.Int64:
		got = len(c.Int64Contents)
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		got = len(c.UintContents)
	case tensor.Uint64:
		got = len(c.Uint64Contents)
	case tensor.Float32:
		got = len(c.Fp32Contents)
	case tensor.Float64:
		got = len(c.Fp64Contents)
	case tensor.String:
		got = len(c.BytesContents)
	}
	field := contentsField(t.DType)
	if total := contentsCount(c); total != got {
		return invalidf("input %q: %s data goes in contents.%s, but other contents fields are set", t.Name, t.DType.OIP(), field)
	}
	if got != n {
		return invalidf("input %q: shape %s needs %d elements, got %d in contents.%s", t.Name, fmtShape(t.Shape), n, got, field)
	}
	if t.DType == tensor.String {
		t.Strings = c.BytesContents
		return nil
	}
	t.Raw = tensor.Alloc(n * t.DType.Size())
	outOfRange := func(i int, v any) error {
		return invalidf("input %q: element %d (%v) is out of range for %s", t.Name, i, v, t.DType.OIP())
	}
	switch t.DType {
	case tensor.Bool:
		for i, v := range c.BoolContents {
			if v {
				t.Raw[i] = 1
			}
		}
	case tensor.Int8:
		dst := t.Int8s()
		for i, v := range c.IntContents {
			if v < math.MinInt8 || v > math.MaxInt8 {
				return outOfRange(i, v)
			}
			dst[i] = int8(v)
		}
	case tensor.Int16:
		dst := t.Int16s()
		for i, v := range c.IntContents {
			if v < math.MinInt16 || v > math.MaxInt16 {
				return outOfRange(i, v)
			}
			dst[i] = int16(v)
		}
	case tensor.Int32:
		copy(t.Int32s(), c.IntContents)
	case tensor.Int64:
		copy(t.Int64s(), c.Int64Contents)
	case tensor.Uint8:
		dst := t.Uint8s()
		for i, v := range c.UintContents {
			if v > math.MaxUint8 {
				return outOfRange(i, v)
			}
			dst[i] = uint8(v)
		}
	case tensor.Uint16:
		dst := t.Uint16s()
		for i, v := range c.UintContents {
			if v > math.MaxUint16 {
				return outOfRange(i, v)
			}
			dst[i] = uint16(v)
		}
	case tensor.Uint32:
		copy(t.Uint32s(), c.UintContents)
	case tensor.Uint64:
		copy(t.Uint64s(), c.Uint64Contents)
	case tensor.Float32:
		copy(t.Float32s(), c.Fp32Contents)
	case tensor.Float64:
		copy(t.Float64s(), c.Fp64Contents)
	}
	return nil
}

// encodeGRPCResponse copies the backend's outputs into a response message
// (they are recycled by Release before gRPC serialises the message).
func encodeGRPCResponse(resp *serving.InferResponse, reqID string, useRaw bool) (*oippb.ModelInferResponse, error) {
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		if err := checkOutput(t); err != nil {
			return nil, err
		}
		if t.DType == tensor.Float16 || t.DType == tensor.BFloat16 {
			useRaw = true
		}
	}
	id := reqID
	if id == "" {
		id = resp.ID
	}
	out := &oippb.ModelInferResponse{ModelName: resp.Model, ModelVersion: resp.Version, Id: id}
	n := len(resp.Outputs)
	tensors := make([]oippb.ModelInferResponse_InferOutputTensor, n)
	out.Outputs = make([]*oippb.ModelInferResponse_InferOutputTensor, n)
	// One allocation for all shapes.
	rank := 0
	for i := range resp.Outputs {
		rank += len(resp.Outputs[i].Shape)
	}
	shapes := make([]int64, 0, rank)
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		start := len(shapes)
		shapes = append(shapes, t.Shape...)
		ot := &tensors[i]
		ot.Name, ot.Datatype, ot.Shape = t.Name, t.DType.OIP(), shapes[start:len(shapes):len(shapes)]
		out.Outputs[i] = ot
	}
	if useRaw {
		size := 0
		for i := range resp.Outputs {
			size += rawSize(&resp.Outputs[i])
		}
		buf := make([]byte, 0, size)
		out.RawOutputContents = make([][]byte, n)
		for i := range resp.Outputs {
			start := len(buf)
			buf = appendRaw(buf, &resp.Outputs[i])
			out.RawOutputContents[i] = buf[start:len(buf):len(buf)]
		}
		return out, nil
	}
	contents := make([]oippb.InferTensorContents, n)
	for i := range resp.Outputs {
		ot := &tensors[i]
		ot.Contents = &contents[i]
		encodeContents(&contents[i], &resp.Outputs[i])
	}
	return out, nil
}

// encodeContents copies t's elements into the typed field of its datatype.
func encodeContents(c *oippb.InferTensorContents, t *tensor.Tensor) {
	src := *t
	src.Raw = tensor.Aligned(t.Raw)
	switch t.DType {
	case tensor.Bool:
		v := make([]bool, len(src.Raw))
		for i, b := range src.Raw {
			v[i] = b != 0
		}
		c.BoolContents = v
	case tensor.Int8:
		v := make([]int32, len(src.Raw))
		for i, x := range src.Int8s() {
			v[i] = int32(x)
		}
		c.IntContents = v
	case tensor.Int16:
		s := src.Int16s()
		v := make([]int32, len(s))
		for i, x := range s {
			v[i] = int32(x)
		}
		c.IntContents = v
	case tensor.Int32:
		c.IntContents = append([]int32(nil), src.Int32s()...)
	case tensor.Int64:
		c.Int64Contents = append([]int64(nil), src.Int64s()...)
	case tensor.Uint8:
		v := make([]uint32, len(src.Raw))
		for i, x := range src.Raw {
			v[i] = uint32(x)
		}
		c.UintContents = v
	case tensor.Uint16:
		s := src.Uint16s()
		v := make([]uint32, len(s))
		for i, x := range s {
			v[i] = uint32(x)
		}
		c.UintContents = v
	case tensor.Uint32:
		c.UintContents = append([]uint32(nil), src.Uint32s()...)
	case tensor.Uint64:
		c.Uint64Contents = append([]uint64(nil), src.Uint64s()...)
	case tensor.Float32:
		c.Fp32Contents = append([]float32(nil), src.Float32s()...)
	case tensor.Float64:
		c.Fp64Contents = append([]float64(nil), src.Float64s()...)
	case tensor.String:
		size := 0
		for _, s := range t.Strings {
			size += len(s)
		}
		arena := make([]byte, 0, size)
		v := make([][]byte, len(t.Strings))
		for i, s := range t.Strings {
			start := len(arena)
			arena = append(arena, s...)
			v[i] = arena[start:len(arena):len(arena)]
		}
		c.BytesContents = v
	}
}
