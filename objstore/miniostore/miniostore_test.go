package miniostore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
	"github.com/lantern-mlops/lantern/objstore/objstoretest"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

func options(srv *miniotest.Server, bucket string) miniostore.Options {
	return miniostore.Options{
		Endpoint:  srv.Endpoint,
		Bucket:    bucket,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Region:    miniotest.Region,
	}
}

func newStore(t testing.TB, opts miniostore.Options) *miniostore.Store {
	t.Helper()
	s, err := miniostore.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return newStore(t, options(srv, srv.NewBucket(t)))
	})
}

// TestConformancePrefix runs the suite on stores that share a bucket under
// different prefixes, next to objects outside them, with the smallest part
// size so that uploads have several parts.
func TestConformancePrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite a second time")
	}
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	for _, k := range []string{"outside", "tenant", "tenant-b/x", "tenant0"} {
		if _, err := srv.Client().PutObject(t.Context(), bucket, k, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		opts := options(srv, bucket)
		opts.Prefix = "tenant/" + t.Name()
		opts.PartSize = miniostore.MinPartSize
		return newStore(t, opts)
	})
}

func BenchmarkStore(b *testing.B) {
	srv := miniotest.Start(b)
	objstoretest.Bench(b, func(b *testing.B) objstore.Store {
		return newStore(b, options(srv, srv.NewBucket(b)))
	})
}

// BenchmarkMinioGo measures minio-go directly, as a baseline for BenchmarkStore.
func BenchmarkMinioGo(b *testing.B) {
	srv := miniotest.Start(b)
	c := srv.Client()
	b.Run("Put1KiB", func(b *testing.B) {
		bucket := srv.NewBucket(b)
		body := bytes.Repeat([]byte("x"), 1<<10)
		b.SetBytes(1 << 10)
		i := 0
		for b.Loop() {
			if _, err := c.PutObject(b.Context(), bucket, fmt.Sprintf("bench/%d", i%1024), bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get1KiB", func(b *testing.B) {
		bucket := srv.NewBucket(b)
		if _, err := c.PutObject(b.Context(), bucket, "obj", strings.NewReader(strings.Repeat("x", 1<<10)), 1<<10, minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(1 << 10)
		for b.Loop() {
			o, err := c.GetObject(b.Context(), bucket, "obj", minio.GetObjectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, o)
			o.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	const big = 64 << 20
	for _, size := range []int64{big, -1} {
		b.Run(fmt.Sprintf("PutObject64MiBStreamed/size=%d", size), func(b *testing.B) {
			bucket := srv.NewBucket(b)
			block := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
			b.SetBytes(big)
			for b.Loop() {
				r := io.LimitReader(&repeat{block: block}, big)
				if _, err := c.PutObject(b.Context(), bucket, "big", r, size, minio.PutObjectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type repeat struct {
	block []byte
	off   int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

func TestNewWrongCredentials(t *testing.T) {
	srv := miniotest.Start(t)
	opts := options(srv, srv.NewBucket(t))
	opts.SecretKey = "wrong-secret-" + strings.Repeat("z", 20)
	_, err := miniostore.New(t.Context(), opts)
	if err == nil {
		t.Fatal("New with a wrong secret key succeeded")
	}
	if !strings.Contains(err.Error(), "access denied") {
		t.Errorf("error %q does not say access was denied", err)
	}
	if strings.Contains(err.Error(), opts.SecretKey) {
		t.Errorf("error %q contains the secret key", err)
	}
	t.Logf("New with a wrong secret key: %v", err)
}

func TestNewMissingBucket(t *testing.T) {
	srv := miniotest.Start(t)
	opts := options(srv, "lantern-no-such-bucket")
	_, err := miniostore.New(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "CreateBucket") {
		t.Fatalf("New without the bucket: %v, want an error saying it does not exist and how to create it", err)
	}
	t.Logf("New without the bucket: %v", err)

	opts.Bucket = "lantern-created-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	opts.CreateBucket = true
	s := newStore(t, opts)
	if _, err := objstore.PutBytes(t.Context(), s, "k", []byte("v"), objstore.PutOptions{}); err != nil {
		t.Fatalf("Put into the created bucket: %v", err)
	}
	newStore(t, opts) // the bucket now exists
	_ = srv.Client().RemoveBucketWithOptions(context.Background(), opts.Bucket, minio.RemoveBucketOptions{ForceDelete: true})
}

func TestOptionsValidate(t *testing.T) {
	valid := miniostore.Options{Endpoint: "127.0.0.1:9000", Bucket: "b", AccessKey: "a", SecretKey: "s"}
	tests := []struct {
		name   string
		modify func(*miniostore.Options)
		ok     bool
	}{
		{"valid", func(*miniostore.Options) {}, true},
		{"prefix", func(o *miniostore.Options) { o.Prefix = "tenants/a/" }, true},
		{"no endpoint", func(o *miniostore.Options) { o.Endpoint = "" }, false},
		{"scheme", func(o *miniostore.Options) { o.Endpoint = "http://127.0.0.1:9000" }, false},
		{"no bucket", func(o *miniostore.Options) { o.Bucket = "" }, false},
		{"no secret", func(o *miniostore.Options) { o.SecretKey = "" }, false},
		{"bad prefix", func(o *miniostore.Options) { o.Prefix = "../x" }, false},
		{"small parts", func(o *miniostore.Options) { o.PartSize = 1 << 20 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.modify(&o)
			if err := o.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestOptionsRedactSecret(t *testing.T) {
	const secret = "super-secret-value"
	o := miniostore.Options{Endpoint: "127.0.0.1:9000", Bucket: "b", AccessKey: "ak", SecretKey: secret}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("connecting", "objstore", o)
	for _, out := range []string{
		fmt.Sprint(o), fmt.Sprintf("%v", &o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", o), logs.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("secret key printed: %s", out)
		}
		if !strings.Contains(out, "ak") || !strings.Contains(out, "<redacted>") {
			t.Errorf("output lacks the access key or the redaction marker: %s", out)
		}
	}
}
