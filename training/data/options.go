package data

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/objstore"
)

// Errors returned (wrapped) by this package. Inspect them with errors.Is.
var (
	// ErrNotFound means the file or object does not exist.
	ErrNotFound = errors.New("data: not found")
	// ErrFormat means the file is not valid CSV or Parquet (ragged rows, bad
	// quoting, a corrupt Parquet footer...), or not the format its name says.
	ErrFormat = errors.New("data: malformed file")
	// ErrSchema means the file's columns do not fit the schema: no header, a
	// duplicate column, a key or time column missing, a Parquet column of an
	// unusable type.
	ErrSchema = errors.New("data: file does not match the schema")
	// ErrQuality is returned by Report.Verify when the data has too many defects.
	ErrQuality = errors.New("data: quality thresholds exceeded")
)

// Format is a file format.
type Format string

// The supported formats.
const (
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// FormatOf returns the format a file name's extension says: .csv or .parquet
// (also .pq), case-insensitively.
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return CSV, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return "", fmt.Errorf("%w: %s: unknown extension (want .csv or .parquet)", ErrFormat, name)
}

// S3Options say how to reach MinIO/S3 for s3:// URIs. The CLI fills them
// from LANTERN_S3_ENDPOINT, LANTERN_S3_ACCESS_KEY, LANTERN_S3_SECRET_KEY,
// LANTERN_S3_SECURE and LANTERN_S3_REGION (see S3FromEnv).
type S3Options struct {
	// Endpoint is host:port, without a scheme.
	Endpoint string
	// AccessKey and SecretKey are the credentials. SecretKey is never printed.
	AccessKey string
	SecretKey string
	// Secure selects HTTPS.
	Secure bool
	// Region is the bucket's region; empty lets the client discover it.
	Region string
}

// S3FromEnv reads S3Options from the LANTERN_S3_* environment variables.
func S3FromEnv() (S3Options, error) {
	o := S3Options{
		Endpoint:  os.Getenv("LANTERN_S3_ENDPOINT"),
		AccessKey: os.Getenv("LANTERN_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("LANTERN_S3_SECRET_KEY"),
		Region:    os.Getenv("LANTERN_S3_REGION"),
	}
	if v := os.Getenv("LANTERN_S3_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("LANTERN_S3_SECURE=%q: want true or false", v)
		}
		o.Secure = b
	}
	return o, nil
}

// String formats the options with the secret key redacted.
func (o S3Options) String() string {
	if o.SecretKey != "" {
		o.SecretKey = "<redacted>"
	}
	type plain S3Options
	return fmt.Sprintf("%+v", plain(o))
}

// GoString is String, so that %#v redacts the secret key too.
func (o S3Options) GoString() string { return "data.S3Options" + o.String() }

// LogValue logs the options with the secret key redacted.
func (o S3Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", o.Endpoint), slog.String("access_key", o.AccessKey),
		slog.Bool("secure", o.Secure), slog.String("region", o.Region))
}

// Options configure Load and NewWriter. The zero value works for local files.
type Options struct {
	// S3 is used for s3:// URIs.
	S3 S3Options
	// Format overrides the format FormatOf finds from the name.
	Format Format
	// AsOf is the time the data is judged at: months, dates and reports after
	// it are in the future (timeliness). Zero means now.
	AsOf time.Time
	// LateAfterDays is how many days after the end of its month a report
	// may be submitted before it counts as late (default 45).
	LateAfterDays int
	// MaxExamples is how many example rows each check keeps (default 5;
	// negative for none).
	MaxExamples int
}

func (o Options) withDefaults() Options {
	if o.AsOf.IsZero() {
		o.AsOf = time.Now()
	}
	if o.LateAfterDays == 0 {
		o.LateAfterDays = 45
	}
	if o.MaxExamples == 0 {
		o.MaxExamples = 5
	} else if o.MaxExamples < 0 {
		o.MaxExamples = 0
	}
	return o
}

// location is a parsed URI: a local path, or an S3 bucket and key.
type location struct {
	uri         string
	path        string // local
	bucket, key string // s3
}

func (l location) s3() bool { return l.bucket != "" }

func parseURI(uri string) (location, error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		if strings.Contains(uri, "://") && !strings.HasPrefix(uri, "file://") {
			return location{}, fmt.Errorf("data: %s: unsupported scheme (want a path or s3://bucket/key)", uri)
		}
		p := strings.TrimPrefix(uri, "file://")
		if p == "" {
			return location{}, fmt.Errorf("data: empty path")
		}
		return location{uri: uri, path: p}, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return location{}, fmt.Errorf("data: %s: no bucket", uri)
	}
	if err := objstore.ValidateKey(key); err != nil {
		return location{}, fmt.Errorf("data: %s: %w", uri, err)
	}
	return location{uri: uri, bucket: bucket, key: key}, nil
}
