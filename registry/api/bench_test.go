package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api"
	"github.com/lantern-mlops/lantern/registry/client"
)

// BenchmarkUploadVsMinIO registers a 64 MiB model through the whole
// registry path (client → HTTP → registry: hash, ONNX check, lease,
// metadata, event → MinIO) and, in the same run against the same server,
// puts the same bytes with minio-go's PutObject. The ratio of the two
// throughputs is the cost of going through the registry.
func BenchmarkUploadVsMinIO(b *testing.B) {
	srv := miniotest.Start(b)
	// 60 MiB: under the client's 64 MiB resumable threshold, so one streamed request.
	data := onnxtest.Marshal(onnxtest.WithPadding(onnxtest.LinearRegressor([]string{"x"}, []float32{1}, 0), 60<<20))
	ctx := context.Background()

	direct := srv.NewBucket(b)
	st, err := miniostore.New(ctx, miniostore.Options{Endpoint: srv.Endpoint, Bucket: srv.NewBucket(b), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := registry.New(ctx, st, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	authn, _ := auth.New(auth.Config{Insecure: true}, nil)
	hs := httptest.NewServer(api.Handler(svc, authn, nil, nil))
	defer hs.Close()
	c, err := client.New(hs.URL, "")
	if err != nil {
		b.Fatal(err)
	}
	// The two transfers alternate, so a load change on the shared machine
	// hits both alike; the ratio is what the benchmark is for.
	var tDirect, tRegistry time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := srv.Client().PutObject(ctx, direct, fmt.Sprintf("direct/%d", i), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		_, err := c.Register(ctx, client.RegisterRequest{
			Name: "big", CreateModel: true,
			Files: []client.File{{Path: "model.onnx", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, Size: int64(len(data))}},
		})
		if err != nil {
			b.Fatal(err)
		}
		tDirect += t1.Sub(t0)
		tRegistry += time.Since(t1)
	}
	mb := float64(len(data)) * float64(b.N) / 1e6
	b.ReportMetric(mb/tDirect.Seconds(), "MB/s-minio-go")
	b.ReportMetric(mb/tRegistry.Seconds(), "MB/s-registry")
	b.ReportMetric(tDirect.Seconds()/tRegistry.Seconds(), "ratio")
}
