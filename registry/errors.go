package registry

import (
	"fmt"

	"github.com/lantern-mlops/lantern/internal/errkind"
)

// Sentinel errors. Every error the Service returns wraps one of them (or is
// an internal error); inspect them with errors.Is.
var (
	// ErrNotFound: the model, version, alias or upload does not exist.
	ErrNotFound = errkind.NotFound
	// ErrAlreadyExists: a model with that name exists.
	ErrAlreadyExists = errkind.AlreadyExists
	// ErrInvalid: the request is malformed; the message says what to fix.
	ErrInvalid = errkind.Invalid
	// ErrConflict: concurrent changes kept winning and retries ran out.
	ErrConflict = errkind.Conflict
	// ErrFailedPrecondition: the object is not in a state that allows the
	// operation (for example an alias to a version that is not READY).
	ErrFailedPrecondition = errkind.FailedPrecondition
	// ErrTooLarge: a body or file is over the configured limit.
	ErrTooLarge = errkind.TooLarge
	// ErrCorrupt: a stored file does not match its recorded sha256.
	ErrCorrupt = errkind.DataLoss
)

// userError carries a message for the API client together with a sentinel.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

func notFound(format string, a ...any) error {
	return &userError{ErrNotFound, fmt.Sprintf(format, a...)}
}

func invalid(format string, a ...any) error {
	return &userError{ErrInvalid, fmt.Sprintf(format, a...)}
}

func exists(format string, a ...any) error {
	return &userError{ErrAlreadyExists, fmt.Sprintf(format, a...)}
}

func precondition(format string, a ...any) error {
	return &userError{ErrFailedPrecondition, fmt.Sprintf(format, a...)}
}

// Invalid returns an error wrapping ErrInvalid with a message for the client.
// The API layers use it for request validation so every bad input maps the same way.
func Invalid(format string, a ...any) error { return invalid(format, a...) }
