package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// Handler returns the native API, wrapped in the shared middleware. a may be
// nil (no authentication: local tools and tests), and so may logger and m.
func Handler(svc *registry.Service, a *auth.Authenticator, logger *slog.Logger, m *server.Metrics) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &api{svc: svc, log: logger.With("component", "registry_api")}
	mux := h.routes()
	return server.Wrap(withRequestContext(mux), server.Options{
		Name:    "api",
		Auth:    a,
		Role:    func(r *http.Request) auth.Role { return roleFor(mux, r) },
		Errors:  h.writeError,
		Logger:  logger,
		Metrics: m,
		// No global limit: registrations and upload parts stream large
		// bodies. JSON bodies are limited to wire.MaxJSONBody where decoded.
		MaxBody: 0,
	})
}

type api struct {
	svc      *registry.Service
	log      *slog.Logger
	shutdown shutdownSignals
}

// deleteModelPattern is the one route that needs an admin.
const deleteModelPattern = "DELETE /api/v1/models/{name}"

// roleFor is the role a request needs: reads need a reader, writes a
// writer, and deleting a whole model an admin.
func roleFor(mux *http.ServeMux, r *http.Request) auth.Role {
	if _, pattern := mux.Handler(r); pattern == deleteModelPattern {
		return auth.RoleAdmin
	}
	return auth.RoleFor(r.Method)
}

// withRequestContext attributes the request's writes to the caller in the
// audit log.
func withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if p, ok := auth.FromContext(ctx); ok && p.Name != "" {
			ctx = registry.WithActor(ctx, p.Name)
		}
		if id := server.RequestID(r); id != "" {
			ctx = registry.WithRequestID(ctx, id)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// handlerFunc is an endpoint; a returned error is written in the API's format.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *api) routes() *http.ServeMux {
	const p = wire.Prefix
	routes := []struct {
		method, path string
		fn           handlerFunc
	}{
		{"GET", p + "/models", h.listModels},
		{"POST", p + "/models", h.createModel},
		{"GET", p + "/models/{name}", h.getModel},
		{"PATCH", p + "/models/{name}", h.updateModel},
		{"DELETE", p + "/models/{name}", h.deleteModel},
		{"PUT", p + "/models/{name}/tags/{key...}", h.setModelTag},
		{"DELETE", p + "/models/{name}/tags/{key...}", h.deleteModelTag},
		{"GET", p + "/models/{name}/versions", h.listModelVersions},
		{"POST", p + "/models/{name}/versions", h.streaming(h.registerVersion)},
		{"GET", p + "/versions", h.searchVersions},
		{"GET", p + "/models/{name}/versions/{ref}", h.getVersion},
		{"PATCH", p + "/models/{name}/versions/{ref}", h.updateVersion},
		{"DELETE", p + "/models/{name}/versions/{ref}", h.deleteVersion},
		{"PUT", p + "/models/{name}/versions/{ref}/tags/{key...}", h.setVersionTag},
		{"DELETE", p + "/models/{name}/versions/{ref}/tags/{key...}", h.deleteVersionTag},
		{"GET", p + "/models/{name}/versions/{ref}/files/{path...}", h.getFile},
		{"GET", p + "/models/{name}/aliases/{alias}", h.getAlias},
		{"PUT", p + "/models/{name}/aliases/{alias}", h.setAlias},
		{"DELETE", p + "/models/{name}/aliases/{alias}", h.deleteAlias},
		{"POST", p + "/uploads", h.createUpload},
		{"GET", p + "/uploads/{id}", h.getUpload},
		{"DELETE", p + "/uploads/{id}", h.abortUpload},
		{"PUT", p + "/uploads/{id}/parts/{n}", h.streaming(h.putUploadPart)},
		{"GET", p + "/watch", h.watch},
		{"GET", p + "/audit", h.audit},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, h.endpoint(rt.fn))
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// Without these, ServeMux would answer unknown paths and methods in plain text.
	for _, path := range paths {
		methods := allowed[path]
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		mux.Handle(path, h.endpoint(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			return &httpError{http.StatusMethodNotAllowed, wire.CodeMethodNotAllowed,
				fmt.Sprintf("%s is not supported on %s; use %s", r.Method, r.URL.Path, allow)}
		}))
	}
	mux.Handle("/", h.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{http.StatusNotFound, wire.CodeNotFound,
			fmt.Sprintf("no endpoint %s %s: the API lives under %s/ (see docs/api.md)", r.Method, r.URL.Path, wire.Prefix)}
	}))
	return mux
}

