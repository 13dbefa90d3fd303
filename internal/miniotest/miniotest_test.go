package miniotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { Main(m) }

func TestBucketName(t *testing.T) {
	tests := []struct{ test string }{
		{"TestX"},
		{"TestConformance/CAS_counter"},
		{strings.Repeat("Long/Name_", 20)},
		{"___"},
	}
	for _, tt := range tests {
		got := bucketName(tt.test, 12345)
		if len(got) < 3 || len(got) > 63 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
			strings.HasSuffix(got, "-") || strings.Contains(got, "--") {
			t.Errorf("bucketName(%q) = %q: not a valid bucket name", tt.test, got)
		}
	}
}

func TestStartShared(t *testing.T) {
	s1 := Start(t)
	s2 := Start(t)
	if s1 != s2 {
		t.Fatal("Start returned two servers under Main")
	}
	ctx := context.Background()
	b := s1.NewBucket(t)
	if ok, err := s1.Client().BucketExists(ctx, b); err != nil || !ok {
		t.Fatalf("BucketExists(%s) = %v, %v", b, ok, err)
	}
	if s1.AccessKey == "minioadmin" || len(s1.SecretKey) < 16 {
		t.Errorf("default or weak credentials: %q", s1.AccessKey)
	}
}

func TestKillRestart(t *testing.T) {
	s := StartDedicated(t)
	ctx := context.Background()
	b := s.NewBucket(t)
	if _, err := s.Client().PutObject(ctx, b, "k", strings.NewReader("v"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	down, cancel := context.WithTimeout(ctx, 2*time.Second) // the client retries
	defer cancel()
	if _, err := s.Client().StatObject(down, b, "k", minio.StatObjectOptions{}); err == nil {
		t.Fatal("StatObject succeeded on a killed server")
	}
	s.Restart(t)
	if _, err := s.Client().StatObject(ctx, b, "k", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
