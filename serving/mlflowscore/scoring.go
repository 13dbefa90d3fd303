package mlflowscore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/serving"
)

// Headers.
const (
	// ModelHeader names the model to score when the path does not.
	ModelHeader = "X-Lantern-Model"
	// VersionHeader, in a request, asks for one loaded version; in the
	// response it names the version that answered.
	VersionHeader = "X-Lantern-Model-Version"
	// DefaultRoutingKeyHeader carries the routing key for sticky rollouts.
	DefaultRoutingKeyHeader = "X-Lantern-Routing-Key"
)

// FeatureNamesProperty is the serving.ModelInfo property listing, comma
// separated, the columns a one-input model takes, in order.
const FeatureNamesProperty = "feature_names"

// Options configures the scoring API. The zero value gives the defaults.
type Options struct {
	// MaxBody bounds request bodies (default 64 MiB); larger ones get 413.
	MaxBody int64
	// Timeout bounds one prediction (default 30s); then 504.
	Timeout time.Duration
	// RoutingKeyHeader is the request header with the routing key
	// (default "X-Lantern-Routing-Key").
	RoutingKeyHeader string
	// InferRole is the role /invocations needs in Handler (default
	// reader: scoring only reads).
	InferRole auth.Role
	// AuthenticateHealth makes Handler ask for a token on /ping and
	// /health too; by default they are open for probes.
	AuthenticateHealth bool
	// Logger receives internal errors (nil: discarded).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RoutingKeyHeader == "" {
		o.RoutingKeyHeader = DefaultRoutingKeyHeader
	}
	if o.InferRole == auth.RoleNone {
		o.InferRole = auth.RoleReader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

type api struct {
	b    serving.Backend
	opts Options
	log  *slog.Logger
}

// New returns the scoring API over b, without authentication or access
// logs (Handler adds them). It is safe for concurrent use.
func New(b serving.Backend, opts Options) http.Handler {
	return newAPI(b, opts)
}

func newAPI(b serving.Backend, opts Options) *api {
	opts = opts.withDefaults()
	return &api{b: b, opts: opts, log: opts.Logger.With("component", "mlflow_scoring")}
}

// Handler returns the scoring API wrapped in the shared middleware
// (request ids, panic recovery, authentication with authn, metrics,
// access log). Scoring needs a reader token (see Options.InferRole);
// /ping, /health and /version need none unless Options.AuthenticateHealth.
// authn, logger and m may be nil.
func Handler(b serving.Backend, opts Options, authn *auth.Authenticator, logger *slog.Logger, m *server.Metrics) http.Handler {
	if opts.Logger == nil {
		opts.Logger = logger
	}
	a := newAPI(b, opts)
	errs := func(w http.ResponseWriter, r *http.Request, err error) { a.fail(w, r, err) }
	role := func(r *http.Request) auth.Role {
		if r.Method == http.MethodPost {
			return a.opts.InferRole
		}
		return auth.RoleFor(r.Method)
	}
	authed := server.Wrap(a, server.Options{Name: "mlflow_scoring", Auth: authn, Role: role, Errors: errs, Logger: logger, Metrics: m, QuietSuccess: true})
	if authn == nil || a.opts.AuthenticateHealth {
		return authed
	}
	open := server.Wrap(a, server.Options{Name: "mlflow_scoring", Errors: errs, Logger: logger, Metrics: m, QuietSuccess: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ping", "/health", "/version":
			open.ServeHTTP(w, r)
		default:
			authed.ServeHTTP(w, r)
		}
	})
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/ping" || p == "/health":
		if a.method(w, r, http.MethodGet) {
			// MLflow answers a newline, typed as JSON.
			status := http.StatusOK
			if !a.b.Ready() {
				status = http.StatusNotFound
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "\n")
		}
	case p == "/version":
		if a.method(w, r, http.MethodGet) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, buildinfo.String())
		}
	case p == "/invocations":
		if a.method(w, r, http.MethodPost) {
			a.invocations(w, r, "")
		}
	case strings.HasPrefix(p, "/invocations/") && len(p) > len("/invocations/") && !strings.Contains(p[len("/invocations/"):], "/"):
		if a.method(w, r, http.MethodPost) {
			a.invocations(w, r, p[len("/invocations/"):])
		}
	default:
		a.fail(w, r, &scoreError{code: "ENDPOINT_NOT_FOUND", status: http.StatusNotFound,
			msg: fmt.Sprintf("no endpoint %s %s; the scoring server has POST /invocations[/{model}], GET /ping, /health and /version", r.Method, p)})
	}
}

func (a *api) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || want == http.MethodGet && r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", want)
	a.fail(w, r, &scoreError{code: "BAD_REQUEST", status: http.StatusMethodNotAllowed,
		msg: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, want)})
	return false
}

// selectModel picks the model: the path's, the header's, or the only one.
func (a *api) selectModel(r *http.Request, fromPath string) (string, error) {
	if fromPath != "" {
		return fromPath, nil
	}
	if m := r.Header.Get(ModelHeader); m != "" {
		return m, nil
	}
	models := a.b.Models()
	switch len(models) {
	case 1:
		return models[0], nil
	case 0:
		return "", fmt.Errorf("%w: no model is served yet", errkind.Unavailable)
	}
	slices.Sort(models)
	return "", badRequestf("this server serves several models (%s); choose one with POST /invocations/{model} or the %s header",
		strings.Join(models, ", "), ModelHeader)
}

