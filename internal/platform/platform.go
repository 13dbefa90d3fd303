// Package platform runs Lantern's components together in one process: what
// `lantern up` and `lantern demo` start. Each component also runs alone in
// its own subcommand; this package only wires them.
package platform

import (
	"context"
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
)

// Config is what the platform needs; the CLI fills it from flags.
type Config struct {
	// Store holds registry metadata and artifacts; StoreDesc describes it for logs.
	Store     objstore.Store
	StoreDesc string
	// Auth authenticates API callers.
	Auth *auth.Authenticator
	// HTTPAddr is the HTTP listen address ("127.0.0.1:0" picks a free port).
	HTTPAddr string
	// DrainTimeout bounds the graceful shutdown.
	DrainTimeout time.Duration
	// Registry tunes the registry (lease TTLs, poll intervals).
	Registry registry.Options
	// Logger receives structured logs.
	Logger *slog.Logger
}

// Platform is a running all-in-one Lantern.
type Platform struct {
	// HTTPAddr is the address the HTTP server listens on.
	HTTPAddr string
	// Registry is the in-process registry.
	Registry *registry.Service
	// Metrics is the process's Prometheus registry.
	Metrics *prometheus.Registry

	group *errgroup.Group
	ready atomic.Bool
}

// Start opens the registry and starts serving. It returns once the HTTP
// port is listening; Wait returns after ctx ends and everything has drained.
func Start(ctx context.Context, cfg Config) (*Platform, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := registry.New(ctx, cfg.Store, &cfg.Registry, log, reg)
	if err != nil {
		return nil, err
	}
	tr, err := tracking.New(ctx, cfg.Store, nil, log)
	if err != nil {
		return nil, err
	}
	l, err := server.Listen(cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	p := &Platform{HTTPAddr: l.Addr().String(), Registry: svc, Metrics: reg}
	metrics := server.NewMetrics(reg)

	mux := http.NewServeMux()
	mlflow := mlflowapi.New(svc, tr, cfg.Store, mlflowapi.Options{Logger: log}).Handler(cfg.Auth, log, metrics)
	mux.Handle("/api/2.0/", mlflow)
	mux.Handle("/ajax-api/2.0/", mlflow)
	mux.Handle("/api/v1/", api.Handler(svc, cfg.Auth, log, metrics))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !p.ready.Load() || !svc.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})

	g, gctx := errgroup.WithContext(ctx)
	p.group = g
	g.Go(func() error { return svc.Run(gctx) })
	if cfg.Auth != nil {
		g.Go(func() error { return cfg.Auth.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		p.ready.Store(false) // stop taking new work before draining
		return nil
	})
	httpSrv := &server.HTTP{Handler: mux, Listener: l, DrainTimeout: cfg.DrainTimeout, Logger: log}
	g.Go(func() error { return httpSrv.Run(gctx) })
	p.ready.Store(true)
	if host, _, _ := net.SplitHostPort(p.HTTPAddr); cfg.Auth != nil && cfg.Auth.Insecure() && !IsLoopback(host) {
		log.Warn("INSECURE MODE on a non-loopback address: anyone who can reach " + p.HTTPAddr + " can change models")
	}
	log.Info("lantern is up", "http", "http://"+p.HTTPAddr, "store", cfg.StoreDesc)
	return p, nil
}

// Wait blocks until the platform has stopped.
func (p *Platform) Wait() error { return p.group.Wait() }

// IsLoopback reports whether host names the local machine only.
func IsLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback()) || strings.HasSuffix(host, ".localhost")
}
