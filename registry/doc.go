// Package registry is Lantern's model registry: registered models, their
// versions and artifacts, aliases, tags, lineage and an audit log, kept in an
// objstore.Store with no database.
//
// # Storage
//
// Every object lives under the "registry/" prefix of one store (see keys.go):
//
//	registry/names/<hex(name)>                   create-only name claim → model id
//	registry/models/<id>/model.json              model: description, tags, aliases (CAS)
//	registry/models/<id>/versions/<v>.json       version metadata; created create-only (CAS after)
//	registry/artifacts/<id>/<v>/<path>           artifact bytes, sha256 recorded in the version
//	registry/events/<unix-nanos>-<hash>.json     create-only audit event = change feed
//	registry/uploads/<upload-id>/...             resumable multipart uploads in progress
//
// Version numbers are allocated by create-only writes of the version object,
// so concurrent registrations, in one process or many, never produce
// duplicates or gaps, and a number is never reused: deleted versions and
// models stay as tombstones. Alias moves and tag edits are compare-and-swap
// updates retried on conflict. A version's artifacts are written first and its
// metadata is committed last, so a READY version always has every file, with
// its size and sha256; a registration that dies leaves a PENDING version whose
// lease expires, and the janitor marks it FAILED_REGISTRATION and deletes its
// files.
//
// # Reads
//
// Reads and searches are served from an in-memory index. It follows the event
// feed (polled every second) for changes made by other processes and is
// reconciled against a full listing of the metadata objects periodically, so
// several registry processes over one bucket converge within seconds even if
// a writer crashed between a metadata write and its event.
//
// # Errors
//
// Errors wrap the package's sentinels (ErrNotFound, ErrAlreadyExists,
// ErrInvalid, ErrConflict, ErrFailedPrecondition); the HTTP layers map them to
// each protocol's status codes in one place.
package registry
