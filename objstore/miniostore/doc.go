// Package miniostore is an objstore.Store over MinIO, or any S3 service that
// honours conditional writes (If-None-Match: * and If-Match on PUT and on
// CompleteMultipartUpload), through github.com/minio/minio-go/v7.
//
// Objects live in one bucket, optionally under a key prefix (Options.Prefix),
// so several stores can share a bucket. ETags are the server's.
//
// # Writes
//
// An object of known size up to Options.PartSize goes up in a single PUT,
// streamed from the caller's reader; a body of unknown size is buffered up to
// PartSize to find out whether it fits. Larger objects are multipart uploads
// of PartSize parts, four in flight, and Compose is a multipart upload of
// server-side part copies. Either way the object appears only when the upload
// completes, so a failed, short or cancelled Put leaves nothing visible; its
// parts are aborted (or, if that fails too, expire on the server).
//
// Conditional writes send If-None-Match: * (create-only) or If-Match: "etag"
// (compare-and-swap) with the single PUT, or with both the initiation and the
// completion of a multipart upload. The completion is what counts: MinIO
// checks it under its namespace lock. minio-go's own PutObject cannot be used
// for this, because for multipart uploads it sends the conditions only when
// the upload starts, so that two create-only uploads racing each other both
// succeed; neither can its ComposeObject, which has no destination conditions.
// This package drives the multipart API itself instead.
//
// Conditional requests are not retried by the client: if a conditional PUT
// succeeded but its response was lost, a retry would fail with a precondition
// error against its own write, which a compare-and-swap loop would take as
// losing and apply its change twice. Such a failure is reported as a plain
// error instead, and the caller can re-read and decide.
//
// The body is checked against the declared size before the last byte is
// handed to the HTTP client, so an over- or under-long body fails the request
// rather than storing a truncated or truncated-and-committed object
// (objstore.ErrShortWrite).
//
// # Errors
//
// NoSuchKey maps to objstore.ErrNotFound, except on a write with IfMatch where
// it means the precondition failed; PreconditionFailed (412) and
// ConditionalRequestConflict (409) map to objstore.ErrPrecondition. Other errors
// are wrapped with the operation and key. The secret key never appears in
// errors or in the formatted Options.
package miniostore
