package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/mlflowscore"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/oip"
	"github.com/lantern-mlops/lantern/serving/ort"
)

// ServingConfig configures the serving component.
type ServingConfig struct {
	// Source is where versions come from (the in-process registry, or one over HTTP).
	Source serving.Source
	// Manager options: targets, alias, engines choice, batching, cache directory.
	Manager serving.Options
	// ORTLib is the ONNX Runtime library; empty: $LANTERN_ORT_LIB, and no
	// ONNX Runtime engine if that is empty too.
	ORTLib string
	// GRPCAddr is the gRPC listen address (OIP, health, reflection).
	GRPCAddr string
	// RequestTimeout bounds one inference.
	RequestTimeout time.Duration
	// RoutingKeyHeader carries the sticky routing key (default X-Lantern-Routing-Key).
	RoutingKeyHeader string
}

// servingParts is what startServing hands back to Start.
type servingParts struct {
	manager  *serving.Manager
	grpcAddr string
	// drain marks gRPC health NOT_SERVING; stopped is closed when the gRPC
	// server has finished its requests.
	drain   func()
	stopped chan struct{}
}

// engines returns the available engines: native always, ONNX Runtime when its library loads.
func engines(cfg ServingConfig, log *slog.Logger) (map[string]serving.Engine, error) {
	es := map[string]serving.Engine{"native": native.New()}
	wantORT := cfg.Manager.Engine == "onnxruntime"
	for _, e := range cfg.Manager.EngineFor {
		wantORT = wantORT || e == "onnxruntime"
	}
	e, err := ort.New(ort.Options{LibraryPath: cfg.ORTLib})
	switch {
	case err == nil:
		es["onnxruntime"] = e
		log.Info("ONNX Runtime engine available", "version", e.Version(), "library", e.LibraryPath())
	case wantORT || cfg.ORTLib != "":
		return nil, fmt.Errorf("ONNX Runtime: %w", err)
	case errors.Is(err, ort.ErrNoLibrary):
		log.Info("ONNX Runtime not configured: models run on the native engine only (see --ort-lib)")
	default:
		log.Warn("ONNX Runtime unavailable: models run on the native engine only", "err", err)
	}
	return es, nil
}

// startServing loads the served models, mounts the HTTP routes of the
// inference protocols on mux and starts the gRPC server in g.
func startServing(ctx context.Context, g *errgroup.Group, gctx, serveCtx context.Context, mux *http.ServeMux, cfg ServingConfig,
	authn *auth.Authenticator, log *slog.Logger, reg prometheus.Registerer, httpMetrics *server.Metrics, drain time.Duration) (*servingParts, error) {
	es, err := engines(cfg, log)
	if err != nil {
		return nil, err
	}
	opts := cfg.Manager
	opts.Engines = es
	m, err := serving.NewManager(cfg.Source, opts, log, reg)
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	rest := oip.RESTHandler(m, oip.RESTOptions{Timeout: cfg.RequestTimeout, RoutingKeyHeader: cfg.RoutingKeyHeader, Logger: log}, authn, log, httpMetrics)
	mux.Handle("/v2", rest)
	mux.Handle("/v2/", rest)
	score := mlflowscore.Handler(m, mlflowscore.Options{Timeout: cfg.RequestTimeout, RoutingKeyHeader: cfg.RoutingKeyHeader, Logger: log}, authn, log, httpMetrics)
	for _, p := range []string{"/invocations", "/invocations/", "/ping", "/health", "/version"} {
		mux.Handle(p, score)
	}

	l, err := server.Listen(cfg.GRPCAddr)
	if err != nil {
		return nil, err
	}
	svc := oip.NewGRPCService(m, oip.GRPCOptions{Timeout: cfg.RequestTimeout})
	gs := oip.NewGRPCServer(svc, authn, log, oip.NewGRPCMetrics(reg), oip.GRPCServerOptions{})
	parts := &servingParts{manager: m, grpcAddr: l.Addr().String(), drain: svc.Drain, stopped: make(chan struct{})}
	g.Go(func() error { return m.Run(gctx) })
	g.Go(func() error {
		defer close(parts.stopped)
		errc := make(chan error, 1)
		go func() { errc <- gs.Serve(l) }()
		select {
		case err := <-errc:
			return err
		case <-serveCtx.Done():
		}
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(drain):
			gs.Stop()
		}
		return nil
	})
	log.Info("serving", "grpc", l.Addr().String(), "models", m.Models())
	return parts, nil
}
