package oip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving/oip/oippb"
)

// DefaultMaxMessageSize bounds gRPC messages in both directions.
const DefaultMaxMessageSize = 64 << 20

// GRPCServerOptions configures NewGRPCServer. The zero value gives the
// defaults.
type GRPCServerOptions struct {
	// MaxRecvMsgSize and MaxSendMsgSize bound messages (default 64 MiB
	// each); a larger request fails with ResourceExhausted.
	MaxRecvMsgSize int
	MaxSendMsgSize int
	// InferRole is the role ModelInfer needs (default reader: an inference
	// only reads). Every other RPC but health needs a reader.
	InferRole auth.Role
	// AuthenticateHealth makes the health service ask for a token too; by
	// default it is open so that probes need no credentials.
	AuthenticateHealth bool
	// KeepaliveTime is how long a connection may be idle before the server
	// pings it (default 1m); KeepaliveTimeout how long it waits for the
	// answer before closing it (default 20s).
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// MinPingInterval is the shortest interval between client pings the
	// server tolerates (default 10s); clients that ping more often are
	// disconnected (GOAWAY "too_many_pings"). Pings without active calls
	// are allowed.
	MinPingInterval time.Duration
	// MaxConnectionAge closes connections after this long (with
	// MaxConnectionAgeGrace for calls in flight), which spreads long-lived
	// clients over new replicas (default 0: never).
	MaxConnectionAge      time.Duration
	MaxConnectionAgeGrace time.Duration
	// ServerOptions are added last (TLS credentials, ...).
	ServerOptions []grpc.ServerOption
}

func (o GRPCServerOptions) withDefaults() GRPCServerOptions {
	if o.MaxRecvMsgSize <= 0 {
		o.MaxRecvMsgSize = DefaultMaxMessageSize
	}
	if o.MaxSendMsgSize <= 0 {
		o.MaxSendMsgSize = DefaultMaxMessageSize
	}
	if o.InferRole == auth.RoleNone {
		o.InferRole = auth.RoleReader
	}
	if o.KeepaliveTime <= 0 {
		o.KeepaliveTime = time.Minute
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = 20 * time.Second
	}
	if o.MinPingInterval <= 0 {
		o.MinPingInterval = 10 * time.Second
	}
	return o
}

// NewGRPCServer returns a gRPC server with svc, the standard health
// service (grpc.health.v1.Health, see below) and server reflection
// registered, and interceptors for panic recovery, authentication (an
// "authorization: Bearer <token>" metadata entry, checked with authn),
// metrics and access logs. authn, logger and m may be nil (no
// authentication, no logs, no metrics).
//
// Health: the service names "" (the whole server) and
// "inference.GRPCInferenceService" are SERVING when every configured model
// is loaded (Backend.Ready) and the service is not draining; each served
// model's name is a service too, SERVING when that model can serve. Other
// names are unknown (NotFound from Check, SERVICE_UNKNOWN from Watch).
// svc.Drain turns everything NOT_SERVING.
func NewGRPCServer(svc *GRPCService, authn *auth.Authenticator, logger *slog.Logger, m *GRPCMetrics, opts GRPCServerOptions) *grpc.Server {
	opts = opts.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ic := &interceptors{authn: authn, log: logger.With("api", "oip_grpc"), metrics: m, opts: opts}
	sopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(opts.MaxSendMsgSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             opts.MinPingInterval,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  opts.KeepaliveTime,
			Timeout:               opts.KeepaliveTimeout,
			MaxConnectionAge:      opts.MaxConnectionAge,
			MaxConnectionAgeGrace: opts.MaxConnectionAgeGrace,
		}),
		grpc.ChainUnaryInterceptor(ic.observeUnary, ic.recoverUnary, ic.authUnary),
		grpc.ChainStreamInterceptor(ic.observeStream, ic.recoverStream, ic.authStream),
	}
	s := grpc.NewServer(append(sopts, opts.ServerOptions...)...)
	oippb.RegisterGRPCInferenceServiceServer(s, svc)
	healthpb.RegisterHealthServer(s, &healthServer{svc: svc})
	reflection.Register(s)
	return s
}

// GRPCMetrics are the gRPC request metrics.
type GRPCMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewGRPCMetrics registers lantern_grpc_requests_total{method,code} and
// lantern_grpc_request_duration_seconds{method} with reg (nil:
// unregistered).
func NewGRPCMetrics(reg prometheus.Registerer) *GRPCMetrics {
	m := &GRPCMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "grpc", Name: "requests_total",
			Help: "gRPC calls by full method name and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "grpc", Name: "request_duration_seconds",
			Help:    "gRPC call latency by full method name.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

func (m *GRPCMetrics) observe(method string, code codes.Code, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

type interceptors struct {
	authn   *auth.Authenticator
	log     *slog.Logger
	metrics *GRPCMetrics
	opts    GRPCServerOptions
}

// callInfo is what the interceptors know about a call; the outermost one
// puts it in the context and logs it at the end.
type callInfo struct {
	id        string
	principal string
}

type callInfoKey struct{}

// grpcRequestID is the call's request id (set by the interceptors).
func grpcRequestID(ctx context.Context) string {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		return ci.id
	}
	return ""
}

// withCallInfo takes the request id from the "x-request-id" metadata or
// makes one, sends it back in the response header, and stores it in the
// returned context.
func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-request-id"); len(v) > 0 && len(v[0]) <= 64 {
			id = v[0]
		}
	}
	if id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", id))
	ci := &callInfo{id: id, principal: "-"}
	return context.WithValue(ctx, callInfoKey{}, ci), ci
}

