// Package platform runs Lantern's components together in one process: what
// `lantern up` and `lantern demo` start. Each component also runs alone in
// its own subcommand; this package only wires them.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api"
	"github.com/lantern-mlops/lantern/registry/mlflowapi"
	"github.com/lantern-mlops/lantern/registry/tracking"
	"github.com/lantern-mlops/lantern/serving"
)

// Config is what the platform needs; the CLI fills it from flags.
type Config struct {
	// Store holds registry metadata and artifacts; StoreDesc describes it
	// for logs. A nil Store runs no registry (lantern serve).
	Store     objstore.Store
	StoreDesc string
	// Serving runs the serving component when set. Without a Source it
	// serves from the in-process registry.
	Serving *ServingConfig
	// Auth authenticates API callers.
	Auth *auth.Authenticator
	// HTTPAddr is the HTTP listen address ("127.0.0.1:0" picks a free port).
	HTTPAddr string
	// DrainTimeout bounds the graceful shutdown.
	DrainTimeout time.Duration
	// ShutdownDelay is how long the process keeps serving after it has
	// reported itself not ready (HTTP /readyz 503, gRPC health
	// NOT_SERVING), so load balancers stop sending before the listeners close.
	ShutdownDelay time.Duration
	// Registry tunes the registry (lease TTLs, poll intervals).
	Registry registry.Options
	// Logger receives structured logs.
	Logger *slog.Logger
}

// Platform is a running all-in-one Lantern.
type Platform struct {
	// HTTPAddr is the address the HTTP server listens on.
	HTTPAddr string
	// GRPCAddr is the address the gRPC server listens on ("" without serving).
	GRPCAddr string
	// Registry is the in-process registry (nil without one).
	Registry *registry.Service
	// Serving is the serving core (nil without serving).
	Serving *serving.Manager
	// Metrics is the process's Prometheus registry.
	Metrics *prometheus.Registry

	group   *errgroup.Group
	ready   atomic.Bool
	serving *servingParts
}

// Start opens the registry and starts serving. It returns once the HTTP
// port is listening; Wait returns after ctx ends and everything has drained.
func Start(ctx context.Context, cfg Config) (_ *Platform, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := server.NewMetrics(reg)
	mux := http.NewServeMux()
	p := &Platform{Metrics: reg}
	g, gctx := errgroup.WithContext(ctx)
	p.group = g
	// Shutdown: ctx ends → not ready → ShutdownDelay → stop accepting and
	// drain (serveCtx) → close the models.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(gctx))
	defer func() {
		if err != nil {
			stopServing()
		}
	}()

	if cfg.Store != nil {
		svc, err := registry.New(ctx, cfg.Store, &cfg.Registry, log, reg)
		if err != nil {
			return nil, err
		}
		tr, err := tracking.New(ctx, cfg.Store, nil, log)
		if err != nil {
			return nil, err
		}
		p.Registry = svc
		mlflow := mlflowapi.New(svc, tr, cfg.Store, mlflowapi.Options{Logger: log}).Handler(cfg.Auth, log, metrics)
		mux.Handle("/api/2.0/", mlflow)
		mux.Handle("/ajax-api/2.0/", mlflow)
		mux.Handle("/api/v1/", api.Handler(svc, cfg.Auth, log, metrics))
		g.Go(func() error { return svc.Run(gctx) })
	}
	if cfg.Serving != nil {
		sc := *cfg.Serving
		if sc.Source == nil {
			if p.Registry == nil {
				return nil, errors.New("platform: serving needs a registry: in process or --registry URL")
			}
			sc.Source = serving.LocalSource(p.Registry)
		}
		parts, err := startServing(ctx, g, gctx, serveCtx, mux, sc, cfg.Auth, log, reg, metrics, cfg.DrainTimeout)
		if err != nil {
			return nil, err
		}
		p.Serving, p.GRPCAddr, p.serving = parts.manager, parts.grpcAddr, parts
	}
	l, err := server.Listen(cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	p.HTTPAddr = l.Addr().String()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if msg := p.notReady(); msg != "" {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if cfg.Auth != nil {
		g.Go(func() error { return cfg.Auth.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		p.ready.Store(false)
		if p.serving != nil {
			p.serving.drain()
		}
		if cfg.ShutdownDelay > 0 {
			log.Info("shutting down: not ready; still serving while load balancers catch up", "delay", cfg.ShutdownDelay)
			time.Sleep(cfg.ShutdownDelay)
		}
		stopServing()
		return nil
	})
	httpSrv := &server.HTTP{Handler: mux, Listener: l, DrainTimeout: cfg.DrainTimeout, Logger: log}
	httpDone := make(chan struct{})
	g.Go(func() error {
		defer close(httpDone)
		return httpSrv.Run(serveCtx)
	})
	if p.serving != nil {
		g.Go(func() error {
			<-httpDone
			<-p.serving.stopped
			p.Serving.Close() // after the last request: unload the models
			return nil
		})
	}
	p.ready.Store(true)
	if host, _, _ := net.SplitHostPort(p.HTTPAddr); cfg.Auth != nil && cfg.Auth.Insecure() && !IsLoopback(host) {
		log.Warn("INSECURE MODE on a non-loopback address: anyone who can reach " + p.HTTPAddr + " can change models")
	}
	log.Info("lantern is up", "http", "http://"+p.HTTPAddr, "grpc", p.GRPCAddr, "store", cfg.StoreDesc)
	return p, nil
}

// notReady says why the process should not get traffic ("" when it should).
func (p *Platform) notReady() string {
	switch {
	case !p.ready.Load():
		return "shutting down"
	case p.Registry != nil && !p.Registry.Ready():
		return "registry index not loaded"
	case p.Serving != nil && !p.Serving.Ready():
		return "models not loaded yet"
	}
	return ""
}

// Wait blocks until the platform has stopped.
func (p *Platform) Wait() error { return p.group.Wait() }

// IsLoopback reports whether host names the local machine only.
func IsLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback()) || strings.HasSuffix(host, ".localhost")
}