func (h *api) endpoint(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// drainTime is how long a streaming endpoint that failed keeps reading the
// rest of the body after sending its answer.
const drainTime = 2 * time.Second

// streaming wraps an endpoint that reads a large body. When it fails in
// the middle of the body, the answer is sent first and the rest of the body
// is read (and thrown away) for a moment before the connection closes:
// closing a socket with unread data resets it, and a client still sending
// would see "connection reset" instead of the reason. (Go's server does
// this itself for plain bodies, but not after "Expect: 100-continue".)
func (h *api) streaming(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body := &bodyState{ReadCloser: r.Body}
		r.Body = body
		err := fn(w, r)
		if err == nil || !body.started || body.done || r.Context().Err() != nil {
			return err
		}
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		h.writeError(w, r, err)
		if rc.Flush() != nil {
			return nil
		}
		_ = rc.SetReadDeadline(time.Now().Add(drainTime))
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
}

// bodyState records whether a request body was read, and to its end.
type bodyState struct {
	io.ReadCloser
	started, done bool
}

func (b *bodyState) Read(p []byte) (int, error) {
	b.started = true
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
	}
	return n, err
}

// httpError is an error with a status and code of its own, for the few
// HTTP-only answers errkind has no kind for (405, 416).
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// writeError writes err as the API's JSON error. Unexpected errors are
// logged with the request id and hidden from the client.
func (h *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := server.RequestID(r)
	status, code, msg := errkind.HTTPStatus(err), wire.Code(err), err.Error()
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, code = he.status, he.code
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		h.log.Debug("request cancelled by the client", "request_id", id, "err", err)
	case !errkind.Known(err):
		h.log.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = fmt.Sprintf("internal error (request id %s): the details are in the server log", id)
	case status >= 500:
		h.log.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	hdr := w.Header()
	for _, k := range []string{"Content-Length", "ETag", wire.HeaderSHA256, "X-Lantern-Version"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.Error{Code: code, Message: msg, RequestID: id}})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// An error here means the client went away; there is nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// decodeJSON reads a JSON body of at most wire.MaxJSONBody bytes into dst.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeStrict(http.MaxBytesReader(w, r.Body, wire.MaxJSONBody), dst)
}

// decodeStrict decodes exactly one JSON value, refusing unknown fields, with
// errors that name the problem.
func decodeStrict(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && !isSyntaxError(err) {
			return jsonError(err)
		}
		return registry.Invalid("the request body has more after the JSON object; send exactly one object")
	}
	return nil
}

func isSyntaxError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

func jsonError(err error) error {
	var (
		mb *http.MaxBytesError
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mb):
		return server.TooLarge(err)
	case errors.Is(err, errTooLarge):
		return err
	case errors.Is(err, io.EOF):
		return registry.Invalid("the request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return registry.Invalid("the JSON body ends in the middle of a value")
	case errors.As(err, &se):
		return registry.Invalid("malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		if te.Field == "" {
			return registry.Invalid("the request body must be a JSON object, not %s", jsonKind(te.Value))
		}
		return registry.Invalid("field %q must be %s, not %s", te.Field, describeType(te.Type), jsonKind(te.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return registry.Invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	if errkind.Known(err) {
		return err
	}
	return registry.Invalid("cannot read the JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(v string) string {
	switch v {
	case "object", "array":
		return "an " + v
	case "":
		return "that value"
	}
	return "a " + v
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	}
	return "an object"
}
