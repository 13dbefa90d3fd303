package oip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/serving"
)

// Defaults of RESTOptions and GRPCOptions.
const (
	DefaultMaxBody             = 64 << 20
	DefaultTimeout             = 30 * time.Second
	DefaultRoutingKeyHeader    = "X-Lantern-Routing-Key"
	DefaultRoutingKeyParameter = "routing_key"
)

// VersionHeader is the response header (gRPC: response metadata, in
// lower case) naming the model version that answered an inference.
const VersionHeader = "X-Lantern-Model-Version"

// ServerName is the name the server metadata APIs report.
const ServerName = "lantern"

// extensions are the OIP extensions the server metadata APIs report.
var extensions = []string{"binary_tensor_data"}

// RESTOptions configures the REST API. The zero value gives the defaults.
type RESTOptions struct {
	// MaxBody bounds request bodies (default 64 MiB); a larger body is
	// answered 413.
	MaxBody int64
	// Timeout bounds one inference (default 30s): the backend's context
	// ends then and the client gets 504.
	Timeout time.Duration
	// RoutingKeyHeader is the request header that carries the routing key
	// for sticky rollouts (default "X-Lantern-Routing-Key").
	RoutingKeyHeader string
	// RoutingKeyParameter is the inference request parameter that carries
	// the routing key when the header is absent (default "routing_key").
	RoutingKeyParameter string
	// NonFinite says how NaN and infinities in outputs are written
	// (default: the bare tokens NaN, Infinity, -Infinity).
	NonFinite NonFinite
	// InferRole is the role an inference needs in RESTHandler (default
	// reader: an inference is a POST but it only reads).
	InferRole auth.Role
	// AuthenticateHealth makes RESTHandler ask for a token on
	// /v2/health/live and /v2/health/ready too; by default they are open
	// so that Kubernetes probes need no credentials.
	AuthenticateHealth bool
	// Logger receives internal errors (nil: discarded).
	Logger *slog.Logger
}