const healthPrefix = "/grpc.health.v1.Health/"

func (ic *interceptors) done(ctx context.Context, method string, ci *callInfo, start time.Time, err error) {
	code := status.Code(err)
	d := time.Since(start)
	ic.metrics.observe(method, code, d)
	// Successful calls (tens of thousands a second) are logged at debug;
	// failures at warn, server faults at error.
	level := slog.LevelDebug
	switch {
	case code == codes.Internal || code == codes.Unknown || code == codes.DataLoss:
		level = slog.LevelError
	case code != codes.OK && !strings.HasPrefix(method, healthPrefix):
		level = slog.LevelWarn
	}
	ic.log.Log(ctx, level, "call", "request_id", ci.id, "method", method, "code", code.String(),
		"duration_ms", float64(d.Microseconds())/1000, "principal", ci.principal)
}

func (ic *interceptors) observeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx, ci := withCallInfo(ctx)
	resp, err := h(ctx, req)
	ic.done(ctx, info.FullMethod, ci, start, err)
	return resp, err
}

func (ic *interceptors) observeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	ctx, ci := withCallInfo(ss.Context())
	err := h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	ic.done(ctx, info.FullMethod, ci, start, err)
	return err
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func (ic *interceptors) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, ic.panicked(ctx, info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func (ic *interceptors) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = ic.panicked(ss.Context(), info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}

func (ic *interceptors) panicked(ctx context.Context, method string, p any) error {
	id := grpcRequestID(ctx)
	ic.log.Error("panic serving call", "request_id", id, "method", method, "panic", fmt.Sprint(p))
	return status.Errorf(codes.Internal, "internal error; the details are in the server log under request id %s", id)
}

// role is the role a method needs; RoleNone means no authentication.
func (ic *interceptors) role(method string) auth.Role {
	switch {
	case method == oippb.GRPCInferenceService_ModelInfer_FullMethodName:
		return ic.opts.InferRole
	case strings.HasPrefix(method, healthPrefix) && !ic.opts.AuthenticateHealth:
		return auth.RoleNone
	}
	return auth.RoleReader
}

// authorize authenticates the caller of method and returns the context
// carrying the principal.
func (ic *interceptors) authorize(ctx context.Context, method string) (context.Context, error) {
	need := ic.role(method)
	if ic.authn == nil || need == auth.RoleNone {
		return ctx, nil
	}
	authz := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	p, err := ic.authn.Authenticate(authz)
	if err == nil {
		err = auth.Authorize(p, need)
	}
	if err != nil {
		return ctx, status.Error(errkind.GRPCCode(err), err.Error())
	}
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.principal = p.Name
	}
	return auth.WithPrincipal(ctx, p), nil
}

func (ic *interceptors) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := ic.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (ic *interceptors) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := ic.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
}

// watchInterval is how often Watch re-checks readiness.
var watchInterval = time.Second

// healthServer is grpc.health.v1.Health over a GRPCService: statuses are
// computed from the backend when asked, so there is nothing to keep in
// sync.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	svc *GRPCService
}

func servingStatus(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// status returns the status of service; known is false for an unknown name.
func (h *healthServer) status(service string) (st healthpb.HealthCheckResponse_ServingStatus, known bool) {
	switch service {
	case "", oippb.GRPCInferenceService_ServiceDesc.ServiceName:
		return servingStatus(h.svc.ready()), true
	}
	if _, err := h.svc.b.Model(service, ""); errors.Is(err, errkind.NotFound) {
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, false
	}
	return servingStatus(!h.svc.draining.Load() && h.svc.b.ModelReady(service, "")), true
}

func (h *healthServer) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, known := h.status(req.Service)
	if !known {
		return nil, status.Errorf(codes.NotFound, "unknown service %q: use \"\", %q or a model name", req.Service, oippb.GRPCInferenceService_ServiceDesc.ServiceName)
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

func (h *healthServer) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := map[string]*healthpb.HealthCheckResponse{}
	names := append([]string{"", oippb.GRPCInferenceService_ServiceDesc.ServiceName}, h.svc.b.Models()...)
	for _, name := range names {
		if st, known := h.status(name); known {
			out[name] = &healthpb.HealthCheckResponse{Status: st}
		}
	}
	return &healthpb.HealthListResponse{Statuses: out}, nil
}

// Watch sends the service's status now and whenever it changes, until the
// client goes away.
func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	drained := h.svc.drained
	for {
		st, _ := h.status(req.Service)
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		case <-drained:
			drained = nil // closed for good: fall back to the ticker
		case <-t.C:
		}
	}
}
