// Package data loads and writes the training datasets: CSV and Parquet
// files on a local disk or in MinIO/S3 (s3://bucket/key), checked against a
// dataset.Schema as they stream in.
//
// Load reads a file once, front to back, into a columnar dataset.Frame; the
// memory it needs beyond the Frame is bounded (a read buffer, one Parquet
// page, a map of the keys seen) and never the file itself. While reading it
// computes the file's SHA-256 and checks every value and row against the
// schema, producing a Report along the usual data-quality dimensions
// (completeness, validity, uniqueness, consistency, timeliness). Bad rows are
// never dropped silently: each check counts what it found, gives examples,
// and says what the loader did about it (dropped the row, set the value
// missing, or kept it as is). Report.Verify fails a job whose data has too
// many defects.
//
// Writer streams rows out to CSV or Parquet, to a local file (written to a
// temporary name and renamed when complete) or to S3 (a streaming multipart
// upload that only appears when complete).
//
// docs/data.md describes the checks, what happens to bad rows, and the
// report format.
package data