func (o RESTOptions) withDefaults() RESTOptions {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RoutingKeyHeader == "" {
		o.RoutingKeyHeader = DefaultRoutingKeyHeader
	}
	if o.RoutingKeyParameter == "" {
		o.RoutingKeyParameter = DefaultRoutingKeyParameter
	}
	if o.InferRole == auth.RoleNone {
		o.InferRole = auth.RoleReader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// restAPI serves the Open Inference Protocol over HTTP.
type restAPI struct {
	b    serving.Backend
	opts RESTOptions
	log  *slog.Logger
}

// NewREST returns the Open Inference Protocol's HTTP/REST API over b,
// without authentication or access logs (RESTHandler adds them):
//
//	GET  /v2                                           server metadata
//	GET  /v2/health/live, /v2/health/ready             health
//	GET  /v2/models                                    served models
//	GET  /v2/models/{m}[/versions/{v}]                 model metadata
//	GET  /v2/models/{m}[/versions/{v}]/ready           model readiness
//	POST /v2/models/{m}[/versions/{v}]/infer           inference
//
// It is safe for concurrent use.
func NewREST(b serving.Backend, opts RESTOptions) http.Handler {
	return newREST(b, opts)
}

func newREST(b serving.Backend, opts RESTOptions) *restAPI {
	opts = opts.withDefaults()
	return &restAPI{b: b, opts: opts, log: opts.Logger.With("component", "oip_rest")}
}

// RESTHandler returns the REST API wrapped in the shared middleware
// (request ids, panic recovery, authentication with authn, metrics, access
// log). Reads and inferences need a reader token (see
// RESTOptions.InferRole); the health endpoints need none unless
// RESTOptions.AuthenticateHealth. authn, logger and m may be nil.
func RESTHandler(b serving.Backend, opts RESTOptions, authn *auth.Authenticator, logger *slog.Logger, m *server.Metrics) http.Handler {
	if opts.Logger == nil {
		opts.Logger = logger
	}
	h := newREST(b, opts)
	errs := func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err, h.log) }
	authed := server.Wrap(h, server.Options{Name: "oip", Auth: authn, Role: h.role, Errors: errs, Logger: logger, Metrics: m, QuietSuccess: true})
	if authn == nil || h.opts.AuthenticateHealth {
		return authed
	}
	open := server.Wrap(h, server.Options{Name: "oip", Errors: errs, Logger: logger, Metrics: m, QuietSuccess: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/v2/health/live" || p == "/v2/health/ready" {
			open.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// role is the role a request needs.
func (h *restAPI) role(r *http.Request) auth.Role {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/infer") {
		return h.opts.InferRole
	}
	return auth.RoleFor(r.Method)
}

func (h *restAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2")
	if !ok {
		h.notFound(w, r)
		return
	}
	switch rest {
	case "", "/":
		if h.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, serverMetadata{Name: ServerName, Version: buildinfo.String(), Extensions: extensions})
		}
		return
	case "/health/live":
		if h.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, struct {
				Live bool `json:"live"`
			}{true})
		}
		return
	case "/health/ready":
		if h.method(w, r, http.MethodGet) {
			ready := h.b.Ready()
			writeJSON(w, readyStatus(ready), struct {
				Ready bool `json:"ready"`
			}{ready})
		}
		return
	case "/models", "/models/":
		if h.method(w, r, http.MethodGet) {
			models := h.b.Models()
			if models == nil {
				models = []string{}
			}
			writeJSON(w, http.StatusOK, struct {
				Models []string `json:"models"`
			}{models})
		}
		return
	}
	m, ok := strings.CutPrefix(rest, "/models/")
	if !ok {
		h.notFound(w, r)
		return
	}
	name, tail, _ := strings.Cut(m, "/")
	version := ""
	if v, ok := strings.CutPrefix(tail, "versions/"); ok {
		version, tail, _ = strings.Cut(v, "/")
		if version == "" {
			h.notFound(w, r)
			return
		}
	}
	if name == "" {
		h.notFound(w, r)
		return
	}
	switch tail {
	case "":
		if h.method(w, r, http.MethodGet) {
			h.modelMetadata(w, r, name, version)
		}
	case "ready":
		if h.method(w, r, http.MethodGet) {
			h.modelReady(w, r, name, version)
		}
	case "infer":
		if h.method(w, r, http.MethodPost) {
			h.infer(w, r, name, version)
		}
	default:
		h.notFound(w, r)
	}
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// method reports whether r uses want (GET also allows HEAD), and answers
// 405 if not.
func (h *restAPI) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || want == http.MethodGet && r.Method == http.MethodHead {
		return true
	}
	allow := want
	if want == http.MethodGet {
		allow = "GET, HEAD"
	}
	w.Header().Set("Allow", allow)
	h.fail(w, r, &apiError{kind: errkind.Invalid, status: http.StatusMethodNotAllowed,
		msg: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, want)})
	return false
}

func (h *restAPI) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, notFoundf("no Open Inference Protocol endpoint %s %s; see GET /v2, /v2/models, /v2/models/{model}[/versions/{version}][/ready|/infer]", r.Method, r.URL.Path))
}

func (h *restAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, h.log)
}

type serverMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

type tensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type modelMetadata struct {
	Name       string            `json:"name"`
	Versions   []string          `json:"versions,omitempty"`
	Platform   string            `json:"platform"`
	Inputs     []tensorMetadata  `json:"inputs"`
	Outputs    []tensorMetadata  `json:"outputs"`
	Properties map[string]string `json:"properties,omitempty"`
}

