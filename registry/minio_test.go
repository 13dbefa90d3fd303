package registry

import (
	"context"
	"testing"

	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// The same tests run against a real MinIO server.
func init() {
	backends = append(backends, backend{"minio", func(t testing.TB) func() objstore.Store {
		srv := miniotest.Start(t)
		bucket := srv.NewBucket(t)
		return func() objstore.Store {
			s, err := miniostore.New(context.Background(), miniostore.Options{
				Endpoint: srv.Endpoint, Bucket: bucket, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}})
}
