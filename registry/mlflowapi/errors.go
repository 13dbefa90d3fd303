package mlflowapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
)

// apiError is an error with MLflow's error code and an HTTP status of its
// own, for the cases the errkind table does not cover (unknown endpoints,
// wrong methods).
type apiError struct {
	code   string
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func endpointNotFound(r *http.Request) error {
	return &apiError{"ENDPOINT_NOT_FOUND", http.StatusNotFound,
		fmt.Sprintf("No API endpoint %s %s; see the MLflow REST API documentation for the supported endpoints", r.Method, r.URL.Path)}
}

func methodNotAllowed(r *http.Request, allowed string) error {
	return &apiError{"BAD_REQUEST", http.StatusMethodNotAllowed,
		fmt.Sprintf("Method %s is not allowed for %s; use %s", r.Method, r.URL.Path, allowed)}
}

// invalidf returns an INVALID_PARAMETER_VALUE error.
func invalidf(format string, a ...any) error {
	return &userError{errkind.Invalid, fmt.Sprintf(format, a...)}
}

func notFoundf(format string, a ...any) error {
	return &userError{errkind.NotFound, fmt.Sprintf(format, a...)}
}

type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

// errorBody is MLflow's error response.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// classify returns the MLflow error code, HTTP status and client message for err.
func classify(err error) (code string, status int, msg string, internal bool) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.code, ae.status, ae.msg, false
	case errors.Is(err, server.ErrInternal):
		return "INTERNAL_ERROR", http.StatusInternalServerError, err.Error(), false
	case errors.Is(err, errkind.TooLarge):
		// MLflow has no code of its own for this; the status says it.
		return "INVALID_PARAMETER_VALUE", http.StatusRequestEntityTooLarge, err.Error(), false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code := errkind.MLflowCode(err)
		return code, errkind.MLflowStatus(code), "the request was cancelled or timed out: " + err.Error(), false
	case errkind.Known(err):
		code := errkind.MLflowCode(err)
		return code, errkind.MLflowStatus(code), err.Error(), false
	}
	return "INTERNAL_ERROR", http.StatusInternalServerError, "", true
}

// WriteError writes err as MLflow's {"error_code", "message"} JSON with the
// HTTP status MLflow's server uses for that code. An error of no known kind
// is logged to slog.Default with the request id and answered with a generic
// message; the API's own handlers log to its logger instead (see API.fail).
// It is the server.ErrorWriter of the MLflow API.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, slog.Default())
}

func writeError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	code, status, msg, internal := classify(err)
	if internal {
		id := server.RequestID(r)
		log.Error("mlflow api: internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error; the details are in the server log"
		if id != "" {
			msg += " under request id " + id
		}
	}
	b, _ := json.Marshal(errorBody{code, msg})
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Disposition")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