func (h *restAPI) modelMetadata(w http.ResponseWriter, r *http.Request, name, version string) {
	info, err := h.b.Model(name, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	md := modelMetadata{
		Name:       info.Name,
		Versions:   info.Versions,
		Platform:   info.Platform,
		Inputs:     make([]tensorMetadata, len(info.Inputs)),
		Outputs:    make([]tensorMetadata, len(info.Outputs)),
		Properties: info.Properties,
	}
	for i, t := range info.Inputs {
		md.Inputs[i] = tensorMetadata{t.Name, t.DType.OIP(), nonNil(t.Shape)}
	}
	for i, t := range info.Outputs {
		md.Outputs[i] = tensorMetadata{t.Name, t.DType.OIP(), nonNil(t.Shape)}
	}
	writeJSON(w, http.StatusOK, md)
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// modelReady answers 200 {"name","ready":true} when the model (version)
// can serve, 503 {"name","ready":false} when it is configured but not
// loaded, and 404 when it is unknown.
func (h *restAPI) modelReady(w http.ResponseWriter, r *http.Request, name, version string) {
	ready := h.b.ModelReady(name, version)
	if !ready {
		if _, err := h.b.Model(name, version); errors.Is(err, errkind.NotFound) {
			h.fail(w, r, err)
			return
		}
	}
	writeJSON(w, readyStatus(ready), struct {
		Name  string `json:"name"`
		Ready bool   `json:"ready"`
	}{name, ready})
}

var (
	jsonContentType   = []string{"application/json"}
	binaryContentType = []string{"application/octet-stream"}
)

func (h *restAPI) infer(w http.ResponseWriter, r *http.Request, model, version string) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		h.fail(w, r, &apiError{kind: errkind.Invalid, status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("Content-Encoding %q is not supported; send the body uncompressed", ce)})
		return
	}
	headerLen := -1
	if v := r.Header.Get("Inference-Header-Content-Length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.fail(w, r, invalidf("the Inference-Header-Content-Length header must be a non-negative integer, got %q", v))
			return
		}
		headerLen = n
	}
	body, err := readBody(r, h.opts.MaxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer putBuf(body)
	req, err := decodeInferRequest(*body, headerLen, decodeOptions{routingParam: h.opts.RoutingKeyParameter})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	key := r.Header.Get(h.opts.RoutingKeyHeader)
	if key == "" {
		key = req.routingKey
	}
	ireq := &serving.InferRequest{
		ID:         req.id,
		Model:      model,
		Version:    version,
		Inputs:     req.inputs,
		Outputs:    req.outputs,
		RoutingKey: key,
		Protocol:   "rest",
		Lookup: func(name string) string {
			if p, ok := strings.CutPrefix(name, "param:"); ok {
				return req.params[p]
			}
			return r.Header.Get(name)
		},
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	resp, err := h.b.Infer(ctx, ireq)
	if err != nil {
		err = timeoutError(r.Context(), ctx, err, h.opts.Timeout)
		cancel()
		h.fail(w, r, err)
		return
	}
	cancel()
	defer resp.Release()

	out := getBuf()
	defer putBuf(out)
	var jsonLen int
	*out, jsonLen, err = appendResponse((*out)[:0], resp, req, h.opts.NonFinite)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hdr := w.Header()
	if resp.Version != "" {
		hdr[VersionHeader] = []string{resp.Version}
	}
	if jsonLen >= 0 {
		hdr["Content-Type"] = binaryContentType
		hdr["Inference-Header-Content-Length"] = []string{strconv.Itoa(jsonLen)}
	} else {
		hdr["Content-Type"] = jsonContentType
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(*out))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*out)
}

// Buffers for request bodies and responses. Buffers over maxPooled are
// left to the garbage collector.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooled = 4 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// readBody reads r's body into a pooled buffer, up to limit bytes.
func readBody(r *http.Request, limit int64) (*[]byte, error) {
	tooLarge := &apiError{kind: errkind.TooLarge, msg: fmt.Sprintf("the request body is over the %d-byte limit", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	bp := getBuf()
	b := (*bp)[:0]
	if r.ContentLength > 0 {
		if int64(cap(b)) < r.ContentLength {
			b = make([]byte, r.ContentLength)
		}
		b = b[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			putBuf(bp)
			return nil, readError(err)
		}
		*bp = b
		return bp, nil
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			*bp = b
			putBuf(bp)
			return nil, tooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b
			putBuf(bp)
			return nil, readError(err)
		}
	}
	*bp = b
	return bp, nil
}

func readError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return err
	}
	return invalidf("could not read the request body: %v", err)
}

// writeJSON writes v (a metadata struct) as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own structs are passed
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes err as the OIP error object {"error": "..."} with the
// HTTP status of its kind. An error of no known kind is logged with the
// request id and answered with a generic message. It is the
// server.ErrorWriter of the REST API.
func writeError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	status, msg, internal := classify(err)
	if internal {
		id := server.RequestID(r)
		log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error; the details are in the server log"
		if id != "" {
			msg += " under request id " + id
		}
	}
	b := make([]byte, 0, len(msg)+16)
	b = append(b, `{"error":`...)
	b = appendString(b, msg)
	b = append(b, '}')
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Inference-Header-Content-Length")
	h.Del(VersionHeader)
	h["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
