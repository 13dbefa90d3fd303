package miniostore

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lantern-mlops/lantern/objstore"
)

// Part sizes for multipart uploads.
const (
	// DefaultPartSize is the part size when Options.PartSize is zero. It is
	// also minio-go's, and the largest object written with a single PUT.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 << 30
)

// Options configures a Store. Endpoint, Bucket and the keys are required.
type Options struct {
	// Endpoint is the server's host:port, without a scheme.
	Endpoint string
	// Bucket holds the objects.
	Bucket string
	// AccessKey and SecretKey are the credentials. SecretKey is never printed.
	AccessKey string
	SecretKey string
	// Secure selects HTTPS.
	Secure bool
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// Prefix, if set, is prepended with a "/" to every key, so that several
	// stores can share a bucket. It must be a valid key itself.
	Prefix string
	// CreateBucket makes New create the bucket if it does not exist, instead
	// of failing.
	CreateBucket bool
	// PartSize is the size of multipart upload parts, between MinPartSize and
	// MaxPartSize; zero means DefaultPartSize. Objects of known size up to
	// PartSize are written with a single PUT. A multipart upload buffers up
	// to five parts in memory.
	PartSize int64
}

// Validate reports the first problem with the options.
func (o Options) Validate() error {
	var errs []error
	if o.Endpoint == "" {
		errs = append(errs, errors.New("Endpoint is required"))
	} else if strings.Contains(o.Endpoint, "://") || strings.Contains(o.Endpoint, "/") {
		errs = append(errs, fmt.Errorf("Endpoint %q must be host:port, without a scheme or path (set Secure for HTTPS)", o.Endpoint))
	}
	if o.Bucket == "" {
		errs = append(errs, errors.New("Bucket is required"))
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		errs = append(errs, errors.New("AccessKey and SecretKey are required"))
	}
	if o.Prefix != "" {
		if err := objstore.ValidateKey(strings.TrimSuffix(o.Prefix, "/")); err != nil {
			errs = append(errs, fmt.Errorf("Prefix: %w", err))
		}
	}
	if o.PartSize != 0 && (o.PartSize < MinPartSize || o.PartSize > MaxPartSize) {
		errs = append(errs, fmt.Errorf("PartSize %d is outside [%d, %d]", o.PartSize, MinPartSize, MaxPartSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("miniostore: invalid options: %w", err)
	}
	return nil
}

const redacted = "<redacted>"

// String formats the options with the secret key redacted.
func (o Options) String() string {
	if o.SecretKey != "" {
		o.SecretKey = redacted
	}
	type plain Options // without methods, so fmt does not recurse
	return fmt.Sprintf("%+v", plain(o))
}

// GoString is String, so that %#v redacts the secret key too.
func (o Options) GoString() string { return "miniostore.Options" + o.String() }

// LogValue logs the options with the secret key redacted.
func (o Options) LogValue() slog.Value {
	secret := ""
	if o.SecretKey != "" {
		secret = redacted
	}
	return slog.GroupValue(
		slog.String("endpoint", o.Endpoint),
		slog.String("bucket", o.Bucket),
		slog.String("prefix", o.Prefix),
		slog.String("region", o.Region),
		slog.Bool("secure", o.Secure),
		slog.String("access_key", o.AccessKey),
		slog.String("secret_key", secret),
		slog.Bool("create_bucket", o.CreateBucket),
		slog.Int64("part_size", o.PartSize),
	)
}
