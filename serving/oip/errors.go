package oip

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
)

// apiError is an error a client may read: its message is shown as is and
// its kind (an errkind sentinel) picks the HTTP status and gRPC code.
// status, when set, overrides the HTTP status (405, 415).
type apiError struct {
	kind   error
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

func invalidf(format string, a ...any) error {
	return &apiError{kind: errkind.Invalid, msg: fmt.Sprintf(format, a...)}
}

func notFoundf(format string, a ...any) error {
	return &apiError{kind: errkind.NotFound, msg: fmt.Sprintf(format, a...)}
}

// classify returns the HTTP status and the message a client sees for err;
// internal is true for errors of no known kind, whose details must only
// go to the log.
func classify(err error) (status int, msg string, internal bool) {
	var ae *apiError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &ae) && ae.status != 0:
		return ae.status, ae.msg, false
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, server.TooLarge(err).Error(), false
	case errors.Is(err, server.ErrInternal):
		return http.StatusInternalServerError, err.Error(), false
	case errkind.Known(err):
		return errkind.HTTPStatus(err), err.Error(), false
	}
	return http.StatusInternalServerError, "", true
}

// timeoutError replaces err by a clear message when the request's context
// ended it: ctx is the context the backend got, derived from parent (the
// client's) with the server's timeout.
func timeoutError(parent, ctx context.Context, err error, timeout fmt.Stringer) error {
	switch {
	case parent.Err() == context.DeadlineExceeded:
		return &apiError{kind: context.DeadlineExceeded, msg: "the client's deadline passed before the inference finished"}
	case parent.Err() == context.Canceled:
		return &apiError{kind: context.Canceled, msg: "the request was cancelled by the client"}
	case ctx.Err() == context.DeadlineExceeded:
		return &apiError{kind: context.DeadlineExceeded, msg: fmt.Sprintf("inference did not finish within the request timeout (%s)", timeout)}
	}
	return err
}
