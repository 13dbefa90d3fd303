// Package api serves the registry's native JSON API under /api/v1: models,
// versions, tags, aliases, file downloads with HTTP ranges, streamed and
// resumable uploads, a change feed (long-poll and server-sent events) and the
// audit log. docs/api.md describes every endpoint with examples.
//
// Handler returns the API wrapped in Lantern's shared middleware (request
// ids, panic recovery, bearer-token authentication, metrics, access log).
// Reads need a reader token, writes a writer token, and deleting a
// registered model an admin token. Writes are attributed to the token's name
// in the audit log.
//
// Errors are JSON objects, {"error": {"code": "NOT_FOUND", "message": "...",
// "request_id": "..."}}, with the HTTP status and code that package errkind
// assigns to the error's kind. Unexpected errors are logged with the request
// id and answered with a generic message. The bodies are defined in package
// wire, which the Go client (registry/client) shares.
//
// Nothing here buffers a file: registrations stream each part of a
// multipart body straight into the store, and downloads stream from it.
package api
