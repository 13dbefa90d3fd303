package mlflowapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

// Options tunes the API. The zero value gives the defaults.
type Options struct {
	// MaxRequestBody bounds JSON request bodies (default 16 MiB).
	MaxRequestBody int64
	// MaxArtifactSize bounds one file uploaded through the artifact proxy
	// (default 16 GiB, the registry's default file limit).
	MaxArtifactSize int64
	// MaxSourceFiles bounds the files model-versions/create copies from one
	// source (default 10000).
	MaxSourceFiles int
	// Logger receives unexpected errors (nil: discarded).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxRequestBody <= 0 {
		o.MaxRequestBody = 16 << 20
	}
	if o.MaxArtifactSize <= 0 {
		o.MaxArtifactSize = 16 << 30
	}
	if o.MaxSourceFiles <= 0 {
		o.MaxSourceFiles = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// API is MLflow's REST API over Lantern's registry and tracking store. It is
// an http.Handler without authentication; Handler wraps it with the shared
// middleware. It is safe for concurrent use.
type API struct {
	reg    *registry.Service
	tr     *tracking.Store
	store  objstore.Store
	opts   Options
	log    *slog.Logger
	routes map[string]map[string]handlerFunc
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New returns the MLflow API. store is the object store the tracking store
// and the artifact proxy keep their files in (normally tr.ObjectStore()).
func New(reg *registry.Service, tr *tracking.Store, store objstore.Store, opts Options) *API {
	a := &API{reg: reg, tr: tr, store: store, opts: opts.withDefaults()}
	a.log = a.opts.Logger.With("component", "mlflowapi")
	a.routes = map[string]map[string]handlerFunc{}
	a.registryRoutes()
	a.trackingRoutes()
	a.loggedModelRoutes()
	return a
}

// Handler returns the API wrapped in the shared middleware (request ids,
// panic recovery, authentication with authn, metrics, access log), with
// MLflow's error format and the roles of Role. authn, logger and m may be nil.
func (a *API) Handler(authn *auth.Authenticator, logger *slog.Logger, m *server.Metrics) http.Handler {
	log := a.log
	return server.Wrap(a, server.Options{
		Name:    "mlflow",
		Auth:    authn,
		Role:    a.Role,
		Errors:  func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err, log) },
		Logger:  logger,
		Metrics: m,
	})
}

// Prefixes MLflow serves its API under.
var prefixes = []string{"/api/2.0", "/ajax-api/2.0"}

const artifactsRoute = "/mlflow-artifacts/artifacts"

func (a *API) handle(path string, methods string, h handlerFunc) {
	m := a.routes[path]
	if m == nil {
		m = map[string]handlerFunc{}
		a.routes[path] = m
	}
	for meth := range strings.SplitSeq(methods, ",") {
		m[meth] = h
	}
}

// endpoint strips the API prefix from a path ("" if it has none).
func endpoint(p string) string {
	for _, pre := range prefixes {
		if rest, ok := strings.CutPrefix(p, pre); ok && strings.HasPrefix(rest, "/") {
			return rest
		}
	}
	return ""
}

// readPOSTs are POST endpoints that only read (searches).
var readPOSTs = map[string]bool{
	"/mlflow/registered-models/search":              true,
	"/mlflow/registered-models/get-latest-versions": true,
	"/mlflow/model-versions/search":                 true,
	"/mlflow/experiments/search":                    true,
	"/mlflow/runs/search":                           true,
	loggedModelsRoute + "/search":                   true,
}

// Role is the role a request needs: reads (GET, and the searches sent by
// POST) need a reader, deleting a registered model an admin, every other
// write a writer.
func (a *API) Role(r *http.Request) auth.Role {
	ep := endpoint(r.URL.Path)
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return auth.RoleReader
	case r.Method == http.MethodPost && readPOSTs[ep]:
		return auth.RoleReader
	case r.Method == http.MethodDelete && ep == "/mlflow/registered-models/delete":
		return auth.RoleAdmin
	}
	return auth.RoleWriter
}

// ServeHTTP routes a request. No panic reaches the client: one is answered
// with INTERNAL_ERROR and logged.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &wroteTracker{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.Error("panic serving request", "request_id", server.RequestID(r), "method", r.Method, "path", r.URL.Path, "panic", p)
			if !rec.wrote {
				writeError(rec, r, server.ErrInternal, a.log)
			} else {
				panic(http.ErrAbortHandler)
			}
		}
	}()
	ctx := r.Context()
	actor := "anonymous"
	if p, ok := auth.FromContext(ctx); ok && p.Name != "" {
		actor = p.Name
	}
	ctx = registry.WithActor(ctx, actor)
	if id := server.RequestID(r); id != "" {
		ctx = registry.WithRequestID(ctx, id)
	}
	r = r.WithContext(ctx)
	if err := a.route(rec, r); err != nil {
		if rec.wrote {
			// Too late for an error body: cut the response short so the
			// client sees a failed transfer, not a complete one.
			a.log.Warn("request failed after the response started", "request_id", server.RequestID(r), "path", r.URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		}
		writeError(rec, r, err, a.log)
	}
}

func (a *API) route(w http.ResponseWriter, r *http.Request) error {
	ep := endpoint(r.URL.Path)
	if ep == artifactsRoute || strings.HasPrefix(ep, artifactsRoute+"/") {
		return a.serveArtifacts(w, r, strings.TrimPrefix(ep, artifactsRoute))
	}
	if strings.HasPrefix(ep, "/mlflow-artifacts/mpu/") {
		return &apiError{"NOT_IMPLEMENTED", http.StatusNotImplemented,
			"Multipart upload is not supported by this server; upload the file with a single PUT (unset MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD)"}
	}
	if rest, ok := strings.CutPrefix(ep, loggedModelsRoute+"/"); ok && rest != "search" {
		return a.serveLoggedModel(w, r, rest)
	}
	methods, ok := a.routes[ep]
	if !ok {
		return endpointNotFound(r)
	}
	h, ok := methods[r.Method]
	if !ok {
		allowed := slices.Sorted(func(yield func(string) bool) {
			for m := range methods {
				if !yield(m) {
					return
				}
			}
		})
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return methodNotAllowed(r, strings.Join(allowed, " or "))
	}
	return h(w, r)
}

// decode reads the request's fields into dst (see decode.go).
func (a *API) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeRequest(w, r, dst, a.opts.MaxRequestBody)
}

// reply writes v as the JSON response.
func reply(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

type empty struct{}

type wroteTracker struct {
	http.ResponseWriter
	wrote bool
}

func (t *wroteTracker) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *wroteTracker) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *wroteTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }
