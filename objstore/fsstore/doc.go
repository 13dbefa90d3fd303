// Package fsstore is an objstore.Store over a local directory, the embedded
// default of Lantern.
//
// Every object is a regular file at its key under the root directory, so the
// tree can be inspected, backed up or rsynced with ordinary tools. The store
// keeps its own state in a hidden ".fsstore" directory at the top of the
// root (staging files in .fsstore/tmp, lock files in .fsstore/locks); keys
// whose first segment is ".fsstore" are rejected with objstore.ErrInvalidKey.
//
// # Writes
//
// A Put streams the body into a staging file, checks its length, stamps its
// modification time, fsyncs it, then renames it over the key and fsyncs the
// directory. Readers therefore see the old file or the complete new one, and
// a failed, short or cancelled Put leaves only a staging file, which is
// removed at once or, after a crash, by the next New once it is older than ten
// minutes.
//
// Every change to a key (Put, Compose, Delete) holds the key's lock: an
// in-process semaphore plus an flock(2) on one of 64 lock files picked by a
// hash of the key. Conditional writes check the current ETag and rename under
// that lock, so create-only and compare-and-swap are exact across goroutines
// and across processes sharing the directory (on a local filesystem; flock
// over NFS depends on the client).
//
// # ETags
//
// An ETag is inode number, modification time in nanoseconds and size. Each
// write creates a new file (a new inode while the old one is still alive)
// and stamps its modification time from a per-process clock that strictly
// increases in microseconds, so a replaced object never gets its old ETag back,
// even when the filesystem reuses the freed inode for a later write of the
// same size. The ETag costs one stat and no hashing; writing identical bytes
// still changes it. New refuses a filesystem that does not keep modification
// times to the microsecond.
//
// # Safety
//
// All access goes through an os.Root, so no key, symlink or ".." can reach
// outside the root directory. Symlinks inside the root are followed by Get
// and Stat but are not listed. fsstore builds on Unix systems only.
package fsstore
