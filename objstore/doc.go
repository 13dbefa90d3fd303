// Package objstore defines the blob store that holds everything Lantern persists:
// registry metadata, audit events and model artifacts.
//
// There is no database. Consistency comes from two conditional writes every
// implementation must provide: create-only (PutOptions.IfNoneMatch, S3's
// "If-None-Match: *") and compare-and-swap (PutOptions.IfMatch, S3's "If-Match").
// Two implementations exist: objstore/fsstore (a local directory, the embedded
// default) and objstore/miniostore (MinIO or any S3 that honours conditional
// writes). Both pass the conformance suite in objstore/objstoretest.
package objstore
