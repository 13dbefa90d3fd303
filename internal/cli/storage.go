package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
)

// storageFlags choose where metadata and artifacts live.
type storageFlags struct {
	DataDir        string `help:"Data directory. Holds the embedded object store (unless --s3-endpoint is set) and local caches." default:"./lantern-data" env:"LANTERN_DATA_DIR" type:"path"`
	S3Endpoint     string `name:"s3-endpoint" help:"MinIO/S3 endpoint (host:port). When set, registry metadata and artifacts live in --s3-bucket instead of --data-dir." env:"LANTERN_S3_ENDPOINT" group:"S3"`
	S3Bucket       string `name:"s3-bucket" help:"Bucket holding registry metadata and artifacts." default:"lantern" env:"LANTERN_S3_BUCKET" group:"S3"`
	S3Prefix       string `name:"s3-prefix" help:"Key prefix inside the bucket, to share a bucket with other data." env:"LANTERN_S3_PREFIX" group:"S3"`
	S3AccessKey    string `name:"s3-access-key" help:"S3 access key." env:"LANTERN_S3_ACCESS_KEY" group:"S3"`
	S3SecretKey    string `name:"s3-secret-key" help:"S3 secret key (prefer the environment variable to the flag: flags show in process lists)." env:"LANTERN_S3_SECRET_KEY" group:"S3"`
	S3Secure       bool   `name:"s3-secure" help:"Use HTTPS to reach S3." env:"LANTERN_S3_SECURE" group:"S3"`
	S3Region       string `name:"s3-region" help:"S3 region (empty: ask the server)." env:"LANTERN_S3_REGION" group:"S3"`
	S3CreateBucket bool   `name:"s3-create-bucket" help:"Create the bucket if it does not exist." env:"LANTERN_S3_CREATE_BUCKET" group:"S3"`
}

// open returns the configured store and a description for logs (no secrets).
func (f *storageFlags) open(ctx context.Context) (objstore.Store, string, error) {
	if f.S3Endpoint == "" {
		dir := filepath.Join(f.DataDir, "store")
		st, err := fsstore.New(dir)
		if err != nil {
			return nil, "", fmt.Errorf("open data directory %s: %w", dir, err)
		}
		return st, "directory " + dir, nil
	}
	if f.S3AccessKey == "" || f.S3SecretKey == "" {
		return nil, "", fmt.Errorf("--s3-endpoint is set but the credentials are not: set LANTERN_S3_ACCESS_KEY and LANTERN_S3_SECRET_KEY")
	}
	st, err := miniostore.New(ctx, miniostore.Options{
		Endpoint: f.S3Endpoint, Bucket: f.S3Bucket, Prefix: f.S3Prefix,
		AccessKey: f.S3AccessKey, SecretKey: f.S3SecretKey, Secure: f.S3Secure,
		Region: f.S3Region, CreateBucket: f.S3CreateBucket,
	})
	if err != nil {
		return nil, "", fmt.Errorf("open bucket %s at %s: %w", f.S3Bucket, f.S3Endpoint, err)
	}
	scheme := "http"
	if f.S3Secure {
		scheme = "https"
	}
	return st, fmt.Sprintf("bucket %s at %s://%s", f.S3Bucket, scheme, f.S3Endpoint), nil
}
