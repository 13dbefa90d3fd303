package tracking

import (
	"fmt"

	"github.com/lantern-mlops/lantern/internal/errkind"
)

// Sentinel errors. Every error the Store returns wraps one of them (or is an
// internal error); inspect them with errors.Is. They are errkind kinds, so
// the API layers map them to each protocol's codes in one place.
var (
	// ErrNotFound: the experiment or run does not exist.
	ErrNotFound = errkind.NotFound
	// ErrAlreadyExists: an experiment with that name exists.
	ErrAlreadyExists = errkind.AlreadyExists
	// ErrInvalid: the request is malformed; the message says what to fix.
	ErrInvalid = errkind.Invalid
	// ErrConflict: concurrent changes kept winning and retries ran out.
	ErrConflict = errkind.Conflict
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

func conflict(what string) error {
	return &userError{ErrConflict, what + " changed concurrently too many times; try again"}
}
