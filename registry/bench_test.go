package registry

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/objstore"
)

// benchBackends runs b against every store; open returns a fresh location.
func benchBackends(b *testing.B, f func(b *testing.B, open func() objstore.Store)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { f(b, be.open(b)) })
	}
}

// BenchmarkCreateVersion registers versions of one small model (the ONNX
// file is ~300 bytes), end to end: lease, file, version object, event.
func BenchmarkCreateVersion(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func() objstore.Store) {
		s := newService(b, open(), nil)
		mustCreate(b, s, "m")
		model := fixture(b, "demand_linear.onnx")
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r, err := s.BeginVersion(ctx, NewVersion{Name: "m"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(model), int64(len(model))); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// populate registers n versions spread over models of 100 versions each by
// writing version objects directly (registering 10,000 files through the
// full path would only benchmark the setup).
func populate(b *testing.B, st objstore.Store, n int) {
	ctx := context.Background()
	s := newService(b, st, nil)
	sig := fixtureSignature(b)
	for m := 0; m < n/100; m++ {
		name := fmt.Sprintf("model-%03d", m)
		mm := mustCreate(b, s, name)
		for v := 1; v <= 100; v++ {
			now := time.Now()
			ver := &Version{
				ModelID: mm.ID, Name: name, Version: int64(v), Status: StatusReady, Stage: StageNone,
				Source: "upload", Signature: sig, Rev: 1, CreatedAt: now, UpdatedAt: now,
				Tags:       map[string]string{"district": fmt.Sprintf("d%02d", v%40), "family": []string{"demand", "risk"}[m%2]},
				Artifacts:  []Artifact{{Path: "model.onnx", Size: 300, SHA256: fmt.Sprintf("%064d", v)}},
				LastAction: ActionVersionCreate,
			}
			if err := s.create(ctx, versionKey(mm.ID, int64(v)), ActionVersionCreate, ver, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.SetAlias(ctx, name, "production", 100); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch10k(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func() objstore.Store) {
		populate(b, open(), 10000)
		start := time.Now()
		s := newService(b, open(), nil) // cold start over 10,000 versions
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-load")
		ctx := context.Background()
		queries := []struct {
			name string
			q    SearchQuery
		}{
			{"versions/by-name", SearchQuery{Filter: "name = 'model-042'", MaxResults: 1000}},
			{"versions/tag-and-like", SearchQuery{Filter: "name LIKE 'model-0%' AND tags.district = 'd07'", MaxResults: 1000}},
			{"versions/page-of-100", SearchQuery{MaxResults: 100}},
			{"versions/all-10k", SearchQuery{MaxResults: MaxVersionResults}},
		}
		for _, q := range queries {
			b.Run(q.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := s.SearchVersions(ctx, q.q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("models/tag", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.SearchModels(ctx, SearchQuery{Filter: "name LIKE '%-04%'", MaxResults: 100}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get-by-alias", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.VersionByAlias(ctx, "model-042", "production"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkUpload compares registering a 64 MiB model through the registry
// (hash, ONNX parse, lease, metadata, event) with a plain Put of the same
// bytes to the same store: the ratio is the registry's overhead.
func BenchmarkUpload(b *testing.B) {
	data := onnxtest.Marshal(onnxtest.WithPadding(onnxtest.LinearRegressor([]string{"x"}, []float32{1}, 0), 64<<20))
	benchBackends(b, func(b *testing.B, open func() objstore.Store) {
		st := open()
		ctx := context.Background()
		b.Run("direct-put", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				if _, err := st.Put(ctx, fmt.Sprintf("direct/%d", i), bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		s := newService(b, st, nil)
		mustCreate(b, s, "big")
		b.Run("registry", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := s.BeginVersion(ctx, NewVersion{Name: "big"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.PutArtifact(ctx, "model.onnx", bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