func (a *api) invocations(w http.ResponseWriter, r *http.Request, fromPath string) {
	format, err := contentFormat(r.Header.Get("Content-Type"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	name, err := a.selectModel(r, fromPath)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	version := r.Header.Get(VersionHeader)
	info, err := a.b.Model(name, version)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := readBody(r, a.opts.MaxBody)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	in, err := parseRequest(body, format)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	inputs, err := buildInputs(info, in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
	defer cancel()
	resp, err := a.b.Infer(ctx, &serving.InferRequest{
		Model:      name,
		Version:    version,
		Inputs:     inputs,
		RoutingKey: r.Header.Get(a.opts.RoutingKeyHeader),
		Lookup:     r.Header.Get,
		Protocol:   "mlflow",
	})
	if err != nil {
		a.fail(w, r, deadline(ctx, err, a.opts.Timeout))
		return
	}
	defer resp.Release()
	out, err := appendPredictions(nil, resp, info, in.frameStyle, in.rows)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	if resp.Version != "" {
		h.Set(VersionHeader, resp.Version)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func deadline(ctx context.Context, err error, timeout time.Duration) error {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return &scoreError{code: "DEADLINE_EXCEEDED", status: http.StatusGatewayTimeout,
			msg: fmt.Sprintf("the prediction did not finish within the request timeout (%s)", timeout)}
	case context.Canceled:
		return &scoreError{code: "CANCELLED", status: 499, msg: "the request was cancelled by the client"}
	}
	return err
}

type format int

const (
	formatJSON format = iota
	formatCSV
)

// contentFormat checks the Content-Type as MLflow's scoring server does:
// application/json or text/csv, charset utf-8 if any, no other parameter;
// anything else is 415 with a plain text body.
func contentFormat(ct string) (format, error) {
	parts := strings.Split(ct, ";")
	mime := strings.ToLower(strings.TrimSpace(parts[0]))
	var unexpected []string
	for _, p := range parts[1:] {
		key, value, _ := strings.Cut(p, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if key == "charset" {
			if v := strings.ToLower(strings.Trim(strings.TrimSpace(value), `"`)); v != "utf-8" {
				return 0, unsupported("The scoring server only supports UTF-8")
			}
			continue
		}
		unexpected = append(unexpected, key)
	}
	if len(unexpected) > 0 {
		return 0, unsupported(fmt.Sprintf("Unrecognized content type parameters: %s. The MLflow Model scoring protocol changed in MLflow 2.0: "+
			"send application/json with dataframe_split, dataframe_records, instances or inputs, or text/csv.", strings.Join(unexpected, ", ")))
	}
	switch mime {
	case "application/json":
		return formatJSON, nil
	case "text/csv":
		return formatCSV, nil
	}
	return 0, unsupported(fmt.Sprintf("This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got '%s'.", ct))
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, tooLarge(mb.Limit)
		}
		return nil, badRequestf("could not read the request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return &scoreError{code: "INVALID_PARAMETER_VALUE", status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("the request body is over the %d-byte limit", limit)}
}

// scoreError is an error with MLflow's error code and an HTTP status; a
// plain one is written as text, as MLflow does for 415.
type scoreError struct {
	code   string
	status int
	msg    string
	plain  bool
}

func (e *scoreError) Error() string { return e.msg }

func badRequestf(format string, a ...any) error {
	return &scoreError{code: "BAD_REQUEST", status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

func unsupported(msg string) error {
	return &scoreError{status: http.StatusUnsupportedMediaType, msg: msg, plain: true}
}

// classify returns MLflow's error code, the status and the message for err.
func classify(err error) (code string, status int, msg string, internal bool) {
	var se *scoreError
	switch {
	case errors.As(err, &se):
		return se.code, se.status, se.msg, false
	case errors.Is(err, server.ErrInternal):
		return "INTERNAL_ERROR", http.StatusInternalServerError, err.Error(), false
	case errors.Is(err, errkind.Invalid):
		// The scoring server says BAD_REQUEST for bad input.
		return "BAD_REQUEST", http.StatusBadRequest, err.Error(), false
	case errors.Is(err, errkind.TooLarge):
		return "INVALID_PARAMETER_VALUE", http.StatusRequestEntityTooLarge, err.Error(), false
	case errkind.Known(err):
		code := errkind.MLflowCode(err)
		return code, errkind.MLflowStatus(code), err.Error(), false
	}
	return "INTERNAL_ERROR", http.StatusInternalServerError, "", true
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status, msg, internal := classify(err)
	if internal {
		id := server.RequestID(r)
		a.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error; the details are in the server log"
		if id != "" {
			msg += " under request id " + id
		}
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del(VersionHeader)
	var se *scoreError
	if errors.As(err, &se) && se.plain {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, msg)
		return
	}
	b, _ := json.Marshal(struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}{code, msg})
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
