// Package server runs Lantern's HTTP endpoints: the middleware every API
// shares (request ids, panic recovery, authentication, metrics, access
// logs) and a server with graceful shutdown.
//
// Each API writes errors in its own protocol's format, so the middleware
// takes an ErrorWriter from the API it wraps rather than writing bodies
// itself.
package server
