// Package wire holds the request and response bodies and the error codes of
// the registry's native JSON API (/api/v1), shared by the server
// (registry/api) and the Go client (registry/client) so the two cannot drift.
//
// Models, versions, uploads, changes and audit events travel as the
// registry's own JSON-tagged types; this package only adds the envelopes
// around them.
package wire

import (
	"context"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry"
)

// Prefix is the path prefix of every endpoint.
const Prefix = "/api/v1"

// Headers the API reads or writes besides the standard ones.
const (
	// HeaderReason carries the reason of a write for the audit log (alias moves).
	HeaderReason = "X-Lantern-Reason"
	// HeaderSHA256 is the hex sha256 of a downloaded file.
	HeaderSHA256 = "X-Lantern-Sha256"
	// HeaderWarning reports a partial success, such as a version registered
	// whose alias could not be set.
	HeaderWarning = "X-Lantern-Warning"
	// HeaderRequestID is the request id, also in error bodies and the audit log.
	HeaderRequestID = "X-Request-Id"
)

// MaxJSONBody bounds the JSON body of every endpoint and the metadata part of
// a registration.
const MaxJSONBody = 1 << 20

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error describes what went wrong.
type Error struct {
	// Code is one of the Code* constants.
	Code    string `json:"code"`
	Message string `json:"message"`
	// RequestID finds the request in the server's log.
	RequestID string `json:"request_id,omitempty"`
}

