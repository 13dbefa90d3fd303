// Package errkind is the one place where Lantern's errors are mapped to the
// status codes of each protocol it speaks: HTTP, gRPC and MLflow's error codes.
//
// Domain packages define their sentinels as (or wrapping) the kinds below,
// for example registry.ErrNotFound = errkind.NotFound, and the API layers
// call HTTPStatus, GRPCCode or MLflowCode on whatever error they get.
// An error of no known kind is internal: clients get a generic message and
// a request id, and the details go to the log.
package errkind

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
)

// Kinds of errors.
var (
	NotFound           = errors.New("not found")
	AlreadyExists      = errors.New("already exists")
	Invalid            = errors.New("invalid argument")
	Conflict           = errors.New("conflict")
	FailedPrecondition = errors.New("failed precondition")
	TooLarge           = errors.New("too large")
	Unauthenticated    = errors.New("unauthenticated")
	PermissionDenied   = errors.New("permission denied")
	Unavailable        = errors.New("unavailable")
	ResourceExhausted  = errors.New("resource exhausted")
	DataLoss           = errors.New("data loss")
	Unimplemented      = errors.New("not implemented")
)

type mapping struct {
	kind   error
	http   int
	grpc   codes.Code
	mlflow string
}

// table maps each kind to its codes; the first match wins.
var table = []mapping{
	{Invalid, http.StatusBadRequest, codes.InvalidArgument, "INVALID_PARAMETER_VALUE"},
	{NotFound, http.StatusNotFound, codes.NotFound, "RESOURCE_DOES_NOT_EXIST"},
	// MLflow answers an existing name with 400 RESOURCE_ALREADY_EXISTS.
	{AlreadyExists, http.StatusConflict, codes.AlreadyExists, "RESOURCE_ALREADY_EXISTS"},
	{Conflict, http.StatusConflict, codes.Aborted, "ABORTED"},
	{FailedPrecondition, http.StatusConflict, codes.FailedPrecondition, "INVALID_STATE"},
	{TooLarge, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "INVALID_PARAMETER_VALUE"},
	{Unauthenticated, http.StatusUnauthorized, codes.Unauthenticated, "UNAUTHENTICATED"},
	{PermissionDenied, http.StatusForbidden, codes.PermissionDenied, "PERMISSION_DENIED"},
	{ResourceExhausted, http.StatusTooManyRequests, codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
	{Unavailable, http.StatusServiceUnavailable, codes.Unavailable, "TEMPORARILY_UNAVAILABLE"},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
	{context.Canceled, 499, codes.Canceled, "CANCELLED"},
	{DataLoss, http.StatusInternalServerError, codes.DataLoss, "DATA_LOSS"},
	{Unimplemented, http.StatusNotImplemented, codes.Unimplemented, "NOT_IMPLEMENTED"},
}

func lookup(err error) (mapping, bool) {
	for _, m := range table {
		if errors.Is(err, m.kind) {
			return m, true
		}
	}
	return mapping{}, false
}

// Known reports whether err is of a kind clients may see the message of.
func Known(err error) bool {
	_, ok := lookup(err)
	return ok
}

// HTTPStatus is the HTTP status for err (500 if unknown).
func HTTPStatus(err error) int {
	if m, ok := lookup(err); ok {
		return m.http
	}
	return http.StatusInternalServerError
}

// GRPCCode is the gRPC status code for err (Internal if unknown).
func GRPCCode(err error) codes.Code {
	if m, ok := lookup(err); ok {
		return m.grpc
	}
	return codes.Internal
}

// MLflowCode is MLflow's error_code for err (INTERNAL_ERROR if unknown).
func MLflowCode(err error) string {
	if m, ok := lookup(err); ok {
		return m.mlflow
	}
	return "INTERNAL_ERROR"
}

// MLflowStatus is the HTTP status MLflow's server uses for its error code
// (mlflow/server/handlers.py), which differs from HTTPStatus for some kinds
// (an existing resource is a 400 there). One deliberate difference:
// INVALID_STATE is a 400 here, not MLflow's 500, because MLflow clients
// retry 500s and a request against an object in the wrong state will not
// succeed by retrying.
func MLflowStatus(code string) int {
	switch code {
	case "BAD_REQUEST", "INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "INVALID_STATE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND", "ENDPOINT_NOT_FOUND", "RESOURCE_DOES_NOT_EXIST":
		return http.StatusNotFound
	case "ABORTED", "ALREADY_EXISTS", "RESOURCE_CONFLICT":
		return http.StatusConflict
	case "REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "CANCELLED":
		return 499
	case "NOT_IMPLEMENTED":
		return http.StatusNotImplemented
	case "TEMPORARILY_UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