// Error codes: the names of google.rpc.Code (as gRPC uses them), so the same
// failure has the same name in every Lantern API, plus two HTTP-only codes.
const (
	CodeInvalidArgument    = "INVALID_ARGUMENT"
	CodeNotFound           = "NOT_FOUND"
	CodeAlreadyExists      = "ALREADY_EXISTS"
	CodeAborted            = "ABORTED"
	CodeFailedPrecondition = "FAILED_PRECONDITION"
	CodeResourceExhausted  = "RESOURCE_EXHAUSTED"
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodePermissionDenied   = "PERMISSION_DENIED"
	CodeUnavailable        = "UNAVAILABLE"
	CodeDeadlineExceeded   = "DEADLINE_EXCEEDED"
	CodeCancelled          = "CANCELLED"
	CodeDataLoss           = "DATA_LOSS"
	CodeUnimplemented      = "UNIMPLEMENTED"
	CodeOutOfRange         = "OUT_OF_RANGE"
	CodeInternal           = "INTERNAL"
	// CodeMethodNotAllowed answers a method the path does not support (405).
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

var grpcNames = map[codes.Code]string{
	codes.InvalidArgument:    CodeInvalidArgument,
	codes.NotFound:           CodeNotFound,
	codes.AlreadyExists:      CodeAlreadyExists,
	codes.Aborted:            CodeAborted,
	codes.FailedPrecondition: CodeFailedPrecondition,
	codes.ResourceExhausted:  CodeResourceExhausted,
	codes.Unauthenticated:    CodeUnauthenticated,
	codes.PermissionDenied:   CodePermissionDenied,
	codes.Unavailable:        CodeUnavailable,
	codes.DeadlineExceeded:   CodeDeadlineExceeded,
	codes.Canceled:           CodeCancelled,
	codes.DataLoss:           CodeDataLoss,
	codes.Unimplemented:      CodeUnimplemented,
	codes.OutOfRange:         CodeOutOfRange,
}

// Code is the API error code for err, derived from errkind's table.
func Code(err error) string {
	if c, ok := grpcNames[errkind.GRPCCode(err)]; ok {
		return c
	}
	return CodeInternal
}

// Kind returns the errkind sentinel that an error response stands for, so a
// client can return errors that errors.Is recognises (registry.ErrNotFound,
// ...). It returns nil for internal and unknown errors.
func Kind(code string, status int) error {
	switch code {
	case CodeInvalidArgument, CodeOutOfRange:
		return errkind.Invalid
	case CodeNotFound:
		return errkind.NotFound
	case CodeAlreadyExists:
		return errkind.AlreadyExists
	case CodeAborted:
		return errkind.Conflict
	case CodeFailedPrecondition:
		return errkind.FailedPrecondition
	case CodeResourceExhausted:
		if status == http.StatusRequestEntityTooLarge {
			return errkind.TooLarge
		}
		return errkind.ResourceExhausted
	case CodeUnauthenticated:
		return errkind.Unauthenticated
	case CodePermissionDenied:
		return errkind.PermissionDenied
	case CodeUnavailable:
		return errkind.Unavailable
	case CodeDeadlineExceeded:
		return context.DeadlineExceeded
	case CodeCancelled:
		return context.Canceled
	case CodeDataLoss:
		return errkind.DataLoss
	case CodeUnimplemented, CodeMethodNotAllowed:
		return errkind.Unimplemented
	}
	return KindOfStatus(status)
}

// KindOfStatus guesses the kind of an error response without a Lantern
// error body (from a proxy, say) from its HTTP status.
func KindOfStatus(status int) error {
	switch status {
	case http.StatusBadRequest:
		return errkind.Invalid
	case http.StatusUnauthorized:
		return errkind.Unauthenticated
	case http.StatusForbidden:
		return errkind.PermissionDenied
	case http.StatusNotFound:
		return errkind.NotFound
	case http.StatusRequestEntityTooLarge:
		return errkind.TooLarge
	case http.StatusTooManyRequests:
		return errkind.ResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return errkind.Unavailable
	case http.StatusGatewayTimeout:
		return context.DeadlineExceeded
	}
	return nil
}

// CreateModelRequest is the body of POST /api/v1/models.
type CreateModelRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// UpdateModelRequest is the body of PATCH /api/v1/models/{name}. Absent
// fields are left as they are.
type UpdateModelRequest struct {
	// Name renames the model.
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// TagRequest is the body of PUT .../tags/{key}.
type TagRequest struct {
	Value *string `json:"value"`
}

// AliasRequest is the body of PUT /api/v1/models/{name}/aliases/{alias}.
type AliasRequest struct {
	Version int64 `json:"version"`
	// Reason is recorded in the audit log (the X-Lantern-Reason header works too).
	Reason string `json:"reason,omitempty"`
}

// UpdateVersionRequest is the body of PATCH .../versions/{v}. Absent fields
// are left as they are.
type UpdateVersionRequest struct {
	Description *string `json:"description,omitempty"`
	// Stage is a legacy MLflow stage: None, Staging, Production or Archived.
	Stage *string `json:"stage,omitempty"`
	// ArchiveExisting moves other versions in the target stage to Archived.
	ArchiveExisting bool `json:"archive_existing,omitempty"`
}

// RegisterMetadata is the first part ("metadata") of the multipart body of
// POST /api/v1/models/{name}/versions.
type RegisterMetadata struct {
	Description   string            `json:"description,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Lineage       registry.Lineage  `json:"lineage"`
	Aliases       []string          `json:"aliases,omitempty"`
	Status        registry.Status   `json:"status,omitempty"`
	StatusMessage string            `json:"status_message,omitempty"`
	ModelFile     string            `json:"model_file,omitempty"`
	Source        string            `json:"source,omitempty"`
	RunLink       string            `json:"run_link,omitempty"`
	// Uploads maps artifact paths to completed resumable uploads.
	Uploads map[string]string `json:"uploads,omitempty"`
	// CreateModel creates the registered model if it does not exist.
	CreateModel bool `json:"create_model,omitempty"`
}

// CreateUploadRequest is the body of POST /api/v1/uploads.
type CreateUploadRequest struct {
	Model string `json:"model"`
	Size  int64  `json:"size"`
	// PartSize defaults to registry.DefaultPartSize (16 MiB).
	PartSize int64 `json:"part_size,omitempty"`
	// SHA256 of the whole file, checked when the upload is used.
	SHA256 string `json:"sha256,omitempty"`
}

// Upload is a resumable upload with the parts still to send.
type Upload struct {
	registry.Upload
	PartCount int   `json:"part_count"`
	Missing   []int `json:"missing"`
}

// NewUpload wraps u with its part count and missing parts.
func NewUpload(u *registry.Upload) Upload {
	m := u.Missing()
	if m == nil {
		m = []int{}
	}
	return Upload{Upload: *u, PartCount: u.PartCount(), Missing: m}
}

// ModelList is the body of GET /api/v1/models.
type ModelList struct {
	Models        []*registry.Model `json:"models"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

// VersionList is the body of GET /api/v1/versions and /api/v1/models/{name}/versions.
type VersionList struct {
	Versions      []*registry.Version `json:"versions"`
	NextPageToken string              `json:"next_page_token,omitempty"`
}

// AuditList is the body of GET /api/v1/audit.
type AuditList struct {
	Events        []*registry.Event `json:"events"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

// WatchResponse is the body of a long-poll GET /api/v1/watch.
type WatchResponse struct {
	Changes []registry.Change `json:"changes"`
	// Cursor is where the next watch starts.
	Cursor string `json:"cursor"`
	// Reset means the changes after the cursor given are no longer known:
	// re-read the state you follow, then continue from Cursor.
	Reset bool `json:"reset,omitempty"`
}

// StreamReady is the data of the "ready" event that opens a server-sent
// event stream, and of "reset" events.
type StreamReady struct {
	Cursor string `json:"cursor"`
}
